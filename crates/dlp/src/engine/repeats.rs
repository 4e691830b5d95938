//! Texts a message holds twice, searched once.
//!
//! A `multipart/alternative` message says the same thing as plain text
//! and as HTML, and most mail programs write the plain text from the HTML:
//! after normalization (whitespace runs as one space) the two are usually
//! the same text, at most a space apart at either end (the HTML's block
//! elements leave line breaks before the first word). In the shared
//! corpus, 17 of 46 plain and HTML siblings are. Searching the second copy
//! again finds the same matches at the same places, so a segment whose
//! normalized text repeats an earlier segment's takes that segment's
//! matches, placed in its own original text, and costs its normalization
//! and one comparison.
//!
//! Invariant: the result of a scan is the same with and without this (the
//! tests compare both); only whole segments (one window) are compared,
//! because a later window's search carries state from the one before.

use std::ops::Range;

use super::search::Hit;

/// What searching one window found, before its hits are placed in the
/// original text: hits and EDM cells in the window's normalized text, the
/// k-grams some document has (by word of the window), and the words the
/// window owns (counted only when it is not the segment's last).
#[derive(Debug, Clone)]
pub(super) struct WindowFound {
    pub(super) hits: Vec<Hit>,
    pub(super) kgrams: Vec<(u32, u64)>,
    pub(super) cells: Vec<Range<usize>>,
    pub(super) owned_words: usize,
}

impl WindowFound {
    /// The same matches found in `segment`, whose normalized text has
    /// `shift` more bytes (a leading space) before the text they share.
    fn moved(&self, segment: usize, shift: isize) -> WindowFound {
        let by = |r: &Range<usize>| {
            r.start.saturating_add_signed(shift)..r.end.saturating_add_signed(shift)
        };
        let mut found = self.clone();
        for hit in &mut found.hits {
            hit.segment = segment;
            hit.span = by(&hit.span);
            if let Some(row) = &mut hit.row {
                for cell in &mut row.cells {
                    *cell = by(cell);
                }
            }
        }
        for cell in &mut found.cells {
            *cell = by(cell);
        }
        found
    }
}

/// Shorter texts are not kept: searching them again costs little.
const MIN_BYTES: usize = 256;

/// At most this many bytes of normalized text are kept per scan, so a
/// message of many large parts does not hold a second copy of them all.
const MAX_BYTES: usize = 8 << 20;

/// Most texts kept per scan. Each later text is compared with every kept
/// one (lengths first, then bytes up to the first difference), so a
/// message of thousands of parts of one length, each differing only in
/// its last byte, costs at most this many passes over each part.
const MAX_TEXTS: usize = 16;

/// Most matches and cells kept for one text: a table of terms or rows may
/// have hundreds of thousands, whose copy would cost more memory than
/// searching a repeat of it again costs time.
const MAX_FOUND: usize = 4096;

/// The whole-segment texts of one scan searched so far, with what was
/// found in them.
pub(super) struct RepeatedTexts {
    /// Off: every segment is searched (for tests that compare).
    on: bool,
    /// Whether texts a space apart at either end may share matches (see
    /// `Engine::edges_free`).
    edges_free: bool,
    seen: Vec<(String, WindowFound)>,
    bytes: usize,
}

impl RepeatedTexts {
    pub(super) fn new(on: bool, edges_free: bool) -> RepeatedTexts {
        RepeatedTexts {
            on,
            edges_free,
            seen: Vec::new(),
            bytes: 0,
        }
    }

    /// Keeps a whole segment's normalized `text` and what its search
    /// found, for later segments to compare with.
    pub(super) fn remember(&mut self, text: &str, found: &WindowFound) {
        if !self.on
            || text.len() < MIN_BYTES
            || self.seen.len() >= MAX_TEXTS
            || self.bytes + text.len() > MAX_BYTES
            || found.hits.len() + found.cells.len() + found.kgrams.len() > MAX_FOUND
        {
            return;
        }
        self.bytes += text.len();
        self.seen.push((text.to_owned(), found.clone()));
    }

    /// What an earlier segment's search found, moved to `segment`, when
    /// `whole` (the window is all of `segment`) and its normalized `text`
    /// repeats that segment's.
    pub(super) fn find(&self, whole: bool, text: &str, segment: usize) -> Option<WindowFound> {
        if !whole || self.seen.is_empty() {
            return None;
        }
        let (lead, core) = inner(text);
        self.seen.iter().find_map(|(seen, found)| {
            let (seen_lead, seen_inner) = inner(seen);
            // Lengths first: `==` on slices compares them before bytes.
            if seen_inner != core || (seen != text && !self.edges_free) {
                return None;
            }
            Some(found.moved(segment, lead as isize - seen_lead as isize))
        })
    }
}

/// `text` without one space at its start and one at its end (normalized
/// text has no longer runs), and whether it had the first.
fn inner(text: &str) -> (bool, &str) {
    let rest = text.strip_prefix(' ');
    let lead = rest.is_some();
    let rest = rest.unwrap_or(text);
    (lead, rest.strip_suffix(' ').unwrap_or(rest))
}
