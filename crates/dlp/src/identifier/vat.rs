//! `eu-vat`: the VAT numbers of the 27 EU states (Greece as `EL`), each
//! with its country prefix and its own check; and the ISO 3166 country
//! codes SWIFT/BIC codes carry.

use super::checks::{all_digits, digit, luhn, luhn_sum, mod_11_10, number, weighted};
use super::national::bsn;
use super::tokens::Candidate;

/// ISO 3166-1 alpha-2 codes (and `XK`, which banks use for Kosovo).
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM \
DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY \
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC \
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE \
NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD \
SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA \
UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

/// Whether two capital letters are a country code.
pub(super) fn country(code: &[u8]) -> bool {
    code.len() == 2 && COUNTRIES.as_bytes().chunks(3).any(|c| &c[..2] == code)
}

/// The compact VAT number (country prefix included) when `c` is one.
pub(super) fn validate(c: &Candidate) -> Option<String> {
    let d = c.compact;
    // Written with its prefix, then the number bare or in groups.
    if !d[..2].iter().all(u8::is_ascii_uppercase) || !c.text[..2].iter().all(u8::is_ascii_uppercase)
    {
        return None;
    }
    let n = &d[2..];
    let ok = match &d[..2] {
        b"AT" => {
            n.len() == 9 && n[0] == b'U' && all_digits(&n[1..]) && {
                // The Luhn sum of the seven digits before the check, plus 4.
                (10 - (luhn_sum(&n[1..8], 1) + 4) % 10) % 10 == digit(n[8])
            }
        }
        b"BE" => {
            n.len() == 10
                && all_digits(n)
                && matches!(n[0], b'0' | b'1')
                && (number(&n[..8]) + number(&n[8..])).is_multiple_of(97)
                && number(n) > 0
        }
        b"BG" => all_digits(n) && bulgaria(n),
        b"CY" => {
            n.len() == 9
                && all_digits(&n[..8])
                && &n[..2] != b"12"
                && n[8].is_ascii_uppercase()
                && {
                    const ODD: [u32; 10] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21];
                    let s: u32 = n[..8]
                        .iter()
                        .enumerate()
                        .map(|(i, &b)| {
                            if i % 2 == 0 {
                                ODD[digit(b) as usize]
                            } else {
                                digit(b)
                            }
                        })
                        .sum();
                    n[8] == b'A' + (s % 26) as u8
                }
        }
        b"CZ" => {
            // Legal entities: eight digits, the last a mod-11 check.
            n.len() == 8 && all_digits(n) && n[0] != b'9' && {
                let s = weighted(&n[..7], &[8, 7, 6, 5, 4, 3, 2]);
                let check = (11 - s % 11) % 11;
                (if check == 0 { 1 } else { check }) % 10 == digit(n[7])
            }
        }
        b"DE" => n.len() == 9 && all_digits(n) && n[0] != b'0' && mod_11_10(n),
        b"DK" => {
            n.len() == 8
                && all_digits(n)
                && n[0] != b'0'
                && weighted(n, &[2, 7, 6, 5, 4, 3, 2, 1]).is_multiple_of(11)
        }
        b"EE" => {
            n.len() == 9
                && all_digits(n)
                && weighted(n, &[3, 7, 1, 3, 7, 1, 3, 7, 1]).is_multiple_of(10)
        }
        b"EL" => {
            n.len() == 9 && all_digits(n) && {
                let s = n[..8]
                    .iter()
                    .fold(0u64, |acc, &b| acc * 2 + u64::from(digit(b)));
                s * 2 % 11 % 10 == u64::from(digit(n[8]))
            }
        }
        b"ES" => n.len() == 9 && spain(n),
        b"FI" => {
            n.len() == 8
                && all_digits(n)
                && weighted(n, &[7, 9, 10, 5, 8, 4, 2, 1]).is_multiple_of(11)
        }
        b"FR" => {
            // Numeric key: (12 + 3 × (SIREN mod 97)) mod 97; the SIREN is Luhn.
            n.len() == 11
                && all_digits(n)
                && luhn(&n[2..])
                && number(&n[..2]) == (number(&n[2..]) * 100 + 12) % 97
        }
        b"HR" => n.len() == 11 && all_digits(n) && mod_11_10(n),
        b"HU" => {
            n.len() == 8
                && all_digits(n)
                && weighted(n, &[9, 7, 3, 1, 9, 7, 3, 1]).is_multiple_of(10)
        }
        b"IE" => ireland(n),
        b"IT" => {
            n.len() == 11
                && all_digits(n)
                && number(&n[..7]) > 0
                && matches!(number(&n[7..10]), 1..=100 | 120 | 121 | 888 | 999)
                && luhn(n)
        }
        b"LT" => {
            all_digits(n)
                && match n.len() {
                    9 => n[7] == b'1',
                    12 => n[10] == b'1',
                    _ => false,
                }
                && {
                    let body = &n[..n.len() - 1];
                    let mut check: u32 = body
                        .iter()
                        .enumerate()
                        .map(|(i, &b)| (1 + i as u32 % 9) * digit(b))
                        .sum::<u32>()
                        % 11;
                    if check == 10 {
                        check = body
                            .iter()
                            .enumerate()
                            .map(|(i, &b)| (1 + (i as u32 + 2) % 9) * digit(b))
                            .sum::<u32>()
                            % 11;
                    }
                    check % 10 == digit(n[n.len() - 1])
                }
        }
        b"LU" => n.len() == 8 && all_digits(n) && number(&n[..6]) % 89 == number(&n[6..]),
        b"LV" => {
            // Legal entities (first digit above 3).
            n.len() == 11
                && all_digits(n)
                && n[0] > b'3'
                && weighted(n, &[9, 1, 4, 8, 3, 10, 2, 5, 7, 6, 1]) % 11 == 3
        }
        b"MT" => {
            n.len() == 8
                && all_digits(n)
                && n[0] != b'0'
                && weighted(n, &[3, 4, 6, 7, 8, 9, 10, 1]).is_multiple_of(37)
        }
        b"NL" => {
            n.len() == 12
                && all_digits(&n[..9])
                && n[9] == b'B'
                && all_digits(&n[10..])
                && number(&n[..9]) > 0
                && number(&n[10..]) > 0
                && (bsn(&n[..9]) || mod97_with_letters(d))
        }
        b"PL" => {
            n.len() == 10 && all_digits(n) && {
                let s = weighted(&n[..9], &[6, 5, 7, 2, 3, 4, 5, 6, 7]);
                s % 11 == digit(n[9])
            }
        }
        b"PT" => {
            n.len() == 9 && all_digits(n) && n[0] != b'0' && {
                let s = weighted(&n[..8], &[9, 8, 7, 6, 5, 4, 3, 2]);
                (11 - s % 11) % 11 % 10 == digit(n[8])
            }
        }
        b"RO" => {
            (2..=10).contains(&n.len()) && all_digits(n) && {
                let body = &n[..n.len() - 1];
                let weights = [7u32, 5, 3, 2, 1, 7, 5, 3, 2];
                let s: u32 = body
                    .iter()
                    .rev()
                    .zip(weights.iter().rev())
                    .map(|(&b, &w)| digit(b) * w)
                    .sum();
                s * 10 % 11 % 10 == digit(n[n.len() - 1])
            }
        }
        b"SE" => n.len() == 12 && all_digits(n) && &n[10..] == b"01" && luhn(&n[..10]),
        b"SI" => {
            n.len() == 8 && all_digits(n) && n[0] != b'0' && {
                let s = weighted(&n[..7], &[8, 7, 6, 5, 4, 3, 2]);
                let check = 11 - s % 11;
                (if check == 10 { 0 } else { check }) == digit(n[7])
            }
        }
        b"SK" => {
            n.len() == 10
                && all_digits(n)
                && n[0] != b'0'
                && matches!(n[2], b'2' | b'3' | b'4' | b'7' | b'8' | b'9')
                && number(n).is_multiple_of(11)
        }
        _ => false,
    };
    ok.then(|| c.value())
}

fn bulgaria(n: &[u8]) -> bool {
    match n.len() {
        // Legal entities.
        9 => {
            let mut check = n[..8]
                .iter()
                .enumerate()
                .map(|(i, &b)| (i as u32 + 1) * digit(b))
                .sum::<u32>()
                % 11;
            if check == 10 {
                check = n[..8]
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| (i as u32 + 3) * digit(b))
                    .sum::<u32>()
                    % 11;
            }
            check % 10 == digit(n[8])
        }
        // Other taxpayers.
        10 => (11 - weighted(&n[..9], &[4, 3, 2, 7, 6, 5, 4, 3, 2]) % 11) % 11 == digit(n[9]),
        _ => false,
    }
}

/// Spanish NIF of a company (CIF: letter, seven digits, check digit or
/// letter) or of a person (DNI digits or NIE X/Y/Z, check letter).
fn spain(n: &[u8]) -> bool {
    const LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    if all_digits(&n[..8]) && n[8].is_ascii_uppercase() {
        return LETTERS[(number(&n[..8]) % 23) as usize] == n[8];
    }
    if matches!(n[0], b'X' | b'Y' | b'Z') && all_digits(&n[1..8]) && n[8].is_ascii_uppercase() {
        let v = u64::from(n[0] - b'X') * 10_000_000 + number(&n[1..8]);
        return LETTERS[(v % 23) as usize] == n[8];
    }
    if b"ABCDEFGHJNPQRSUVW".contains(&n[0]) && all_digits(&n[1..8]) {
        let check = (10 - luhn_sum(&n[1..8], 0) % 10) % 10;
        return n[8] == b'0' + check as u8 || n[8] == b"JABCDEFGHI"[check as usize];
    }
    false
}

fn ireland(n: &[u8]) -> bool {
    const ALPHABET: &[u8] = b"WABCDEFGHIJKLMNOPQRSTUV";
    let index = |b: u8| ALPHABET.iter().position(|&x| x == b).map(|i| i as u32);
    if !matches!(n.len(), 8 | 9) || !n[0].is_ascii_digit() || !all_digits(&n[2..7]) {
        return false;
    }
    if !n[7..].iter().all(|&b| index(b).is_some()) {
        return false;
    }
    let check = |digits: &[u8], extra: u32| {
        let s = weighted(digits, &[8, 7, 6, 5, 4, 3, 2]) + 9 * extra;
        ALPHABET[(s % 23) as usize]
    };
    if all_digits(&n[..7]) {
        let extra = n.get(8).and_then(|&b| index(b)).unwrap_or(0);
        n[7] == check(&n[..7], extra)
    } else if n[1].is_ascii_uppercase() || matches!(n[1], b'+' | b'*') {
        // The old format: digit, letter, five digits, check letter.
        let digits = [b"0", &n[2..7], &n[..1]].concat();
        n[7] == check(&digits, 0)
    } else {
        false
    }
}

/// ISO 7064 mod 97-10 over letters and digits (`NL…B01`, letters as 10–35).
fn mod97_with_letters(d: &[u8]) -> bool {
    let mut r = 0u64;
    for &b in d {
        let v = if b.is_ascii_digit() {
            u64::from(b - b'0')
        } else {
            u64::from(b - b'A') + 10
        };
        r = if v >= 10 {
            (r * 100 + v) % 97
        } else {
            (r * 10 + v) % 97
        };
    }
    r == 1
}
