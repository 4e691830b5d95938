//! The words of a text that exact data match looks at.
//!
//! The engine splits a window's text once for the fingerprints and for
//! every table, and lists every word with its cheap hash ([`TextWord`]).
//! Most words of ordinary mail are no cell's word, and a table's
//! remembered verdicts ([`super::search::Verdicts`]) say so: before the
//! search, [`needed_words`] keeps only the words it can use (a fifth of
//! the scan benchmark's), in one tight pass, so that the search's two
//! passes over the words (verdicts and keys, then word sequences) read
//! those alone (`docs/performance.md`). A word left out still ends the
//! word sequences and digit groups around it: the next word kept says so
//! ([`NeededWord::after_gap`]).

use std::cell::Cell;
use std::ops::Range;

use super::search::{may_need_word, verdict_slot, VerdictSlots};

/// Where a word starts and ends: 32-bit offsets, so that a word with its
/// hash is 16 bytes, not 24 (every word of every message is written to
/// the list and read back).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Word {
    start: u32,
    end: u32,
}

impl Word {
    /// The word at `start..end` of a text whose length fits 32 bits, as
    /// every text a list is taken for does ([`kept::words`]): no check per
    /// word.
    #[inline(always)]
    pub(crate) fn in_listed_text(start: usize, end: usize) -> Word {
        Word {
            start: start as u32,
            end: end as u32,
        }
    }

    #[inline(always)]
    pub(crate) fn start(self) -> usize {
        self.start as usize
    }

    #[inline(always)]
    pub(crate) fn end(self) -> usize {
        self.end as usize
    }

    #[inline(always)]
    pub(crate) fn range(self) -> Range<usize> {
        self.start()..self.end()
    }
}

/// A word of the text: where it is (bytes of the lowercased text) and its
/// cheap hash ([`crate::fingerprint::for_each_word`]'s).
pub(crate) type TextWord = (Word, u64);

/// A word the search needs: where it is, its cheap hash, which the search
/// replaces by the word's key ([`super::Keys::word`]) or 0, and whether
/// words were left out right before it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NeededWord {
    pub(crate) word: Word,
    pub(crate) key: u64,
    pub(crate) after_gap: bool,
}

/// Words between a word's verdict fetched and read: the verdicts are a
/// megabyte read at random, and 16 words ahead was too soon for a verdict
/// out of the core's caches.
const AHEAD: usize = 64;

/// The words of `words` (the words of `lower`, in order) that a table of
/// remembered verdicts `verdicts` does not know as no cell's, and every
/// word beginning with a digit (digit groups are joined into one form
/// whatever their words' verdicts), at the start of `needed`; returns
/// how many. `needed` is grown to `words`' length and only ever grown:
/// its slots past the count are left as they are, and zeroing them again
/// for every window cost more than the list saved.
// Out of line: inlined into the search, its loop shared the registers
// with the rest and reloaded what it reads for every word.
#[inline(never)]
pub(crate) fn needed_words(
    verdicts: &VerdictSlots,
    lower: &str,
    words: &[TextWord],
    needed: &mut Vec<NeededWord>,
) -> usize {
    let bytes = lower.as_bytes();
    if needed.len() < words.len() {
        needed.resize(words.len(), NeededWord::default());
    }
    let needed = &mut needed[..words.len()];
    let mut len = 0;
    let mut gap = false;
    for (at, &(word, cheap)) in words.iter().enumerate() {
        if let Some(&(_, later)) = words.get(at + AHEAD) {
            super::prefetch(&verdicts[verdict_slot(later)]);
        }
        // Both tests made, without a branch between them.
        let digit = bytes[word.start()].wrapping_sub(b'0') < 10;
        let is_needed = digit | may_need_word(verdicts, cheap);
        // Written either way and counted only when needed: whether a word
        // is needed is close to random, and a branch on it mispredicted
        // often.
        needed[len] = NeededWord {
            word,
            key: cheap,
            after_gap: gap,
        };
        len += usize::from(is_needed);
        gap = !is_needed;
    }
    len
}

/// Lists kept per thread from one window to the next: grown from nothing
/// for every window, their copies were a tenth of what EDM cost.
pub(crate) mod kept {
    use super::*;

    /// Words kept at most (4 MiB of words, 6 MiB of needed words): a huge
    /// window's lists are not held on to.
    const KEPT: usize = 1 << 18;

    thread_local! {
        static WORDS: Cell<Vec<TextWord>> = const { Cell::new(Vec::new()) };
        static NEEDED: Cell<Vec<NeededWord>> = const { Cell::new(Vec::new()) };
    }

    /// An empty word list for a text of `len` bytes, with the room this
    /// thread's last one had; none when the text's offsets do not fit 32
    /// bits (a window of text is a few MiB: never).
    pub(crate) fn words(len: usize) -> Option<Vec<TextWord>> {
        u32::try_from(len).ok()?;
        let mut words = WORDS.take();
        words.clear();
        Some(words)
    }

    /// Keeps `words`' room for the next window.
    pub(crate) fn give_back_words(words: Vec<TextWord>) {
        if words.capacity() <= KEPT {
            WORDS.set(words);
        }
    }

    /// A list for [`needed_words`], with the room this thread's last one
    /// had.
    pub(crate) fn needed() -> Vec<NeededWord> {
        NEEDED.take()
    }

    /// Keeps `needed`'s room for the next window.
    pub(crate) fn give_back_needed(needed: Vec<NeededWord>) {
        if needed.len() <= KEPT {
            NEEDED.set(needed);
        }
    }
}
