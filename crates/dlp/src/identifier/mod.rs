//! Built-in identifiers (SPEC §3.3): found by pattern, kept only when they
//! validate (checksums, issuer ranges, registry lengths).
//!
//! Patterns are `regex::bytes` with Unicode off (`(?-u)`): identifiers are
//! ASCII, and Unicode-aware `\b` and classes cost up to 50× on non-ASCII
//! text. A value inside a longer unbroken run of digits or letters does not
//! match.

use std::sync::OnceLock;

use regex::bytes::Regex;

mod card;
mod iban;

use card::find_cards;
use iban::find_ibans;

/// A built-in identifier type, as named in `type = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Identifier {
    /// Payment card numbers (Luhn, issuer prefix and length).
    CreditCard,
    /// US Social Security numbers.
    UsSsn,
    /// International bank account numbers (ISO 13616).
    Iban,
    /// E-mail addresses.
    EmailAddress,
    /// Dotted-quad IPv4 addresses.
    Ipv4Address,
    /// AWS access key ids (`AKIA…`).
    AwsAccessKeyId,
    /// GitHub tokens (`ghp_…`, `github_pat_…`).
    GithubToken,
    /// Slack tokens (`xoxb-…`).
    SlackToken,
    /// PEM private key blocks.
    PrivateKey,
    /// JSON Web Tokens.
    Jwt,
}

/// One validated identifier in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierMatch {
    /// Byte range in the searched text.
    pub span: std::ops::Range<usize>,
    /// The value used for unique counting (digits only for cards, IBANs
    /// uppercase without spaces, ...).
    pub value: String,
}

impl Identifier {
    /// Every identifier, in a stable order.
    pub const ALL: [Identifier; 10] = [
        Identifier::CreditCard,
        Identifier::UsSsn,
        Identifier::Iban,
        Identifier::EmailAddress,
        Identifier::Ipv4Address,
        Identifier::AwsAccessKeyId,
        Identifier::GithubToken,
        Identifier::SlackToken,
        Identifier::PrivateKey,
        Identifier::Jwt,
    ];

    /// The configuration name (`"credit-card"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Identifier::CreditCard => "credit-card",
            Identifier::UsSsn => "us-ssn",
            Identifier::Iban => "iban",
            Identifier::EmailAddress => "email-address",
            Identifier::Ipv4Address => "ipv4-address",
            Identifier::AwsAccessKeyId => "aws-access-key-id",
            Identifier::GithubToken => "github-token",
            Identifier::SlackToken => "slack-token",
            Identifier::PrivateKey => "private-key",
            Identifier::Jwt => "jwt",
        }
    }

    /// The identifier with configuration name `name`.
    pub fn from_name(name: &str) -> Option<Identifier> {
        Identifier::ALL.into_iter().find(|i| i.name() == name)
    }

    /// `text` (a match of this identifier) as evidence may show it: card
    /// numbers and SSNs keep their last 4 digits, IBANs their country and
    /// last 4 characters, other identifiers (secrets, addresses) their last
    /// 4 characters; separators stay so the shape is recognisable. A
    /// private key shows only its armour line.
    ///
    /// ```
    /// use sluice_dlp::Identifier;
    /// assert_eq!(Identifier::CreditCard.mask("4111 1111 1111 1234"), "**** **** **** 1234");
    /// assert_eq!(Identifier::UsSsn.mask("078-05-1120"), "***-**-1120");
    /// assert_eq!(Identifier::Iban.mask("DE89 3704 0044 0532 0130 00"), "DE** **** **** **** **30 00");
    /// assert_eq!(Identifier::CreditCard.mask("４１１１１１１１１１１１１１１１"), "************１１１１");
    /// ```
    pub fn mask(self, text: &str) -> String {
        if self == Identifier::PrivateKey {
            let armour = text.lines().next().unwrap_or_default();
            return format!("{armour} [key withheld]");
        }
        // Any script's letters and digits count: full-width and other
        // compatibility digits match after normalization, so they must be
        // masked as digits too (`４１１１…` is a card number).
        let significant = |c: char| c.is_alphanumeric();
        let digits_only = matches!(self, Identifier::CreditCard | Identifier::UsSsn);
        let shown = |c: char| {
            if digits_only {
                c.is_numeric()
            } else {
                significant(c)
            }
        };
        let total = text.chars().filter(|&c| shown(c)).count();
        // Characters counted from the start that stay visible (IBAN country).
        let lead = if self == Identifier::Iban { 2 } else { 0 };
        let mut seen = 0;
        text.chars()
            .map(|c| {
                if !shown(c) {
                    return c;
                }
                seen += 1;
                if seen <= lead || seen + 4 > total {
                    c
                } else {
                    '*'
                }
            })
            .collect()
    }

    /// Finds every valid identifier of this type in `text` (normalized text).
    ///
    /// ```
    /// use sluice_dlp::Identifier;
    /// let found = Identifier::CreditCard.find("card 4111 1111 1111 1111 12/29, not 4111 1111 1111 1112");
    /// assert_eq!(found.len(), 1);
    /// assert_eq!(found[0].value, "4111111111111111");
    /// ```
    pub fn find(self, text: &str) -> Vec<IdentifierMatch> {
        self.find_within(text, 0, text.len()).0
    }

    /// The identifiers of [`Identifier::find`] whose pattern match starts
    /// in `from..until`, and the position its next search would start
    /// from: a window of a larger text, searched from where the previous
    /// window's search stopped, finds what a search of the whole text
    /// finds there.
    pub(crate) fn find_within(
        self,
        text: &str,
        from: usize,
        until: usize,
    ) -> (Vec<IdentifierMatch>, usize) {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut candidates = Candidates {
            re: regex(self),
            bytes,
            next: from,
            until,
        };
        let found = &mut candidates;
        match self {
            Identifier::CreditCard => find_cards(bytes, found, &mut out),
            Identifier::UsSsn => {
                for m in found.by_ref() {
                    let s = m.as_bytes();
                    if isolated(bytes, m.start(), m.end()) && s[3] == s[6] && valid_ssn(s) {
                        out.push(IdentifierMatch {
                            span: m.range(),
                            value: format!(
                                "{}-{}-{}",
                                ascii(&s[..3]),
                                ascii(&s[4..6]),
                                ascii(&s[7..])
                            ),
                        });
                    }
                }
            }
            Identifier::Iban => find_ibans(bytes, found, &mut out),
            Identifier::Ipv4Address => {
                for m in found.by_ref() {
                    let before_ok = m.start() == 0
                        || !(bytes[m.start() - 1].is_ascii_alphanumeric()
                            || bytes[m.start() - 1] == b'.');
                    let after = bytes.get(m.end()).copied();
                    let after_ok = match after {
                        None => true,
                        Some(b'.') => !bytes.get(m.end() + 1).is_some_and(u8::is_ascii_digit),
                        Some(b) => !b.is_ascii_alphanumeric(),
                    };
                    let octets_ok = m.as_bytes().split(|&b| b == b'.').all(|o| {
                        ascii(o).parse::<u16>().is_ok_and(|v| v <= 255)
                            && (o.len() == 1 || o[0] != b'0')
                    });
                    if before_ok && after_ok && octets_ok {
                        out.push(IdentifierMatch {
                            span: m.range(),
                            value: ascii(m.as_bytes()),
                        });
                    }
                }
            }
            Identifier::EmailAddress => {
                for m in found.by_ref() {
                    out.push(IdentifierMatch {
                        span: m.range(),
                        value: ascii(m.as_bytes()).to_ascii_lowercase(),
                    });
                }
            }
            Identifier::Jwt => {
                for m in found.by_ref() {
                    if isolated(bytes, m.start(), m.end()) && valid_jwt(m.as_bytes()) {
                        out.push(IdentifierMatch {
                            span: m.range(),
                            value: ascii(m.as_bytes()),
                        });
                    }
                }
            }
            Identifier::AwsAccessKeyId
            | Identifier::GithubToken
            | Identifier::SlackToken
            | Identifier::PrivateKey => {
                for m in found.by_ref() {
                    if isolated(bytes, m.start(), m.end()) {
                        out.push(IdentifierMatch {
                            span: m.range(),
                            value: ascii(m.as_bytes()),
                        });
                    }
                }
            }
        }
        (out, candidates.next)
    }
}

/// Pattern matches starting in a window of a text, non-overlapping as
/// `find_iter` reports them; `next` is where the next search starts.
struct Candidates<'h> {
    re: &'static Regex,
    bytes: &'h [u8],
    next: usize,
    until: usize,
}

impl<'h> Iterator for Candidates<'h> {
    type Item = regex::bytes::Match<'h>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next > self.bytes.len() {
            return None;
        }
        let m = self.re.find_at(self.bytes, self.next)?;
        if m.start() >= self.until {
            return None;
        }
        // Built-in patterns never match empty; the step keeps it finite
        // regardless.
        self.next = m.end() + usize::from(m.is_empty());
        Some(m)
    }
}

fn ascii(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Not glued to a longer run of letters or digits on either side.
fn isolated(bytes: &[u8], start: usize, end: usize) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    (start == 0 || !word(bytes[start - 1])) && bytes.get(end).is_none_or(|&b| !word(b))
}

fn regex(id: Identifier) -> &'static Regex {
    static CELLS: [OnceLock<Regex>; 10] = [const { OnceLock::new() }; 10];
    let i = Identifier::ALL
        .iter()
        .position(|&x| x == id)
        .expect("listed");
    CELLS[i].get_or_init(|| {
        let pattern = match id {
            // A maximal run of digit groups separated by single spaces or
            // dashes, holding at least 13 digits (the shortest card): the
            // many shorter numbers in mail (dates, amounts, ids) are not
            // matches at all, which costs far less than validating each.
            Identifier::CreditCard => r"(?-u)[0-9](?:[ -]?[0-9]){12,}",
            Identifier::UsSsn => r"(?-u)[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}",
            Identifier::Iban => r"(?-u)[A-Za-z]{2}[0-9]{2}",
            Identifier::EmailAddress => {
                r"(?-u)[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}"
            }
            Identifier::Ipv4Address => r"(?-u)[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
            Identifier::AwsAccessKeyId => r"(?-u)(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}",
            Identifier::GithubToken => r"(?-u)gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{82}",
            Identifier::SlackToken => r"(?-u)xox[abeprs]-[0-9A-Za-z]{2,}(?:-[0-9A-Za-z]{2,}){1,}",
            Identifier::PrivateKey => {
                r"(?-u)-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=:,\- \r\n]{16,}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            }
            Identifier::Jwt => r"(?-u)eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{10,}",
        };
        Regex::new(pattern).expect("built-in identifier pattern compiles")
    })
}

fn valid_ssn(s: &[u8]) -> bool {
    let (area, group, serial) = (&s[..3], &s[4..6], &s[7..]);
    let area_n: u32 = ascii(area).parse().unwrap_or(0);
    if area_n == 0 || area_n == 666 || area_n >= 900 || group == b"00" || serial == b"0000" {
        return false;
    }
    let flat = [area, group, serial].concat();
    flat != b"078051120" && flat != b"219099999"
}

fn valid_jwt(token: &[u8]) -> bool {
    let header = token.split(|&b| b == b'.').next().unwrap_or_default();
    let decoded = base64url(header);
    decoded.first() == Some(&b'{') && decoded.windows(5).any(|w| w == b"\"alg\"")
}

fn base64url(s: &[u8]) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    };
    let (mut acc, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for v in s.iter().filter_map(|&c| value(c)) {
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(id: Identifier, text: &str) -> Vec<String> {
        id.find(text).into_iter().map(|m| m.value).collect()
    }

    #[test]
    fn a_card_in_a_long_column_of_numbers() {
        // A spreadsheet export: one digit run with separators, 2 MB long
        // (this took minutes when every start tried every end).
        let mut text: String = (0..25_000).map(|i| format!("{i:076}\n")).collect();
        text.push_str("4111 1111 1111 1111\n");
        text.push_str(&(0..1000).map(|i| format!("{i:05} ")).collect::<String>());
        let found = Identifier::CreditCard.find(&text);
        assert!(
            found.iter().any(|m| m.value == "4111111111111111"),
            "{:?}",
            &found[..found.len().min(5)]
        );
    }

    #[test]
    fn cards_published_test_numbers() {
        // Stripe / PayPal sandbox numbers.
        for n in [
            "4242 4242 4242 4242",
            "4000-0566-5566-5556",
            "5555555555554444",
            "2223003122003222",
            "3782 822463 10005",
            "6011111111111117",
            "3056930009020004",
            "3566002020360505",
            "6200000000000005",
            "4222222222222",
        ] {
            assert_eq!(
                values(Identifier::CreditCard, &format!("pay {n} now")).len(),
                1,
                "{n}"
            );
        }
        assert!(
            values(Identifier::CreditCard, "4242 4242 4242 4241").is_empty(),
            "Luhn-invalid"
        );
        assert!(
            values(Identifier::CreditCard, "1234 5678 9012 3452").is_empty(),
            "no issuer"
        );
        assert!(
            values(Identifier::CreditCard, "ref 942424242424242421").is_empty(),
            "inside a longer run"
        );
        assert!(
            values(Identifier::CreditCard, "x4242424242424242").is_empty(),
            "glued to letters"
        );
        assert!(
            values(Identifier::CreditCard, "4242  4242 4242 4242").is_empty(),
            "double space is no grouping"
        );
        assert_eq!(
            values(Identifier::CreditCard, "4111 1111 1111 1111 12/29"),
            ["4111111111111111"]
        );
        assert_eq!(
            values(Identifier::CreditCard, "order 12 4111 1111 1111 1111"),
            ["4111111111111111"]
        );
        assert_eq!(
            values(
                Identifier::CreditCard,
                "5555 5555 5555 4444 and 4242-4242-4242-4242"
            )
            .len(),
            2
        );
    }

    #[test]
    fn ssn_rules() {
        assert_eq!(
            values(Identifier::UsSsn, "SSN 123-45-6789."),
            ["123-45-6789"]
        );
        assert_eq!(
            values(Identifier::UsSsn, "SSN 123 45 6789"),
            ["123-45-6789"]
        );
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "999-12-3456",
            "123-00-4567",
            "123-45-0000",
            "078-05-1120",
            "219-09-9999",
            "123-45 6789",
            "1123-45-6789",
        ] {
            assert!(values(Identifier::UsSsn, bad).is_empty(), "{bad}");
        }
    }

    #[test]
    fn iban_examples_from_iso_13616() {
        assert_eq!(
            values(Identifier::Iban, "IBAN GB82 WEST 1234 5698 7654 32 thanks"),
            ["GB82WEST12345698765432"]
        );
        assert_eq!(
            values(Identifier::Iban, "de89370400440532013000"),
            ["DE89370400440532013000"]
        );
        assert_eq!(
            values(Identifier::Iban, "FR14 2004 1010 0505 0001 3M02 606"),
            ["FR1420041010050500013M02606"]
        );
        assert!(
            values(Identifier::Iban, "GB82 WEST 1234 5698 7654 33").is_empty(),
            "broken checksum"
        );
        assert!(
            values(Identifier::Iban, "GB82WEST1234569876543").is_empty(),
            "wrong length"
        );
        assert!(
            values(Identifier::Iban, "XXGB82WEST12345698765432").is_empty(),
            "glued"
        );
    }

    #[test]
    fn network_and_secret_identifiers() {
        assert_eq!(
            values(
                Identifier::EmailAddress,
                "mail Alice.Example@Partner.ORG now"
            ),
            ["alice.example@partner.org"]
        );
        assert_eq!(
            values(
                Identifier::Ipv4Address,
                "host 192.168.10.1, not 1.2.3.4.5 or 300.1.1.1"
            ),
            ["192.168.10.1"]
        );
        assert_eq!(
            values(Identifier::AwsAccessKeyId, "key AKIAIOSFODNN7EXAMPLE").len(),
            1
        );
        assert!(
            values(Identifier::AwsAccessKeyId, "akiaiosfodnn7example").is_empty(),
            "case-sensitive"
        );
        assert_eq!(
            values(
                Identifier::GithubToken,
                "ghp_1234567890abcdefghijklmnopqrstuvwxyz"
            )
            .len(),
            1
        );
        assert_eq!(
            values(
                Identifier::SlackToken,
                "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
            )
            .len(),
            1
        );
        let pem = "-----BEGIN RSA PRIVATE KEY----- MIIEpAIBAAKCAQEA7bq98+ab/cd== -----END RSA PRIVATE KEY-----";
        assert_eq!(values(Identifier::PrivateKey, pem).len(), 1);
        assert!(values(
            Identifier::PrivateKey,
            "-----BEGIN PUBLIC KEY----- MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A -----END PUBLIC KEY-----"
        )
        .is_empty());
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(values(Identifier::Jwt, jwt).len(), 1);
        assert!(values(
            Identifier::Jwt,
            "eyJub3RhbGciOjF9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w"
        )
        .is_empty());
    }
}
