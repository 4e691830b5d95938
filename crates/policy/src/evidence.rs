//! What the engine is given (segments of an extraction) and what evidence
//! shows (masked excerpts).

use sluice_dlp::{Section, Segment};
use sluice_mime::Extraction;

/// The engine's view of an extraction: each text part as a [`Segment`]
/// with its scope section and alternative branch (segment `i` is
/// `x.parts[i]`).
pub fn segments(x: &Extraction) -> Vec<Segment<'_>> {
    x.parts
        .iter()
        .map(|p| Segment {
            text: &p.text,
            section: match p.section {
                sluice_mime::Section::Subject => Section::Subject,
                sluice_mime::Section::Body => Section::Body,
                sluice_mime::Section::Attachments => Section::Attachments,
            },
            alternative: p.alternative.as_ref().map(|a| (a.group.as_str(), a.branch)),
        })
        .collect()
}

/// Bytes on each side of a match whose identifiers are masked before an
/// excerpt is cut: more than the excerpt shows plus the longest identifier
/// it could cut through, so no value at the excerpt's edge escapes masking
/// by being cut first.
const REDACT_MARGIN: usize = 200;

/// About 40 characters around `span` of `text`, whitespace collapsed. Every
/// built-in identifier value near the match is masked first (SPEC §8: a
/// list of cards must not show the next card whole beside this one), and
/// every EDM cell among `cells` (byte ranges of `text`); the match itself
/// is shown as `shown` when given (a masked identifier).
pub fn excerpt(
    text: &str,
    span: std::ops::Range<usize>,
    shown: Option<&str>,
    cells: &[std::ops::Range<usize>],
) -> String {
    let start = span.start.min(text.len());
    let end = span.end.min(text.len()).max(start);
    let mut lo = start.saturating_sub(REDACT_MARGIN);
    while !text.is_char_boundary(lo) {
        lo -= 1;
    }
    let mut hi = end.saturating_add(REDACT_MARGIN).min(text.len());
    while !text.is_char_boundary(hi) {
        hi += 1;
    }
    let near: Vec<std::ops::Range<usize>> = cells
        .iter()
        .filter(|c| c.end > lo && c.start < hi)
        .map(|c| c.start.max(lo) - lo..c.end.min(hi) - lo)
        .collect();
    // Masking keeps every byte offset, so the span still points at the match.
    let masked = sluice_dlp::mask_spans(&text[lo..hi], &near);
    let (window, kept) = sluice_dlp::redact_keeping(&masked, start - lo..end - lo);
    let before: String = window[..kept.start]
        .chars()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let after: String = window[kept.end..].chars().take(20).collect();
    let mut s = String::new();
    if lo > 0 || before.len() < kept.start {
        s.push('…');
    }
    s.push_str(&before);
    s.push_str(shown.unwrap_or(&window[kept.clone()]));
    s.push_str(&after);
    if hi < text.len() || kept.end + after.len() < window.len() {
        s.push('…');
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` whole, as a reviewer may see it (SPEC §8): every EDM cell among
/// `cells` masked, then every built-in identifier value.
pub fn masked_text(text: &str, cells: &[std::ops::Range<usize>]) -> String {
    sluice_dlp::redact(&sluice_dlp::mask_spans(text, cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_mask_neighbouring_identifiers_before_cutting() {
        let text = "list 4111 1111 1111 1111 5500 0000 0000 0004 tail";
        let at = text.find("5500").unwrap();
        let e = excerpt(text, at..at + 19, None, &[]);
        assert_eq!(e, "…**** **** **** 1111 **** **** **** 0004 tail");
        let words = "a customer list with the Account Manager named here";
        let at = words.find("Account").unwrap();
        assert_eq!(
            excerpt(words, at..at + 15, None, &[]),
            "…tomer list with the Account Manager named here"
        );
        let wide = "１２３ ４１１１１１１１１１１１１１１１ then";
        assert!(!excerpt(wide, 0..3, None, &[]).contains("1111111111111111"));
    }
}
