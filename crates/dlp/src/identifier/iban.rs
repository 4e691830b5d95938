//! IBANs (ISO 13616): registry lengths by country and the mod-97 check.

use super::{ascii, isolated, Confidence, Identifier, IdentifierMatch};

/// IBAN lengths by country (ISO 13616 registry).
pub(super) fn iban_length(country: &[u8]) -> Option<usize> {
    const TABLE: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BI", 27),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DJ", 27),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FK", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HN", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"LY", 25),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MN", 20),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NI", 28),
        (b"NL", 18),
        (b"NO", 15),
        (b"OM", 23),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"RU", 33),
        (b"SA", 24),
        (b"SC", 31),
        (b"SD", 18),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"SO", 23),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
        (b"YE", 30),
    ];
    let upper = [
        country[0].to_ascii_uppercase(),
        country[1].to_ascii_uppercase(),
    ];
    TABLE.iter().find(|(c, _)| **c == upper).map(|&(_, n)| n)
}

pub(super) fn iban_checksum_ok(iban: &[u8]) -> bool {
    let rearranged = iban[4..].iter().chain(&iban[..4]);
    let mut rem = 0u32;
    for &c in rearranged {
        let v = if c.is_ascii_digit() {
            (c - b'0') as u32
        } else {
            (c - b'A') as u32 + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Where `[A-Za-z]{2}[0-9]{2}` matches in `from..until`, leftmost and
/// without overlaps, and where the search would go on: found from digit
/// to digit ([`super::tokens::next_digit`], 64 bytes a step), since a
/// byte-wise search for two letters ran at prose speed over every byte.
pub(super) fn iban_starts(
    bytes: &[u8],
    digits: &super::digits::Digits,
    from: usize,
    until: usize,
    next: &mut usize,
) -> Vec<usize> {
    let letter = |i: usize| bytes[i].is_ascii_alphabetic();
    let mut starts = Vec::new();
    let digit_reader = digits.reader();
    *next = from;
    while let Some(d) = digit_reader.next_digit(*next) {
        if d >= until + 2 {
            break;
        }
        // Only a run's first digit can follow the two letters: the search
        // goes on after the run, one call per number rather than per digit.
        let run_end = d
            + 1
            + bytes[d + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        *next = run_end;
        if d >= from + 2
            && letter(d - 2)
            && letter(d - 1)
            && bytes.get(d + 1).is_some_and(u8::is_ascii_digit)
        {
            if d - 2 >= until {
                *next = d - 2;
                break;
            }
            starts.push(d - 2);
        }
    }
    starts
}

/// Country code and check digits, then exactly the country's length of
/// letters and digits, optionally in space-separated groups of four.
pub(super) fn find_ibans(
    bytes: &[u8],
    starts: impl Iterator<Item = usize>,
    out: &mut Vec<IdentifierMatch>,
) {
    for start in starts {
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let Some(len) = iban_length(&bytes[start..start + 2]) else {
            continue;
        };
        let mut value = Vec::with_capacity(len);
        let mut i = start;
        let mut since_space = 0;
        while value.len() < len && i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_alphanumeric() {
                value.push(b.to_ascii_uppercase());
                since_space += 1;
                i += 1;
            } else if b == b' '
                && since_space == 4
                && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric)
            {
                since_space = 0;
                i += 1;
            } else {
                break;
            }
        }
        if value.len() == len && isolated(bytes, start, i) && iban_checksum_ok(&value) {
            out.push(IdentifierMatch {
                identifier: Identifier::Iban,
                confidence: Confidence::Medium,
                span: start..i,
                value: ascii(&value),
            });
        }
    }
}
