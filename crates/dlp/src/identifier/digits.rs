//! Where a text's digits are: a bit for each byte, found once per text for
//! every search that goes from one number to the next (the number-shaped
//! types, cards, IBANs, IPv4 addresses).
//!
//! Each of those searches used to read the text's digits for itself, 64
//! bytes at a time as a bit mask: four passes over every byte of every
//! message for what one pass finds. The bits are found on first use, so a
//! text no such search reads costs nothing. (A list of the digit runs
//! instead cost a tenth more than the passes it saved: a number every few
//! words of prose is a push and a branch each.)
//!
//! Invariant: bit `i % 64` of word `i / 64` is set exactly when byte `i`
//! is an ASCII digit.

use std::sync::OnceLock;

use crate::byte_classes::{byte_mask, ByteClass};

/// The digits of one text, found on first use (by whichever search thread
/// asks first: see `Engine::identifier_hits`).
pub(crate) struct Digits<'t> {
    bytes: &'t [u8],
    mask: OnceLock<Vec<u64>>,
}

impl<'t> Digits<'t> {
    pub(crate) fn new(bytes: &'t [u8]) -> Digits<'t> {
        Digits {
            bytes,
            mask: OnceLock::new(),
        }
    }

    /// A reader of the digits.
    pub(super) fn reader(&self) -> DigitReader<'_> {
        DigitReader {
            bytes: self.bytes,
            mask: self.mask.get_or_init(|| {
                self.bytes
                    .chunks(64)
                    .map(|chunk| byte_mask(chunk, ByteClass::Digit))
                    .collect()
            }),
        }
    }
}

/// The digits of a text, read.
pub(super) struct DigitReader<'r> {
    bytes: &'r [u8],
    mask: &'r [u64],
}

impl DigitReader<'_> {
    /// The first digit at or after `at`.
    pub(super) fn next_digit(&self, at: usize) -> Option<usize> {
        let mut word = at / 64;
        let mut bits = self.mask.get(word)? & (u64::MAX << (at % 64));
        loop {
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
            word += 1;
            bits = *self.mask.get(word)?;
        }
    }

    /// The first `.` at or after `at` right after a digit (the digit may
    /// be before `at`): where a dotted quad's first dot can be. Only the
    /// last digit of each number is looked at.
    pub(super) fn dot_after_digit(&self, at: usize) -> Option<usize> {
        // The digit before a dot at or after `at`.
        let first = at.saturating_sub(1);
        let mut word = first / 64;
        let mut ends = self.run_ends(word)? & (u64::MAX << (first % 64));
        loop {
            while ends != 0 {
                let last = word * 64 + ends.trailing_zeros() as usize;
                if self.bytes.get(last + 1) == Some(&b'.') {
                    return Some(last + 1);
                }
                ends &= ends - 1;
            }
            word += 1;
            ends = self.run_ends(word)?;
        }
    }

    /// The digits of word `word` that the next byte of the word does not
    /// continue (and its last byte's, when a digit: the caller reads the
    /// byte after it anyway).
    fn run_ends(&self, word: usize) -> Option<u64> {
        let digits = *self.mask.get(word)?;
        Some(digits & !(digits >> 1))
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
    fn readers_find_what_a_byte_by_byte_reading_finds() {
        let next_digit =
            |bytes: &[u8], at: usize| (at..bytes.len()).find(|&i| bytes[i].is_ascii_digit());
        let dot = |bytes: &[u8], at: usize| {
            (at.max(1)..bytes.len()).find(|&i| bytes[i] == b'.' && bytes[i - 1].is_ascii_digit())
        };
        for text in texts() {
            let digits = Digits::new(&text);
            let reader = digits.reader();
            for at in 0..=text.len() + 1 {
                let shown = String::from_utf8_lossy(&text);
                assert_eq!(
                    reader.next_digit(at),
                    next_digit(&text, at),
                    "{shown:?} from {at}"
                );
                assert_eq!(
                    reader.dot_after_digit(at),
                    dot(&text, at),
                    "{shown:?} from {at}"
                );
            }
        }
    }
}
