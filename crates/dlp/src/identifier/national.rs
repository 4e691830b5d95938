//! Number-shaped identifier types: their lengths and their published
//! rules (check digits, embedded dates, ranges, prefixes), applied to the
//! candidates of the shared search ([`super::tokens`]).
//!
//! Every rule here was written from the issuer's published description
//! (python-stdnum served as the reference for several; the tests compare
//! against it, nothing of it is copied). Values are the compact form:
//! upper case, no separators (us-ssn keeps its dashes, as it always has).

use super::checks::{
    all_digits, all_letters, current_year, date, digit, luhn, mod_11_10, mod_11_2, number, two,
    verhoeff, weighted,
};
use super::tokens::{by_form, Candidate};
use super::{vat, Confidence, Identifier};

/// Candidate lengths (letters and digits) of a number-shaped type; empty
/// for the types found otherwise.
pub(super) fn lengths(id: Identifier) -> &'static [usize] {
    use Identifier::*;
    match id {
        UsSsn | UsItin | UsEin | AbaRouting | UsPassport | UsDea | UkNino | EsDni | EsNie
        | NlBsn | PtNif | CaSin | SgNric => &[9],
        UsNpi | UkNhs | UkUtr | DkCpr | InPan => &[10],
        UsMbi | DeTaxId | PlPesel | BeNationalNumber | BrCpf | AuAbn => &[11],
        SePersonalNumber => &[10, 12],
        FiHetu => &[10, 11],
        AuTfn => &[8, 9],
        AuMedicare => &[10, 11],
        IePps => &[8, 9],
        FrNir => &[15],
        ItFiscalCode => &[16],
        ChAhv | KrRrn | ZaId => &[13],
        BrCnpj => &[14],
        MxCurp | CnResidentId => &[18],
        InAadhaar | JpMyNumber => &[12],
        SwiftBic => &[8, 11],
        // Romanian numbers have 2 to 10 digits.
        EuVat => &[4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
        _ => &[],
    }
}

/// The value and its confidence without keywords, when `c` is a valid
/// `id` written in one of its ways.
pub(super) fn validate(id: Identifier, c: &Candidate) -> Option<(String, Confidence)> {
    use Identifier::*;
    let d = c.compact;
    // No issuer gives out a number of zeros (a form's `0000000000`), though
    // some check digits accept it.
    let digits = || d.iter().filter(|b| b.is_ascii_digit());
    if digits().count() >= 6 && digits().all(|&b| b == b'0') {
        return None;
    }
    let ok = match id {
        UsSsn => return ssn(c),
        UsItin => {
            all_digits(d)
                && c.bare_or(&["###-##-####", "### ## ####"])
                && d[0] == b'9'
                && matches!(two(&d[3..5]), 50..=65 | 70..=88 | 90..=92 | 94..=99)
        }
        UsEin => all_digits(d) && c.bare_or(&["##-#######"]) && ein_prefix(two(d)),
        AbaRouting => {
            all_digits(d)
                && c.bare()
                && matches!(two(d), 0..=12 | 21..=32 | 61..=72 | 80)
                && weighted(d, &[3, 7, 1, 3, 7, 1, 3, 7, 1]).is_multiple_of(10)
        }
        UsPassport => {
            c.bare() && (all_digits(d) || d[0].is_ascii_uppercase() && all_digits(&d[1..]))
        }
        UsNpi => {
            all_digits(d)
                && c.bare()
                && matches!(d[0], b'1' | b'2')
                && luhn(&[b"80840".as_slice(), d].concat())
        }
        UsDea => dea(c),
        UsMbi => mbi(c),
        UkNino => nino(c),
        UkNhs => {
            all_digits(d)
                && c.bare_or(&["### ### ####", "###-###-####"])
                && mod11_check(&d[..9], &[10, 9, 8, 7, 6, 5, 4, 3, 2]) == Some(digit(d[9]))
        }
        UkUtr => {
            all_digits(d)
                && c.bare_or(&["##### #####", "### ### ####"])
                && b"21987654321"[(weighted(&d[1..], &[6, 7, 8, 9, 10, 5, 4, 3, 2]) % 11) as usize]
                    == d[0]
        }
        DeTaxId => de_tax_id(c),
        FrNir => fr_nir(c),
        EsDni => {
            all_digits(&d[..8])
                && d[8].is_ascii_uppercase()
                && c.bare_or(&["########-#", "######## #"])
                && dni_letter(number(&d[..8])) == d[8]
        }
        EsNie => {
            matches!(d[0], b'X' | b'Y' | b'Z')
                && all_digits(&d[1..8])
                && d[8].is_ascii_uppercase()
                && c.bare_or(&["#-#######-#", "########-#", "# ####### #"])
                && dni_letter(u64::from(d[0] - b'X') * 10_000_000 + number(&d[1..8])) == d[8]
        }
        ItFiscalCode => c.bare() && fiscal_code(d),
        NlBsn => {
            all_digits(d)
                && c.bare_or(&["####.##.###", "###.###.###", "### ### ###", "###-###-###"])
                && number(d) > 0
                && bsn(d)
        }
        PlPesel => c.bare() && all_digits(d) && pesel(d),
        SePersonalNumber => personnummer(c),
        DkCpr => {
            all_digits(d)
                && c.bare_or(&["######-####"])
                && cpr_year(d) <= current_year()
                && date(cpr_year(d), two(&d[2..4]), two(d))
        }
        FiHetu => hetu(c),
        BeNationalNumber => be_national_number(c),
        IePps => pps(c),
        PtNif => {
            all_digits(d)
                && c.bare_or(&["### ### ###"])
                && d[0] != b'0'
                && mod11_check(&d[..8], &[9, 8, 7, 6, 5, 4, 3, 2]).unwrap_or(0) == digit(d[8])
        }
        ChAhv => {
            all_digits(d) && c.bare_or(&["###.####.####.##"]) && d.starts_with(b"756") && ean13(d)
        }
        BrCpf => {
            all_digits(d)
                && c.bare_or(&["###.###.###-##"])
                && !d.iter().all(|&b| b == d[0])
                && cpf_digit(&d[..9], 10) == d[9]
                && cpf_digit(&d[..10], 11) == d[10]
        }
        BrCnpj => {
            all_digits(d)
                && c.bare_or(&["##.###.###/####-##"])
                && !d.iter().all(|&b| b == d[0])
                && cnpj_digit(&d[..12]) == d[12]
                && cnpj_digit(&d[..13]) == d[13]
        }
        CaSin => {
            all_digits(d)
                && c.bare_or(&["### ### ###", "###-###-###"])
                && !matches!(d[0], b'0' | b'8')
                && luhn(d)
        }
        MxCurp => c.bare() && curp(d),
        InAadhaar => {
            all_digits(d)
                && c.bare_or(&["#### #### ####", "####-####-####"])
                && d[0] >= b'2'
                && !d.iter().eq(d.iter().rev())
                && verhoeff(d)
        }
        InPan => {
            c.bare()
                && all_letters(&d[..5])
                && all_digits(&d[5..9])
                && d[9].is_ascii_uppercase()
                && b"ABCFGHLJPTK".contains(&d[3])
                && &d[5..9] != b"0000"
        }
        JpMyNumber => {
            all_digits(d) && c.bare_or(&["#### #### ####", "####-####-####"]) && {
                let s = weighted(&d[..11], &[6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2]);
                (11 - s % 11) % 11 % 10 == digit(d[11])
            }
        }
        AuTfn => {
            all_digits(d)
                && c.bare_or(&["### ### ###", "### ### ##"])
                && if d.len() == 9 {
                    weighted(d, &[1, 4, 3, 7, 5, 8, 6, 9, 10]).is_multiple_of(11)
                } else {
                    weighted(d, &[10, 7, 8, 4, 6, 3, 5, 1]).is_multiple_of(11)
                }
        }
        AuAbn => {
            all_digits(d)
                && c.bare_or(&["## ### ### ###"])
                && d[0] != b'0'
                && (weighted(&d[1..], &[1, 3, 5, 7, 9, 11, 13, 15, 17, 19])
                    + (digit(d[0]) - 1) * 10)
                    .is_multiple_of(89)
        }
        AuMedicare => {
            all_digits(d)
                && c.bare_or(&["#### ##### #", "#### ##### #-#", "#### ##### # #"])
                && (b'2'..=b'6').contains(&d[0])
                && weighted(&d[..8], &[1, 3, 7, 9, 1, 3, 7, 9]) % 10 == digit(d[8])
                && d[9] != b'0'
        }
        CnResidentId => {
            all_digits(&d[..17])
                && c.bare_or(&["###### ######## ####"])
                && matches!(two(d), 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65)
                && (1900..=2100).contains(&(number(&d[6..10]) as u32))
                && date(number(&d[6..10]) as u32, two(&d[10..12]), two(&d[12..14]))
                && mod_11_2(&d[..17]) == d[17]
        }
        KrRrn => rrn(c),
        SgNric => nric(c),
        ZaId => {
            all_digits(d)
                && c.bare_or(&["###### #### ###"])
                && (date(1900 + two(d), two(&d[2..4]), two(&d[4..6]))
                    || date(2000 + two(d), two(&d[2..4]), two(&d[4..6])))
                && matches!(d[10], b'0' | b'1' | b'2')
                && luhn(d)
        }
        SwiftBic => {
            c.bare()
                && c.text
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && all_letters(&d[..6])
                && vat::country(&d[4..6])
        }
        EuVat => return vat::validate(c).map(|v| (v, Confidence::Low)),
        _ => false,
    };
    ok.then(|| (c.value(), Confidence::Low))
}

fn ssn(c: &Candidate) -> Option<(String, Confidence)> {
    let d = c.compact;
    if !all_digits(d) || !c.bare_or(&["###-##-####", "### ## ####"]) {
        return None;
    }
    let area = number(&d[..3]);
    if area == 0 || area == 666 || area >= 900 || &d[3..5] == b"00" || &d[5..] == b"0000" {
        return None;
    }
    if d == b"078051120" || d == b"219099999" {
        return None;
    }
    let text = String::from_utf8_lossy(d);
    Some((
        format!("{}-{}-{}", &text[..3], &text[3..5], &text[5..]),
        by_form(c, Confidence::Medium),
    ))
}

/// IRS campus prefixes in use (the IRS's published list).
fn ein_prefix(p: u32) -> bool {
    !matches!(
        p,
        0 | 7 | 8 | 9 | 17 | 18 | 19 | 28 | 29 | 49 | 69 | 70 | 78 | 79 | 89 | 96 | 97
    )
}

/// `11 - Σ d×w mod 11`, with 11 read as 0 and 10 as no valid number.
fn mod11_check(d: &[u8], weights: &[u32]) -> Option<u32> {
    match 11 - weighted(d, weights) % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c),
    }
}

fn dea(c: &Candidate) -> bool {
    let d = c.compact;
    c.bare()
        && b"ABCDEFGHJKLMPRSTUX".contains(&d[0])
        && (d[1].is_ascii_uppercase() || d[1] == b'9')
        && all_digits(&d[2..])
        && {
            let n = &d[2..];
            let s = digit(n[0])
                + digit(n[2])
                + digit(n[4])
                + 2 * (digit(n[1]) + digit(n[3]) + digit(n[5]));
            s % 10 == digit(n[6])
        }
}

/// Medicare Beneficiary Identifier: CMS's position rules.
fn mbi(c: &Candidate) -> bool {
    let d = c.compact;
    let letter = |b: u8| b.is_ascii_uppercase() && !b"SLOIBZ".contains(&b);
    let either = |b: u8| letter(b) || b.is_ascii_digit();
    c.bare_or(&["####-###-####", "#### ### ####"])
        && (b'1'..=b'9').contains(&d[0])
        && letter(d[1])
        && either(d[2])
        && d[3].is_ascii_digit()
        && letter(d[4])
        && either(d[5])
        && d[6].is_ascii_digit()
        && letter(d[7])
        && letter(d[8])
        && d[9].is_ascii_digit()
        && d[10].is_ascii_digit()
}

/// UK National Insurance number: HMRC's prefix and suffix rules.
fn nino(c: &Candidate) -> bool {
    let d = c.compact;
    c.bare_or(&["## ## ## ## #", "## ###### #", "##-##-##-##-#"])
        && all_letters(&d[..2])
        && all_digits(&d[2..8])
        && (b'A'..=b'D').contains(&d[8])
        && !b"DFIQUV".contains(&d[0])
        && !b"DFIOQUV".contains(&d[1])
        && !matches!(
            &d[..2],
            b"BG" | b"GB" | b"NK" | b"KN" | b"TN" | b"NT" | b"ZZ"
        )
}

fn de_tax_id(c: &Candidate) -> bool {
    let d = c.compact;
    if !all_digits(d) || !c.bare_or(&["## ### ### ###"]) || d[0] == b'0' {
        return false;
    }
    // In the first ten digits exactly one digit repeats, two or three times.
    let mut counts = [0u8; 10];
    for &b in &d[..10] {
        counts[digit(b) as usize] += 1;
    }
    let repeated: Vec<u8> = counts.iter().copied().filter(|&n| n > 1).collect();
    repeated.len() == 1 && matches!(repeated[0], 2 | 3) && mod_11_10(d)
}

fn fr_nir(c: &Candidate) -> bool {
    let d = c.compact;
    if !c.bare_or(&["# ## ## ## ### ### ##"]) || !all_digits(&d[..5]) || !all_digits(&d[7..]) {
        return false;
    }
    let department: u64 = match &d[5..7] {
        b"2A" => 19,
        b"2B" => 18,
        x if all_digits(x) => u64::from(two(x)),
        _ => return false,
    };
    let body = number(&d[..5]) * 100_000_000 + department * 1_000_000 + number(&d[7..13]);
    97 - body % 97 == number(&d[13..])
}

fn dni_letter(n: u64) -> u8 {
    b"TRWAGMYFPDXBNJZSQVHLCKE"[(n % 23) as usize]
}

/// Codice fiscale: letters, date digits (or their omocodia letters), and
/// the odd/even check letter.
fn fiscal_code(d: &[u8]) -> bool {
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let omocodia = |b: u8| b.is_ascii_digit() || b"LMNPQRSTUV".contains(&b);
    let shape = all_letters(&d[..6])
        && [6, 7, 9, 10, 12, 13, 14].iter().all(|&i| omocodia(d[i]))
        && b"ABCDEHLMPRST".contains(&d[8])
        && d[11].is_ascii_uppercase()
        && d[15].is_ascii_uppercase();
    if !shape {
        return false;
    }
    let value = |b: u8| {
        if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A')
        }
    };
    let sum: u32 = d[..15]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if i % 2 == 0 {
                ODD[value(b) as usize]
            } else {
                value(b)
            }
        })
        .sum();
    d[15] == b'A' + (sum % 26) as u8
}

/// The Dutch eleven-test (the last digit weighs −1).
pub(super) fn bsn(d: &[u8]) -> bool {
    let s: i64 = d[..8]
        .iter()
        .enumerate()
        .map(|(i, &b)| i64::from(digit(b)) * (9 - i as i64))
        .sum::<i64>()
        - i64::from(digit(d[8]));
    s.rem_euclid(11) == 0
}

fn pesel(d: &[u8]) -> bool {
    let month = two(&d[2..4]);
    let (century, m) = match month {
        81..=92 => (1800, month - 80),
        1..=12 => (1900, month),
        21..=32 => (2000, month - 20),
        41..=52 => (2100, month - 40),
        61..=72 => (2200, month - 60),
        _ => return false,
    };
    date(century + two(d), m, two(&d[4..6]))
        && (10 - weighted(d, &[1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10 == digit(d[10])
}

fn personnummer(c: &Candidate) -> bool {
    let d = c.compact;
    if !all_digits(d) || !c.bare_or(&["######-####", "######+####", "########-####"]) {
        return false;
    }
    let short = &d[d.len() - 10..];
    let day = two(&short[4..6]);
    // Coordination numbers add 60 to the day.
    let day = if day > 60 { day - 60 } else { day };
    let year = if d.len() == 12 {
        number(&d[..4]) as u32
    } else {
        // Which century does not matter for a date check but 29 February.
        2000 + two(short)
    };
    let leap_safe = date(year, two(&short[2..4]), day)
        || year
            .checked_sub(100)
            .is_some_and(|y| date(y, two(&short[2..4]), day));
    leap_safe && luhn(short)
}

/// The CPR's century from the seventh digit (CPR office rules).
fn cpr_year(d: &[u8]) -> u32 {
    let year = two(&d[4..6]);
    match d[6] {
        b'5'..=b'8' if year >= 58 => 1800 + year,
        b'0'..=b'3' => 1900 + year,
        b'4' | b'9' if year >= 37 => 1900 + year,
        _ => 2000 + year,
    }
}

fn hetu(c: &Candidate) -> bool {
    let d = c.compact;
    let (sign, digits): (u8, Vec<u8>) = if c.bare() {
        if d.len() != 11 {
            return false;
        }
        (d[6], [&d[..6], &d[7..]].concat())
    } else if c.shaped(&["######-####", "######+####"]) {
        (c.text[6], d.to_vec())
    } else {
        return false;
    };
    let century = match sign {
        b'+' => 1800,
        b'-' | b'U'..=b'Y' => 1900,
        b'A'..=b'F' => 2000,
        _ => return false,
    };
    if !all_digits(&digits[..9])
        || !date(
            century + two(&digits[4..6]),
            two(&digits[2..4]),
            two(&digits),
        )
    {
        return false;
    }
    let individual = number(&digits[6..9]);
    if !(2..900).contains(&individual) {
        return false;
    }
    b"0123456789ABCDEFHJKLMNPRSTUVWXY"[(number(&digits[..9]) % 31) as usize] == digits[9]
}

fn be_national_number(c: &Candidate) -> bool {
    let d = c.compact;
    if !all_digits(d)
        || !c.bare_or(&["##.##.##-###.##", "######-###-##", "###### ### ##", "######-###.##"])
        || number(d) == 0
        // Month 0 (or day 0) stands for a birth date not known.
        || two(&d[2..4]) > 12
    {
        return false;
    }
    let check = number(&d[9..]);
    // Born in 2000 or later: the check covers a 2 put in front.
    97 - number(&d[..9]) % 97 == check
        || two(d) <= current_year() % 100 && 97 - (2_000_000_000 + number(&d[..9])) % 97 == check
}

fn pps(c: &Candidate) -> bool {
    let d = c.compact;
    const ALPHABET: &[u8] = b"WABCDEFGHIJKLMNOPQRSTUV";
    if !c.bare_or(&["####### #", "####### ##", "#######-#"]) || !all_digits(&d[..7]) {
        return false;
    }
    let second = match d.get(8) {
        None => 0,
        Some(b'A' | b'B' | b'H' | b'W') => {
            ALPHABET.iter().position(|&x| x == d[8]).unwrap_or(0) as u32
        }
        Some(_) => return false,
    };
    let sum = weighted(&d[..7], &[8, 7, 6, 5, 4, 3, 2]) + 9 * second;
    ALPHABET[(sum % 23) as usize] == d[7]
}

fn ean13(d: &[u8]) -> bool {
    let s: u32 = d[..12]
        .iter()
        .enumerate()
        .map(|(i, &b)| digit(b) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    (10 - s % 10) % 10 == digit(d[12])
}

fn cpf_digit(d: &[u8], first_weight: u32) -> u8 {
    let s: u32 = d
        .iter()
        .enumerate()
        .map(|(i, &b)| digit(b) * (first_weight - i as u32))
        .sum();
    b'0' + ((s * 10) % 11 % 10) as u8
}

fn cnpj_digit(d: &[u8]) -> u8 {
    let weights: &[u32] = if d.len() == 12 {
        &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    } else {
        &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    };
    let r = weighted(d, weights) % 11;
    if r < 2 {
        b'0'
    } else {
        b'0' + (11 - r) as u8
    }
}

/// CURP: RENAPO's layout, states and check digit.
fn curp(d: &[u8]) -> bool {
    const STATES: &[&[u8]] = &[
        b"AS", b"BC", b"BS", b"CC", b"CH", b"CL", b"CM", b"CS", b"DF", b"DG", b"GR", b"GT", b"HG",
        b"JC", b"MC", b"MN", b"MS", b"NE", b"NL", b"NT", b"OC", b"PL", b"QR", b"QT", b"SL", b"SP",
        b"SR", b"TC", b"TL", b"TS", b"VZ", b"YN", b"ZS",
    ];
    let shape = all_letters(&d[..4])
        && all_digits(&d[4..10])
        && matches!(d[10], b'H' | b'M' | b'X')
        && STATES.contains(&&d[11..13])
        && all_letters(&d[13..16])
        && d[16].is_ascii_alphanumeric()
        && d[17].is_ascii_digit();
    if !shape {
        return false;
    }
    let century = if d[16].is_ascii_digit() { 1900 } else { 2000 };
    if !date(century + two(&d[4..6]), two(&d[6..8]), two(&d[8..10])) {
        return false;
    }
    // The alphabet has Ñ between N and O; a CURP written in ASCII has none,
    // so letters after N count one more.
    let value = |b: u8| -> u32 {
        match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'N' => u32::from(b - b'A') + 10,
            _ => u32::from(b - b'A') + 11,
        }
    };
    let s: u32 = d[..17]
        .iter()
        .enumerate()
        .map(|(i, &b)| value(b) * (18 - i as u32))
        .sum();
    (10 - s % 10) % 10 == digit(d[17])
}

fn rrn(c: &Candidate) -> bool {
    let d = c.compact;
    if !all_digits(d) || !c.bare_or(&["######-#######"]) {
        return false;
    }
    let century = match d[6] {
        b'1' | b'2' | b'5' | b'6' => 1900,
        b'3' | b'4' | b'7' | b'8' => 2000,
        _ => 1800,
    };
    date(century + two(d), two(&d[2..4]), two(&d[4..6]))
        && two(&d[7..9]) <= 96
        && (11 - weighted(d, &[2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]) % 11) % 10 == digit(d[12])
}

/// Singapore NRIC/FIN (S, T, F, G series): ICA's weights and letters.
fn nric(c: &Candidate) -> bool {
    let d = c.compact;
    if !c.bare() || !all_digits(&d[1..8]) {
        return false;
    }
    let (offset, letters): (u32, &[u8]) = match d[0] {
        b'S' => (0, b"JZIHGFEDCBA"),
        b'T' => (4, b"JZIHGFEDCBA"),
        b'F' => (0, b"XWUTRQPNMLK"),
        b'G' => (4, b"XWUTRQPNMLK"),
        _ => return false,
    };
    let s = weighted(&d[1..8], &[2, 7, 6, 5, 4, 3, 2]) + offset;
    letters[(s % 11) as usize] == d[8]
}
