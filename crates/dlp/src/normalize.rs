//! Text normalization for matching (SPEC §3.2), with a map back to the
//! original text for evidence.
//!
//! Normalized text is NFKC, without format characters (category Cf:
//! zero-width space/joiner, soft hyphen, BOM, bidi controls), with every
//! run of whitespace (line breaks and NBSP included) as one space. ASCII
//! text takes a fast path that only collapses whitespace; a non-ASCII word
//! is NFKC-normalized only when the quick check says it may change.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

use crate::byte_classes::{byte_mask, ByteClass};

/// Maps positions in a derived text back to the text it was derived from.
///
/// Invariant: `points` is sorted and strictly increasing in both
/// coordinates' order; between two points, positions advance one to one.
#[derive(Debug, Clone, Default)]
pub(crate) struct OffsetMap {
    points: Vec<(usize, usize)>,
}

impl OffsetMap {
    fn push(&mut self, derived: usize, source: usize) {
        match self.points.last_mut() {
            Some(last) if last.0 == derived => last.1 = source,
            _ => self.points.push((derived, source)),
        }
    }

    /// The source position of derived position `p`.
    pub(crate) fn map(&self, p: usize) -> usize {
        let i = self.points.partition_point(|&(d, _)| d <= p);
        if i == 0 {
            return p;
        }
        let (d, s) = self.points[i - 1];
        let linear = s + (p - d);
        match self.points.get(i) {
            Some(&(_, next_s)) => linear.min(next_s),
            None => linear,
        }
    }

    /// The derived position of source position `p`: the inverse of
    /// [`OffsetMap::map`] (the first derived position of a source range
    /// that was collapsed or removed).
    pub(crate) fn inverse(&self, p: usize) -> usize {
        let i = self.points.partition_point(|&(_, s)| s <= p);
        if i == 0 {
            return self.points.first().map_or(p, |&(d, _)| p.min(d));
        }
        let (d, s) = self.points[i - 1];
        let linear = d + (p - s);
        match self.points.get(i) {
            Some(&(next_d, _)) => linear.min(next_d),
            None => linear,
        }
    }
}

/// One text prepared for matching.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The normalized text (case preserved).
    pub text: String,
    map: OffsetMap,
    /// `text` lowercased (char-wise, as terms are), with a map to `text`
    /// (empty for ASCII, where lengths never change).
    lower: (String, OffsetMap),
}

/// Characters of general category Cf, which render as nothing and are used
/// to split words invisibly.
pub(crate) fn is_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

impl Normalized {
    /// Normalizes `original`.
    ///
    /// ```
    /// use sluice_dlp::Normalized;
    /// let n = Normalized::new("Account\r\n  Man\u{00AD}ager ﬁle");
    /// assert_eq!(n.text, "Account Manager file");
    /// assert_eq!(n.original_span("Account\r\n  Man\u{00AD}ager ﬁle", 8..15), 11..20);
    /// ```
    pub fn new(original: &str) -> Self {
        // ASCII in, ASCII out (only whitespace runs close up), so the text
        // is read once to know. A text NFKC turned into ASCII takes the
        // general lower case, which gives it the same.
        let ascii = original.is_ascii();
        let (text, map) = normalize_text(original, ascii);
        let lower = if ascii {
            (text.to_ascii_lowercase(), OffsetMap::default())
        } else {
            lowercase(&text)
        };
        Normalized { text, map, lower }
    }

    /// Byte range in the original text of normalized range `span`, widened to
    /// whole characters of `original` (the text given to [`Normalized::new`]).
    pub fn original_span(
        &self,
        original: &str,
        span: std::ops::Range<usize>,
    ) -> std::ops::Range<usize> {
        let mut start = self.map.map(span.start).min(original.len());
        let mut end = self.map.map(span.end).min(original.len()).max(start);
        while !original.is_char_boundary(start) {
            start -= 1;
        }
        while !original.is_char_boundary(end) {
            end += 1;
        }
        start..end
    }

    /// Position in [`Normalized::text`] of position `p` of the original
    /// text, for `p` at the start of a whitespace run or of a word.
    pub(crate) fn text_position_of_original(&self, p: usize) -> usize {
        self.map.inverse(p).min(self.text.len())
    }

    /// The lowercase text case-insensitive dictionaries are matched on.
    pub(crate) fn lower(&self) -> &str {
        &self.lower.0
    }

    /// Position in `text` of position `p` in [`Normalized::lower`].
    pub(crate) fn text_position_of_lower(&self, p: usize) -> usize {
        self.lower.1.map(p)
    }
}

/// NFKC, format characters removed, whitespace runs to one space; with
/// the map back to `original` (`ascii` when it is all ASCII).
fn normalize_text(original: &str, ascii: bool) -> (String, OffsetMap) {
    let mut map = OffsetMap::default();
    if ascii {
        let text = collapse_ascii(original, &mut map);
        return (text, map);
    }
    let mut text = String::with_capacity(original.len());
    let mut rest = original;
    let mut pos = 0;
    while !rest.is_empty() {
        let ws_end = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        if ws_end > 0 {
            text.push(' ');
            if ws_end != 1 {
                map.push(text.len(), pos + ws_end);
            }
            pos += ws_end;
            rest = &rest[ws_end..];
            continue;
        }
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        if word.is_ascii()
            || (is_nfkc_quick(word.chars()) == IsNormalized::Yes && !word.chars().any(is_format))
        {
            text.push_str(word);
        } else {
            map.push(text.len(), pos);
            text.extend(word.chars().filter(|&c| !is_format(c)).nfkc());
            map.push(text.len(), pos + word_end);
        }
        pos += word_end;
        rest = &rest[word_end..];
    }
    (text, map)
}

/// Collapses ASCII whitespace runs to one space. Two fast passes rather
/// than one byte-at-a-time loop: copy while turning every whitespace byte
/// into a space (a branch-free loop the compiler vectorizes), then close
/// the gaps left by runs of spaces, found 64 bytes at a time as bits of a
/// mask. Mail has a run at every line break (CRLF): a substring search
/// for two spaces, restarted at each, cost more per line than the
/// line's bytes did (`docs/performance.md`).
fn collapse_ascii(text: &str, map: &mut OffsetMap) -> String {
    let bytes = text.as_bytes();
    // Copied and translated in one pass. \t \n \x0b \x0c \r are the five
    // bytes from 0x09.
    let mut buf: Vec<u8> = bytes
        .iter()
        .map(|&b| if b.wrapping_sub(b'\t') < 5 { b' ' } else { b })
        .collect();
    let n = buf.len();
    // Invariant: w <= r; buf[..w] is the output so far and buf[r..] still
    // unmodified input (bytes are only ever moved down, below r).
    let (mut r, mut w) = (0, 0);
    // Whether the byte before the current block is a space.
    let mut carry = 0u64;
    for base in (0..n).step_by(64) {
        let len = (n - base).min(64);
        let spaces = byte_mask(&buf[base..base + len], ByteClass::Equal(b' '));
        // Every space right after a space goes.
        let mut dropped = spaces & (spaces << 1 | carry);
        carry = spaces >> (len - 1) & 1;
        while dropped != 0 {
            let from = dropped.trailing_zeros() as usize;
            // The run of dropped bytes from `from`, to the block's end at
            // most (a longer run goes on in the next block).
            let run = (!(dropped >> from)).trailing_zeros() as usize;
            let start = base + from;
            if w != r {
                buf.copy_within(r..start, w);
            }
            w += start - r;
            r = start + run;
            // A run across blocks pushes the same position twice: the
            // map keeps the later source.
            map.push(w, r);
            // Its bits cleared (those below it already are).
            dropped &= u64::MAX.checked_shl((from + run) as u32).unwrap_or(0);
        }
    }
    if w != r {
        buf.copy_within(r..n, w);
    }
    w += n - r;
    buf.truncate(w);
    debug_assert!(std::str::from_utf8(&buf).is_ok());
    // SAFETY: `buf` is `text`, valid UTF-8, with ASCII whitespace bytes
    // turned into spaces and runs of spaces shortened: only ASCII bytes
    // were changed or removed, and no byte of a multi-byte character is
    // ASCII, so every character is whole and `buf` is UTF-8 too.
    // (Validating it again was a pass over every text, a percent of the
    // scan.)
    #[allow(unsafe_code)]
    unsafe {
        String::from_utf8_unchecked(buf)
    }
}

/// Char-wise Unicode lowercase (the same function terms go through), with
/// a map back to the input.
pub(crate) fn lowercase(text: &str) -> (String, OffsetMap) {
    let mut out = String::with_capacity(text.len());
    let mut map = OffsetMap::default();
    for (i, c) in text.char_indices() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        let start = out.len();
        out.extend(c.to_lowercase());
        if out.len() - start != c.len_utf8() {
            map.push(start, i);
            map.push(out.len(), i + c.len_utf8());
        }
    }
    (out, map)
}

/// Normalizes a dictionary term or other needle: as text, then trimmed.
pub(crate) fn normalize_term(term: &str) -> String {
    let (text, _) = normalize_text(term, term.is_ascii());
    match text.trim() {
        trimmed if trimmed.len() == text.len() => text,
        trimmed => trimmed.to_owned(),
    }
}

/// Char-wise lowercase of a string (see [`lowercase`]).
pub(crate) fn lower_str(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    lowercase(s).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_and_format_characters() {
        let n = Normalized::new("a\u{00A0}\u{200B}b\t\n c\u{FEFF}d");
        assert_eq!(n.text, "a b cd");
        let n = Normalized::new("x \r\n\r\n y");
        assert_eq!(n.text, "x y");
        assert_eq!(n.original_span("x \r\n\r\n y", 2..3), 7..8);
    }

    /// [`collapse_ascii`] written the plain way: a byte at a time.
    fn collapse_reference(text: &str) -> (String, OffsetMap) {
        let mut out = String::new();
        let mut map = OffsetMap::default();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_whitespace() || bytes[i] == 0x0b {
                out.push(' ');
                let mut j = i + 1;
                while j < bytes.len() && (bytes[j].is_ascii_whitespace() || bytes[j] == 0x0b) {
                    j += 1;
                }
                if j > i + 1 {
                    map.push(out.len(), j);
                }
                i = j;
            } else {
                out.push(bytes[i] as char);
                i += 1;
            }
        }
        (out, map)
    }

    #[test]
    fn collapse_matches_a_byte_at_a_time_reference() {
        // Runs of every length across the 64-byte blocks' edges, at the
        // start and the end, in a cheap pseudo-random stream.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let pieces = [" ", "  ", "\r\n", "\t", "\x0b\x0c", "word", "x", "   \n  "];
        for round in 0..2_000 {
            let mut text = String::new();
            let target = round % 300;
            while text.len() < target {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(pieces[(seed >> 59) as usize % pieces.len()]);
            }
            let mut map = OffsetMap::default();
            let fast = collapse_ascii(&text, &mut map);
            let (slow, slow_map) = collapse_reference(&text);
            assert_eq!(fast, slow, "{text:?}");
            for p in 0..=fast.len() {
                assert_eq!(map.map(p), slow_map.map(p), "{text:?} at {p}");
            }
        }
    }

    #[test]
    fn nfkc_and_offsets() {
        let original = "Ｃｕｓｔｏｍｅｒ list";
        let n = Normalized::new(original);
        assert_eq!(n.text, "Customer list");
        assert_eq!(
            &original[n.original_span(original, 0..8)],
            "Ｃｕｓｔｏｍｅｒ"
        );
        assert_eq!(&original[n.original_span(original, 9..13)], "list");
        let original = "cafe\u{301} ok";
        let n = Normalized::new(original);
        assert_eq!(n.text, "café ok");
        assert_eq!(&original[n.original_span(original, 6..8)], "ok");
    }

    #[test]
    fn lowercase_map_survives_length_changes() {
        let n = Normalized::new("İstanbul Customer");
        let lower = n.lower();
        let at = lower.find("customer").unwrap();
        assert_eq!(
            &n.text[n.text_position_of_lower(at)..n.text_position_of_lower(at + 8)],
            "Customer"
        );
    }
}
