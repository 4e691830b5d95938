//! Cutting long texts into windows searched one at a time, and the
//! character classes word boundaries need.

use crate::normalize::is_format;
use crate::rule::Section;

/// Segments longer than this are searched in windows of about this size
/// (see [`Window`]), so a huge attachment's normalized and lowercased
/// copies and its matches exist a window at a time: a 36 MB CSV export
/// held three more times over, with a record per line, was most of what a
/// 50 MB message cost the proxy. A window this large is still searched on
/// all cores.
pub(super) const WINDOW_BYTES: usize = 4 << 20;

/// Characters (whitespace and format characters not counted) a window's
/// text runs on past its cut, at least: longer than any match the engine
/// looks for, built-in identifiers included. A custom regex match longer
/// than this that crosses a cut may be found differently.
pub(super) const WINDOW_OVERLAP: usize = 4096;

/// A part of a long segment, searched on its own.
///
/// `start..end` of the original text is normalized and searched, and the
/// matches starting before `cut` are the window's (the next window starts
/// at `cut`). Cuts are at the start of a whitespace run, so no word is
/// split and a window's normalized text is exactly that part of the whole
/// text's. `end` is at least the engine's overlap past the cut, and
/// [`K`](crate::fingerprint::K) words (a k-gram starting before the cut
/// ends in the window), also at the start of a whitespace run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub(super) start: usize,
    pub(super) cut: usize,
    pub(super) end: usize,
}

/// Windows of about `size` bytes covering `text` (one for a shorter text,
/// or one for the rest of a text with no whitespace to cut at).
pub(super) fn windows(
    text: &str,
    size: usize,
    overlap: usize,
) -> impl Iterator<Item = Window> + '_ {
    let mut next = Some(0);
    std::iter::from_fn(move || {
        let start = next?;
        let cut = (text.len() - start > size)
            .then(|| run_start(text, start + size))
            .flatten();
        next = cut;
        Some(match cut {
            Some(cut) => Window {
                start,
                cut,
                end: overlap_end(text, cut, overlap),
            },
            None => Window {
                start,
                cut: text.len(),
                end: text.len(),
            },
        })
    })
}

/// The first start of a whitespace run at or after `from`.
pub(super) fn run_start(text: &str, mut from: usize) -> Option<usize> {
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let mut after_space = text[..from]
        .chars()
        .next_back()
        .is_none_or(char::is_whitespace);
    for (i, c) in text[from..].char_indices() {
        let space = c.is_whitespace();
        if space && !after_space {
            return Some(from + i);
        }
        after_space = space;
    }
    None
}

/// Where a window cut at `cut` ends: the first start of a whitespace run
/// after `overlap` characters that are not whitespace or format characters
/// and [`K`](crate::fingerprint::K) words with a letter or digit.
pub(super) fn overlap_end(text: &str, cut: usize, overlap: usize) -> usize {
    let (mut content, mut words) = (0, 0);
    let (mut after_space, mut counted_word) = (false, false);
    for (i, c) in text[cut..].char_indices() {
        let space = c.is_whitespace();
        if space {
            if !after_space && content >= overlap && words >= crate::fingerprint::K {
                return cut + i;
            }
            counted_word = false;
        } else if !is_format(c) {
            content += 1;
            if !counted_word && c.is_alphanumeric() {
                words += 1;
                counted_word = true;
            }
        }
        after_space = space;
    }
    text.len()
}

/// Characters in UTF-8 `bytes` (bytes that are not continuation bytes).
pub(super) fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

/// The character position of each byte position in `positions`, in order.
pub(super) fn char_positions(text: &[u8], positions: &[usize]) -> Vec<usize> {
    if text.is_ascii() {
        return positions.to_vec();
    }
    let mut order: Vec<usize> = (0..positions.len()).collect();
    order.sort_unstable_by_key(|&i| positions[i]);
    let mut out = vec![0; positions.len()];
    let (mut byte, mut chars) = (0, 0);
    for i in order {
        let p = positions[i].min(text.len());
        chars += char_count(&text[byte..p]);
        byte = p;
        out[i] = chars;
    }
    out
}

pub(super) fn section_index(s: Section) -> usize {
    match s {
        Section::Subject => 0,
        Section::Body => 1,
        Section::Attachments => 2,
    }
}

/// Scripts written without spaces between words: a term edge in one of
/// them needs no word boundary.
pub(super) fn spaceless_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF            // Thai, Lao
        | 0x1000..=0x109F          // Myanmar
        | 0x1780..=0x17FF | 0x19E0..=0x19FF // Khmer
        | 0x2E80..=0x2FDF | 0x3005 | 0x3007 | 0x3021..=0x3029 | 0x3038..=0x303B // Han
        | 0x3040..=0x30FF | 0x31F0..=0x31FF // Hiragana, Katakana
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF // Han
        | 0xA9E0..=0xA9FF | 0xAA60..=0xAA7F // Myanmar
        | 0xFF66..=0xFF9F          // halfwidth Katakana
        | 0x20000..=0x3134F) // Han
}

pub(super) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}
