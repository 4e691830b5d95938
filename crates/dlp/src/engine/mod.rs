//! The engine: definitions compiled once, scanned many times.
//!
//! `mod.rs` compiles [`Definitions`] into an [`Engine`]; `search.rs` runs
//! one scan (windows, automatons, identifiers, regexes, fingerprints),
//! `tally.rs` counts a rule's hits, `windows.rs` cuts long texts,
//! `automaton.rs` holds the dictionary automatons and `results.rs` what a
//! scan returns.

use std::collections::HashSet;
use std::sync::Arc;

use regex::Regex;

use crate::edm::RowRule;
use crate::fingerprint::KgramFilter;
use crate::identifier::Search;
use crate::rule::{CountMode, Definitions, Thresholds};
use crate::{Confidence, EdmIndex, Error, FingerprintSet, Identifier};

mod automaton;
mod compile;
mod directory;
mod keywords;
#[cfg(test)]
mod repeat_tests;
mod repeats;
mod results;
mod search;
mod tally;
#[cfg(test)]
mod window_tests;
mod windows;

use crate::huge_pages::Values;
use automaton::{build_automaton, Automaton};
use directory::Directory;
use keywords::Keywords;
pub use results::{Match, RuleResult, ScanResult, Segment, TableRow, MAX_EVIDENCE};
use windows::{WINDOW_BYTES, WINDOW_OVERLAP};

#[derive(Debug)]
enum Matcher {
    Dictionary {
        terms: Vec<(Arc<str>, u32)>,
    },
    /// Runs through `Engine::searches`, shared by entities of one type;
    /// the normalized values that never match.
    Identifier {
        exclude: HashSet<String>,
    },
    Regex(Regex, bool),
    /// The documents, which of them hold each hash, the similarity
    /// threshold, the shortest passage (0: none looked for).
    Fingerprint(Postings, FingerprintSet, u32, u32),
    /// An EDM table and what makes a row of it (the primary column
    /// resolved to its index).
    Edm(Arc<EdmIndex>, RowRule),
}

/// More documents than this sharing a k-gram make it a stock phrase.
const COMMON_HASH_DOCUMENTS: usize = 50;

/// Every hash of a set of documents with the document holding it (its
/// index in the set), sorted: a message's hashes lead to the documents
/// they are in, so a message costs its own hashes, not a pass over every
/// document's.
#[derive(Debug)]
struct Postings {
    pairs: Values<(u64, u32)>,
    directory: Directory,
    /// Each document's number of hashes, for its similarity: reading the
    /// documents themselves for it, dozens a message (a stock phrase is
    /// in up to [`COMMON_HASH_DOCUMENTS`]), was a cache miss each and
    /// most of what finding them cost.
    sizes: Vec<u32>,
}

impl Postings {
    fn new(set: &FingerprintSet) -> Postings {
        let count = set.documents.iter().map(|doc| doc.hashes.len()).sum();
        let mut pairs = Values::zeroed(count);
        let all = set
            .documents
            .iter()
            .enumerate()
            .flat_map(|(d, doc)| doc.hashes.iter().map(move |&h| (h, d as u32)));
        for (slot, pair) in pairs.get_mut().iter_mut().zip(all) {
            *slot = pair;
        }
        pairs.get_mut().sort_unstable();
        let directory = Directory::new(pairs.get().iter().map(|&(h, _)| h));
        let sizes = set
            .documents
            .iter()
            .map(|doc| u32::try_from(doc.hashes.len()).unwrap_or(u32::MAX))
            .collect();
        Postings {
            pairs,
            directory,
            sizes,
        }
    }

    /// Whether some document holds `hash`. Searched, not scanned: a
    /// k-gram thousands of documents hold is a run of thousands of pairs
    /// in its bucket, which a scan for a hash after it read whole.
    #[inline]
    fn contains(&self, hash: u64) -> bool {
        let bucket = &self.pairs.get()[self.directory.bucket(hash)];
        let at = bucket.partition_point(|&(h, _)| h < hash);
        bucket.get(at).is_some_and(|&(h, _)| h == hash)
    }

    /// The percentage of document `d`'s hashes that `found` of them are.
    fn share(&self, d: usize, found: usize) -> u32 {
        crate::fingerprint::share_of(found, self.sizes[d] as usize)
    }

    /// The documents holding `hash`; none when more than
    /// [`COMMON_HASH_DOCUMENTS`] do (a stock phrase tells no document
    /// from another, and following it to each would make every message
    /// cost as much as the library is large).
    fn documents(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        let bucket = &self.pairs.get()[self.directory.bucket(hash)];
        let start = bucket.partition_point(|&(h, _)| h < hash);
        let holders = bucket[start..]
            .iter()
            .take(COMMON_HASH_DOCUMENTS + 1)
            .take_while(|&&(h, _)| h == hash)
            .count();
        let holders = if holders > COMMON_HASH_DOCUMENTS {
            0
        } else {
            holders
        };
        bucket[start..start + holders]
            .iter()
            .map(|&(_, d)| d as usize)
    }
}

#[derive(Debug)]
struct Entity {
    name: String,
    matcher: Matcher,
}

#[derive(Debug)]
struct Rule {
    name: String,
    entities: Vec<usize>,
    count: CountMode,
    scope: [bool; 3],
    thresholds: Thresholds,
    require: Vec<usize>,
    proximity: Option<usize>,
    min_confidence: Confidence,
}

/// A compiled set of entities, rules and profiles.
///
/// Built once; immutable, `Send + Sync`, shared across threads without
/// locks. All dictionary terms of all entities live in (at most) two
/// Aho-Corasick automatons — case-insensitive and case-sensitive — each run
/// once per segment; each built-in identifier type runs once per segment
/// however many entities use it.
#[derive(Debug)]
pub struct Engine {
    entities: Vec<Entity>,
    rules: Vec<Rule>,
    profiles: Vec<(String, Vec<usize>)>,
    insensitive: Option<Automaton>,
    sensitive: Option<Automaton>,
    /// Per identifier type (`id as usize`): the entities of that type.
    identifier_users: Vec<Vec<usize>>,
    /// The passes that find the identifier types in use.
    searches: Vec<Search>,
    /// Their keywords and the entities' own.
    keywords: Option<Keywords>,
    /// The fingerprint entities: a message's k-grams are looked up in
    /// their postings.
    fingerprint_entities: Vec<usize>,
    /// The documents' cheap k-gram hashes, when every fingerprint file has
    /// them (version 2): k-grams outside it are never SHA-hashed.
    fingerprint_filter: Option<KgramFilter>,
    /// How far a window's text runs past its cut: [`WINDOW_OVERLAP`], or
    /// more for a dictionary with longer terms (NFKC may shrink a text's
    /// characters to a third).
    overlap: usize,
    /// Whether a rule measures proximity (hits need character positions).
    proximity: bool,
    /// How many entities are EDM tables.
    edm_tables: usize,
    /// Whether every matcher finds the same in a text with one more space
    /// at either end (none is a regex entity, whose `^`, `$` or `\s` may
    /// see it): such texts may share their matches ([`repeats::RepeatedTexts`]).
    edges_free: bool,
    /// Threads one scan of a long text may use ([`Engine::with_threads`]).
    threads: usize,
}

impl Engine {
    /// Compiles `definitions`, checking every cross-reference.
    ///
    /// Errors name the entity, rule or profile at fault: duplicate names,
    /// unknown entities or rules, invalid regexes, thresholds that are not
    /// positive or do not rise with the level.
    pub fn new(mut definitions: Definitions) -> Result<Engine, Error> {
        let compiled = compile::entities(&mut definitions.entities)?;
        let rules = compile::rules(&definitions.rules, &compiled.entities)?;
        let profiles = compile::profiles(&definitions.profiles, &rules)?;
        let insensitive = build_automaton(compiled.insensitive_patterns)?;
        let sensitive = build_automaton(compiled.sensitive_patterns)?;
        let longest_term = [&insensitive, &sensitive]
            .into_iter()
            .flatten()
            .map(|a| a.max_len)
            .max()
            .unwrap_or(0);
        Ok(Engine {
            overlap: WINDOW_OVERLAP.max(3 * longest_term + 64),
            proximity: rules
                .iter()
                .any(|r| r.proximity.is_some() && !r.require.is_empty()),
            edm_tables: compiled
                .entities
                .iter()
                .filter(|e| matches!(e.matcher, Matcher::Edm(..)))
                .count(),
            edges_free: !compiled
                .entities
                .iter()
                .any(|e| matches!(e.matcher, Matcher::Regex(..))),
            entities: compiled.entities,
            rules,
            profiles,
            insensitive,
            sensitive,
            identifier_users: {
                let mut users = vec![Vec::new(); Identifier::ALL.len()];
                for (id, entities) in &compiled.identifiers {
                    users[*id as usize].clone_from(entities);
                }
                users
            },
            searches: Search::for_types(
                &compiled
                    .identifiers
                    .iter()
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>(),
            ),
            keywords: Keywords::build(&compiled.keyword_owners)?,
            fingerprint_entities: compiled.fingerprint_entities,
            fingerprint_filter: compiled.fingerprint_filter,
            threads: automaton::cores(),
        })
    }

    /// The same engine, with `threads` threads for one scan of a long text
    /// (1: none besides the caller's; 0: one per core, the default).
    ///
    /// A text of 2 MiB or more is searched with scoped threads that end
    /// with the scan: the dictionary automatons in one chunk per thread,
    /// and (with more than 1) the identifier searches each on a thread of
    /// its own. An embedder that scans many messages
    /// at once on its own pool of threads may prefer 1. The engine keeps no
    /// other threads; its caches are per scanning thread: word hashes for
    /// fingerprints (a few MiB at most), exact data match's word list (at
    /// most 4 MiB kept), and the
    /// identifier search's digit regex (a copy per thread, so that threads
    /// do not take turns at one regex's cache pool).
    pub fn with_threads(mut self, threads: usize) -> Engine {
        self.threads = if threads == 0 {
            automaton::cores()
        } else {
            threads
        };
        self
    }

    /// Rule names of profile `name`, in profile order.
    pub fn profile(&self, name: &str) -> Option<Vec<&str>> {
        self.profiles
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, rules)| rules.iter().map(|&i| self.rules[i].name.as_str()).collect())
    }

    /// Profile names, in definition order.
    pub fn profiles(&self) -> impl Iterator<Item = &str> {
        self.profiles.iter().map(|(n, _)| n.as_str())
    }

    /// The `n` of a rule's default threshold `low = ceil(n/2)`: the
    /// distinct terms across its dictionary entities (SPEC §4). `None` for
    /// an unknown rule or one without dictionaries.
    pub fn dictionary_terms(&self, rule: &str) -> Option<u64> {
        let r = self.rules.iter().find(|r| r.name == rule)?;
        compile::distinct_dictionary_terms(&r.entities, &self.entities)
    }

    /// The thresholds a rule uses (the default ones filled in).
    pub fn thresholds(&self, rule: &str) -> Option<Thresholds> {
        self.rules
            .iter()
            .find(|r| r.name == rule)
            .map(|r| r.thresholds)
    }

    /// Scans one plain text as a message body.
    pub fn scan_str(&self, text: &str) -> ScanResult {
        self.scan(&[Segment::body(text)])
    }

    /// Scans the texts of one message. Counting is over all segments in
    /// each rule's scope.
    ///
    /// A text longer than 4 MiB is searched a window at a time (see the
    /// crate doc): its normalized and lowercased copies and its matches
    /// exist one window at a time, and each rule keeps only its counts,
    /// its distinct values and its evidence.
    pub fn scan(&self, segments: &[Segment]) -> ScanResult {
        self.scan_in_windows(segments, WINDOW_BYTES, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DocumentFingerprint, FingerprintSet};

    fn document(hashes: Vec<u64>) -> DocumentFingerprint {
        DocumentFingerprint {
            name: String::new(),
            hashes,
            filter: Vec::new(),
            positions: Vec::new(),
        }
    }

    #[test]
    fn postings_find_hashes_around_a_stock_phrase() {
        // One hash every document holds (a run of 300 pairs in its
        // bucket), beside hashes of one document each, just below and
        // above it.
        let stock = 1u64 << 40;
        let documents = (0..300u64)
            .map(|d| document(vec![stock - 1 - d, stock, stock + 1 + d]))
            .collect();
        let postings = Postings::new(&FingerprintSet { documents });
        for h in [stock, stock - 1, stock - 300, stock + 1, stock + 300] {
            assert!(postings.contains(h), "{h:#x}");
        }
        for h in [stock - 301, stock + 301, 0, u64::MAX] {
            assert!(!postings.contains(h), "{h:#x}");
        }
        assert_eq!(postings.documents(stock + 7).collect::<Vec<_>>(), [6]);
        // Held by more than COMMON_HASH_DOCUMENTS: a stock phrase.
        assert_eq!(postings.documents(stock).count(), 0);
    }
}
