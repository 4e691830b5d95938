//! Word k-gram hashing: the words of a text, their hashes (cached per
//! thread), the rolling cheap hash and its filter.

use super::K;
use sha2::{Digest, Sha256};

use crate::byte_classes::{byte_mask, ByteClass};
use crate::huge_pages::Lines;
use crate::normalize::Normalized;

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
    for_each_kgram_and_word(lower, filter, |h, c, _| f(h, c), |_, _| {});
}

/// [`for_each_kgram`], also giving each k-gram's place (the index of its
/// first word in `lower`), and calling `word` with each word and its cheap
/// hash ([`for_each_word`]'s): one pass over the text serves fingerprints,
/// their passages and exact data match. `word` is an [`OnWord`] so that a
/// step with state of its own can be inlined into the split too.
pub(crate) fn for_each_kgram_and_word<'a>(
    lower: &'a str,
    filter: Option<&KgramFilter>,
    f: impl FnMut(u64, u64, usize),
    word: impl OnWord<'a>,
) {
    thread_local! {
        static WORDS: std::cell::RefCell<WordCache> =
            std::cell::RefCell::new(std::collections::HashMap::default());
    }
    WORDS.with_borrow_mut(|cache| {
        // Bound the cache: a flood of distinct words must not grow it forever.
        if cache.len() > 200_000 {
            cache.clear();
        }
        // A large library's filter is megabytes, and a probe waiting on
        // memory for every word was most of the cost: its probes are
        // prefetched and tested [`LAG`] words later. A small filter is in
        // cache and tested at once, by a loop small enough to be inlined
        // into the word split (the delayed one is not, and cost a tenth
        // more instructions on ordinary mail).
        match filter {
            Some(set) if set.is_large() => kgrams_prefetched(cache, lower, set, f, word),
            _ => kgrams_at_once(cache, lower, filter, f, word),
        }
    });
}

/// The SHA-based word hashes remembered, by cheap hash.
type WordCache = std::collections::HashMap<u64, u64, BuildWordHasher>;

/// [`for_each_kgram_and_word`] with each k-gram tested as its last word
/// arrives.
#[inline(always)]
fn kgrams_at_once<'a>(
    cache: &mut WordCache,
    lower: &'a str,
    filter: Option<&KgramFilter>,
    mut f: impl FnMut(u64, u64, usize),
    mut word: impl OnWord<'a>,
) {
    let mut ring = WordRing::default();
    let mut at_once = AtOnce {
        cache,
        filter,
        ring: &mut ring,
        rolling: Rolling::default(),
        f: &mut f,
        word: &mut word,
    };
    for_each_word(lower, &mut at_once);
}

/// The state of [`kgrams_at_once`]'s word loop: a struct whose step is
/// always inlined into the word split, as [`Delayed`]'s is. As a closure it
/// stopped being inlined once the word step had work of its own (exact
/// data match's word list), and cost a call per word.
///
/// Everything but [`Rolling`] is held by reference, so that the struct's
/// own address never escapes (the k-gram's hash and `f` take the ring and
/// the closure, not the struct) and the rolling hash stays in a register:
/// held in the struct next to the ring, it went through memory on every
/// word, and that chain of loads and stores was most of the loop's time
/// (`docs/performance.md`).
struct AtOnce<'a, 'c, F, W> {
    cache: &'c mut WordCache,
    filter: Option<&'c KgramFilter>,
    ring: &'c mut WordRing<'a>,
    rolling: Rolling,
    f: &'c mut F,
    word: &'c mut W,
}

impl<'a, F: FnMut(u64, u64, usize), W: OnWord<'a>> OnWord<'a> for &mut AtOnce<'a, '_, F, W> {
    #[inline(always)]
    fn on_word(&mut self, w: &'a [u8], cheap: u64) {
        self.word.on_word(w, cheap);
        if !self.rolling.push(self.ring, w, cheap) {
            return;
        }
        let rolling = self.rolling.hash;
        if self
            .filter
            .is_some_and(|set| !set.may_hold(rolling) || !set.holds(set.probe(rolling), rolling))
        {
            return;
        }
        let first = self.rolling.seen - K;
        (self.f)(self.ring.hash(self.cache, first), rolling, first);
    }
}

/// [`for_each_kgram_and_word`] with each k-gram's filter word prefetched
/// when its last word arrives and tested [`LAG`] words later.
fn kgrams_prefetched<'a>(
    cache: &mut WordCache,
    lower: &'a str,
    filter: &KgramFilter,
    mut f: impl FnMut(u64, u64, usize),
    mut word: impl OnWord<'a>,
) {
    let mut ring = WordRing::default();
    let mut waiting = Waiting {
        grams: [0; RING],
        probes: [Probe::default(); RING],
    };
    let mut delayed = Delayed {
        cache,
        filter,
        ring: &mut ring,
        rolling: Rolling::default(),
        waiting: &mut waiting,
        f: &mut f,
        word: &mut word,
    };
    for_each_word(lower, &mut delayed);
    // The k-grams still waiting for their test.
    let seen = delayed.rolling.seen;
    for last in seen.saturating_sub(LAG).max(K - 1)..seen {
        delayed.test(last);
    }
}

/// The state of [`kgrams_prefetched`]'s word loop. A struct rather than a
/// closure so that its step is always inlined into the word split: as a
/// closure it was a call per word, and the large-library path ran many
/// more instructions per word than the small one
/// (`docs/performance.md`). Its parts are held by reference for the reason
/// [`AtOnce`]'s are.
struct Delayed<'a, 'c, F, W> {
    cache: &'c mut WordCache,
    filter: &'c KgramFilter,
    ring: &'c mut WordRing<'a>,
    rolling: Rolling,
    waiting: &'c mut Waiting,
    f: &'c mut F,
    word: &'c mut W,
}

/// The k-grams of [`Delayed`]'s ring waiting for their test.
struct Waiting {
    /// The cheap hash of the k-gram ending at each word of the ring.
    grams: [u64; RING],
    /// Its place in the filter, worked out once for the prefetch and the
    /// test (a second mix per word was a tenth of the loop's extra work).
    probes: [Probe; RING],
}

impl<'a, F: FnMut(u64, u64, usize), W: OnWord<'a>> Delayed<'a, '_, F, W> {
    /// Tests the k-gram ending at word number `last` (its filter word was
    /// prefetched when that word arrived).
    #[inline(always)]
    fn test(&mut self, last: usize) {
        let gram = self.waiting.grams[last % RING];
        if self.filter.holds(self.waiting.probes[last % RING], gram) {
            let first = last + 1 - K;
            (self.f)(self.ring.hash(self.cache, first), gram, first);
        }
    }
}

impl<'a, F: FnMut(u64, u64, usize), W: OnWord<'a>> OnWord<'a> for &mut Delayed<'a, '_, F, W> {
    #[inline(always)]
    fn on_word(&mut self, w: &'a [u8], cheap: u64) {
        self.word.on_word(w, cheap);
        if !self.rolling.push(self.ring, w, cheap) {
            return;
        }
        let i = self.rolling.seen - 1;
        let probe = self.filter.probe(self.rolling.hash);
        self.waiting.grams[i % RING] = self.rolling.hash;
        self.waiting.probes[i % RING] = probe;
        self.filter.prefetch(probe);
        // The k-gram whose probe was prefetched LAG words ago.
        if i >= K - 1 + LAG {
            self.test(i - LAG);
        }
    }
}

/// Words between a k-gram's prefetch and its test: a word takes a few
/// nanoseconds, a random read of a filter of megabytes a hundred or more
/// on this machine's memory, and the test stalled until it came
/// (`docs/performance.md` has the lags measured).
const LAG: usize = 48;
/// The word ring: at least a k-gram and the lag, a power of two so that
/// `% RING` is a mask.
const RING: usize = 64;
const _: () = assert!(RING >= K + LAG && RING.is_power_of_two());

/// The last [`RING`] words of a text and their cheap hashes, by word
/// number modulo `RING`. Slots not written yet hold 0: a word leaving
/// that was never there.
struct WordRing<'a> {
    words: [&'a [u8]; RING],
    cheap: [u64; RING],
}

impl Default for WordRing<'_> {
    fn default() -> Self {
        WordRing {
            words: [&[]; RING],
            cheap: [0; RING],
        }
    }
}

/// The words pushed so far into a [`WordRing`] and the rolling cheap hash
/// of the last [`K`]: the two values every word updates, kept apart from
/// the ring so that they live in registers.
#[derive(Debug, Clone, Copy, Default)]
struct Rolling {
    seen: usize,
    /// The cheap hash of the k-gram ending at the last word.
    hash: u64,
}

impl Rolling {
    /// Adds a word with its cheap hash to `ring`; true when a whole k-gram
    /// ends at it.
    #[inline(always)]
    fn push<'a>(&mut self, ring: &mut WordRing<'a>, w: &'a [u8], c: u64) -> bool {
        // Roll the word leaving the window out and the new one in:
        // `(hash - out * ROLL^(K-1)) * ROLL + c`, written as
        // `hash * ROLL + (c - out * ROLL^K)` (the same value, mod 2^64) so
        // that each word's hash waits on the previous one for a multiply
        // and an add only: the rest does not depend on it.
        let out = ring.cheap[(self.seen + RING - K) % RING];
        let step = c.wrapping_sub(out.wrapping_mul(ROLL_OUT.wrapping_mul(ROLL)));
        self.hash = self.hash.wrapping_mul(ROLL).wrapping_add(step);
        ring.words[self.seen % RING] = w;
        ring.cheap[self.seen % RING] = c;
        self.seen += 1;
        self.seen >= K
    }
}

impl<'a> WordRing<'a> {
    /// The SHA-based hash of the k-gram whose first word is word number
    /// `first` (still in the ring). Out of line: it runs only for the
    /// k-grams that pass the filter, and keeping it out keeps the word
    /// loop small enough to inline.
    #[cold]
    #[inline(never)]
    fn hash(&self, cache: &mut WordCache, first: usize) -> u64 {
        let at = |i: usize| (first + i) % RING;
        let gram: [u64; K] =
            std::array::from_fn(|i| word_hash(cache, self.cheap[at(i)], self.words[at(i)]));
        combine(&gram)
    }
}

/// What [`for_each_word`] calls with each word and its cheap hash: a
/// closure, or a loop's state whose step must be inlined into the split.
pub(crate) trait OnWord<'a> {
    fn on_word(&mut self, w: &'a [u8], cheap: u64);
}

impl<'a, F: FnMut(&'a [u8], u64)> OnWord<'a> for F {
    #[inline(always)]
    fn on_word(&mut self, w: &'a [u8], cheap: u64) {
        self(w, cheap);
    }
}

/// Calls `f` with each word of `lower` (runs of alphanumeric characters)
/// and its cheap hash ([`cheap_word_hash`]).
#[inline(always)]
pub(crate) fn for_each_word<'a, O: OnWord<'a>>(lower: &'a str, mut f: O) {
    if lower.is_ascii() {
        for_each_ascii_word(lower.as_bytes(), &mut f);
    } else {
        for w in lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            f.on_word(w.as_bytes(), cheap_word_hash(w.as_bytes()));
        }
    }
}

/// [`for_each_word`] for ASCII text, which is almost all mail. This runs
/// over every byte of every message, so it classifies 64 bytes at a time
/// into a bit mask and visits only the word boundaries: a byte-at-a-time
/// loop mispredicted a branch at both ends of every word.
#[inline(always)]
pub(super) fn for_each_ascii_word<'a, O: OnWord<'a>>(bytes: &'a [u8], f: &mut O) {
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
                f.on_word(&bytes[start..at], cheap_word_hash_at(bytes, start, at));
            }
            edges &= edges - 1;
        }
        carry = alnum >> 63;
        if chunk.len() < 64 && alnum >> (chunk.len() - 1) & 1 == 1 {
            carry = 1;
        }
    }
    if carry == 1 {
        f.on_word(
            &bytes[start..],
            cheap_word_hash_at(bytes, start, bytes.len()),
        );
    }
}

/// Bit `i` set when `chunk[i]` (at most 64 bytes) is a letter or a digit.
pub(super) fn alphanumeric_mask(chunk: &[u8]) -> u64 {
    byte_mask(chunk, ByteClass::Alphanumeric)
}

/// [`cheap_word_hash`] of `bytes[start..end]`. A word shorter than 16
/// bytes, with 16 bytes readable from its start, is hashed from two
/// unaligned loads masked to its length, choosing between the shapes of
/// [`WordHasher::write`] (tail only; one full chunk; chunk and tail) with
/// selects rather than branches, because word lengths are unpredictable.
/// Same value, always.
#[inline]
pub(super) fn cheap_word_hash_at(bytes: &[u8], start: usize, end: usize) -> u64 {
    let len = end - start;
    // One bounds check for both loads.
    if let (true, Some(window)) = (len < 16, bytes.get(start..start + 16)) {
        let (a, b) = window.split_at(8);
        let load = |half: &[u8]| u64::from_le_bytes(half.try_into().expect("8 bytes"));
        let (a, b) = (load(a), load(b));
        // The low `n` bytes of `v`, n in 1..=8 (for n = 0, `v` whole: the
        // value is then not selected below): a mask from a table of eight
        // (n = 8 and n = 0 both keep all of `v`), where a shift by a
        // variable count took four instructions.
        const LOW: [u64; 8] = {
            let mut t = [u64::MAX; 8];
            let mut n = 1;
            while n < 8 {
                t[n] = u64::MAX >> (64 - 8 * n);
                n += 1;
            }
            t
        };
        let low = |v: u64, n: usize| v & LOW[n & 7];
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
/// [`for_each_kgram`]: a Bloom filter of 16 bits a hash, blocked so that a
/// probe reads one 64-bit word and tests four bits of it, then, for the
/// few k-grams that pass (about one in a hundred), four bits of another
/// word of the same cache line chosen by an independent mix. Only the
/// k-grams that pass both cost a SHA-based hash and a lookup that
/// settles them (a few in ten thousand).
///
/// It used to be a one-bit bitmap backed by a hash set of every cheap
/// hash: one false pass in sixteen, each a cache miss into a set of
/// millions (and a tenth of a large library's load time to build it).
/// Then the confirming bits were a second filter of half the size: a
/// second cache miss for every k-gram that passed the first, and 8 MiB
/// more for 10,000 documents (`docs/performance.md`).
///
/// A library's filter is tens of megabytes probed at random: its lines are
/// on huge pages ([`Lines`]).
#[derive(Debug, Clone)]
pub(crate) struct KgramFilter {
    /// Cache lines of words: a probe's two words are in one line.
    lines: Lines,
    /// 64 less the number of words as a power of two.
    shift: u32,
    /// For a small library: a bit for each value of a hash's top 16 bits
    /// that some hash has ([`TOP_MAX`]). Most k-grams of a message are
    /// ruled out by one bit test on the rolling hash itself, before the
    /// mix, the filter word and its four bits (about twenty instructions a
    /// word of every message).
    top: Option<Box<[u64; TOP_WORDS]>>,
}

/// Words of [`KgramFilter::top`]: 2^16 bits, 8 KiB, in L1 cache.
const TOP_WORDS: usize = 1 << 10;

/// Most hashes given a [`KgramFilter::top`]: at most one value in 32 set,
/// so that it rules out nearly every k-gram. A larger library's k-grams
/// would pass it too often to pay for the test.
const TOP_MAX: usize = 2048;

/// Words on a cache line ([`crate::huge_pages::Line`]).
const LINE_WORDS: usize = 8;

/// Bits set (and tested) per hash in each of its two words, each chosen
/// by six bits of the mixed hash.
const FILTER_BITS: u32 = 4;

impl KgramFilter {
    pub(crate) fn new(hashes: impl IntoIterator<Item = u64>) -> KgramFilter {
        let hashes: Vec<u64> = hashes.into_iter().collect();
        // 16 bits a hash is a word per four: at least 1,024 words (a few
        // documents' filter fits in L1 cache), at most 2^24 (128 MiB).
        let log2 = ((hashes.len() as u64 / 4).max(1).next_power_of_two().ilog2()).clamp(10, 24);
        let mut top = (hashes.len() <= TOP_MAX).then(|| Box::new([0u64; TOP_WORDS]));
        if let Some(top) = &mut top {
            for &h in &hashes {
                top[(h >> 54) as usize] |= 1 << ((h >> 48) & 63);
            }
        }
        let mut filter = KgramFilter {
            lines: Lines::zeroed((1 << log2) / LINE_WORDS),
            shift: 64 - log2,
            top,
        };
        for h in hashes {
            let probe = filter.probe(h);
            *filter.word_mut(probe.word) |= probe.mask();
            let probe = filter.confirm_probe(h, probe.word);
            *filter.word_mut(probe.word) |= probe.mask();
        }
        filter
    }

    #[inline(always)]
    fn word(&self, word: usize) -> u64 {
        self.lines.get()[word / LINE_WORDS].0[word % LINE_WORDS]
    }

    fn word_mut(&mut self, word: usize) -> &mut u64 {
        &mut self.lines.get_mut()[word / LINE_WORDS].0[word % LINE_WORDS]
    }

    /// Where `h`'s confirming bits are: another word of the line of
    /// `first` (its first word), and bits from another mix, so that
    /// passing one test says little of the other.
    #[inline(always)]
    fn confirm_probe(&self, h: u64, first: usize) -> Probe {
        let mixed = Probe::mixed(h, 29, 0xBF58_476D_1CE4_E5B9, 63);
        // 1..=7 words on, around the line: never the first word itself.
        let step = (mixed.bits >> 32) as usize % (LINE_WORDS - 1) + 1;
        Probe {
            word: first - first % LINE_WORDS + (first + step) % LINE_WORDS,
            bits: mixed.bits,
        }
    }

    /// Whether a k-gram that passed the filter also passes the confirming
    /// test. Out of line: only the few that pass come here.
    #[cold]
    #[inline(never)]
    fn confirms(&self, probe: Probe, h: u64) -> bool {
        let probe = self.confirm_probe(h, probe.word);
        self.word(probe.word) & probe.mask() == probe.mask()
    }

    /// Where `h` is in the filter: its word, and the mixed hash whose low
    /// 24 bits choose the bits ([`Probe::mask`]). The cheap rolling hash
    /// is mixed first: its low bits depend only on the low bits of its
    /// words' hashes.
    #[inline(always)]
    fn probe(&self, h: u64) -> Probe {
        Probe::mixed(h, 31, 0xD6E8_FEB8_6659_FD93, self.shift)
    }

    /// Whether the probe's bits are all set. All four are tested at once:
    /// with the confirming bits in the same words, about a third of a
    /// word's bits are set, and a test of the first bit alone was a branch
    /// that went either way.
    #[inline(always)]
    fn passes(&self, probe: Probe) -> bool {
        let word = self.word(probe.word);
        word & probe.mask() == probe.mask()
    }

    /// Whether `h` may be in the filter: false only when no hash has its
    /// top 16 bits ([`KgramFilter::top`]), which a small library's
    /// filter tests first.
    #[inline(always)]
    fn may_hold(&self, h: u64) -> bool {
        self.top
            .as_ref()
            .is_none_or(|top| top[(h >> 54) as usize] >> ((h >> 48) & 63) & 1 == 1)
    }

    /// Whether the k-gram of cheap hash `h` (at `probe`) passes both
    /// tests.
    #[inline(always)]
    fn holds(&self, probe: Probe, h: u64) -> bool {
        self.passes(probe) && self.confirms(probe, h)
    }

    /// Whether `h` passes the top-bits test alone, for tests.
    #[cfg(test)]
    pub(super) fn may_hold_for_test(&self, h: u64) -> bool {
        self.may_hold(h)
    }

    /// Whether `h` passes the first filter alone, for tests.
    #[cfg(test)]
    pub(super) fn passes_for_test(&self, h: u64) -> bool {
        self.passes(self.probe(h))
    }

    /// The words holding `h`'s bits and its confirming bits, for tests.
    #[cfg(test)]
    pub(super) fn words_for_test(&self, h: u64) -> (usize, usize) {
        let probe = self.probe(h);
        (probe.word, self.confirm_probe(h, probe.word).word)
    }

    /// Whether `h` passes both tests, for tests.
    #[cfg(test)]
    pub(super) fn holds_for_test(&self, h: u64) -> bool {
        self.holds(self.probe(h), h)
    }

    /// Starts loading the word [`KgramFilter::passes`] will read.
    #[inline(always)]
    fn prefetch(&self, probe: Probe) {
        crate::edm::prefetch(&self.lines.get()[probe.word / LINE_WORDS]);
    }

    /// Larger than a core's share of cache (512 KiB): worth prefetching.
    pub(super) fn is_large(&self) -> bool {
        self.lines.get().len() * LINE_WORDS > 1 << 16
    }
}

/// A k-gram's place in a [`KgramFilter`]: the word, and the hash that
/// chooses the bits to test.
#[derive(Debug, Clone, Copy, Default)]
struct Probe {
    word: usize,
    bits: u64,
}

impl Probe {
    /// `h` mixed (xor-shift by `fold`, multiply by `mul`, xor-shift), its
    /// word from the top bits (64 less `shift` of them, at most 24) and
    /// its bits from the low 24: the two never overlap.
    #[inline(always)]
    fn mixed(h: u64, fold: u32, mul: u64, shift: u32) -> Probe {
        let mut x = h ^ (h >> fold);
        x = x.wrapping_mul(mul);
        x ^= x >> 32;
        Probe {
            word: (x >> shift) as usize,
            bits: x,
        }
    }

    /// The [`FILTER_BITS`] bits, six bits of the hash choosing each.
    #[inline(always)]
    fn mask(self) -> u64 {
        (0..FILTER_BITS).fold(0u64, |m, i| m | 1 << ((self.bits >> (6 * i)) & 63))
    }
}

/// The cheap hash of a k-gram is the polynomial `Σ c_i · ROLL^(K-1-i)`
/// (mod 2^64) of its words' cheap hashes `c_i`, updated as the window
/// rolls (two multiplications a word). Part of the file format (version 2
/// filters): never change it.
pub(super) const ROLL: u64 = 0x9E37_79B9_7F4A_7C15;
/// `ROLL^(K-1)`: the weight of the word leaving the window.
pub(super) const ROLL_OUT: u64 = {
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
pub(crate) fn cheap_word_hash(w: &[u8]) -> u64 {
    let mut h = WordHasher::default();
    std::hash::Hasher::write(&mut h, w);
    std::hash::Hasher::finish(&h)
}

/// SHA-256 of a word (first 8 bytes), cached under its cheap hash `key`:
/// a probe compares two integers instead of two strings, and no key is
/// allocated. (Two words colliding in 64 bits would share a hash: a 2^-64
/// chance per pair, far below any similarity threshold's noise.)
pub(super) fn word_hash(
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
pub(super) const WORD_MUL: u64 = 0x517c_c1b7_2722_0a95;

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

pub(super) fn combine(gram: &[u64]) -> u64 {
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
