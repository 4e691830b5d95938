//! Built-in identifiers (SPEC §3.3): found by pattern, kept only when they
//! validate (checksums, issuer ranges, registry lengths, embedded dates),
//! each with a confidence.
//!
//! Patterns are `regex::bytes` with Unicode off (`(?-u)`): identifiers are
//! ASCII, and Unicode-aware `\b` and classes cost up to 50× on non-ASCII
//! text. A value inside a longer unbroken run of digits or letters does not
//! match.
//!
//! Three kinds of search find the candidates: the number-shaped types
//! (national ids, tax and bank numbers) share one pass ([`tokens`]); cards
//! and IBANs have their own run-aware searches, all three (and IPv4
//! addresses) jumping from digit to digit on one bit mask of the text's
//! digits, read once for them all ([`digits`]); each secret type
//! has a pattern with a literal the regex engine's prefilter skips to, and
//! IP addresses are looked for at their separators. [`Search`] is one of
//! those, as the engine runs it.

use std::sync::OnceLock;

use regex::bytes::Regex;

pub(crate) use digits::Digits;
use serde::{Deserialize, Serialize};

mod card;
mod catalog;
mod checks;
mod digits;
mod iban;
mod national;
mod secrets;
mod tokens;
mod vat;

use card::find_cards;
pub use catalog::Identifier;
use catalog::CATALOG;
use iban::find_ibans;
pub(crate) use tokens::TokenSearch;

/// How sure a match is (SPEC §3.3): `high` with one of the type's keywords
/// near it, otherwise the type's own level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The shape and check alone, where that is weak evidence (a 9-digit
    /// number passing a mod-11 check).
    Low,
    /// The shape and check of a type rare by chance (cards, IBANs, secrets).
    Medium,
    /// A keyword of the type within 300 characters.
    High,
}

impl Confidence {
    /// `"low"`, `"medium"` or `"high"`.
    pub fn name(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One validated identifier in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierMatch {
    /// Its type.
    pub identifier: Identifier,
    /// Byte range in the searched text.
    pub span: std::ops::Range<usize>,
    /// The value used for unique counting (digits only for cards, IBANs
    /// uppercase without spaces, ...).
    pub value: String,
    /// Its confidence without keywords (keywords are the engine's, see
    /// SPEC §3.3).
    pub confidence: Confidence,
}

impl IdentifierMatch {
    /// A match of `identifier` at its own confidence without keywords.
    fn of(identifier: Identifier, span: std::ops::Range<usize>, value: String) -> Self {
        IdentifierMatch {
            identifier,
            span,
            value,
            confidence: identifier.confidence(),
        }
    }
}

impl Identifier {
    /// Every identifier, in a stable order.
    pub const ALL: [Identifier; 59] = {
        let mut all = [Identifier::CreditCard; 59];
        let mut i = 0;
        while i < 59 {
            all[i] = CATALOG[i].id;
            i += 1;
        }
        all
    };

    /// The configuration name (`"credit-card"`, ...).
    pub fn name(self) -> &'static str {
        CATALOG[self as usize].name
    }

    /// What a value must pass, in a line.
    pub fn validates(self) -> &'static str {
        CATALOG[self as usize].validates
    }

    /// The highest confidence a match has without a keyword (`medium` for
    /// us-ssn, which is `low` written as bare digits).
    pub fn confidence(self) -> Confidence {
        CATALOG[self as usize].confidence
    }

    /// The built-in keywords that make a match `high`.
    pub fn keywords(self) -> &'static [&'static str] {
        CATALOG[self as usize].keywords
    }

    /// The identifier with configuration name `name`.
    pub fn from_name(name: &str) -> Option<Identifier> {
        Identifier::ALL.into_iter().find(|i| i.name() == name)
    }

    /// `text` (a match of this identifier) as evidence may show it: the
    /// last 4 letters or digits (card numbers and SSNs: digits), IBANs and
    /// VAT numbers also their country; separators stay so the shape is
    /// recognisable. A private key shows only its armour line; a URL
    /// with credentials only its scheme and host.
    ///
    /// ```
    /// use sluice_dlp::Identifier;
    /// assert_eq!(Identifier::CreditCard.mask("4111 1111 1111 1234"), "**** **** **** 1234");
    /// assert_eq!(Identifier::UsSsn.mask("078-05-1120"), "***-**-1120");
    /// assert_eq!(Identifier::Iban.mask("DE89 3704 0044 0532 0130 00"), "DE** **** **** **** **30 00");
    /// assert_eq!(Identifier::CreditCard.mask("４１１１１１１１１１１１１１１１"), "************１１１１");
    /// assert_eq!(Identifier::UrlCredentials.mask("https://bob:hunter2@db.example.com"), "https://***:***@db.example.com");
    /// ```
    pub fn mask(self, text: &str) -> String {
        if self == Identifier::PrivateKey {
            let armour = text.lines().next().unwrap_or_default();
            return format!("{armour} [key withheld]");
        }
        if self == Identifier::UrlCredentials {
            if let (Some(scheme), Some(at)) = (text.find("://"), text.rfind('@')) {
                return format!("{}://***:***{}", &text[..scheme], &text[at..]);
            }
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
        // Characters counted from the start that stay visible (a country).
        let lead = if matches!(self, Identifier::Iban | Identifier::EuVat) {
            2
        } else {
            0
        };
        // Short values keep fewer, so at least half is always hidden.
        let tail = 4.min(total / 2);
        let mut seen = 0;
        text.chars()
            .map(|c| {
                if !shown(c) {
                    return c;
                }
                seen += 1;
                if seen <= lead || seen + tail > total {
                    c
                } else {
                    '*'
                }
            })
            .collect()
    }

    /// The value `written` stands for (as unique counting and `exclude`
    /// compare values), when it is exactly one valid value of this type.
    ///
    /// ```
    /// use sluice_dlp::Identifier;
    /// assert_eq!(Identifier::CreditCard.normalize("4111-1111-1111-1111").as_deref(), Some("4111111111111111"));
    /// assert_eq!(Identifier::CreditCard.normalize("4111 1111 1111 1112"), None);
    /// ```
    pub fn normalize(self, written: &str) -> Option<String> {
        let written = written.trim();
        match self.find(written).as_slice() {
            [one] if one.span == (0..written.len()) => Some(one.value.clone()),
            _ => None,
        }
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
        Search::new(self).find_within(text, 0, text.len()).0
    }
}

/// One search pass over a text, as the engine runs it: a type on its own,
/// or the number-shaped types together.
#[derive(Debug, Clone)]
pub(crate) enum Search {
    Own(Identifier),
    Tokens(TokenSearch),
    /// Secrets with a literal prefix, in one pattern: the regex engine's
    /// prefilter skips to any of their prefixes at once. The pattern holds
    /// every such type, compiled once per process; matches of the types
    /// not asked for are dropped.
    Prefixed(Vec<Identifier>),
}

/// The secrets whose patterns start with a literal (`AKIA`, `ghp_`,
/// `-----BEGIN`, ...), searched together.
const PREFIXED: [Identifier; 11] = [
    Identifier::AwsAccessKeyId,
    Identifier::GithubToken,
    Identifier::SlackToken,
    Identifier::SlackWebhookUrl,
    Identifier::StripeKey,
    Identifier::GoogleApiKey,
    Identifier::OpenaiApiKey,
    Identifier::AnthropicApiKey,
    Identifier::AzureStorageKey,
    Identifier::PrivateKey,
    Identifier::Jwt,
];

impl Search {
    fn new(id: Identifier) -> Search {
        if national::lengths(id).is_empty() {
            Search::Own(id)
        } else {
            Search::Tokens(TokenSearch::new(&[id]))
        }
    }

    /// The passes that find `types`: one per type found on its own, and
    /// one for all the number-shaped ones.
    pub(crate) fn for_types(types: &[Identifier]) -> Vec<Search> {
        let (numbers, own): (Vec<Identifier>, Vec<Identifier>) = types
            .iter()
            .partition(|&&t| !national::lengths(t).is_empty());
        let (prefixed, own): (Vec<Identifier>, Vec<Identifier>) =
            own.into_iter().partition(|t| PREFIXED.contains(t));
        let mut searches: Vec<Search> = own.into_iter().map(Search::Own).collect();
        if !prefixed.is_empty() {
            searches.push(Search::Prefixed(prefixed));
        }
        if !numbers.is_empty() {
            searches.push(Search::Tokens(TokenSearch::new(&numbers)));
        }
        searches
    }

    /// The identifiers whose pattern match starts in `from..until`, and
    /// the position its next search would start from: a window of a
    /// larger text, searched from where the previous window's search
    /// stopped, finds what a search of the whole text finds there.
    pub(crate) fn find_within(
        &self,
        text: &str,
        from: usize,
        until: usize,
    ) -> (Vec<IdentifierMatch>, usize) {
        self.find_within_digits(text, &Digits::new(text.as_bytes()), from, until)
    }

    /// [`Search::find_within`] with the text's [`Digits`], which every
    /// search of one text shares.
    pub(crate) fn find_within_digits(
        &self,
        text: &str,
        digits: &Digits,
        from: usize,
        until: usize,
    ) -> (Vec<IdentifierMatch>, usize) {
        let id = match self {
            Search::Tokens(t) => return t.find_within(text, digits, from, until),
            // Most texts are searched in one window, and many are short (a
            // subject, a file name) or hold no `@`: those skip a regex
            // search whose set-up alone cost more than the check. A search
            // that finds nothing resumes where it started.
            Search::Prefixed(_) if text.len() < from + secrets::SHORTEST_PREFIXED => {
                return (Vec::new(), from)
            }
            Search::Prefixed(types) => return find_prefixed(types, text, from, until),
            Search::Own(id @ (Identifier::Ipv4Address | Identifier::Ipv6Address)) => {
                return secrets::find_addresses(*id, text.as_bytes(), digits, from, until)
            }
            Search::Own(Identifier::AwsSecretAccessKey) => {
                return secrets::find_aws_secrets(text.as_bytes(), from, until)
            }
            Search::Own(Identifier::EmailAddress | Identifier::UrlCredentials)
                if memchr::memchr(b'@', &text.as_bytes()[from.min(text.len())..]).is_none() =>
            {
                return (Vec::new(), from);
            }
            Search::Own(id) => *id,
        };
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        if id == Identifier::CreditCard {
            let mut next = from;
            let runs = card::card_runs(bytes, digits, from, until, &mut next);
            find_cards(bytes, runs.into_iter(), &mut out);
            return (out, next);
        }
        if id == Identifier::Iban {
            let mut next = from;
            let starts = iban::iban_starts(bytes, digits, from, until, &mut next);
            find_ibans(bytes, starts.into_iter(), &mut out);
            return (out, next);
        }
        let re = secrets::regex(id).expect("a type searched on its own has a pattern");
        let mut candidates = Candidates {
            re,
            bytes,
            next: from,
            until,
        };
        for m in candidates.by_ref() {
            if let Some(value) = secrets::check(id, bytes, m.start(), m.as_bytes()) {
                out.push(IdentifierMatch::of(id, m.range(), value));
            }
        }
        (out, candidates.next)
    }
}

/// The secrets of a [`Search::Prefixed`] pass: each match's group names
/// its type, whose structure is then checked.
fn find_prefixed(
    types: &[Identifier],
    text: &str,
    from: usize,
    until: usize,
) -> (Vec<IdentifierMatch>, usize) {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    let re = PATTERN.get_or_init(|| {
        // Each alternative its own group, so a match tells its type.
        let alternatives: Vec<String> = PREFIXED
            .iter()
            .map(|&t| {
                let p = secrets::pattern(t).expect("a secret has a pattern");
                format!("({})", p.trim_start_matches("(?-u)"))
            })
            .collect();
        Regex::new(&format!("(?-u){}", alternatives.join("|"))).expect("built-in patterns compile")
    });
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut next = from;
    // The groups are read only for a match: a search for the match alone
    // is cheaper, and almost every text has none.
    let mut groups = None;
    while next <= bytes.len() {
        let Some(found) = re.find_at(bytes, next) else {
            break;
        };
        let groups = groups.get_or_insert_with(|| re.capture_locations());
        // The same match, found again from its start with its groups.
        let Some(m) = re.captures_read_at(groups, bytes, found.start()) else {
            break;
        };
        if m.start() >= until {
            break;
        }
        next = m.end() + usize::from(m.is_empty());
        let Some(&id) = (1..=PREFIXED.len())
            .find(|&g| groups.get(g).is_some())
            .map(|g| &PREFIXED[g - 1])
            .filter(|id| types.contains(id))
        else {
            continue;
        };
        if let Some(value) = secrets::check(id, bytes, m.start(), m.as_bytes()) {
            out.push(IdentifierMatch::of(id, m.range(), value));
        }
    }
    (out, next)
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

    /// The shortest text a pattern matches, from its syntax; `None` when
    /// it matches nothing.
    fn shortest(pattern: &str) -> Option<usize> {
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(pattern)
            .expect("built-in patterns parse");
        hir.properties().minimum_len()
    }

    #[test]
    fn texts_too_short_for_a_secret_are_skipped_only_when_none_fits() {
        let lengths: Vec<usize> = PREFIXED
            .iter()
            .filter_map(|&t| shortest(secrets::pattern(t).expect("a secret has a pattern")))
            .collect();
        assert_eq!(lengths.len(), PREFIXED.len());
        assert_eq!(lengths.iter().min(), Some(&secrets::SHORTEST_PREFIXED));
        let key = secrets::pattern(Identifier::AwsSecretAccessKey).expect("pattern");
        assert_eq!(shortest(key), Some(40));
        // Email addresses and URL credentials hold an `@` in every match:
        // with it made unmatchable, their patterns match nothing.
        for t in [Identifier::EmailAddress, Identifier::UrlCredentials] {
            let p = secrets::pattern(t).expect("pattern");
            assert!(shortest(p).is_some(), "{p}");
            assert_eq!(shortest(&p.replace('@', r"[^\x00-\xFF]")), None, "{p}");
        }
        // The short-text skips give what the searches would.
        let tiny = ["", "a", "xoxb-12-3", "Message 12", "sk-", "user:pw@h"];
        for text in tiny {
            for id in Identifier::ALL {
                assert_eq!(values(id, text), Vec::<String>::new(), "{text:?} {id:?}");
            }
        }
        assert_eq!(values(Identifier::SlackToken, "xoxb-12-34").len(), 1);
    }

    fn values(id: Identifier, text: &str) -> Vec<String> {
        id.find(text).into_iter().map(|m| m.value).collect()
    }

    #[test]
    fn no_candidate_makes_a_type_panic() {
        // Hostile input for every validator: short runs of digits, the
        // letters the types look for, and every separator, in all
        // groupings (a year 0000 once underflowed a date rule).
        let alphabet = b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ -./+";
        let searches = Search::for_types(&Identifier::ALL);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..40_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 48) as usize;
            let text: String = (0..len)
                .map(|i| {
                    let r = state.rotate_left(i as u32 * 5) as usize;
                    alphabet[r % alphabet.len()] as char
                })
                .collect();
            for s in &searches {
                let (found, next) = s.find_within(&text, 0, text.len());
                assert!(next <= text.len() + 1, "{text:?}");
                for m in found {
                    assert!(text.get(m.span.clone()).is_some(), "{text:?}");
                }
            }
            for zeros in ["0000", "000000", "00000000000000000"] {
                for s in &searches {
                    s.find_within(zeros, 0, zeros.len());
                }
            }
        }
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
