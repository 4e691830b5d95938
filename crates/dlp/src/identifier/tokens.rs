//! The one candidate search shared by every number-shaped identifier type
//! (national ids, tax and bank numbers): one pass finds the words that hold
//! a digit, joins the neighbouring groups written with single separators
//! (`123-45-6789`, `756.1234.5678.97`, `AB 12 34 56 C`, `X-1234567-L`), and
//! offers every run of whole groups, up to [`MAX_COMPACT`] characters, to
//! the types whose lengths fit. Validation runs only on those candidates,
//! so fifty types cost one search plus a length lookup per candidate, not
//! fifty regex passes.
//!
//! Invariant: a candidate is whole groups, and groups are maximal runs of
//! ASCII letters and digits, so a value inside a longer unbroken run never
//! is one (SPEC §3.3).

use std::ops::Range;

use super::digits::Digits;
use super::{isolated, national, Confidence, Identifier, IdentifierMatch};
use crate::byte_classes::{byte_mask, ByteClass};

/// The longest candidate, in letters and digits (a CURP or a Chinese id
/// has 18; a French VAT number with its country 13).
pub(super) const MAX_COMPACT: usize = 20;

/// Most groups in one candidate (`1 85 05 78 006 084 36` has 7).
const MAX_GROUPS: usize = 8;

/// A run of whole groups offered to the types.
pub(super) struct Candidate<'a> {
    /// The text as written, separators included.
    pub(super) text: &'a [u8],
    /// Its letters (upper case) and digits, without separators.
    pub(super) compact: &'a [u8],
}

impl Candidate<'_> {
    /// Written as one unbroken group.
    pub(super) fn bare(&self) -> bool {
        self.text.len() == self.compact.len()
    }

    /// Written in one of `shapes`, where `#` is a letter or digit and any
    /// other byte a separator that must be exactly that one.
    pub(super) fn shaped(&self, shapes: &[&str]) -> bool {
        shapes.iter().any(|s| {
            s.len() == self.text.len()
                && s.bytes().zip(self.text).all(|(p, &t)| {
                    if p == b'#' {
                        t.is_ascii_alphanumeric()
                    } else {
                        p == t
                    }
                })
        })
    }

    /// Bare, or in one of `shapes` (see [`Candidate::shaped`]).
    pub(super) fn bare_or(&self, shapes: &[&str]) -> bool {
        self.bare() || self.shaped(shapes)
    }

    /// The compact value as a string (ASCII by construction).
    pub(super) fn value(&self) -> String {
        String::from_utf8_lossy(self.compact).into_owned()
    }
}

/// The number-shaped types one search looks for, by candidate length.
#[derive(Debug, Clone)]
pub(crate) struct TokenSearch {
    by_length: Vec<Vec<Identifier>>,
    /// Whether capital words without digits are candidates (SWIFT/BIC).
    letters_only: bool,
}

impl TokenSearch {
    /// A search for `types` (those without [`national::lengths`] are
    /// ignored).
    pub(crate) fn new(types: &[Identifier]) -> TokenSearch {
        let mut by_length = vec![Vec::new(); MAX_COMPACT + 1];
        for &t in types {
            for &len in national::lengths(t) {
                if !by_length[len].contains(&t) {
                    by_length[len].push(t);
                }
            }
        }
        TokenSearch {
            by_length,
            letters_only: types.contains(&Identifier::SwiftBic),
        }
    }

    /// The matches whose group run starts in `from..until`, and where the
    /// next search starts (see `Identifier::find_within`).
    pub(crate) fn find_within(
        &self,
        text: &str,
        digits: &Digits,
        from: usize,
        until: usize,
    ) -> (Vec<IdentifierMatch>, usize) {
        let bytes = text.as_bytes();
        let digit_reader = digits.reader();
        let mut out = Vec::new();
        let mut next = from;
        // Per type: where its last match ended (a type's matches do not
        // overlap; the longest run of groups at a start wins).
        let mut ended: Vec<(Identifier, usize)> = Vec::new();
        let mut groups: Vec<Range<usize>> = Vec::new();
        // Capital words without digits (BIC codes) come from their own
        // pattern, merged in text order with the digit words.
        let mut capitals = self
            .letters_only
            .then(|| capital_word(bytes, from))
            .flatten();
        while next <= bytes.len() {
            let digit_word = digit_reader.next_digit(next).map(|d| {
                let alnum = |b: &u8| b.is_ascii_alphanumeric();
                let start = d - bytes[next..d].iter().rev().take_while(|b| alnum(b)).count();
                let end = d + 1 + bytes[d + 1..].iter().take_while(|b| alnum(b)).count();
                start..end
            });
            let word = match (digit_word, capitals.clone()) {
                (Some(d), Some(c)) if c.start < d.start => c,
                (Some(d), _) => d,
                (None, Some(c)) => c,
                (None, None) => break,
            };
            if word.start >= until {
                break;
            }
            chain(bytes, word.clone(), from, &mut groups);
            next = groups.last().map_or(word.end, |g| g.end);
            while capitals.as_ref().is_some_and(|c| c.start < next) {
                capitals = capital_word(bytes, next);
            }
            // Most numbers in prose are one short group no type has.
            let lone =
                groups.len() == 1 && self.by_length.get(word.len()).is_none_or(Vec::is_empty);
            if !lone {
                self.offer(bytes, &groups, &mut ended, &mut out);
            }
        }
        (out, next.max(from))
    }

    fn offer(
        &self,
        bytes: &[u8],
        groups: &[Range<usize>],
        ended: &mut Vec<(Identifier, usize)>,
        out: &mut Vec<IdentifierMatch>,
    ) {
        let mut compact = [0u8; MAX_COMPACT];
        for i in 0..groups.len() {
            let last = (i + MAX_GROUPS).min(groups.len());
            // Longest first, so a type's longer reading of a start wins.
            let mut lengths = [(0usize, 0usize); MAX_GROUPS];
            let mut count = 0;
            let mut len = 0;
            for (j, g) in groups.iter().enumerate().take(last).skip(i) {
                len += g.len();
                if len > MAX_COMPACT {
                    break;
                }
                lengths[count] = (j, len);
                count += 1;
            }
            for &(j, len) in lengths[..count].iter().rev() {
                let types = &self.by_length[len];
                if types.is_empty() {
                    continue;
                }
                let span = groups[i].start..groups[j].end;
                if !isolated(bytes, span.start, span.end) {
                    continue;
                }
                let mut k = 0;
                for g in &groups[i..=j] {
                    for &b in &bytes[g.clone()] {
                        compact[k] = b.to_ascii_uppercase();
                        k += 1;
                    }
                }
                let candidate = Candidate {
                    text: &bytes[span.clone()],
                    compact: &compact[..len],
                };
                for &t in types {
                    let free = ended
                        .iter()
                        .find(|(x, _)| *x == t)
                        .is_none_or(|&(_, end)| end <= span.start);
                    if !free {
                        continue;
                    }
                    if let Some((value, confidence)) = national::validate(t, &candidate) {
                        match ended.iter_mut().find(|(x, _)| *x == t) {
                            Some(e) => e.1 = span.end,
                            None => ended.push((t, span.end)),
                        }
                        out.push(IdentifierMatch {
                            identifier: t,
                            span: span.clone(),
                            value,
                            confidence,
                        });
                    }
                }
            }
        }
    }
}

/// The next capital word of 8 or 11 letters and digits (a SWIFT/BIC code
/// without a digit) from `at`, starting with six capitals.
///
/// Capitals are a few percent of prose, so the text is read 64 bytes at a
/// time as a mask of capitals, and only an 8-byte word holding three
/// adjacent capitals is looked at closely: a run of six capitals puts
/// three adjacent ones in one of the words it touches (a byte-wise regex
/// over every byte cost more than all number-shaped types together).
fn capital_word(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    // Bits 0-5 of every byte: a run of three starting there stays in its
    // 8-byte word.
    const IN_WORD: u64 = 0x3F3F_3F3F_3F3F_3F3F;
    let mut base = at;
    while base < bytes.len() {
        let end = (base + 64).min(bytes.len());
        let upper = byte_mask(&bytes[base..end], ByteClass::Upper);
        let mut triples = upper & upper >> 1 & upper >> 2 & IN_WORD;
        while triples != 0 {
            let word = triples.trailing_zeros() as usize / 8;
            let i = base + 8 * word;
            let near = bic_word_near(
                bytes,
                at,
                i.saturating_sub(5).max(at),
                (i + 13).min(bytes.len()),
            );
            if near.is_some() {
                return near;
            }
            triples &= !(0xFF << (8 * word));
        }
        base = end;
    }
    None
}

/// A word of 8 or 11 capitals and digits starting with six capitals, whose
/// run of capitals starts in `lo..hi` (not before `at`).
fn bic_word_near(bytes: &[u8], at: usize, lo: usize, hi: usize) -> Option<Range<usize>> {
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    let mut k = lo;
    while k < hi {
        if !bytes[k].is_ascii_uppercase() || k > at && alnum(&bytes[k - 1]) {
            k += 1;
            continue;
        }
        let end = k + bytes[k..].iter().take_while(|b| alnum(b)).count();
        let word = &bytes[k..end];
        if matches!(word.len(), 8 | 11)
            && word[..6].iter().all(u8::is_ascii_uppercase)
            && word
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Some(k..end);
        }
        k = end.max(k + 1);
    }
    None
}

/// Separators that join the groups of one written number.
fn separator(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'/' | b'+')
}

/// The groups joined to the word at `word`: short letter groups before it
/// (not before `from`), and every joinable group after it. A group is
/// joinable, may stand in a number, when it holds a digit or is a prefix or
/// suffix of at most two capitals (`DE`, `X`, `AB … C`); lower-case ones
/// are words of the sentence around the number (`… 1234567 ua …`).
fn chain(bytes: &[u8], word: Range<usize>, from: usize, groups: &mut Vec<Range<usize>>) {
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    groups.clear();
    groups.push(word);
    // Backwards: at most two short letter groups (`X-`, `AB `). Such a
    // group has no digit, so it is joinable only as one or two capitals:
    // a third letter ends the look (prose has a word before most numbers).
    while groups.len() < 3 {
        let start = groups[0].start;
        if start < from + 2 || !separator(bytes[start - 1]) || !alnum(bytes[start - 2]) {
            break;
        }
        let end = start - 1;
        let mut s = end - 1;
        if !bytes[s].is_ascii_uppercase() {
            break;
        }
        if s > from && alnum(bytes[s - 1]) {
            s -= 1;
            if !bytes[s].is_ascii_uppercase() || s > from && alnum(bytes[s - 1]) {
                break;
            }
        }
        groups.insert(0, s..end);
    }
    // Forwards, over every joinable group, each read once.
    loop {
        let end = groups.last().expect("one group").end;
        if end + 1 >= bytes.len() || !separator(bytes[end]) || !alnum(bytes[end + 1]) {
            break;
        }
        let (mut e, mut digit, mut capitals) = (end + 1, false, true);
        while e < bytes.len() && alnum(bytes[e]) {
            digit |= bytes[e].is_ascii_digit();
            capitals &= bytes[e].is_ascii_uppercase();
            e += 1;
        }
        if !(digit || e - (end + 1) <= 2 && capitals) {
            break;
        }
        groups.push(end + 1..e);
    }
}

/// Confidence of a match written with or without separators, for the one
/// type (us-ssn) whose bare form is weaker evidence.
pub(super) fn by_form(c: &Candidate, separated: Confidence) -> Confidence {
    if c.bare() {
        Confidence::Low
    } else {
        separated
    }
}
