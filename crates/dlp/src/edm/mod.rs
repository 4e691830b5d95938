//! Exact data match (SPEC §3.6): an index of keyed hashes of a table's
//! cells, and the search that finds rows of it in a message.
//!
//! A cell is reduced to its *words* (runs of letters and digits of its
//! normalized, lowercased text): `"O'Brien, Anne"` is `o brien anne`, so
//! punctuation and spacing in the message do not matter, only the words
//! and their order. A cell of digits and the separators `space - . / ( ) +`
//! is also indexed as its digits alone (`+1 (555) 010-4477` is
//! `15550104477` too), so a phone or account number is found however it is
//! grouped.
//!
//! The index holds, for every indexed cell, the first 8 bytes of
//! HMAC-SHA-256(salt, form) with the cell's row and column, sorted by hash
//! under a bucket directory; equal hashes sit together, so how many rows
//! hold a value is the length of its run (a value in more than
//! `max_value_rows` rows never counts). HMAC per word sequence of every
//! message would cost a second of CPU per 100 MB, so the file also holds a
//! Bloom filter over a cheap hash of each form keyed from the salt: a
//! message's word sequences are checked against it first and only the
//! ~1% that pass are HMAC'd. Before that, each word of the message is looked up in a
//! smaller filter of every word any cell has (one probe, mostly in cache:
//! a message's common words repeat; its verdict is remembered, and a word
//! remembered as no cell's is left out before the search, `words.rs`),
//! and a sequence is only followed while its words are all there. Without the salt, neither the hashes nor the
//! filter tell whether a guessed value is in the table.
//!
//! The file is memory-mapped, never parsed into a map: a 10-million-row
//! table loads in well under a second and costs the pages a scan touches.
//! Only the two filters, which every message probes at random, are read
//! into memory of their own (on huge pages where the kernel has them).
//! Layout
//! (little-endian):
//!
//! ```text
//! 0   b"SLUICEDM"            magic
//! 8   u32 version (1)        12  u32 columns (1..=64)
//! 16  u64 rows               24  u64 entries
//! 32  u32 max_words          36  u32 bucket_bits
//! 40  u32 filter_bits_log2   44  u32 names_len
//! 48  [u8; 16] check         HMAC-SHA-256(salt, "sluice-edm check"), first 16 bytes
//! 64  u32 words_bits_log2    68  u32 zero
//! 72  names_len bytes        the column names, JSON array, padded to 8
//!     (2^bucket_bits + 1) × u32   where each bucket's entries start
//!     2^filter_bits_log2 / 8 bytes  the filter of forms
//!     2^words_bits_log2 / 8 bytes   the filter of words
//!     entries × 12 bytes     hash u64, then row << 6 | column as u32
//! ```
#![allow(unsafe_code)]

use std::fs::File;
use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::fingerprint::{cheap_word_hash, for_each_word};
use crate::normalize::Normalized;

mod build;
mod search;
mod words;

pub use build::{build_from_csv, EdmBuilder, EdmReport, RepeatedColumn};
pub(crate) use search::{find_rows, RowRule};
pub(crate) use words::{kept, TextWord, Word};

const MAGIC: &[u8; 8] = b"SLUICEDM";
const VERSION: u32 = 1;
const HEADER: usize = 72;
const ENTRY: usize = 12;
/// Columns an index may have: a row's columns are a bit mask of a `u64`.
pub const MAX_COLUMNS: usize = 64;
/// Rows an index may have (the row number shares a `u32` with the column).
pub const MAX_ROWS: u64 = (1 << 26) - 1;
/// Words a cell may have to be indexed: every word sequence of a message
/// up to the table's longest cell is a candidate, so a free-text column
/// would make every scan slow. Longer cells are skipped and reported.
pub const MAX_CELL_WORDS: usize = 12;
/// The most rows a value may be in and still count (`max_value_rows`):
/// each occurrence of a value in a message stands for that many rows.
pub const MAX_VALUE_ROWS: u64 = 10_000;
/// Longest code (a cell with a digit) also indexed with its words run
/// together.
pub const MAX_CODE_BYTES: usize = 40;
/// Filter bits set per form.
const FILTER_PROBES: u64 = 3;
const CHECK_LABEL: &[u8] = b"sluice-edm check";
const FILTER_LABEL: &[u8] = b"sluice-edm filter";

/// Why an EDM index, salt or table was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdmError {
    /// The salt is missing, unreadable or too short.
    #[error("salt: {0}")]
    Salt(String),
    /// The index file is not an index, is damaged, or is of another version.
    #[error("EDM index: {0}")]
    Index(String),
    /// The index was built with another salt.
    #[error("EDM index: built with another salt than {0} (its check value does not match)")]
    WrongSalt(String),
    /// The table cannot be indexed.
    #[error("table: {0}")]
    Table(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What happened.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EdmError + '_ {
    move |source| EdmError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The secret of one index: the HMAC key and what is derived from it.
#[derive(Clone)]
pub(crate) struct Keys {
    mac: Hmac<Sha256>,
    /// Keys of the cheap filter hash.
    filter: [u64; 3],
    check: [u8; 16],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(secret)")
    }
}

impl Keys {
    /// Keys from a salt (the salt file's content, surrounding whitespace
    /// removed): at least 16 bytes.
    pub(crate) fn new(salt: &[u8]) -> Result<Keys, EdmError> {
        let salt = salt.trim_ascii();
        if salt.len() < 16 {
            return Err(EdmError::Salt(format!(
                "{} bytes; a salt needs at least 16 (let `sluice-scan edm` create one)",
                salt.len()
            )));
        }
        let mac = Hmac::<Sha256>::new_from_slice(salt).expect("HMAC takes any key length");
        let tag = |label: &[u8]| {
            let mut m = mac.clone();
            m.update(label);
            m.finalize().into_bytes()
        };
        let f = tag(FILTER_LABEL);
        let word = |i: usize| u64::from_le_bytes(f[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        let check = tag(CHECK_LABEL);
        Ok(Keys {
            filter: [word(0), word(1), word(2)],
            check: check[..16].try_into().expect("16 bytes"),
            mac,
        })
    }

    /// The first 8 bytes of HMAC-SHA-256 of a form.
    pub(crate) fn hash(&self, form: &[u8]) -> u64 {
        let mut m = self.mac.clone();
        m.update(form);
        u64::from_le_bytes(m.finalize().into_bytes()[..8].try_into().expect("8 bytes"))
    }

    /// A word's keyed cheap hash: the step a form's filter hash folds.
    /// Never 0 (its lowest bit is set), so 0 can stand for no word.
    #[inline(always)]
    pub(crate) fn word(&self, cheap: u64) -> u64 {
        fmix(cheap ^ self.filter[0]) | 1
    }

    /// The filter hash of an empty form, to fold words into.
    #[inline(always)]
    pub(crate) fn start(&self) -> u64 {
        self.filter[1]
    }

    /// `sequence` with one more word (its [`Keys::word`]).
    #[inline(always)]
    pub(crate) fn fold(sequence: u64, word: u64) -> u64 {
        fmix(sequence.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ word)
    }

    /// The hash whose bits a form sets in the filter.
    #[inline(always)]
    pub(crate) fn probe(&self, sequence: u64) -> u64 {
        fmix(sequence ^ self.filter[2])
    }
}

/// MurmurHash3's 64-bit finalizer: every input bit reaches every output bit.
#[inline(always)]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A hint to load `value`'s cache line: probes of a batch of words wait
/// for memory together (here, and in the fingerprints' k-gram filter).
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint with no effect on memory or on the
    // program's state, of the address of a value we may read.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (value as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// The filter bit positions of a probe hash, for a filter of `mask + 1`
/// bits (double hashing).
#[inline(always)]
fn filter_bits(probe: u64, mask: u64) -> impl Iterator<Item = u64> {
    let step = probe.rotate_left(32) | 1;
    (0..FILTER_PROBES).map(move |i| probe.wrapping_add(i.wrapping_mul(step)) & mask)
}

/// The forms a cell is indexed under (SPEC §3.6 asks for its normalized
/// text, and for digits written with separators, the digits alone):
///
/// * its words joined by one space (`anne o brien`);
/// * with more than one word and a digit, its words run together
///   (`15550104477`, `acc77120934`), up to [`MAX_CODE_BYTES`]: a phone,
///   account or customer number however it is grouped, or with its
///   punctuation stripped rather than spaced (names and addresses are
///   not: a form more for every row of them would cost more memory than
///   the rare message that runs their words together is worth);
/// * with an apostrophe inside a word, its words with the apostrophe
///   deleted (`anne obrien`), as "O'Brien" is often written "OBrien".
pub(crate) struct CellForms {
    /// The cell's words (more than [`MAX_CELL_WORDS`]: not indexed).
    pub(crate) word_count: usize,
    /// Each form and its filter hash.
    pub(crate) forms: Vec<(String, u64)>,
    /// The [`Keys::word`] of every word a form has (a run-together form
    /// is one word).
    pub(crate) word_keys: Vec<u64>,
}

/// Separators a number is written with, between its digit groups.
pub(crate) fn is_digit_separator(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+')
}

impl CellForms {
    /// The forms of one cell; `None` for a cell without a word.
    pub(crate) fn new(keys: &Keys, cell: &str) -> Option<CellForms> {
        let normalized = Normalized::new(cell);
        let lower = normalized.lower();
        let mut out = CellForms {
            word_count: 0,
            forms: Vec::new(),
            word_keys: Vec::new(),
        };
        let (words, count) = out.add_words(keys, lower);
        out.word_count = count;
        if count == 0 {
            return None;
        }
        if count > MAX_CELL_WORDS {
            out.forms.clear();
            out.word_keys.clear();
            return Some(out);
        }
        if count > 1
            && words.bytes().any(|b| b.is_ascii_digit())
            && words.len() - count < MAX_CODE_BYTES
        {
            let together = words.replace(' ', "");
            let word = keys.word(cheap_word_hash(together.as_bytes()));
            out.word_keys.push(word);
            out.forms.push((together, Keys::fold(keys.start(), word)));
        }
        let apostrophes = ['\'', '\u{2019}'];
        if lower.contains(apostrophes) {
            let without: String = lower.chars().filter(|c| !apostrophes.contains(c)).collect();
            let (variant, _) = out.add_words(keys, &without);
            if variant == words || variant.is_empty() {
                out.forms.pop();
            }
        }
        Some(out)
    }

    /// Adds the form of `lower`'s words joined by spaces, with its words'
    /// keys; returns the form and its word count.
    fn add_words(&mut self, keys: &Keys, lower: &str) -> (String, usize) {
        let mut words = String::new();
        let mut count = 0;
        let mut filter = keys.start();
        for_each_word(lower, |w, cheap| {
            if count > 0 {
                words.push(' ');
            }
            count += 1;
            words.push_str(std::str::from_utf8(w).expect("words are cut at char boundaries"));
            let key = keys.word(cheap);
            self.word_keys.push(key);
            filter = Keys::fold(filter, key);
        });
        self.forms.push((words.clone(), filter));
        (words, count)
    }
}

/// Reads a salt file.
pub fn read_salt(path: &Path) -> Result<Vec<u8>, EdmError> {
    std::fs::read(path).map_err(io(path))
}

/// Reads a salt file, creating it (32 random bytes, hex; mode 0640) when
/// it does not exist. Returns the salt and whether it was created.
pub fn read_or_create_salt(path: &Path) -> Result<(Vec<u8>, bool), EdmError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::read(path) {
        Ok(salt) => return Ok((salt, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path)(e)),
    }
    let mut random = [0u8; 32];
    std::io::Read::read_exact(
        &mut File::open("/dev/urandom").map_err(io(Path::new("/dev/urandom")))?,
        &mut random,
    )
    .map_err(io(Path::new("/dev/urandom")))?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(path)
        .map_err(io(path))?;
    // The umask may have taken the group's read bit; owner and group read.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o640))
        .map_err(io(path))?;
    writeln!(file, "{hex}").map_err(io(path))?;
    Ok((hex.into_bytes(), true))
}

enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    fn get(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// The form filter and the word filter, which every word of a message
/// probes at random: in a file's mapping, each probe of a filter of
/// megabytes was also a miss of the processor's address translation
/// (4 KiB pages), so an opened index reads them into memory of their own,
/// on huge pages where the kernel has them (`docs/performance.md`).
enum Filters {
    /// In [`EdmIndex::bytes`], from `filter_at` (an index in memory).
    InBytes,
    Copied(memmap2::Mmap),
}

/// Filters larger than this (a table of tens of millions of rows) stay in
/// the mapping: read whole at every load they would cost their size in
/// memory at once, where a mapping costs the pages scans touch.
const COPIED_FILTERS_MAX: usize = 1 << 30;

/// A loaded EDM index: memory-mapped, checked against its salt.
///
/// Invariant: the header's sizes fit the file, the bucket directory
/// starts at 0 and ends at the entry count, and the keys are the salt the
/// index was built with. (That the directory rises and the entries are
/// sorted is not checked at load, which would read every page; in a
/// damaged file they make lookups miss, never read out of bounds.)
pub struct EdmIndex {
    /// Words' filter verdicts remembered by the scans of this index.
    verdicts: search::Verdicts,
    bytes: Bytes,
    filters: Filters,
    keys: Keys,
    columns: Vec<String>,
    rows: u64,
    entries: usize,
    max_words: usize,
    bucket_bits: u32,
    buckets_at: usize,
    filter_at: usize,
    filter_mask: u64,
    words_at: usize,
    words_mask: u64,
    entries_at: usize,
}

impl std::fmt::Debug for EdmIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdmIndex")
            .field("columns", &self.columns)
            .field("rows", &self.rows)
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl EdmIndex {
    /// Maps an index file and checks it against `salt`.
    ///
    /// The file must not be rewritten in place while mapped: `sluice-scan
    /// edm` writes a new file and renames it over the old one, which
    /// leaves a running scanner's mapping intact.
    pub fn open(path: &Path, salt: &[u8]) -> Result<EdmIndex, EdmError> {
        let file = File::open(path).map_err(io(path))?;
        // SAFETY: the mapping is read-only and the index is replaced by
        // rename, never truncated or written in place (see above); every
        // read of it is bounds-checked against the mapped length.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io(path))?;
        let mut index = Self::parse(Bytes::Mapped(map), salt, &path.display().to_string())?;
        let len = index.entries_at - index.filter_at;
        if len > COPIED_FILTERS_MAX {
            return Ok(index);
        }
        let mut filters = crate::huge_pages::huge_page_memory(len).map_err(io(path))?;
        // Read, not copied from the mapping: the mapping's pages of the
        // filters are never touched, so they cost no memory twice.
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut filters, index.filter_at as u64)
            .map_err(io(path))?;
        index.filters = Filters::Copied(filters.make_read_only().map_err(io(path))?);
        Ok(index)
    }

    /// An index held in memory (tests, embedders that keep it elsewhere).
    pub fn from_bytes(bytes: Vec<u8>, salt: &[u8]) -> Result<EdmIndex, EdmError> {
        Self::parse(Bytes::Owned(bytes), salt, "the salt given")
    }

    fn parse(bytes: Bytes, salt: &[u8], salt_name: &str) -> Result<EdmIndex, EdmError> {
        let bad = |m: &str| EdmError::Index(m.to_owned());
        let b = bytes.get();
        if b.len() < HEADER || &b[..8] != MAGIC {
            return Err(bad("not an EDM index (build one with `sluice-scan edm`)"));
        }
        let version = u32_at(b, 8);
        if version != VERSION {
            return Err(EdmError::Index(format!(
                "version {version} is not supported (expected {VERSION}); rebuild it with `sluice-scan edm`"
            )));
        }
        let columns = u32_at(b, 12) as usize;
        let rows = u64_at(b, 16);
        let entries = u64_at(b, 24);
        let max_words = u32_at(b, 32) as usize;
        let bucket_bits = u32_at(b, 36);
        let filter_log2 = u32_at(b, 40);
        let names_len = u32_at(b, 44) as usize;
        let words_log2 = u32_at(b, 64);
        if !(1..=MAX_COLUMNS).contains(&columns)
            || rows > MAX_ROWS
            || max_words > MAX_CELL_WORDS
            || bucket_bits > 32
            || !(3..=40).contains(&filter_log2)
            || !(3..=40).contains(&words_log2)
        {
            return Err(bad("damaged header"));
        }
        let names_end = HEADER
            .checked_add(names_len)
            .filter(|&e| e <= b.len())
            .ok_or_else(|| bad("truncated column names"))?;
        let names: Vec<String> = serde_json::from_slice(&b[HEADER..names_end])
            .map_err(|e| EdmError::Index(format!("column names: {e}")))?;
        if names.len() != columns {
            return Err(bad("column names do not match the column count"));
        }
        let buckets_at = names_end.next_multiple_of(8);
        let filter_at = buckets_at + ((1usize << bucket_bits) + 1) * 4;
        let words_at = filter_at as u64 + (1u64 << (filter_log2 - 3));
        let entries_at = words_at.checked_add(1u64 << (words_log2 - 3));
        let end = entries_at.and_then(|at| entries.checked_mul(ENTRY as u64)?.checked_add(at));
        if end != Some(b.len() as u64) {
            return Err(bad("truncated or oversized (its sizes do not add up)"));
        }
        let entries_at = entries_at.expect("checked") as usize;
        // The directory's ends only: reading all of it would touch up to
        // 64 MiB at every load. A damaged bucket in between is clamped by
        // `lookup`, never read past.
        let last = u32_at(b, buckets_at + (1usize << bucket_bits) * 4) as u64;
        if u32_at(b, buckets_at) != 0 || last != entries {
            return Err(bad("damaged bucket directory"));
        }
        let keys = Keys::new(salt)?;
        if b[48..64] != keys.check {
            return Err(EdmError::WrongSalt(salt_name.to_owned()));
        }
        Ok(EdmIndex {
            verdicts: search::Verdicts::new(),
            keys,
            columns: names,
            rows,
            entries: entries as usize,
            max_words,
            bucket_bits,
            buckets_at,
            filter_at,
            filter_mask: (1u64 << filter_log2) - 1,
            words_at: words_at as usize,
            words_mask: (1u64 << words_log2) - 1,
            entries_at,
            bytes,
            filters: Filters::InBytes,
        })
    }

    /// The indexed columns' names, in index order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Data rows of the table.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Hashes stored (cells and their digit forms).
    pub fn entries(&self) -> usize {
        self.entries
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    pub(crate) fn verdicts(&self) -> &search::Verdicts {
        &self.verdicts
    }

    pub(crate) fn max_words(&self) -> usize {
        self.max_words
    }

    /// The form filter, then the word filter.
    #[inline(always)]
    fn filters(&self) -> &[u8] {
        match &self.filters {
            Filters::InBytes => &self.bytes.get()[self.filter_at..self.entries_at],
            Filters::Copied(copy) => copy,
        }
    }

    /// The word filter.
    #[inline(always)]
    fn word_filter(&self) -> &[u8] {
        &self.filters()[self.words_at - self.filter_at..]
    }

    /// Whether some cell may have the word whose keyed hash is `word`.
    #[inline(always)]
    pub(crate) fn may_have_word(&self, word: u64) -> bool {
        let bit = word & self.words_mask;
        self.word_filter()[(bit >> 3) as usize] & (1 << (bit & 7)) != 0
    }

    /// Asks the processor to fetch the word filter's byte for `word`.
    #[inline(always)]
    pub(crate) fn prefetch_word(&self, word: u64) {
        let bit = word & self.words_mask;
        prefetch(&self.word_filter()[(bit >> 3) as usize]);
    }

    /// Asks the processor to fetch the form filter's byte of the first
    /// probe for `sequence` (most forms no cell has fail there).
    #[inline(always)]
    pub(crate) fn prefetch_form(&self, sequence: u64) {
        if let Some(bit) = filter_bits(self.keys.probe(sequence), self.filter_mask).next() {
            prefetch(&self.filters()[(bit >> 3) as usize]);
        }
    }

    /// Whether a form's filter hash may be in the index.
    #[inline(always)]
    pub(crate) fn may_hold(&self, sequence: u64) -> bool {
        let filter = &self.filters()[..self.words_at - self.filter_at];
        filter_bits(self.keys.probe(sequence), self.filter_mask)
            .all(|bit| filter[(bit >> 3) as usize] & (1 << (bit & 7)) != 0)
    }

    /// The entries holding `hash`, as a range of entry indexes.
    pub(crate) fn lookup(&self, hash: u64) -> std::ops::Range<usize> {
        let b = self.bytes.get();
        let bucket = if self.bucket_bits == 0 {
            0
        } else {
            (hash >> (64 - self.bucket_bits)) as usize
        };
        // Clamped: the directory is not checked whole at load.
        let hi = (u32_at(b, self.buckets_at + bucket * 4 + 4) as usize).min(self.entries);
        let lo = (u32_at(b, self.buckets_at + bucket * 4) as usize).min(hi);
        let key = |i: usize| u64_at(b, self.entries_at + i * ENTRY);
        let (mut a, mut z) = (lo, hi);
        while a < z {
            let mid = a + (z - a) / 2;
            if key(mid) < hash {
                a = mid + 1;
            } else {
                z = mid;
            }
        }
        let first = a;
        let mut last = first;
        while last < hi && key(last) == hash {
            last += 1;
        }
        first..last
    }

    /// The row (from 1) and column of entry `i`.
    pub(crate) fn entry(&self, i: usize) -> (u32, usize) {
        let packed = u32_at(self.bytes.get(), self.entries_at + i * ENTRY + 8);
        (packed >> 6, (packed & 63) as usize)
    }
}

#[cfg(test)]
mod tests;
