//! The Sluice DLP engine: finds sensitive content in text and decides how
//! severe it is.
//!
//! `sluice-dlp` knows nothing of MIME, SMTP or policies. It is given texts
//! ([`Segment`]s, each tagged with the scope section it belongs to) and a
//! compiled [`Engine`] of entities (keyword [`Dictionary`]s, validated
//! [`Identifier`]s, regexes, document [`FingerprintSet`]s, exact-data-match
//! tables as [`EdmIndex`]es), rules (entities
//! counted together, with severity [`Thresholds`]) and profiles (named
//! sets of rules), and returns, per rule, the count, the severity reached
//! and the matches with their original text and position (SPEC §3.2–§4;
//! at most [`MAX_EVIDENCE`] matches are kept as evidence, the count covers
//! all).
//!
//! ```
//! use sluice_dlp::{Definitions, Dictionary, Engine, EntityDefinition, RuleDefinition, Severity};
//!
//! let terms = Dictionary::from_terms([("Customer", 1), ("Account Manager", 1), ("Sales Engineer", 1), ("Purchase date", 1)]);
//! let engine = Engine::new(Definitions::new(
//!     vec![EntityDefinition::dictionary("customer-terms", terms)],
//!     // Unique counting with the default threshold: low = ceil(4/2) = 2.
//!     vec![RuleDefinition::new("Customer entitlement", &["customer-terms"])],
//!     vec![],
//! ))
//! .unwrap();
//!
//! let result = engine.scan_str("The CUSTOMER's account\nmanager signed; customers wait.");
//! let rule = result.rule("Customer entitlement").unwrap();
//! assert_eq!(rule.count, 2); // "CUSTOMER" and "account manager"; not "customers"
//! assert_eq!(rule.severity, Some(Severity::Low));
//! assert_eq!(rule.matches[1].text, "account\nmanager"); // evidence is the original text
//! assert_eq!(rule.matches[1].value, "account manager");
//! ```
//!
//! `examples/embed.rs` (`cargo run -p sluice-dlp --example embed`) builds
//! an engine from a CSV dictionary, identifiers and a regex with the
//! constructors ([`EntityDefinition::dictionary`],
//! [`EntityDefinition::identifier`], [`EntityDefinition::regex`]), scans
//! segments tagged with their sections and prints masked evidence.
//!
//! # Threads and caches
//!
//! An [`Engine`] starts no threads of its own and keeps none: a scan runs
//! on the caller's thread, except that a text of 2 MiB or more is searched
//! with scoped threads that end with the scan (one chunk per thread for the
//! dictionary automatons, one thread per identifier search).
//! [`Engine::with_threads`] sets how many (1: none; default: one per
//! core). The only cache is per scanning thread: the word hashes of
//! fingerprint matching, bounded at 200,000 words.
//!
//! # Design decisions
//!
//! * **Normalize once, match many.** Every segment is normalized once (NFKC,
//!   format characters removed, whitespace runs to one space; see
//!   [`Normalized`]) with a sparse offset map back to the original, so
//!   evidence shows what the sender wrote. ASCII text takes a fast path
//!   that only collapses whitespace (runs found on byte masks, 64 bytes a
//!   step) and lowercases with a plain byte map.
//! * **Huge texts in windows, counts as they come.** A text over 4 MiB (a
//!   CRM export attached to a mail) is normalized and searched in 4 MiB
//!   windows cut where a whitespace run starts, so no word is split and
//!   each window's normalized text is exactly that part of the whole
//!   text's. A window's text runs at least 4,096 characters and five words
//!   past its cut, so a term, an identifier or a k-gram starting before the
//!   cut is seen whole; matches belong to the window they start in, and
//!   identifier and regex searches go on in the next window where the
//!   previous one stopped, as one search of the whole text would. Rules
//!   keep only their counts, distinct values and capped evidence as hits
//!   arrive. A 36 MB attachment costs a window's copies, not three more
//!   copies of itself and a record per match.
//! * **A text said twice is searched once.** A message's HTML alternative
//!   usually says what its plain text says: a segment whose normalized
//!   text repeats an earlier segment's (a space apart at either end at
//!   most, when no regex entity could see that space) takes that
//!   segment's matches, placed in its own text. The result is the same as
//!   searching it again; a test compares the two.
//! * **Proximity as hits arrive.** A hit of a rule with `proximity` waits
//!   until every required hit that could be near it has been seen, and is
//!   decided by one binary search over the required hits so far (by start,
//!   with the running largest end); required hits too far behind are
//!   dropped. So only hits within the limit of the search's progress are
//!   held, and a message with thousands of both costs milliseconds (the
//!   pairwise check it replaced, counting characters between every pair,
//!   took 135 s on a 1.6 MB attachment). A test compares
//!   windowed scans with one pass over random texts made of every kind of
//!   match and normalization; only a custom regex match longer than the
//!   overlap, crossing a cut, could differ.
//! * **One automaton for all terms.** All terms of all case-insensitive
//!   dictionaries are in one Aho-Corasick automaton (overlapping matches:
//!   `Account Manager` and `Manager` both count), scanned once per
//!   segment; word boundaries are checked on the hits, except at edges in
//!   scripts written without spaces (Han, Kana, Thai, Lao, Khmer, Myanmar).
//! * **Identifiers validate, and say how sure they are.** 59 built-in types
//!   ([`Identifier::ALL`]; SPEC §3.3), each kept only when its published
//!   rule holds (check digits, dates, ranges, prefixes). The 40
//!   number-shaped types share one candidate search (a digit found on a
//!   bit mask of the text's digits, widened to the groups written around
//!   it, offered by length), so fifty types do not cost fifty passes;
//!   cards, IBANs and IPv4 addresses are found digit to digit on the same
//!   mask, read once per text, and secrets by their literal prefixes. Each match has a [`Confidence`]: `high` with a
//!   keyword of its type within 300 characters (searched only around
//!   matches), else the type's own; a rule counts from its
//!   `min_confidence` up. Users' regexes are compiled as written;
//!   [`Identifier::mask`] is how evidence may show identifier values.
//! * **Fingerprints hash only candidates.** Every 5-word k-gram of a
//!   message is checked against a cheap hash filter stored with the
//!   documents' SHA-256-based hashes (file version 2); only k-grams that pass
//!   are SHA-256-hashed and compared, so unrelated mail costs no SHA-256.
//!   The word loop over every message's text finds words 64 bytes at a time
//!   from a bit mask and hashes them without branches: it is the engine's
//!   hottest loop on ordinary mail. A small library (2,048 k-grams or
//!   fewer) also keeps a bit per value of a hash's top 16 bits, which
//!   rules out most of a message's k-grams in one test. Version 3 files also keep where each
//!   kept k-gram starts, so a paragraph of a long document is found as a
//!   run of its k-grams in document order
//!   ([`DocumentFingerprint::longest_passage`]); documents are reached
//!   through postings of their hashes, so a message costs its own hashes,
//!   not a pass over every document. For a library of thousands of
//!   documents the filter is a blocked Bloom filter of megabytes on huge
//!   pages of its own, probed with a prefetch some words ahead (a read of
//!   it waits on memory), and a k-gram that passes is confirmed by more
//!   bits in another word of the same cache line before its SHA-256; the
//!   postings are a sorted list under a directory of their top bits
//!   (uniform hashes: one slot and a short run, searched by halves so
//!   that a k-gram thousands of documents share costs a few reads, not a
//!   scan of the run).
//! * **Exact data match without the data.** A table's cells are kept as
//!   keyed hashes (HMAC-SHA-256 with a secret salt) in a memory-mapped
//!   index ([`EdmIndex`]): loading reads only the two filters (onto huge
//!   pages: probed at random, they missed the address translation cache
//!   too), and of the rest only the pages scans touch are resident. The same word loop feeds it; two keyed filters
//!   (words, then word sequences) let only a few candidates per message
//!   reach an HMAC, and each index remembers recent words' verdicts
//!   (whether some cell has the word, whether it may be a cell alone) so
//!   that most words cost no filter read, and the words it knows as no
//!   cell's (most of them) are left out before the search. A row counts
//!   when enough of its columns are found
//!   close together; every cell found is reported in
//!   [`ScanResult::cells`] so callers can mask it ([`mask_spans`]).
//! * **Engines are values.** An [`Engine`] is immutable, `Send + Sync`, and
//!   shared across threads without locks.
#![deny(missing_docs)]

mod byte_classes;
mod dictionary;
mod edm;
mod engine;
mod fingerprint;
mod huge_pages;
mod identifier;
mod normalize;
mod redact;
mod rule;

pub use dictionary::{Dictionary, Term};
pub use edm::{
    build_from_csv as build_edm_index, read_or_create_salt, read_salt, EdmBuilder, EdmError,
    EdmIndex, EdmReport, RepeatedColumn, MAX_CELL_WORDS as EDM_MAX_CELL_WORDS,
    MAX_COLUMNS as EDM_MAX_COLUMNS, MAX_VALUE_ROWS as EDM_MAX_VALUE_ROWS,
};
pub use engine::{Engine, Match, RuleResult, ScanResult, Segment, TableRow, MAX_EVIDENCE};
pub use fingerprint::{
    DocumentFingerprint, FingerprintSet, K as FINGERPRINT_K, WINDOW as FINGERPRINT_WINDOW,
};
pub use identifier::{Confidence, Identifier, IdentifierMatch};
pub use normalize::Normalized;
pub use redact::{mask_spans, redact, redact_keeping};
pub use rule::{
    check_regex, CountMode, Definitions, EdmSettings, EntityDefinition, EntityKind,
    ProfileDefinition, RuleDefinition, Section, Severity, Thresholds,
};

/// Why definitions, a dictionary or a fingerprint file were refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A dictionary CSV record is malformed.
    #[error("dictionary line {line}: {message}")]
    Dictionary {
        /// 1-based record number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Two entities, rules or profiles share a name.
    #[error("duplicate {kind} name {name:?}")]
    Duplicate {
        /// "entity", "rule" or "profile".
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A rule names an entity that does not exist.
    #[error("rule {rule:?} names unknown entity {entity:?}")]
    UnknownEntity {
        /// The rule.
        rule: String,
        /// The missing entity.
        entity: String,
    },
    /// A profile names a rule that does not exist.
    #[error("profile {profile:?} names unknown rule {rule:?}")]
    UnknownRule {
        /// The profile.
        profile: String,
        /// The missing rule.
        rule: String,
    },
    /// A regex entity's pattern does not compile.
    #[error("entity {entity:?}: invalid regex: {message}")]
    Regex {
        /// The entity.
        entity: String,
        /// The regex crate's explanation.
        message: String,
    },
    /// A rule's thresholds are not positive and rising.
    #[error("rule {rule:?}: severity: {message}")]
    Threshold {
        /// The rule.
        rule: String,
        /// What is wrong.
        message: String,
    },
    /// A fingerprint file is corrupt or of another version.
    #[error("fingerprint file: {0}")]
    Fingerprint(String),
    /// An identifier entity's setting does not fit it: an `exclude` value
    /// that is no valid value of the type, keywords on another kind.
    #[error("entity {entity:?}: {message}")]
    Entity {
        /// The entity.
        entity: String,
        /// What is wrong.
        message: String,
    },
    /// `min_confidence` on a rule that counts no identifier.
    #[error("rule {rule:?}: min_confidence applies to identifier entities, and the rule has none")]
    Confidence {
        /// The rule.
        rule: String,
    },
}

#[cfg(test)]
fn _engine_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Engine>();
}
