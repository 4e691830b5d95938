//! Document fingerprints (SPEC §3.5): winnowed word k-grams.
//!
//! A document's normalized, lowercased text is split into words; every run
//! of [`K`] consecutive words is hashed (SHA-256, first 8 bytes); winnowing
//! keeps the minimum hash of every window of [`WINDOW`] consecutive k-gram
//! hashes. Any passage shared by a document and a message that is at least
//! `K + WINDOW - 1` words long therefore shares at least one kept hash,
//! however it was reflowed, re-cased or wrapped in HTML or a .docx. A
//! message is hashed at every k-gram (not winnowed) so that every kept
//! document hash inside a pasted excerpt is found: the similarity of a
//! document to a message is the share of its kept hashes found. With
//! `K = 5`, a 30% excerpt of a document of a few hundred words scores
//! close to 30%, while unrelated text in the same vocabulary shares almost
//! no 5-word sequence.
//!
//! The fingerprint file is JSON, holding hashes and names only, never text:
//! `{"format": "sluice-fingerprints", "version": 2, "k": 5, "window": 4,
//! "documents": [{"name": "board.docx", "hashes": ["9f86d081884c7d65", ...],
//! "filter": ["5c1e…", ...]}]}`.
//!
//! `filter` (version 2) holds, for each kept k-gram, a second, cheap hash
//! of the same words ([`WordHasher`] per word, combined the same way). A
//! message's k-grams are checked against the filter first and only the few
//! that pass are hashed with SHA-256 and compared with `hashes`: unrelated
//! mail costs no SHA-256 at all. The filter reveals no more than `hashes`
//! does (both are 64-bit hashes of the same 5-word sequences). Version 1
//! files (no filter) are still read; messages are then SHA-hashed in full.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::Error;

mod kgrams;

pub(crate) use kgrams::{
    cheap_word_hash, for_each_kgram_and_word, for_each_word, kgram_hashes, BuildWordHasher,
    KgramFilter,
};

/// Words per k-gram.
pub const K: usize = 5;
/// k-gram hashes per winnowing window.
pub const WINDOW: usize = 4;

const FORMAT: &str = "sluice-fingerprints";
const VERSION: u32 = 2;

/// The fingerprint of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFingerprint {
    /// The document's name (as given when fingerprinting).
    pub name: String,
    /// Winnowed k-gram hashes, sorted, distinct.
    pub hashes: Vec<u64>,
    /// Cheap hashes of the same k-grams, sorted, distinct; empty for a
    /// version 1 file (see the module doc).
    pub filter: Vec<u64>,
}

/// A set of fingerprinted documents: the content of one fingerprint file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FingerprintSet {
    /// The documents.
    pub documents: Vec<DocumentFingerprint>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDocument {
    name: String,
    hashes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    filter: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    version: u32,
    k: usize,
    window: usize,
    documents: Vec<FileDocument>,
}

/// Winnowing over the SHA-based hashes: the minimum of every window of
/// [`WINDOW`] k-grams (the rightmost on ties), each kept once; returns the
/// kept hashes and their k-grams' cheap hashes, each sorted and distinct.
fn winnow(grams: &[(u64, u64)]) -> (Vec<u64>, Vec<u64>) {
    let mut kept = HashSet::new();
    if grams.len() <= WINDOW {
        kept.extend(grams.iter().copied());
    } else {
        for window in grams.windows(WINDOW) {
            let min = window.iter().copied().min().expect("non-empty window");
            kept.insert(min);
        }
    }
    let mut hashes: Vec<u64> = kept.iter().map(|&(h, _)| h).collect();
    let mut filter: Vec<u64> = kept.iter().map(|&(_, c)| c).collect();
    for v in [&mut hashes, &mut filter] {
        v.sort_unstable();
        v.dedup();
    }
    (hashes, filter)
}

impl DocumentFingerprint {
    /// Fingerprints a document's text.
    pub fn new(name: impl Into<String>, text: &str) -> Self {
        let (hashes, filter) = winnow(&kgram_hashes(text));
        DocumentFingerprint {
            name: name.into(),
            hashes,
            filter,
        }
    }

    /// Percentage (0–100) of this document's hashes among `message`'s
    /// (sorted, distinct k-gram hashes).
    pub fn similarity(&self, message: &[u64]) -> u32 {
        if self.hashes.is_empty() {
            return 0;
        }
        // Both sorted: a merge, not a hash set.
        let (mut i, mut j, mut found) = (0, 0, 0);
        while i < self.hashes.len() && j < message.len() {
            match self.hashes[i].cmp(&message[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    found += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        (found * 100 / self.hashes.len()) as u32
    }
}

impl FingerprintSet {
    /// Writes the set as the versioned JSON file format.
    pub fn to_json(&self) -> String {
        let file = File {
            format: FORMAT.into(),
            version: VERSION,
            k: K,
            window: WINDOW,
            documents: self
                .documents
                .iter()
                .map(|d| FileDocument {
                    name: d.name.clone(),
                    hashes: d.hashes.iter().map(|h| format!("{h:016x}")).collect(),
                    filter: d.filter.iter().map(|h| format!("{h:016x}")).collect(),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&file).expect("serializable")
    }

    /// Reads a fingerprint file; a corrupt or foreign file is an error that
    /// says what is wrong.
    ///
    /// ```
    /// use sluice_dlp::{DocumentFingerprint, FingerprintSet};
    /// let set = FingerprintSet { documents: vec![DocumentFingerprint::new("memo", "one two three four five six seven")] };
    /// assert_eq!(FingerprintSet::from_json(&set.to_json()).unwrap(), set);
    /// assert!(FingerprintSet::from_json("{\"format\": \"other\"}").is_err());
    /// ```
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let bad = |m: String| Error::Fingerprint(m);
        let file: File =
            serde_json::from_str(json).map_err(|e| bad(format!("not a fingerprint file: {e}")))?;
        if file.format != FORMAT {
            return Err(bad(format!(
                "format is {:?}, expected {FORMAT:?}",
                file.format
            )));
        }
        if !(1..=VERSION).contains(&file.version) || file.k != K || file.window != WINDOW {
            return Err(bad(format!(
                "version {} with k={} window={} is not supported (expected version {VERSION}, k={K}, window={WINDOW}); rebuild it with `sluice-scan fingerprint`",
                file.version, file.k, file.window
            )));
        }
        let mut documents = Vec::with_capacity(file.documents.len());
        for d in file.documents {
            let parse = |list: &[String]| -> Result<Vec<u64>, Error> {
                let mut out = Vec::with_capacity(list.len());
                for h in list {
                    out.push(
                        u64::from_str_radix(h, 16)
                            .map_err(|_| bad(format!("document {:?}: bad hash {h:?}", d.name)))?,
                    );
                }
                out.sort_unstable();
                out.dedup();
                Ok(out)
            };
            let hashes = parse(&d.hashes)?;
            let filter = parse(&d.filter)?;
            if file.version >= 2 && filter.is_empty() != hashes.is_empty() {
                return Err(bad(format!(
                    "document {:?}: a version 2 file needs a filter",
                    d.name
                )));
            }
            documents.push(DocumentFingerprint {
                name: d.name,
                hashes,
                filter,
            });
        }
        Ok(FingerprintSet { documents })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::kgrams::*;
    use super::*;
    use crate::normalize::Normalized;

    /// Deterministic English-like prose from a fixed vocabulary.
    pub(crate) fn prose(seed: u64, words: usize) -> String {
        const VOCAB: &[&str] = &[
            "the",
            "board",
            "approved",
            "revenue",
            "forecast",
            "for",
            "next",
            "quarter",
            "and",
            "asked",
            "management",
            "to",
            "review",
            "customer",
            "contracts",
            "with",
            "regional",
            "partners",
            "before",
            "signing",
            "new",
            "agreements",
            "of",
            "market",
            "growth",
            "risk",
            "plan",
            "budget",
            "team",
            "meeting",
            "strategy",
            "sales",
            "in",
            "a",
            "on",
        ];
        let mut v = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut out = String::new();
        for i in 0..words {
            v = v
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            out.push_str(VOCAB[(v >> 33) as usize % VOCAB.len()]);
            out.push(if i % 13 == 12 { '.' } else { ' ' });
            if i % 13 == 12 {
                out.push(' ');
            }
        }
        out
    }

    fn sorted(v: Vec<(u64, u64)>) -> Vec<u64> {
        let mut v: Vec<u64> = v.into_iter().map(|(h, _)| h).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn excerpt_found_unrelated_not() {
        let doc = prose(1, 600);
        let fp = DocumentFingerprint::new("board", &doc);
        let words: Vec<&str> = doc.split(' ').collect();
        let excerpt = words[200..380]
            .join(" ")
            .to_uppercase()
            .replace(". ", ".\r\n");
        let message = sorted(kgram_hashes(&format!(
            "Hi team, see <b>below</b>:\n{excerpt}\nthanks"
        )));
        assert!(fp.similarity(&message) >= 20, "{}", fp.similarity(&message));
        let unrelated = sorted(kgram_hashes(&prose(2, 2000)));
        assert!(
            fp.similarity(&unrelated) < 5,
            "{}",
            fp.similarity(&unrelated)
        );
    }

    #[test]
    fn the_filter_finds_exactly_what_full_hashing_finds() {
        let doc = prose(3, 800);
        let fp = DocumentFingerprint::new("minutes", &doc);
        assert_eq!(fp.filter.len(), fp.hashes.len());
        let words: Vec<&str> = doc.split(' ').collect();
        let text = format!(
            "{} {} {}",
            prose(4, 300),
            words[100..400].join(" "),
            prose(5, 300)
        );
        let lower = Normalized::new(&text).lower().to_owned();
        let index: HashSet<u64> = fp.hashes.iter().copied().collect();
        let filter = KgramFilter::new(fp.filter.iter().copied());
        let mut full = Vec::new();
        for_each_kgram(&lower, None, |h, _| full.push(h));
        let mut filtered = Vec::new();
        for_each_kgram(&lower, Some(&filter), |h, _| filtered.push(h));
        assert!(
            filtered.len() * 4 < full.len(),
            "the filter skips most k-grams"
        );
        let found = |v: &[u64]| {
            sorted(v.iter().map(|&h| (h, 0)).collect())
                .into_iter()
                .filter(|h| index.contains(h))
                .collect::<Vec<_>>()
        };
        assert_eq!(found(&filtered), found(&full));
        assert!(fp.similarity(&found(&full)) >= 20);
    }

    #[test]
    fn block_word_split_matches_a_plain_split() {
        // Texts of every length around the 64-byte blocks, words of every
        // length around the 8-byte loads, at every alignment.
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        // Mostly separators (short words), then mostly letters (long ones).
        let alphabets: [&[u8]; 2] = [
            b"ab9Z -.,\n\t_@[`{/:",
            b"abcdefghijklmnopqrstuvwxyz0189XYZ ",
        ];
        for (len, alphabet) in (0..300)
            .chain([1000, 4096])
            .flat_map(|len| alphabets.map(|a| (len, a)))
        {
            let text: String = (0..len)
                .map(|_| alphabet[next() % alphabet.len()] as char)
                .collect();
            let expected: Vec<(&[u8], u64)> = text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(|w| (w.as_bytes(), cheap_word_hash(w.as_bytes())))
                .collect();
            let mut found = Vec::new();
            for_each_word(&text, |w, h| found.push((w, h)));
            assert_eq!(found, expected, "{text:?}");
        }
        let long = "x".repeat(70) + " " + &"y".repeat(64);
        let mut found = Vec::new();
        for_each_word(&long, |w, _| found.push(w.len()));
        assert_eq!(found, [70, 64]);
    }

    #[test]
    fn version_1_files_are_still_read() {
        let v2 = FingerprintSet {
            documents: vec![DocumentFingerprint::new("memo", &prose(6, 100))],
        };
        let mut v1: serde_json::Value = serde_json::from_str(&v2.to_json()).unwrap();
        v1["version"] = 1.into();
        v1["documents"][0].as_object_mut().unwrap().remove("filter");
        let read = FingerprintSet::from_json(&v1.to_string()).unwrap();
        assert_eq!(read.documents[0].hashes, v2.documents[0].hashes);
        assert!(read.documents[0].filter.is_empty());
    }
}
