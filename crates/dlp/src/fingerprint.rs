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
use sha2::{Digest, Sha256};

use crate::normalize::Normalized;
use crate::Error;

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

/// Hashes of every word k-gram of `text` (any text: it is normalized and
/// lowercased first), in order: (SHA-based hash, cheap filter hash).
pub(crate) fn kgram_hashes(text: &str) -> Vec<(u64, u64)> {
    let normalized = Normalized::new(text);
    let mut out = Vec::new();
    for_each_kgram(normalized.lower(), None, |h, cheap| out.push((h, cheap)));
    out
}

/// Calls `f` with the hashes of every word k-gram of `lower` (normalized,
/// lowercased text), in order: the SHA-based hash and the cheap one. With
/// a `filter`, only k-grams whose cheap hash is in it are reported (and
/// only they cost SHA-256).
///
/// Each word is hashed with SHA-256 (first 8 bytes) and a k-gram's hash
/// combines its words' hashes in order with a mix and a final avalanche.
/// Word hashes are cached per thread across texts (mail vocabulary repeats
/// heavily), so most words cost a hash-map probe rather than a SHA-256
/// block; hashing every k-gram's text instead would cost five blocks per
/// word.
pub(crate) fn for_each_kgram(
    lower: &str,
    filter: Option<&KgramFilter>,
    mut f: impl FnMut(u64, u64),
) {
    thread_local! {
        static WORDS: std::cell::RefCell<std::collections::HashMap<u64, u64, BuildWordHasher>> =
            std::cell::RefCell::new(std::collections::HashMap::default());
    }
    WORDS.with_borrow_mut(|cache| {
        // Bound the cache: a flood of distinct words must not grow it forever.
        if cache.len() > 200_000 {
            cache.clear();
        }
        let mut words: [&[u8]; K] = [&[]; K];
        let mut cheap = [0u64; K];
        let mut seen = 0usize;
        // `seen % K`, kept as a counter: a division per word showed.
        let mut slot = 0usize;
        let mut rolling = 0u64;
        let on_word = |w, c| {
            // Roll the word leaving the window out and the new one in.
            rolling = rolling
                .wrapping_sub(cheap[slot].wrapping_mul(ROLL_OUT))
                .wrapping_mul(ROLL)
                .wrapping_add(c);
            words[slot] = w;
            cheap[slot] = c;
            slot = if slot + 1 == K { 0 } else { slot + 1 };
            seen += 1;
            if seen < K {
                return;
            }
            let cheap_gram = rolling;
            if filter.is_some_and(|set| !set.contains(cheap_gram)) {
                return;
            }
            // `slot` is now the oldest word of the window.
            f(candidate_hash(cache, &words, &cheap, slot), cheap_gram);
        };
        for_each_word(lower, on_word);
    });
}

/// The SHA-based hash of the k-gram in the ring `words`/`cheap` whose
/// oldest word is at `slot`. Out of line: it runs only for the k-grams
/// that pass the filter, and keeping it out keeps the word loop small
/// enough to inline.
#[cold]
#[inline(never)]
fn candidate_hash(
    cache: &mut std::collections::HashMap<u64, u64, BuildWordHasher>,
    words: &[&[u8]; K],
    cheap: &[u64; K],
    slot: usize,
) -> u64 {
    let at = |i: usize| (slot + i) % K;
    let gram: [u64; K] = std::array::from_fn(|i| word_hash(cache, cheap[at(i)], words[at(i)]));
    combine(&gram)
}

/// Calls `f` with each word of `lower` (runs of alphanumeric characters)
/// and its cheap hash ([`cheap_word_hash`]).
#[inline(always)]
fn for_each_word<'a>(lower: &'a str, mut f: impl FnMut(&'a [u8], u64)) {
    if lower.is_ascii() {
        for_each_ascii_word(lower.as_bytes(), f);
    } else {
        for w in lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            f(w.as_bytes(), cheap_word_hash(w.as_bytes()));
        }
    }
}

/// [`for_each_word`] for ASCII text, which is almost all mail. This runs
/// over every byte of every message, so it classifies 64 bytes at a time
/// into a bit mask and visits only the word boundaries: a byte-at-a-time
/// loop mispredicted a branch at both ends of every word.
#[inline(always)]
fn for_each_ascii_word<'a>(bytes: &'a [u8], mut f: impl FnMut(&'a [u8], u64)) {
    let mut start = 0usize;
    // Whether the byte before the current block is alphanumeric.
    let mut carry = 0u64;
    for (block, chunk) in bytes.chunks(64).enumerate() {
        let base = block * 64;
        let alnum = alphanumeric_mask(chunk);
        // A set bit where a word starts or ends (the first byte after it).
        let mut edges = alnum ^ (alnum << 1 | carry);
        if chunk.len() < 64 {
            // The last word's end is past the text: reported below.
            edges &= (1u64 << chunk.len()) - 1;
        }
        while edges != 0 {
            let at = base + edges.trailing_zeros() as usize;
            if alnum & (edges & edges.wrapping_neg()) != 0 {
                start = at;
            } else {
                f(&bytes[start..at], cheap_word_hash_at(bytes, start, at));
            }
            edges &= edges - 1;
        }
        carry = alnum >> 63;
        if chunk.len() < 64 && alnum >> (chunk.len() - 1) & 1 == 1 {
            carry = 1;
        }
    }
    if carry == 1 {
        f(
            &bytes[start..],
            cheap_word_hash_at(bytes, start, bytes.len()),
        );
    }
}

/// Bit `i` set when `chunk[i]` (at most 64 ASCII bytes) is a letter or
/// a digit. Eight bytes at a time in a u64 (SWAR): for bytes below 0x80,
/// adding `0x80 - lo` sets a byte's top bit exactly when it is `>= lo`,
/// with no carry into the next byte.
fn alphanumeric_mask(chunk: &[u8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOP: u64 = ONES * 0x80;
    #[inline(always)]
    fn at_least(x: u64, lo: u8) -> u64 {
        x.wrapping_add(ONES * u64::from(0x80 - lo)) & TOP
    }
    #[inline(always)]
    fn word(x: u64) -> u64 {
        let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
        let folded = x | (ONES * 0x20);
        let letter = at_least(folded, b'a') & !at_least(folded, b'z' + 1);
        // Gather the eight top bits into the low byte.
        ((digit | letter) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
    }
    let mut mask = 0u64;
    let mut words = chunk.chunks_exact(8);
    for (i, w) in (&mut words).enumerate() {
        mask |= word(u64::from_le_bytes(w.try_into().expect("8 bytes"))) << (8 * i);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        // Zero bytes are not alphanumeric: the padding adds no bits.
        mask |= word(u64::from_le_bytes(last)) << (8 * (chunk.len() / 8));
    }
    mask
}

/// [`cheap_word_hash`] of `bytes[start..end]`. A word shorter than 16
/// bytes, with 16 bytes readable from its start, is hashed from two
/// unaligned loads masked to its length, choosing between the shapes of
/// [`WordHasher::write`] (tail only; one full chunk; chunk and tail) with
/// selects rather than branches, because word lengths are unpredictable.
/// Same value, always.
#[inline]
fn cheap_word_hash_at(bytes: &[u8], start: usize, end: usize) -> u64 {
    let len = end - start;
    if len < 16 && start + 16 <= bytes.len() {
        let load = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let (a, b) = (load(start), load(start + 8));
        // The low `n` bytes of `v`, n in 1..=8 (for n = 0, `v` whole: the
        // value is then not selected below).
        let low = |v: u64, n: usize| v & (u64::MAX >> ((64 - 8 * n) & 63));
        let first_len = len.min(8);
        // One chunk of 8, or a tail of `len` (with its length mixed in).
        let first = if len >= 8 {
            a
        } else {
            low(a, first_len) ^ ((len as u64) << 59)
        };
        let h1 = first.wrapping_mul(WORD_MUL);
        let rest = len.saturating_sub(8);
        let h2 = (h1.rotate_left(5) ^ low(b, rest) ^ ((rest as u64) << 59)).wrapping_mul(WORD_MUL);
        let h = WordHasher(if rest > 0 { h2 } else { h1 });
        return std::hash::Hasher::finish(&h);
    }
    cheap_word_hash(&bytes[start..end])
}

/// The documents' cheap k-gram hashes (version 2 filters), for
/// [`for_each_kgram`]: a 64 Kibit bitmap on the top 16 bits answers most
/// probes from L1 cache, the set settles the rest.
#[derive(Debug, Clone)]
pub(crate) struct KgramFilter {
    bits: Box<[u64; 1024]>,
    set: HashSet<u64, BuildWordHasher>,
}

impl KgramFilter {
    pub(crate) fn new(hashes: impl IntoIterator<Item = u64>) -> KgramFilter {
        let mut bits = Box::new([0u64; 1024]);
        let mut set = HashSet::default();
        for h in hashes {
            let top = (h >> 48) as usize;
            bits[top / 64] |= 1 << (top % 64);
            set.insert(h);
        }
        KgramFilter { bits, set }
    }

    fn contains(&self, h: u64) -> bool {
        let top = (h >> 48) as usize;
        self.bits[top / 64] & (1 << (top % 64)) != 0 && self.set.contains(&h)
    }
}

/// The cheap hash of a k-gram is the polynomial `Σ c_i · ROLL^(K-1-i)`
/// (mod 2^64) of its words' cheap hashes `c_i`, updated as the window
/// rolls (two multiplications a word). Part of the file format (version 2
/// filters): never change it.
const ROLL: u64 = 0x9E37_79B9_7F4A_7C15;
/// `ROLL^(K-1)`: the weight of the word leaving the window.
const ROLL_OUT: u64 = {
    let mut p = 1u64;
    let mut i = 1;
    while i < K {
        p = p.wrapping_mul(ROLL);
        i += 1;
    }
    p
};

/// The cheap hash of a word: [`WordHasher`] over its bytes. Part of the
/// file format (version 2 filters): it must never change.
fn cheap_word_hash(w: &[u8]) -> u64 {
    let mut h = WordHasher::default();
    std::hash::Hasher::write(&mut h, w);
    std::hash::Hasher::finish(&h)
}

/// SHA-256 of a word (first 8 bytes), cached under its cheap hash `key`:
/// a probe compares two integers instead of two strings, and no key is
/// allocated. (Two words colliding in 64 bits would share a hash: a 2^-64
/// chance per pair, far below any similarity threshold's noise.)
fn word_hash(
    cache: &mut std::collections::HashMap<u64, u64, BuildWordHasher>,
    key: u64,
    w: &[u8],
) -> u64 {
    if let Some(&h) = cache.get(&key) {
        return h;
    }
    let digest = Sha256::digest(w);
    let h = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    cache.insert(key, h);
    h
}

/// FxHash-style hasher for word caches and hash sets of already-mixed
/// hashes: SipHash's DoS resistance is not needed for them, and it was a
/// visible share of scanning. Its output over bytes is also the cheap word
/// hash of the file format's filters ([`cheap_word_hash`]): do not change
/// `write` or `finish`.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

/// [`WordHasher`]'s multiplier.
const WORD_MUL: u64 = 0x517c_c1b7_2722_0a95;

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        // Avalanche: hashbrown takes its control bits from the top of the
        // hash, which the multiply alone leaves poorly mixed for short keys.
        let mut h = self.0 ^ (self.0 >> 33);
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let v = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(WORD_MUL);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The tail as a little-endian integer, assembled in registers:
            // copying it into a zeroed array and loading that whole stalls
            // on store forwarding, and most words are shorter than 8 bytes.
            let v = rest
                .iter()
                .enumerate()
                .fold(0u64, |v, (i, &b)| v | u64::from(b) << (8 * i));
            self.mix_tail(v, rest.len());
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(WORD_MUL);
    }
}

impl WordHasher {
    /// Mixes in the last 1-7 bytes `v` (little-endian) of a write.
    #[inline(always)]
    fn mix_tail(&mut self, v: u64, len: usize) {
        // The length keeps "a" and "a\0" apart.
        self.0 = (self.0.rotate_left(5) ^ v ^ ((len as u64) << 59)).wrapping_mul(WORD_MUL);
    }
}

pub(crate) type BuildWordHasher = std::hash::BuildHasherDefault<WordHasher>;

fn combine(gram: &[u64]) -> u64 {
    let mut h: u64 = 0;
    for &w in gram {
        h = (h.rotate_left(23) ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    // splitmix64 finalizer: every bit of every word affects every bit.
    h ^= h >> 30;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
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
    use super::*;

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
