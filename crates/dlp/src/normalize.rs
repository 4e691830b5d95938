//! Text normalization for matching (SPEC §3.2), with a map back to the
//! original text for evidence.
//!
//! Normalized text is NFKC, without format characters (category Cf:
//! zero-width space/joiner, soft hyphen, BOM, bidi controls), with every
//! run of whitespace (line breaks and NBSP included) as one space. ASCII
//! text takes a fast path that only collapses whitespace; a non-ASCII word
//! is NFKC-normalized only when the quick check says it may change.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

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
        let (text, map) = normalize_text(original);
        let lower = if text.is_ascii() {
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
/// the map back to `original`.
fn normalize_text(original: &str) -> (String, OffsetMap) {
    let mut map = OffsetMap::default();
    if original.is_ascii() {
        let text = collapse_ascii(original.as_bytes(), &mut map);
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

/// Collapses ASCII whitespace runs to one space. Three fast passes
/// rather than one byte-at-a-time loop: copy, turn every whitespace byte
/// into a space (a branch-free loop the compiler vectorizes), then close
/// the gaps left by runs of spaces, found with a SIMD substring search.
/// Text without runs (most of it) is only copied and rewritten.
fn collapse_ascii(bytes: &[u8], map: &mut OffsetMap) -> String {
    let mut buf = bytes.to_vec();
    for b in buf.iter_mut() {
        // \t \n \x0b \x0c \r are the five bytes from 0x09.
        *b = if b.wrapping_sub(b'\t') < 5 { b' ' } else { *b };
    }
    let n = buf.len();
    let finder = memchr::memmem::Finder::new(b"  ");
    let (mut r, mut w) = (0, 0);
    // Invariant: w <= r, and buf[r..] is still unmodified input.
    while let Some(p) = finder.find(&buf[r..]).map(|p| p + r) {
        let keep_end = p + 1;
        if w != r {
            buf.copy_within(r..keep_end, w);
        }
        w += keep_end - r;
        let mut q = keep_end;
        while q < n && buf[q] == b' ' {
            q += 1;
        }
        map.push(w, q);
        r = q;
    }
    if w != r {
        buf.copy_within(r..n, w);
    }
    w += n - r;
    buf.truncate(w);
    // Only ASCII bytes were written.
    String::from_utf8(buf).expect("ASCII is UTF-8")
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
    let (text, _) = normalize_text(term);
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
