//! Identifier keywords (SPEC §3.3): a match is `high` when a keyword of its
//! type, or of its entity, stands within 300 characters of normalized text
//! before or after it in the same part.
//!
//! Keywords match like dictionary terms (one case-insensitive automaton at
//! word boundaries), except all-capital keywords of up to four letters
//! (`SSN`, `BSN`, `PAN`), which match in capitals only so that the words
//! "pan" and "sin" are no keywords. The automatons run on a window only
//! when it has a match to judge.

use std::ops::Range;

use super::automaton::{build_automaton_of_kind, Automaton, Pattern};
use super::windows::spaceless_script;
use crate::normalize::lower_str;
use crate::{Dictionary, Error, Identifier};

/// How far a keyword may stand from its match, in characters.
pub(super) const KEYWORD_DISTANCE: usize = 300;

/// Who a keyword belongs to: a type (`id as usize`) or an entity
/// (`Identifier::ALL.len() + entity`).
pub(super) fn type_owner(id: Identifier) -> usize {
    id as usize
}

pub(super) fn entity_owner(entity: usize) -> usize {
    Identifier::ALL.len() + entity
}

/// The keyword automatons of an engine's identifier types and entities.
#[derive(Debug)]
pub(super) struct Keywords {
    insensitive: Option<Automaton>,
    capitals: Option<Automaton>,
    owners: usize,
}

/// A window's keyword positions (in its normalized text), per owner.
pub(super) struct Found {
    by_owner: Vec<Vec<Range<usize>>>,
}

/// Whether a keyword is matched in capitals only.
fn capitals_only(keyword: &str) -> bool {
    let letters: Vec<char> = keyword.chars().filter(|c| c.is_alphabetic()).collect();
    !letters.is_empty() && letters.len() <= 4 && letters.iter().all(|c| c.is_uppercase())
}

impl Keywords {
    /// The automatons for `owners` (owner id, keywords); `None` when there
    /// is no keyword at all.
    pub(super) fn build(owners: &[(usize, Vec<String>)]) -> Result<Option<Keywords>, Error> {
        let mut insensitive = Vec::new();
        let mut capitals = Vec::new();
        for (owner, words) in owners {
            for w in words {
                let exact = capitals_only(w);
                // Normalized as dictionary terms are (NFKC, whitespace,
                // case folding for the insensitive ones).
                let terms = Dictionary::from_terms([(w.as_str(), 1)]).distinct(exact);
                let Some(term) = terms.into_iter().next() else {
                    continue;
                };
                let pattern = Pattern {
                    entity: *owner,
                    term: 0,
                    free_start: term.text.chars().next().is_some_and(spaceless_script),
                    free_end: term.text.chars().next_back().is_some_and(spaceless_script),
                };
                if exact {
                    capitals.push((term.text, pattern));
                } else {
                    insensitive.push((term.text, pattern));
                }
            }
        }
        if insensitive.is_empty() && capitals.is_empty() {
            return Ok(None);
        }
        Ok(Some(Keywords {
            insensitive: build_automaton_of_kind(insensitive, false)?,
            capitals: build_automaton_of_kind(capitals, false)?,
            owners: owners.iter().map(|(o, _)| o + 1).max().unwrap_or(0),
        }))
    }

    /// The keywords within reach of `spans` (matches in `text`, a
    /// window's normalized text): only the text around them is searched,
    /// so a few matches in a long text cost a few short searches. The
    /// case-insensitive automaton runs on each region lowercased; a
    /// keyword's position there stands for its position in `text` (exact
    /// for ASCII, off by the few bytes a non-ASCII case change adds).
    pub(super) fn find_near(&self, text: &str, spans: &[Range<usize>]) -> Found {
        let mut by_owner = vec![Vec::new(); self.owners];
        for region in regions(text, spans) {
            let slice = &text[region.clone()];
            let lowered = lower_str(slice);
            let runs = [
                (self.insensitive.as_ref(), lowered.as_str()),
                (self.capitals.as_ref(), slice),
            ];
            for (automaton, haystack) in runs {
                let Some(automaton) = automaton else { continue };
                for (start, id) in automaton.find_all(haystack, 1) {
                    let p = automaton.patterns[id as usize];
                    let end = start + automaton.lengths[id as usize];
                    let at = |x: usize| (region.start + x).min(region.end);
                    by_owner[p.entity].push(at(start)..at(end));
                }
            }
        }
        for spans in &mut by_owner {
            spans.sort_by_key(|s| s.start);
        }
        Found { by_owner }
    }
}

/// The text within reach of each span (a keyword's distance in the widest
/// characters, and a keyword's length), merged where they overlap and cut
/// at character boundaries.
fn regions(text: &str, spans: &[Range<usize>]) -> Vec<Range<usize>> {
    let reach = KEYWORD_DISTANCE * 4 + 256;
    let mut sorted: Vec<Range<usize>> = spans
        .iter()
        .map(|s| s.start.saturating_sub(reach)..(s.end + reach).min(text.len()))
        .collect();
    sorted.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for r in sorted {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    for r in &mut merged {
        while !text.is_char_boundary(r.start) {
            r.start -= 1;
        }
        while !text.is_char_boundary(r.end) {
            r.end += 1;
        }
    }
    merged
}

impl Found {
    /// Whether a keyword of `owner` is within [`KEYWORD_DISTANCE`]
    /// characters of `span` in `text`.
    pub(super) fn near(&self, owner: usize, span: &Range<usize>, text: &str) -> bool {
        let Some(spans) = self.by_owner.get(owner) else {
            return false;
        };
        // A character is at most 4 bytes: keywords starting further than
        // that (plus a keyword's length) cannot be near.
        let reach = KEYWORD_DISTANCE * 4;
        let last = spans.partition_point(|k| k.start <= span.end + reach);
        spans[..last]
            .iter()
            .rev()
            .take_while(|k| k.end + reach + 256 >= span.start)
            .any(|k| {
                let gap = if k.end <= span.start {
                    k.end..span.start
                } else if k.start >= span.end {
                    span.end..k.start
                } else {
                    return true;
                };
                gap.len() <= KEYWORD_DISTANCE
                    || text
                        .get(gap)
                        .is_some_and(|g| g.chars().count() <= KEYWORD_DISTANCE)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_capital_keywords_match_in_capitals_only() {
        assert!(capitals_only("SSN") && capitals_only("SS#") && capitals_only("ΑΦΜ"));
        assert!(capitals_only("IBAN"));
        assert!(!capitals_only("NAMES"), "five letters");
        assert!(!capitals_only("Steuer-ID") && !capitals_only("burgerservicenummer"));
    }
}
