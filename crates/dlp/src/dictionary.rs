//! Keyword dictionaries: CSV in, distinct normalized terms out.

use std::io::Read;

use crate::normalize::{lower_str, normalize_term};
use crate::Error;

/// One dictionary term with its weight (for `count = "score"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The term, normalized (NFKC, no format characters, single spaces).
    pub text: String,
    /// Positive weight; 1 unless the CSV gave one.
    pub weight: u32,
}

/// A list of terms, in file order, without duplicates.
///
/// Invariant: every term is normalized, non-empty and appears once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dictionary {
    terms: Vec<Term>,
}

/// Quote characters stripped from both ends of a term, matched or not.
const QUOTES: &[char] = &['"', '\u{201c}', '\u{201d}', '\'', '\u{2018}', '\u{2019}'];

impl Dictionary {
    /// Reads a dictionary CSV (SPEC §3.2): the first field is the term, an
    /// optional second field its weight (a positive integer), other fields
    /// are ignored; blank records are skipped; whitespace and quote
    /// characters around a term are stripped.
    ///
    /// ```
    /// use sluice_dlp::Dictionary;
    /// let d = Dictionary::from_csv("“Customer\"\nAccount Manager,3\n\n customer \n".as_bytes()).unwrap();
    /// let terms: Vec<(&str, u32)> = d.terms().iter().map(|t| (t.text.as_str(), t.weight)).collect();
    /// assert_eq!(terms, [("Customer", 1), ("Account Manager", 3), ("customer", 1)]);
    /// ```
    pub fn from_csv(reader: impl Read) -> Result<Self, Error> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut entries = Vec::new();
        for (i, record) in csv.byte_records().enumerate() {
            let line = i + 1;
            let record = record.map_err(|e| Error::Dictionary {
                line,
                message: e.to_string(),
            })?;
            let Some(raw) = record.get(0) else { continue };
            let raw = String::from_utf8_lossy(raw);
            let weight = match record
                .get(1)
                .map(|w| String::from_utf8_lossy(w).trim().to_owned())
            {
                None => 1,
                Some(w) if w.is_empty() => 1,
                Some(w) => match w.parse::<u32>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(Error::Dictionary {
                            line,
                            message: format!("weight {w:?} is not a positive integer"),
                        })
                    }
                },
            };
            entries.push((raw.into_owned(), weight));
        }
        Ok(Self::from_terms(entries))
    }

    /// Builds a dictionary from terms and weights, cleaning and
    /// de-duplicating them as [`Dictionary::from_csv`] does.
    pub fn from_terms<S: AsRef<str>>(terms: impl IntoIterator<Item = (S, u32)>) -> Self {
        let mut out: Vec<Term> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (raw, weight) in terms {
            let stripped = raw
                .as_ref()
                .trim_matches(|c: char| c.is_whitespace() || QUOTES.contains(&c));
            let text = normalize_term(stripped);
            if text.is_empty() || !seen.insert(text.clone()) {
                continue;
            }
            out.push(Term {
                text,
                weight: weight.max(1),
            });
        }
        Dictionary { terms: out }
    }

    /// The terms, in file order.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The distinct terms as matched: lowercased and de-duplicated again
    /// when matching is case-insensitive (the highest weight wins).
    pub fn distinct(&self, case_sensitive: bool) -> Vec<Term> {
        if case_sensitive {
            return self.terms.clone();
        }
        let mut out: Vec<Term> = Vec::with_capacity(self.terms.len());
        let mut index = std::collections::HashMap::new();
        for t in &self.terms {
            let text = lower_str(&t.text);
            match index.get(&text) {
                Some(&i) => {
                    let existing: &mut Term = &mut out[i];
                    existing.weight = existing.weight.max(t.weight);
                }
                None => {
                    index.insert(text.clone(), out.len());
                    out.push(Term {
                        text,
                        weight: t.weight,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cleaning_rules() {
        let csv = "\"Customer\"\n‘Sales Engineer’,2,ignored\n\n  \nPurchase  date\n”Account Manager“\nbad\"\n";
        let d = Dictionary::from_csv(csv.as_bytes()).unwrap();
        let t: Vec<(&str, u32)> = d
            .terms()
            .iter()
            .map(|t| (t.text.as_str(), t.weight))
            .collect();
        assert_eq!(
            t,
            [
                ("Customer", 1),
                ("Sales Engineer", 2),
                ("Purchase date", 1),
                ("Account Manager", 1),
                ("bad", 1)
            ]
        );
    }

    #[test]
    fn case_insensitive_duplicates_count_once() {
        let d = Dictionary::from_terms([("Customer", 1), ("CUSTOMER", 4), ("customer ", 1)]);
        assert_eq!(d.terms().len(), 3);
        assert_eq!(
            d.distinct(false),
            [Term {
                text: "customer".into(),
                weight: 4
            }]
        );
        assert_eq!(d.distinct(true).len(), 3);
    }

    #[test]
    fn bad_weights_name_the_line() {
        let err = Dictionary::from_csv("a,1\nb,0\n".as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dictionary line 2: weight \"0\" is not a positive integer"
        );
        assert!(Dictionary::from_csv("a,x\n".as_bytes()).is_err());
    }
}
