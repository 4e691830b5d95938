//! Where a text's numbers are: its runs of ASCII digits, found once per
//! text for every search that goes from one number to the next (the
//! number-shaped types, cards, IBANs, IPv4 addresses).
//!
//! Each of those searches used to read the text's digits for itself, 64
//! bytes at a time as a bit mask: four passes over every byte of every
//! message for what one pass finds. The runs are found on first use, so a
//! text no such search reads costs nothing.
//!
//! Invariant: the runs are maximal (the bytes either side of a run are not
//! digits), in text order, and do not overlap.

use std::ops::Range;
use std::sync::OnceLock;

use crate::byte_classes::{byte_mask, ByteClass};

/// The digit runs of one text, found on first use (by whichever search
/// thread asks first: see `Engine::identifier_hits`).
pub(crate) struct Digits<'t> {
    bytes: &'t [u8],
    runs: OnceLock<Vec<Range<usize>>>,
}

impl<'t> Digits<'t> {
    pub(crate) fn new(bytes: &'t [u8]) -> Digits<'t> {
        Digits {
            bytes,
            runs: OnceLock::new(),
        }
    }

    /// A reader of the runs from the text's start.
    pub(super) fn cursor(&self) -> DigitCursor<'_> {
        DigitCursor {
            runs: self.runs.get_or_init(|| runs(self.bytes)),
            next: 0,
        }
    }
}

/// The maximal runs of ASCII digits in `bytes`: 64 bytes at a time as a
/// mask, visiting only where runs start and end.
fn runs(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    // Whether the byte before the block is a digit.
    let mut carry = 0u64;
    for (block, chunk) in bytes.chunks(64).enumerate() {
        let base = block * 64;
        let digits = byte_mask(chunk, ByteClass::Digit);
        // A set bit where a run starts or ends (the first byte after it).
        let mut edges = digits ^ (digits << 1 | carry);
        if chunk.len() < 64 {
            // The last run's end is past the text: pushed below.
            edges &= (1u64 << chunk.len()) - 1;
        }
        while edges != 0 {
            let at = base + edges.trailing_zeros() as usize;
            if digits & (edges & edges.wrapping_neg()) != 0 {
                start = at;
            } else {
                out.push(start..at);
            }
            edges &= edges - 1;
        }
        carry = digits >> 63;
        if chunk.len() < 64 {
            // Bits past the text's end are clear: a run that reaches it
            // has had no end.
            carry = digits >> (chunk.len() - 1) & 1;
        }
    }
    if carry == 1 {
        out.push(start..bytes.len());
    }
    out
}

/// A position in the runs of a text, for one search going forwards.
pub(super) struct DigitCursor<'r> {
    runs: &'r [Range<usize>],
    /// The first run that may end after the last position asked about.
    next: usize,
}

impl DigitCursor<'_> {
    /// The first run that ends after `at`, moving on to it. A position
    /// before the last one asked about starts again from the front.
    fn run_after(&mut self, at: usize) -> Option<&Range<usize>> {
        if self.next > 0 && self.runs[self.next - 1].end > at {
            self.next = self.runs.partition_point(|r| r.end <= at);
        }
        while self.runs.get(self.next)?.end <= at {
            self.next += 1;
        }
        self.runs.get(self.next)
    }

    /// The first digit at or after `at`.
    pub(super) fn next_digit(&mut self, at: usize) -> Option<usize> {
        self.run_after(at).map(|r| r.start.max(at))
    }

    /// The first `.` at or after `at` right after a digit (the digit may
    /// be before `at`): where a dotted quad's first dot can be.
    pub(super) fn dot_after_digit(&mut self, bytes: &[u8], at: usize) -> Option<usize> {
        // A dot after a digit ends a run; a run ending at `at` counts.
        let mut from = at.saturating_sub(1);
        loop {
            let end = self.run_after(from)?.end;
            if end >= at && bytes.get(end) == Some(&b'.') {
                return Some(end);
            }
            from = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts of digits, dots and letters in random order and lengths.
    fn texts() -> impl Iterator<Item = Vec<u8>> {
        let pieces: [&[u8]; 7] = [b"word. ", b"1.", b"10.0.0.1 ", b"..", b"x", b"9", b"12345"];
        let mut seed = 0x853C_49E6_748F_EA9Bu64;
        (0..3_000).map(move |round| {
            let mut text = Vec::new();
            for _ in 0..round % 60 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.extend_from_slice(pieces[(seed % 7) as usize]);
            }
            text
        })
    }

    #[test]
    fn runs_are_the_maximal_digit_runs() {
        for text in texts() {
            let mut expected = Vec::new();
            let mut i = 0;
            while i < text.len() {
                if text[i].is_ascii_digit() {
                    let start = i;
                    while i < text.len() && text[i].is_ascii_digit() {
                        i += 1;
                    }
                    expected.push(start..i);
                } else {
                    i += 1;
                }
            }
            assert_eq!(
                runs(&text),
                expected,
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    #[test]
    fn cursors_find_what_a_byte_by_byte_reading_finds() {
        let next_digit =
            |bytes: &[u8], at: usize| (at..bytes.len()).find(|&i| bytes[i].is_ascii_digit());
        let dot = |bytes: &[u8], at: usize| {
            (at.max(1)..bytes.len()).find(|&i| bytes[i] == b'.' && bytes[i - 1].is_ascii_digit())
        };
        for text in texts() {
            let digits = Digits::new(&text);
            // Forwards, one cursor for all positions, as searches go.
            let mut forwards = digits.cursor();
            let mut dots = digits.cursor();
            for at in 0..=text.len() {
                assert_eq!(forwards.next_digit(at), next_digit(&text, at), "from {at}");
                assert_eq!(dots.dot_after_digit(&text, at), dot(&text, at), "from {at}");
            }
            // And backwards, which starts again.
            let mut back = digits.cursor();
            for at in (0..=text.len()).rev() {
                assert_eq!(back.next_digit(at), next_digit(&text, at), "back from {at}");
                assert_eq!(
                    back.dot_after_digit(&text, at),
                    dot(&text, at),
                    "back from {at}"
                );
            }
        }
    }
}
