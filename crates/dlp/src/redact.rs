//! Masking identifiers in free text that leaves the scanner.
//!
//! Incidents, logs, notices, webhooks and metric labels carry free text
//! from the message: subjects, file names, archive paths, excerpts. SPEC §8
//! wants every value of every built-in identifier type masked there (email
//! and IP addresses excepted), whether or not an entity uses the type, so a
//! card number in a subject, or the next card in a list beside an excerpt's
//! match, is never stored whole. The text is normalized first (NFKC), so
//! full-width and other compatibility digits are found and masked too; a
//! masked value is written in its normalized form.

use std::ops::Range;

use std::sync::OnceLock;

use crate::identifier::{Identifier, Search};
use crate::normalize::Normalized;

/// The searches for the identifier types masked in free text, built once:
/// all but addresses, which are envelope-like and needed to read an
/// incident (SPEC §8). Low-confidence types are masked too: a subject's
/// nine-digit order number loses five digits rather than a BSN being
/// stored whole.
fn masked_searches() -> &'static [Search] {
    static SEARCHES: OnceLock<Vec<Search>> = OnceLock::new();
    SEARCHES.get_or_init(|| {
        let types: Vec<Identifier> = Identifier::ALL
            .into_iter()
            .filter(|i| {
                !matches!(
                    i,
                    Identifier::EmailAddress | Identifier::Ipv4Address | Identifier::Ipv6Address
                )
            })
            .collect();
        Search::for_types(&types)
    })
}

/// `text` with every built-in identifier value masked.
///
/// ```
/// use sluice_dlp::redact;
/// assert_eq!(redact("Re: card 4111 1111 1111 1111 ok"), "Re: card **** **** **** 1111 ok");
/// // Full-width digits are the same card.
/// assert_eq!(redact("４１１１１１１１１１１１１１１１"), "************1111");
/// assert_eq!(redact("nothing here"), "nothing here");
/// ```
pub fn redact(text: &str) -> String {
    redact_keeping(text, 0..0).0
}

/// [`redact`], also returning where the original range `keep` ended up in
/// the result (widened to the masked value when one covers its ends), so
/// an excerpt can be cut around a match after its neighbours are masked.
pub fn redact_keeping(text: &str, keep: Range<usize>) -> (String, Range<usize>) {
    let normalized = Normalized::new(text);
    let mut found: Vec<(Range<usize>, String)> = Vec::new();
    let all = normalized.text.len();
    for search in masked_searches() {
        for m in search.find_within(&normalized.text, 0, all).0 {
            let original = normalized.original_span(text, m.span.clone());
            found.push((original, m.identifier.mask(&normalized.text[m.span])));
        }
    }
    if found.is_empty() {
        return (text.to_owned(), keep);
    }
    found.sort_by_key(|(span, _)| (span.start, std::cmp::Reverse(span.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut kept = keep.clone();
    let mut start_mapped = false;
    let mut end_mapped = false;
    for (span, masked) in found {
        if span.start < at {
            // Inside a value already masked (an IBAN's digits as a card).
            continue;
        }
        out.push_str(&text[at..span.start]);
        let shift = |p: usize, out_len: usize| out_len + (p - at);
        if !start_mapped && keep.start < span.start {
            kept.start = shift(keep.start, out.len() - (span.start - at));
            start_mapped = true;
        }
        if !end_mapped && keep.end <= span.start {
            kept.end = shift(keep.end, out.len() - (span.start - at));
            end_mapped = true;
        }
        let masked_start = out.len();
        out.push_str(&masked);
        if !start_mapped && keep.start < span.end {
            kept.start = masked_start;
            start_mapped = true;
        }
        if !end_mapped && keep.end <= span.end {
            kept.end = out.len();
            end_mapped = true;
        }
        at = span.end;
    }
    let tail_start = out.len();
    out.push_str(&text[at..]);
    if !start_mapped {
        kept.start = tail_start + keep.start.saturating_sub(at);
    }
    if !end_mapped {
        kept.end = tail_start + keep.end.saturating_sub(at);
    }
    kept.end = kept.end.max(kept.start).min(out.len());
    (out, kept)
}

/// `text` with every letter and digit inside `spans` (byte ranges, any
/// order, overlapping or not) replaced by `*`, one for each of its bytes,
/// so every offset into `text` stays valid: how EDM cells are shown.
///
/// ```
/// use sluice_dlp::mask_spans;
/// assert_eq!(mask_spans("Anne O'Brien, ACC-1", &[0..12, 14..19]), "**** *'*****, ***-*");
/// assert_eq!(mask_spans("Müller", &[0..7]), "*******");
/// ```
pub fn mask_spans(text: &str, spans: &[Range<usize>]) -> String {
    let mut sorted = spans.to_vec();
    sorted.sort_by_key(|s| s.start);
    let mut next = sorted.into_iter().peekable();
    // The end of the spans started so far: a char before it is inside.
    let mut inside_until = 0;
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        while let Some(s) = next.next_if(|s| s.start <= i) {
            inside_until = inside_until.max(s.end);
        }
        if i < inside_until && c.is_alphanumeric() {
            out.extend(std::iter::repeat_n('*', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_card_in_a_list_is_masked_and_the_kept_range_follows() {
        let text = "cards: 4111 1111 1111 1111, 5500 0000 0000 0004 and 3400 0000 0000 009 end";
        let start = text.find("5500").unwrap();
        let (out, kept) = redact_keeping(text, start..start + 19);
        assert_eq!(
            out,
            "cards: **** **** **** 1111, **** **** **** 0004 and **** ****** *0009 end".replace(
                "**** ****** *0009",
                &Identifier::CreditCard.mask("3400 0000 0000 009")
            )
        );
        assert_eq!(&out[kept], "**** **** **** 0004");
        let (out, kept) = redact_keeping("plain words here", 6..11);
        assert_eq!(&out[kept], "words");
        let (out, kept) = redact_keeping("SSN 536-22-1234 then words", 16..21);
        assert_eq!(out, "SSN ***-**-1234 then words");
        assert_eq!(&out[kept], "then ");
    }

    #[test]
    fn secrets_and_ibans_are_masked_addresses_are_not() {
        let out = redact("key AKIAIOSFODNN7EXAMPLE iban DE89 3704 0044 0532 0130 00 to bob@example.com at 10.0.0.1");
        assert!(!out.contains("AKIAIOSFODNN7EXAMPLE"), "{out}");
        assert!(!out.contains("3704 0044"), "{out}");
        assert!(
            out.contains("bob@example.com") && out.contains("10.0.0.1"),
            "{out}"
        );
    }
}
