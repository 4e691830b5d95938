//! `Content-Type` and `Content-Disposition` values: read here when they are
//! plain, by `mailparse` when they use RFC 2231.
//!
//! Every part of every message has a content type, and `mailparse` reads
//! each with a general parser (RFC 2231 charsets and continuations, several
//! maps and a string per step) that cost more than the headers' own
//! parsing. Almost every real value is plain ASCII without a `*`:
//! `text/plain; charset="utf-8"`, `attachment; filename="a.pdf"`. Those
//! are read here into the same structures, with the same rules (split at
//! semicolons outside quotes, keys trimmed and lower-cased, values trimmed
//! and unquoted, the last of a repeated key kept); any other value goes to
//! `mailparse`, so its results are the only ones the walk ever sees.

use std::collections::BTreeMap;

use mailparse::{DispositionType, ParsedContentDisposition, ParsedContentType};

/// A `Content-Type` value read as `mailparse::parse_content_type` reads it.
pub(super) fn content_type(value: &str) -> ParsedContentType {
    let Some((mimetype, params)) = plain(value) else {
        return mailparse::parse_content_type(value);
    };
    let charset = params
        .get("charset")
        .cloned()
        .unwrap_or_else(|| "us-ascii".to_owned());
    ParsedContentType {
        mimetype: mimetype.to_ascii_lowercase(),
        charset,
        params,
    }
}

/// A `Content-Disposition` value read as
/// `mailparse::parse_content_disposition` reads it.
pub(super) fn content_disposition(value: &str) -> ParsedContentDisposition {
    let Some((disposition, params)) = plain(value) else {
        return mailparse::parse_content_disposition(value);
    };
    let disposition = match disposition.to_ascii_lowercase().as_str() {
        "inline" => DispositionType::Inline,
        "attachment" => DispositionType::Attachment,
        "form-data" => DispositionType::FormData,
        other => DispositionType::Extension(other.to_owned()),
    };
    ParsedContentDisposition {
        disposition,
        params,
    }
}

/// The value before the first parameter and the parameters, for an ASCII
/// value without a `*` (no RFC 2231 parameter); `None` for any other.
fn plain(value: &str) -> Option<(&str, BTreeMap<String, String>)> {
    if !value.is_ascii() || value.contains('*') {
        return None;
    }
    let mut tokens = split_outside_quotes(value).into_iter();
    let first = tokens.next().unwrap_or_default().trim();
    let mut params = BTreeMap::new();
    for token in tokens {
        if let Some((key, v)) = token.split_once('=') {
            params.insert(key.trim().to_ascii_lowercase(), unquote(v.trim()));
        }
    }
    Some((first, params))
}

/// `value` split at the semicolons outside quoted strings (a backslash in
/// a quoted string escapes the next byte).
fn split_outside_quotes(value: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in value.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == b';' && !quoted {
            tokens.push(&value[start..i]);
            start = i + 1;
        }
    }
    tokens.push(&value[start..]);
    tokens
}

/// A parameter value without its enclosing quotes and with its backslash
/// escapes resolved; a value not enclosed in quotes as it is.
fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) else {
        return v.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if !escaped && c == '\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values as mail writes them, and the damaged and unusual ones.
    const VALUES: &[&str] = &[
        "text/plain",
        "text/plain; charset=utf-8",
        "TEXT/HTML; CHARSET=\"ISO-8859-1\"",
        "multipart/mixed; boundary=\"----=_Part_1;x\"",
        "multipart/alternative;\tboundary=abc ; charset = a ;",
        "application/pdf; name=\"a \\\"b\\\" c.pdf\"",
        "application/octet-stream; name=\"unterminated",
        "application/octet-stream; name=\"\"",
        "application/octet-stream; name=\"",
        "a/b; x=1; x=2; X=3",
        "a/b; novalue; =empty; k=",
        "attachment; filename=\"report.xlsx\"",
        "inline",
        "Attachment; FileName=plain.txt",
        "form-data; name=field",
        "x-custom; a=b",
        "",
        ";;;",
        "\"quoted\"; a=\"b;c\"; d=e",
        "a/b; k=\"\\\\\"",
        "a/b; k=\"trailing\\\"",
        // Not plain: RFC 2231, non-ASCII.
        "attachment; filename*=utf-8''%E2%82%AC.pdf",
        "attachment; filename*0=\"a\"; filename*1=\"b\"",
        "text/plain; charset=\"utf-8\"; name=\"caf\u{e9}.txt\"",
    ];

    #[test]
    fn content_types_are_read_as_mailparse_reads_them() {
        for v in VALUES {
            let (ours, theirs) = (content_type(v), mailparse::parse_content_type(v));
            assert_eq!(ours.mimetype, theirs.mimetype, "{v:?}");
            assert_eq!(ours.charset, theirs.charset, "{v:?}");
            assert_eq!(ours.params, theirs.params, "{v:?}");
        }
    }

    #[test]
    fn dispositions_are_read_as_mailparse_reads_them() {
        for v in VALUES {
            let (ours, theirs) = (
                content_disposition(v),
                mailparse::parse_content_disposition(v),
            );
            assert_eq!(ours.disposition, theirs.disposition, "{v:?}");
            assert_eq!(ours.params, theirs.params, "{v:?}");
        }
    }

    #[test]
    fn random_values_are_read_as_mailparse_reads_them() {
        let pieces = [
            "a", "B", "/", ";", "=", "\"", "\\", " ", "\t", "charset", "name", "x-y",
        ];
        let mut seed = 5u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        for _ in 0..20_000 {
            let len = next() % 24;
            let v: String = (0..len).map(|_| pieces[next() % pieces.len()]).collect();
            let (ours, theirs) = (content_type(&v), mailparse::parse_content_type(&v));
            assert_eq!(
                (ours.mimetype, ours.charset, ours.params),
                (theirs.mimetype, theirs.charset, theirs.params),
                "{v:?}"
            );
        }
    }
}
