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
//! `{"format": "sluice-fingerprints", "version": 3, "k": 5, "window": 4,
//! "documents": [{"name": "board.docx", "hashes": "<base64>", "filter":
//! "<base64>", "positions": "<base64>"}]}`, each list packed as
//! little-endian `u64`s (`u32`s for positions); versions 1 and 2 wrote
//! hashes as 16-digit hex strings (`["9f86d081884c7d65", ...]`), still read.
//!
//! `filter` (version 2) holds, for each kept k-gram, a second, cheap hash
//! of the same words ([`WordHasher`] per word, combined the same way). A
//! message's k-grams are checked against the filter first and only the few
//! that pass are hashed with SHA-256 and compared with `hashes`: unrelated
//! mail costs no SHA-256 at all. The filter reveals no more than `hashes`
//! does (both are 64-bit hashes of the same 5-word sequences). Version 1
//! files (no filter) are still read; messages are then SHA-hashed in full.
//!
//! **Passages** (version 3). A paragraph copied out of a long document is
//! a small share of it, so similarity misses it; but in the message it is
//! a run of the document's kept k-grams, one at least every few words
//! ([`DocumentFingerprint::longest_passage`]). A different document that
//! shares some phrases (a licence of the same family) gives short runs
//! only. Boilerplate many documents carry is left out of them when they
//! are fingerprinted (`sluice-scan fingerprint --exclude`), so a passage
//! of it is no run at all. Version 3 differs from 2 only in that its
//! documents are looked for by passage as well: a file of an earlier
//! version was built without exclusions, so its documents match by
//! similarity only.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::Error;

mod kgrams;

pub(crate) use kgrams::{
    cheap_word_hash, for_each_kgram_and_word, for_each_word, kgram_hashes, KgramFilter, OnWord,
};

/// Words per k-gram.
pub const K: usize = 5;
/// k-gram hashes per winnowing window.
pub const WINDOW: usize = 4;

const FORMAT: &str = "sluice-fingerprints";
const VERSION: u32 = 3;
/// Most words between the starts of two k-grams of one passage found in a
/// message: one changed word in ten removes the five k-grams around it,
/// and winnowing keeps one k-gram in four; two changes close together
/// leave a wider gap.
const PASSAGE_GAP: u32 = 16;
/// Words at a passage's ends its found k-grams may miss: winnowing keeps
/// one k-gram in every [`WINDOW`] (up to `WINDOW - 1` missed at each
/// end), and a changed word near an end takes the k-grams over it.
const PASSAGE_EDGES: u32 = 2 * (WINDOW as u32 - 1) + K as u32;
/// Marks a position whose k-gram the document has at other places too:
/// it extends a passage without telling where in the document it is.
const REPEATED: u32 = 1 << 31;
/// How far a passage's k-grams may stray from its diagonal (words added
/// or lost between two of them: a word split or joined by punctuation).
const PASSAGE_DRIFT: u32 = 3;
/// Fewest k-grams of a document that make a passage, and their least
/// density (one per ten words): a chain of a few stray phrases is none.
const PASSAGE_MIN_HITS: u32 = 4;

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
    /// Where each of `hashes` first starts in the document (its word
    /// index), in the same order; empty for a file of version 1 or 2,
    /// whose documents are then matched by whole-document similarity
    /// only (passages need them).
    pub positions: Vec<u32>,
}

/// A set of fingerprinted documents: the content of one fingerprint file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FingerprintSet {
    /// The documents.
    pub documents: Vec<DocumentFingerprint>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDocument<'a> {
    name: String,
    #[serde(borrow)]
    hashes: Numbers<'a>,
    #[serde(default, borrow)]
    filter: Numbers<'a>,
    /// Version 3: where each of `hashes` first starts in the document
    /// (word index), in the same order.
    #[serde(default, borrow)]
    positions: Numbers<'a>,
}

/// A list of numbers in a file: 16-digit hex strings (versions 1 and 2),
/// or (version 3) one base64 string of little-endian `u64`s (hashes) or
/// `u32`s (positions). 10,000 documents are millions of numbers: a
/// string each took seconds and a gigabyte to read.
///
/// A packed string is borrowed from the file's text when it can be (it
/// has no escapes, and base64 never does): a copy of every string was as
/// large as the file again at the peak of a load.
#[derive(Serialize, Default)]
#[serde(untagged)]
enum Numbers<'a> {
    #[default]
    None,
    Hex(Vec<String>),
    Packed(std::borrow::Cow<'a, str>),
}

/// Read by kind of JSON value: serde's untagged enums try each variant in
/// turn, and each failed try formatted the whole 100 MB string into its
/// error message.
impl<'de: 'a, 'a> Deserialize<'de> for Numbers<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Numbers<'a>, D::Error> {
        struct Kinds<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Kinds<'a> {
            type Value = Numbers<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a base64 string or a list of hex strings")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Numbers<'a>, E> {
                Ok(Numbers::Packed(v.into()))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Numbers<'a>, E> {
                Ok(Numbers::Packed(v.to_owned().into()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Numbers<'a>, E> {
                Ok(Numbers::Packed(v.into()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Numbers<'a>, E> {
                Ok(Numbers::None)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Numbers<'a>, A::Error> {
                let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(h) = seq.next_element::<String>()? {
                    list.push(h);
                }
                Ok(Numbers::Hex(list))
            }
        }
        d.deserialize_any(Kinds(std::marker::PhantomData))
    }
}

impl Numbers<'_> {
    fn packed<const N: usize>(values: impl Iterator<Item = [u8; N]>) -> Numbers<'static> {
        use base64::Engine as _;
        let bytes: Vec<u8> = values.flatten().collect();
        Numbers::Packed(
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into(),
        )
    }

    /// The numbers, `N` bytes each (8: hashes, 4: positions).
    fn read<const N: usize>(&self) -> Result<Vec<[u8; N]>, String> {
        use base64::Engine as _;
        match self {
            Numbers::None => Ok(Vec::new()),
            Numbers::Hex(list) if N == 8 => list
                .iter()
                .map(|h| {
                    u64::from_str_radix(h, 16)
                        .map(|v| v.to_le_bytes()[..N].try_into().expect("N is 8"))
                        .map_err(|_| format!("bad hash {h:?}"))
                })
                .collect(),
            Numbers::Hex(_) => Err("positions are packed".into()),
            Numbers::Packed(text) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|e| format!("bad base64: {e}"))?;
                if bytes.len() % N != 0 {
                    return Err(format!(
                        "{} bytes is no whole number of {N}-byte values",
                        bytes.len()
                    ));
                }
                Ok(bytes
                    .chunks_exact(N)
                    .map(|c| c.try_into().expect("chunks of N"))
                    .collect())
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File<'a> {
    format: String,
    version: u32,
    k: usize,
    window: usize,
    #[serde(borrow)]
    documents: Vec<FileDocument<'a>>,
}

/// Winnowing over the SHA-based hashes: the minimum of every window of
/// [`WINDOW`] k-grams (the rightmost on ties), each kept once; returns the
/// kept hashes (sorted, distinct) with where each first starts (marked
/// [`REPEATED`] when the document has that k-gram at more than one
/// place), and their k-grams' cheap hashes (sorted, distinct).
fn winnow(grams: &[(u64, u64)]) -> (Vec<(u64, u32)>, Vec<u64>) {
    let mut kept = HashSet::new();
    if grams.len() <= WINDOW {
        kept.extend(grams.iter().copied());
    } else {
        for window in grams.windows(WINDOW) {
            let min = window.iter().copied().min().expect("non-empty window");
            kept.insert(min);
        }
    }
    let mut first: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    for (at, &(h, _)) in grams.iter().enumerate() {
        first
            .entry(h)
            .and_modify(|p| *p |= REPEATED)
            .or_insert(at as u32);
    }
    let mut hashes: Vec<(u64, u32)> = kept.iter().map(|&(h, _)| (h, first[&h])).collect();
    hashes.sort_unstable();
    hashes.dedup_by_key(|(h, _)| *h);
    let mut filter: Vec<u64> = kept.iter().map(|&(_, c)| c).collect();
    filter.sort_unstable();
    filter.dedup();
    (hashes, filter)
}

impl DocumentFingerprint {
    /// Fingerprints a document's text.
    pub fn new(name: impl Into<String>, text: &str) -> Self {
        let (kept, filter) = winnow(&kgram_hashes(text));
        DocumentFingerprint {
            name: name.into(),
            hashes: kept.iter().map(|&(h, _)| h).collect(),
            positions: kept.iter().map(|&(_, at)| at).collect(),
            filter,
        }
    }

    /// Whether passages of it can be looked for (the file had positions).
    pub fn has_positions(&self) -> bool {
        !self.positions.is_empty() || self.hashes.is_empty()
    }

    /// The longest passage of this document in a text, from the text's
    /// k-grams that are some document's (by place, then hash): its first
    /// word and its length in words (from its first k-gram of this
    /// document to the end of its last), when it is at least
    /// `min_words` long.
    ///
    /// A passage is a run of this document's k-grams in the text that
    /// are in the same order and at about the same distances in the
    /// document (each within 3 words of the run's diagonal, at most 16
    /// words apart, at least 4 of them and one per ten words). Another document of the same family shares
    /// phrases, but at other distances: runs of it stay short. Winnowing
    /// keeps one k-gram in every [`WINDOW`], and a changed word near an
    /// end takes the k-grams over it: a run counts from `min_words` less
    /// 11 words.
    pub fn longest_passage(&self, kgrams: &[(u32, u64)], min_words: u32) -> Option<(u32, u32)> {
        if self.positions.len() != self.hashes.len() || min_words == 0 {
            return None;
        }
        /// A run: its first and last place in the text, the place in the
        /// text and in the document of its last k-gram the document has
        /// once (the run's diagonal; none yet when it began with repeated
        /// ones), and its k-grams.
        #[derive(Clone, Copy)]
        struct Run {
            first: u32,
            last: u32,
            fixed: Option<(u32, u32)>,
            hits: u32,
        }
        let mut best: Option<(u32, u32)> = None;
        let close = |run: &Run, best: &mut Option<(u32, u32)>| {
            let words = run.last - run.first + K as u32;
            let dense = run.hits >= PASSAGE_MIN_HITS && run.hits * 10 >= words;
            let long = words + PASSAGE_EDGES >= min_words;
            if dense && long && best.is_none_or(|(_, w)| words > w) {
                *best = Some((run.first, words));
            }
        };
        // The runs still open (a k-gram within the gap), few at a time.
        let mut open: Vec<Run> = Vec::new();
        for &(at, hash) in kgrams {
            let Ok(i) = self.hashes.binary_search(&hash) else {
                continue;
            };
            let doc = self.positions[i];
            open.retain(|run| {
                let alive = at - run.last <= PASSAGE_GAP;
                if !alive {
                    close(run, &mut best);
                }
                alive
            });
            if doc & REPEATED != 0 {
                // A phrase the document repeats: it fits the latest run,
                // wherever in the document that is.
                match open.iter_mut().max_by_key(|run| run.last) {
                    Some(run) => {
                        run.last = at;
                        run.hits += 1;
                    }
                    None => open.push(Run {
                        first: at,
                        last: at,
                        fixed: None,
                        hits: 1,
                    }),
                }
                continue;
            }
            let fits = |run: &Run| {
                run.fixed.is_none_or(|(text, placed)| {
                    doc > placed && (at - text).abs_diff(doc - placed) <= PASSAGE_DRIFT
                })
            };
            match open.iter_mut().find(|run| fits(run)) {
                Some(run) => {
                    run.last = at;
                    run.fixed = Some((at, doc));
                    run.hits += 1;
                }
                None => open.push(Run {
                    first: at,
                    last: at,
                    fixed: Some((at, doc)),
                    hits: 1,
                }),
            }
        }
        for run in &open {
            close(run, &mut best);
        }
        best
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
        self.share(found)
    }

    /// The percentage of this document's hashes that `found` of them are.
    pub fn share(&self, found: usize) -> u32 {
        share_of(found, self.hashes.len())
    }
}

/// The percentage of a document's `hashes` hashes that `found` of them
/// are ([`DocumentFingerprint::share`], for a caller that knows only the
/// count).
pub(crate) fn share_of(found: usize, hashes: usize) -> u32 {
    (found * 100 / hashes.max(1)) as u32
}

impl FingerprintSet {
    /// Leaves out of every document each k-gram of `text` (boilerplate
    /// that many documents carry, SPEC §3.5 `--exclude`): a passage made
    /// of it matches nothing, and it counts for no similarity.
    pub fn exclude(&mut self, text: &str) {
        let grams = kgram_hashes(text);
        let hashes: HashSet<u64> = grams.iter().map(|&(h, _)| h).collect();
        let cheap: HashSet<u64> = grams.iter().map(|&(_, c)| c).collect();
        for d in &mut self.documents {
            let kept: Vec<(u64, u32)> = d
                .hashes
                .iter()
                .copied()
                .zip(d.positions.iter().copied())
                .filter(|(h, _)| !hashes.contains(h))
                .collect();
            d.hashes = kept.iter().map(|&(h, _)| h).collect();
            d.positions = kept.iter().map(|&(_, at)| at).collect();
            d.filter.retain(|c| !cheap.contains(c));
        }
    }

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
                    hashes: Numbers::packed(d.hashes.iter().map(|h| h.to_le_bytes())),
                    filter: Numbers::packed(d.filter.iter().map(|h| h.to_le_bytes())),
                    positions: Numbers::packed(d.positions.iter().map(|p| p.to_le_bytes())),
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
            let read_u64 = |n: &Numbers| -> Result<Vec<u64>, Error> {
                Ok(n.read::<8>()
                    .map_err(|e| bad(format!("document {:?}: {e}", d.name)))?
                    .into_iter()
                    .map(u64::from_le_bytes)
                    .collect())
            };
            let mut filter = read_u64(&d.filter)?;
            filter.sort_unstable();
            filter.dedup();
            let listed = read_u64(&d.hashes)?;
            let at: Vec<u32> = d
                .positions
                .read::<4>()
                .map_err(|e| bad(format!("document {:?}: {e}", d.name)))?
                .into_iter()
                .map(u32::from_le_bytes)
                .collect();
            if file.version >= 3 && at.len() != listed.len() {
                return Err(bad(format!(
                    "document {:?}: {} hashes but {} positions",
                    d.name,
                    listed.len(),
                    at.len()
                )));
            }
            // Hashes sorted with their positions (none before version 3).
            let mut kept: Vec<(u64, Option<u32>)> = listed
                .iter()
                .enumerate()
                .map(|(i, &h)| (h, at.get(i).copied()))
                .collect();
            kept.sort_unstable();
            kept.dedup_by_key(|(h, _)| *h);
            let hashes: Vec<u64> = kept.iter().map(|&(h, _)| h).collect();
            // Files before version 3 match by similarity only.
            let positions: Vec<u32> = if file.version >= 3 {
                kept.iter().filter_map(|&(_, at)| at).collect()
            } else {
                Vec::new()
            };
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
                positions,
            });
        }
        Ok(FingerprintSet { documents })
    }
}

#[cfg(test)]
pub(crate) mod tests;
