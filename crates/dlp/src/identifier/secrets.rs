//! Secrets and network identifiers: each has a distinctive literal (a
//! prefix, `@`, `://`, `-----BEGIN`), so its pattern's own literal
//! prefilter skips text without one; structure is checked on each match.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::{base64url, isolated, Identifier, IdentifierMatch};

/// The pattern of a type searched on its own, `None` for the types of the
/// shared number search and for cards and IBANs.
pub(super) fn pattern(id: Identifier) -> Option<&'static str> {
    use Identifier::*;
    Some(match id {
        EmailAddress => {
            r"(?-u)[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}"
        }
        Ipv4Address => r"(?-u)[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
        // Hex groups and colons with at least two colons, optionally ending
        // in a dotted quad; the standard library's parser decides.
        Ipv6Address => {
            r"(?-u)[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3})?"
        }
        AwsAccessKeyId => {
            r"(?-u)(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}"
        }
        AwsSecretAccessKey => r"(?-u)[A-Za-z0-9/+]{40}",
        GithubToken => r"(?-u)gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{82}",
        SlackToken => r"(?-u)xox[abeprs]-[0-9A-Za-z]{2,}(?:-[0-9A-Za-z]{2,}){1,}",
        SlackWebhookUrl => {
            r"(?-u)https://hooks\.slack\.com/(?:services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32}|workflows/T[A-Z0-9]{6,12}/A[A-Z0-9]{6,12}/[0-9]{10,20}/[A-Za-z0-9]{20,32})"
        }
        StripeKey => r"(?-u)(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,}",
        GoogleApiKey => r"(?-u)AIza[0-9A-Za-z_\-]{35}",
        OpenaiApiKey => {
            r"(?-u)sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}"
        }
        AnthropicApiKey => r"(?-u)sk-ant-(?:api|admin|oat)[0-9]{2}-[A-Za-z0-9_\-]{80,}",
        AzureStorageKey => r"(?-u)AccountKey=[A-Za-z0-9+/]{86}==",
        UrlCredentials => {
            r"(?-u)[A-Za-z][A-Za-z0-9+.\-]{1,15}://[A-Za-z0-9._~%!$&'()*+,;=\-]{1,64}:[A-Za-z0-9._~%!$&'()*+,;=\-]{1,128}@[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,253}[A-Za-z0-9])?"
        }
        PrivateKey => {
            r"(?-u)-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=:,\- \r\n]{16,}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        }
        Jwt => r"(?-u)eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{10,}",
        _ => return None,
    })
}

/// The shortest match of any [`super::PREFIXED`] type's pattern (a Slack
/// token, `xoxb-12-34`): a text with fewer bytes to search holds none.
pub(super) const SHORTEST_PREFIXED: usize = 10;

/// The compiled pattern (see [`pattern`]).
pub(super) fn regex(id: Identifier) -> Option<&'static Regex> {
    static CELLS: [OnceLock<Option<Regex>>; Identifier::ALL.len()] =
        [const { OnceLock::new() }; Identifier::ALL.len()];
    CELLS[id as usize]
        .get_or_init(|| pattern(id).map(|p| Regex::new(p).expect("built-in pattern compiles")))
        .as_ref()
}

/// The value of a pattern match `m` at `start` in `bytes` when its
/// structure holds, `None` otherwise.
pub(super) fn check(id: Identifier, bytes: &[u8], start: usize, m: &[u8]) -> Option<String> {
    use Identifier::*;
    let end = start + m.len();
    let text = || String::from_utf8_lossy(m).into_owned();
    match id {
        EmailAddress => Some(text().to_ascii_lowercase()),
        Ipv4Address => {
            let before_ok = start == 0
                || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.');
            let after_ok = match bytes.get(end).copied() {
                None => true,
                Some(b'.') => !bytes.get(end + 1).is_some_and(u8::is_ascii_digit),
                Some(b) => !b.is_ascii_alphanumeric(),
            };
            let octets_ok = m.split(|&b| b == b'.').all(|o| {
                String::from_utf8_lossy(o)
                    .parse::<u16>()
                    .is_ok_and(|v| v <= 255)
                    && (o.len() == 1 || o[0] != b'0')
            });
            (before_ok && after_ok && octets_ok).then(text)
        }
        Ipv6Address => {
            let glued = |b: u8| b.is_ascii_alphanumeric() || b == b':' || b == b'_';
            // A full stop ends a sentence; one before a digit continues a
            // dotted quad.
            let dotted =
                bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
            if start > 0 && (glued(bytes[start - 1]) || bytes[start - 1] == b'.')
                || bytes.get(end).is_some_and(|&b| glued(b))
                || dotted
            {
                return None;
            }
            // A time (`12:30:45`) does not parse; a C++ path (`a::b`) or a
            // ratio (`10::20`) would: an address here has three groups, or a
            // `::` with a group of three or more characters and a digit.
            let groups: Vec<&[u8]> = m.split(|&b| b == b':').filter(|g| !g.is_empty()).collect();
            let addr: std::net::Ipv6Addr = std::str::from_utf8(m).ok()?.parse().ok()?;
            let compressed = m.windows(2).any(|w| w == b"::")
                && groups.iter().any(|g| g.len() >= 3)
                && m.iter().any(u8::is_ascii_digit);
            (groups.len() >= 3 || compressed || m.contains(&b'.') || addr.is_loopback())
                .then(|| addr.to_string())
        }
        AwsSecretAccessKey => {
            let edge = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+' || b == b'=';
            if start > 0 && edge(bytes[start - 1]) || bytes.get(end).is_some_and(|&b| edge(b)) {
                return None;
            }
            let mixed = m.iter().any(u8::is_ascii_lowercase)
                && m.iter().any(u8::is_ascii_uppercase)
                && m.iter().any(u8::is_ascii_digit);
            mixed.then(text)
        }
        Jwt => (isolated(bytes, start, end) && valid_jwt(m)).then(text),
        UrlCredentials => {
            let password = m.split(|&b| b == b':').nth(2)?;
            let password = &password[..password.iter().rposition(|&b| b == b'@')?];
            // Placeholders in documentation are no secret.
            let placeholder = password
                .iter()
                .all(|&b| b == b'*' || b == b'x' || b == b'X')
                || password.eq_ignore_ascii_case(b"password")
                || password.eq_ignore_ascii_case(b"pass");
            (!placeholder && (start == 0 || !bytes[start - 1].is_ascii_alphanumeric())).then(text)
        }
        AzureStorageKey => Some(String::from_utf8_lossy(&m[b"AccountKey=".len()..]).into_owned()),
        SlackWebhookUrl | PrivateKey => Some(text()),
        _ => isolated(bytes, start, end).then(text),
    }
}

/// IPv4 and IPv6 addresses, found from their separators (`.`, `:`) with
/// memchr and read by hand: their patterns start with a digit or hex class
/// no prefilter can skip to, and ran at prose speed over every byte. The
/// candidate is what the pattern of [`pattern`] would match; [`check`]
/// judges it.
pub(super) fn find_addresses(
    id: Identifier,
    bytes: &[u8],
    digits: &super::digits::Digits,
    from: usize,
    until: usize,
) -> (Vec<IdentifierMatch>, usize) {
    // IPv4 goes from number to number; IPv6 from colon to colon.
    let digit_reader = (id == Identifier::Ipv4Address).then(|| digits.reader());
    let separator = if id == Identifier::Ipv4Address {
        b'.'
    } else {
        b':'
    };
    let mut out = Vec::new();
    let mut next = from;
    loop {
        let found = if let Some(digit_reader) = &digit_reader {
            digit_reader.dot_after_digit(next)
        } else {
            memchr::memchr(separator, &bytes[next.min(bytes.len())..]).map(|o| next + o)
        };
        let Some(p) = found else {
            break;
        };
        let candidate = if id == Identifier::Ipv4Address {
            dotted_quad(bytes, from, p)
        } else {
            colon_run(bytes, from, p)
        };
        let Some(span) = candidate else {
            next = p + 1;
            continue;
        };
        if span.start >= until {
            break;
        }
        next = span.end.max(p + 1);
        if let Some(value) = check(id, bytes, span.start, &bytes[span.clone()]) {
            out.push(IdentifierMatch::of(id, span, value));
        }
    }
    (out, next.max(from))
}

/// `d{1,3}.d{1,3}.d{1,3}.d{1,3}` whose first dot is at `dot`.
fn dotted_quad(bytes: &[u8], from: usize, dot: usize) -> Option<std::ops::Range<usize>> {
    let before = bytes[from..dot]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if before == 0 {
        return None;
    }
    let start = dot - before.min(3);
    let mut at = start;
    for octet in 0..4 {
        let digits = bytes[at..]
            .iter()
            .take(3)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        at += digits;
        if octet < 3 {
            if bytes.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
    }
    Some(start..at)
}

/// Hex groups and colons around the colon at `colon` (at least two
/// colons), with a dotted quad at the end when there is one.
fn colon_run(bytes: &[u8], from: usize, colon: usize) -> Option<std::ops::Range<usize>> {
    let hex = |b: &u8| b.is_ascii_hexdigit();
    let start = colon
        - bytes[from..colon]
            .iter()
            .rev()
            .take_while(|b| hex(b))
            .count()
            .min(4);
    let mut end = colon
        + bytes[colon..]
            .iter()
            .take(45)
            .take_while(|&&b| hex(&b) || b == b':' || b == b'.')
            .count();
    while end > colon && bytes[end - 1] == b'.' {
        end -= 1;
    }
    let colons = bytes[start..end].iter().filter(|&&b| b == b':').count();
    (colons >= 2).then_some(start..end)
}

/// AWS secret access keys: 40 base64 characters only next to an AWS key
/// id or an AWS secret keyword (SPEC §3.3). The anchors have literals the
/// regex engine skips to; only the 200 bytes around each are searched for
/// a key, so text without an anchor costs one fast pass.
pub(super) fn find_aws_secrets(
    bytes: &[u8],
    from: usize,
    until: usize,
) -> (Vec<IdentifierMatch>, usize) {
    // No room for a key: no anchor search.
    if bytes.len() < from + 40 {
        return (Vec::new(), until.max(from));
    }
    static ANCHOR: OnceLock<Regex> = OnceLock::new();
    let anchor = ANCHOR.get_or_init(|| {
        Regex::new(
            r"(?i-u)(?-i:(?:AKIA|ASIA)[A-Z0-9]{16})|aws_?secret|secret_?access_?key|secretaccesskey|aws.{0,20}secret",
        )
        .expect("pattern compiles")
    });
    let key = regex(Identifier::AwsSecretAccessKey).expect("has a pattern");
    let mut out: Vec<IdentifierMatch> = Vec::new();
    let mut at = from.saturating_sub(240);
    let mut scanned = 0usize;
    while let Some(a) = anchor.find_at(bytes, at) {
        if a.start() >= until + 240 {
            break;
        }
        let region = a.start().saturating_sub(200)..(a.end() + 240).min(bytes.len());
        // Anchors close together share their text: each byte is searched
        // once (but a key's length, which may straddle the last end), so a
        // text of nothing but anchors stays linear.
        let mut pos = region.start.max(scanned.saturating_sub(40));
        scanned = scanned.max(region.end);
        while let Some(m) = key.find_at(&bytes[..region.end], pos) {
            pos = m.end();
            let start = m.start();
            let taken = out.last().is_some_and(|last| start < last.span.end);
            if (from..until).contains(&start) && !taken {
                if let Some(value) =
                    check(Identifier::AwsSecretAccessKey, bytes, start, m.as_bytes())
                {
                    out.push(IdentifierMatch::of(
                        Identifier::AwsSecretAccessKey,
                        m.range(),
                        value,
                    ));
                }
            }
        }
        at = a.end().max(at + 1);
    }
    (out, until.max(from))
}

fn valid_jwt(token: &[u8]) -> bool {
    let header = token.split(|&b| b == b'.').next().unwrap_or_default();
    let decoded = base64url(header);
    decoded.first() == Some(&b'{') && decoded.windows(5).any(|w| w == b"\"alg\"")
}
