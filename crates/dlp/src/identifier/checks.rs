//! Check-digit algorithms and date rules shared by the identifier types.
//!
//! Each takes ASCII bytes already known to be of the right shape (the
//! callers check lengths and character classes first), so none of them
//! can fail on content: a wrong value is simply `false`.

/// The value of an ASCII digit.
pub(super) fn digit(b: u8) -> u32 {
    u32::from(b.wrapping_sub(b'0'))
}

/// The number the ASCII digits spell (at most 18 digits, which fits).
pub(super) fn number(d: &[u8]) -> u64 {
    d.iter()
        .fold(0u64, |acc, &b| acc * 10 + u64::from(digit(b)))
}

pub(super) fn all_digits(d: &[u8]) -> bool {
    !d.is_empty() && d.iter().all(u8::is_ascii_digit)
}

pub(super) fn all_letters(d: &[u8]) -> bool {
    !d.is_empty() && d.iter().all(u8::is_ascii_uppercase)
}

/// `Σ digit × weight` over the shorter of the two.
pub(super) fn weighted(d: &[u8], weights: &[u32]) -> u32 {
    d.iter().zip(weights).map(|(&b, &w)| digit(b) * w).sum()
}

/// Luhn (ISO/IEC 7812): the whole number, check digit included, sums to a
/// multiple of 10.
pub(super) fn luhn(d: &[u8]) -> bool {
    // Every second digit from the right is doubled: counted from the left,
    // those of the parity of the length.
    luhn_sum(d, d.len() % 2).is_multiple_of(10)
}

/// The Luhn sum of `d` with the digits at even (`doubled` 0) or odd
/// (`doubled` 1) positions from the left doubled and their digits added;
/// Austrian and Spanish VAT checks use it on part of a number.
pub(super) fn luhn_sum(d: &[u8], doubled: usize) -> u32 {
    d.iter()
        .enumerate()
        .map(|(i, &b)| {
            let v = digit(b);
            if i % 2 == doubled {
                v * 2 / 10 + v * 2 % 10
            } else {
                v
            }
        })
        .sum()
}

/// ISO 7064 MOD 11,10 (German tax id, Croatian OIB): true when the last
/// digit completes the others.
pub(super) fn mod_11_10(d: &[u8]) -> bool {
    let (body, check) = d.split_at(d.len() - 1);
    let mut product = 10u32;
    for &b in body {
        let mut sum = (digit(b) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (2 * sum) % 11;
    }
    (11 - product) % 10 == digit(check[0])
}

/// ISO 7064 MOD 11-2 (Chinese resident id): the check character, `X` for 10.
pub(super) fn mod_11_2(body: &[u8]) -> u8 {
    let mut sum = 0u32;
    for &b in body {
        sum = (sum + digit(b)) * 2 % 11;
    }
    let check = (12 - sum % 11) % 11;
    if check == 10 {
        b'X'
    } else {
        b'0' + check as u8
    }
}

/// Verhoeff (Aadhaar): true when the number, check digit included, is
/// valid.
pub(super) fn verhoeff(d: &[u8]) -> bool {
    const MULTIPLY: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const PERMUTE: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut c = 0u8;
    for (i, &b) in d.iter().rev().enumerate() {
        c = MULTIPLY[c as usize][PERMUTE[i % 8][digit(b) as usize] as usize];
    }
    c == 0
}

/// A real calendar date (the Gregorian calendar, years 1 to 9999).
pub(super) fn date(year: u32, month: u32, day: u32) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (i16::try_from(year), i8::try_from(month), i8::try_from(day))
    else {
        return false;
    };
    jiff::civil::Date::new(y, m, d).is_ok()
}

/// This year (UTC), for the rules that refuse birth dates not reached yet.
pub(super) fn current_year() -> u32 {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .year()
        .try_into()
        .unwrap_or(2026)
}

/// Two ASCII digits as a number.
pub(super) fn two(d: &[u8]) -> u32 {
    digit(d[0]) * 10 + digit(d[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_check_digits() {
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"79927398710"));
        // Verhoeff's own example and its single-digit error detection.
        assert!(verhoeff(b"2363"));
        assert!(!verhoeff(b"2364"));
        // ISO 7064 examples: a Croatian OIB and a Chinese id body.
        assert!(mod_11_10(b"69435151530"));
        assert!(!mod_11_10(b"69435151531"));
        assert_eq!(mod_11_2(b"11010519491231002"), b'X');
        assert!(date(2024, 2, 29) && !date(2023, 2, 29) && !date(2023, 13, 1));
    }
}
