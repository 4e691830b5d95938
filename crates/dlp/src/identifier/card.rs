//! Payment card numbers: issuer prefixes and lengths, the Luhn check.

use super::checks::luhn;
use super::{ascii, isolated, Confidence, Identifier, IdentifierMatch};

/// Issuer prefixes and lengths (Visa, Mastercard incl. 2-series, Amex,
/// Discover, JCB, Diners, UnionPay).
pub(super) fn issuer_accepts(d: &[u8]) -> bool {
    let n = d.len();
    let prefix = |k: usize| {
        d[..k]
            .iter()
            .fold(0u32, |acc, &b| acc * 10 + (b - b'0') as u32)
    };
    match d[0] {
        b'4' => matches!(n, 13 | 16 | 19),
        b'5' => (51..=55).contains(&prefix(2)) && n == 16,
        b'2' => (2221..=2720).contains(&prefix(4)) && n == 16,
        b'3' => {
            let p2 = prefix(2);
            if p2 == 34 || p2 == 37 {
                n == 15
            } else if (3528..=3589).contains(&prefix(4)) {
                (16..=19).contains(&n)
            } else {
                ((300..=305).contains(&prefix(3))
                    || prefix(4) == 3095
                    || matches!(p2, 36 | 38 | 39))
                    && (14..=19).contains(&n)
            }
        }
        b'6' => {
            let ok = prefix(4) == 6011
                || (644..=649).contains(&prefix(3))
                || prefix(2) == 65
                || (622126..=622925).contains(&prefix(6))
                || prefix(2) == 62;
            ok && (16..=19).contains(&n)
        }
        _ => false,
    }
}

pub(super) fn valid_card(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len()) && issuer_accepts(digits) && luhn(digits)
}

/// Maximal runs of digits separated by single spaces or dashes, holding at
/// least 13 digits (the shortest card), starting in `from..until`; `next`
/// is where the search would go on. The many shorter numbers in mail
/// (dates, amounts, ids) are not candidates at all, which costs far less
/// than validating each; the search jumps from digit to digit
/// ([`super::tokens::next_digit`], 64 bytes a step).
pub(super) fn card_runs(
    bytes: &[u8],
    digits: &super::digits::Digits,
    from: usize,
    until: usize,
    next: &mut usize,
) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let digit_reader = digits.reader();
    *next = from;
    while let Some(start) = digit_reader.next_digit(*next) {
        if start >= until {
            break;
        }
        let (mut end, mut digits) = (start + 1, 1);
        loop {
            let step = match bytes.get(end) {
                Some(b) if b.is_ascii_digit() => 1,
                Some(b' ' | b'-') if bytes.get(end + 1).is_some_and(u8::is_ascii_digit) => 2,
                _ => break,
            };
            end += step;
            digits += 1;
        }
        *next = end;
        if digits >= 13 {
            runs.push(start..end);
        }
    }
    runs
}

/// Runs of digit groups separated by single spaces or dashes; the whole run
/// is tried, then shorter runs of whole groups (a card number followed by
/// an expiry date or preceded by a reference number).
pub(super) fn find_cards(
    bytes: &[u8],
    runs: impl Iterator<Item = std::ops::Range<usize>>,
    out: &mut Vec<IdentifierMatch>,
) {
    for m in runs {
        if !isolated(bytes, m.start, m.end) {
            continue;
        }
        // Group boundaries inside the run: (start, end) byte offsets.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut start = m.start;
        for (i, b) in bytes[m.clone()]
            .iter()
            .enumerate()
            .map(|(i, b)| (m.start + i, b))
        {
            if !b.is_ascii_digit() {
                groups.push((start, i));
                start = i + 1;
            }
        }
        groups.push((start, m.end));
        let total: usize = groups.iter().map(|(s, e)| e - s).sum();
        if total < 13 {
            continue;
        }
        let mut i = 0;
        while i < groups.len() {
            let mut found = None;
            // Only the groups that fit in 19 digits are candidates: a long
            // run (a column of numbers) stays linear, not quadratic.
            let mut last = i;
            let mut width = 0;
            while last < groups.len() && width + (groups[last].1 - groups[last].0) <= 19 {
                width += groups[last].1 - groups[last].0;
                last += 1;
            }
            for j in (i + 1..=last).rev() {
                let digits: Vec<u8> = groups[i..j]
                    .iter()
                    .flat_map(|&(s, e)| bytes[s..e].iter().copied())
                    .collect();
                if digits.len() > 19 {
                    continue;
                }
                if digits.len() < 13 {
                    break;
                }
                if valid_card(&digits) {
                    found = Some((j, digits));
                    break;
                }
            }
            match found {
                Some((j, digits)) => {
                    out.push(IdentifierMatch {
                        identifier: Identifier::CreditCard,
                        confidence: Confidence::Medium,
                        span: groups[i].0..groups[j - 1].1,
                        value: ascii(&digits),
                    });
                    i = j;
                }
                None => i += 1,
            }
        }
    }
}
