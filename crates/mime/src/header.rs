//! Header blocks and header values: splitting, unfolding, RFC 2047.
//!
//! The splitter follows what mail clients (and Python's `email` feed
//! parser) do with damaged input rather than what RFC 5322 requires: LF-only
//! lines, a leading mbox `From ` line, 8-bit bytes and a header block that
//! runs straight into the body without a blank line are all accepted.

use crate::charset;
use crate::transfer::{decode_base64, decode_quoted_printable};

/// The header fields of a message or MIME part, in order, with raw values.
#[derive(Debug, Default, Clone)]
pub struct Headers<'a> {
    fields: Vec<(&'a [u8], &'a [u8])>,
}

impl<'a> Headers<'a> {
    /// Splits `raw` into its header block and the offset where its body
    /// starts.
    ///
    /// ```
    /// use sluice_mime::header::Headers;
    /// let raw = b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nSubject: a\n b\n\nbody";
    /// let (headers, body) = Headers::parse(raw);
    /// assert_eq!(headers.text("subject").as_deref(), Some("a b"));
    /// assert_eq!(&raw[body..], b"body");
    /// ```
    pub fn parse(raw: &'a [u8]) -> (Headers<'a>, usize) {
        // Room for a message's usual fields without growing on the way.
        let mut fields: Vec<(&'a [u8], &'a [u8])> = Vec::with_capacity(16);
        let mut pos = 0;
        let mut current: Option<(usize, usize, usize)> = None; // name end, value start, value end
        let mut field_start = 0;
        let mut first = true;
        let push = |fields: &mut Vec<(&'a [u8], &'a [u8])>,
                    start: usize,
                    cur: Option<(usize, usize, usize)>| {
            if let Some((name_end, vs, ve)) = cur {
                let name = trim_ascii(&raw[start..name_end]);
                fields.push((name, &raw[vs..ve.max(vs)]));
            }
        };
        while pos < raw.len() {
            let end = memchr::memchr(b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i);
            let line = &raw[pos..end];
            let line_trimmed = line.strip_suffix(b"\r").unwrap_or(line);
            let next = (end + 1).min(raw.len());
            if line_trimmed.is_empty() {
                push(&mut fields, field_start, current.take());
                return (Headers { fields }, next);
            }
            if first && (line.starts_with(b"From ") || line.starts_with(b">From ")) {
                first = false;
                pos = next;
                continue;
            }
            first = false;
            if line[0] == b' ' || line[0] == b'\t' {
                if let Some((_, _, ve)) = current.as_mut() {
                    *ve = pos + line_trimmed.len();
                    pos = next;
                    continue;
                }
                // A continuation with nothing to continue (seen as a line of
                // blanks before the first field): ignore it, as MUAs do.
                pos = next;
                continue;
            }
            match header_name_end(line_trimmed) {
                Some(colon) => {
                    push(&mut fields, field_start, current.take());
                    field_start = pos;
                    current = Some((pos + colon, pos + colon + 1, pos + line_trimmed.len()));
                }
                None => {
                    // A line that is no header starts the body (no blank line).
                    push(&mut fields, field_start, current.take());
                    return (Headers { fields }, pos);
                }
            }
            pos = next;
        }
        push(&mut fields, field_start, current.take());
        (Headers { fields }, raw.len())
    }

    /// The raw (undecoded, still folded) value of the first field `name`.
    pub fn raw(&self, name: &str) -> Option<&'a [u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
    }

    /// The decoded value of the first field `name` (unfolded, 8-bit bytes
    /// decoded, encoded words decoded).
    pub fn text(&self, name: &str) -> Option<String> {
        self.raw(name).map(decode_value)
    }

    /// The decoded values of every field `name`.
    pub fn all_text(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| decode_value(v))
            .collect()
    }

    /// The first field `name` unfolded but with encoded words left alone:
    /// for structured fields whose parameters must be parsed first.
    pub fn unfolded(&self, name: &str) -> Option<String> {
        self.raw(name)
            .map(|v| unfold(&charset::decode_unlabelled_borrowed(v)))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &b[start..end]
}

/// Offset of the colon if the line starts with a field name (printable
/// ASCII, no colon, optionally followed by blanks before the colon).
fn header_name_end(line: &[u8]) -> Option<usize> {
    let colon = memchr::memchr(b':', line)?;
    let name = &line[..colon];
    let name = name.strip_suffix(b" ").unwrap_or(name);
    let name = name.strip_suffix(b"\t").unwrap_or(name);
    (!name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b))).then_some(colon)
}

/// Folded whitespace (CRLF or LF followed by blanks) becomes the blanks;
/// leading and trailing whitespace is trimmed.
fn unfold(value: &str) -> String {
    // Most values are one line: trimmed, they are the result.
    if !value.contains('\n') {
        return value.trim().to_owned();
    }
    let mut out = String::with_capacity(value.len());
    for (i, line) in value.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if i > 0 && !line.starts_with([' ', '\t']) && !line.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
    }
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        return out;
    }
    trimmed.to_owned()
}

/// Decodes a raw header value: unfold, 8-bit bytes as UTF-8 or
/// windows-1252, then RFC 2047 encoded words.
pub fn decode_value(raw: &[u8]) -> String {
    let unfolded = unfold(&charset::decode_unlabelled_borrowed(raw));
    // Without `=?` there is no encoded word: the text is the value.
    if !unfolded.contains("=?") {
        return unfolded;
    }
    decode_encoded_words(&unfolded)
}

/// Decodes RFC 2047 encoded words anywhere in `value`. Whitespace between
/// two encoded words is dropped, and adjacent words in one charset are
/// decoded together so a character split across them survives. A word in an
/// unknown charset is decoded by the fallback of [`charset::decode`].
///
/// ```
/// use sluice_mime::header::decode_encoded_words;
/// assert_eq!(decode_encoded_words("=?utf-8?q?Cus?= =?utf-8?B?dG9tZXI=?= list"), "Customer list");
/// assert_eq!(decode_encoded_words("=?UTF-8?B?5pel?=\r\n =?UTF-8?B?5pys?="), "日本");
/// assert_eq!(decode_encoded_words("=?x-fake?q?caf=E9?="), "café");
/// ```
pub fn decode_encoded_words(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    // Bytes of the pending run of adjacent encoded words, with their charset.
    let mut pending: Option<(String, Vec<u8>)> = None;
    while let Some(start) = rest.find("=?") {
        let Some((charset, bytes, len)) = parse_encoded_word(&rest[start..]) else {
            flush(&mut out, &mut pending);
            out.push_str(&rest[..start + 2]);
            rest = &rest[start + 2..];
            continue;
        };
        let between = &rest[..start];
        // RFC 2047 §6.2: whitespace between adjacent encoded words is not
        // displayed.
        if pending.is_none() || !between.chars().all(char::is_whitespace) {
            flush(&mut out, &mut pending);
            out.push_str(between);
        }
        match pending.as_mut() {
            Some((cs, buf)) if cs.eq_ignore_ascii_case(&charset) => buf.extend_from_slice(&bytes),
            _ => {
                flush(&mut out, &mut pending);
                pending = Some((charset, bytes));
            }
        }
        rest = &rest[start + len..];
    }
    flush(&mut out, &mut pending);
    out.push_str(rest);
    out
}

fn flush(out: &mut String, pending: &mut Option<(String, Vec<u8>)>) {
    if let Some((cs, bytes)) = pending.take() {
        out.push_str(&charset::decode(&bytes, Some(&cs)));
    }
}

/// Parses `=?charset?E?text?=` at the start of `s`: charset, decoded bytes,
/// and the length consumed.
fn parse_encoded_word(s: &str) -> Option<(String, Vec<u8>, usize)> {
    let body = s.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = &body[..q1];
    if charset.is_empty() || charset.contains(|c: char| c.is_whitespace() || c == '=') {
        return None;
    }
    let after = &body[q1 + 1..];
    let mut it = after.chars();
    let enc = it.next()?;
    // The encoding is one ASCII letter; anything else (a multi-byte
    // character there) is not an encoded word, and would not be one byte.
    if !enc.is_ascii_alphabetic() || it.next()? != '?' {
        return None;
    }
    let text_start = &after[2..];
    let end = text_start.find("?=")?;
    let text = &text_start[..end];
    if text.contains([' ', '\t', '\r', '\n']) {
        return None;
    }
    let bytes = match enc.to_ascii_lowercase() {
        'b' => decode_base64(text.as_bytes()),
        'q' => decode_quoted_printable(text.replace('_', " ").as_bytes()),
        _ => return None,
    };
    Some((charset.to_owned(), bytes, 2 + q1 + 1 + 2 + end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multibyte_encoding_letter_is_not_an_encoded_word() {
        // Found by fuzzing (fuzz/artifacts/mime_extract): sliced inside the character.
        assert_eq!(decode_encoded_words("=?utf-8?€?x?="), "=?utf-8?€?x?=");
        assert_eq!(
            decode_encoded_words("a =?utf-8?\u{1F600}?= b"),
            "a =?utf-8?\u{1F600}?= b"
        );
    }

    #[test]
    fn lf_only_and_crlf_blocks() {
        let (h, body) = Headers::parse(b"A: 1\nB: 2\n\nbody");
        assert_eq!(h.len(), 2);
        assert_eq!(body, 11);
        let (h, body) = Headers::parse(b"A: 1\r\nB:\r\n  two\r\n\r\nbody");
        assert_eq!(h.text("b").as_deref(), Some("two"));
        assert_eq!(body, 19);
    }

    #[test]
    fn missing_separator_starts_body_at_first_non_header_line() {
        let raw = b"Subject: x\nthis is body text\n";
        let (h, body) = Headers::parse(raw);
        assert_eq!(h.len(), 1);
        assert_eq!(&raw[body..], b"this is body text\n");
    }

    #[test]
    fn eight_bit_and_nul_bytes_do_not_break_parsing() {
        let raw = b"Subject: caf\xe9 \0x\nTo: a@b\n\nbody";
        let (h, _) = Headers::parse(raw);
        assert_eq!(h.text("subject").as_deref(), Some("café \0x"));
        assert_eq!(h.text("to").as_deref(), Some("a@b"));
    }

    #[test]
    fn encoded_words_mixed_with_text() {
        assert_eq!(
            decode_encoded_words("Re: =?iso-8859-1?Q?Caf=E9?= now"),
            "Re: Café now"
        );
        assert_eq!(decode_encoded_words("=?utf-8*en?q?Hi?="), "Hi");
        assert_eq!(decode_encoded_words("a =?bad"), "a =?bad");
        assert_eq!(
            decode_encoded_words("=?utf-8?q?a?= b =?utf-8?q?c?="),
            "a b c"
        );
        // A UTF-8 character split across two words.
        assert_eq!(
            decode_encoded_words("=?utf-8?q?=E6=97?= =?utf-8?q?=A5?="),
            "日"
        );
    }
}
/// Bare addresses in a header value (`"A" <a@b>, c@d` → `a@b`, `c@d`).
pub fn addresses(value: &str) -> Vec<String> {
    if let Some(address) = simple_address(value) {
        return vec![address.to_owned()];
    }
    match mailparse::addrparse(value) {
        Ok(list) => list
            .iter()
            .flat_map(|a| match a {
                mailparse::MailAddr::Single(s) => vec![s.addr.clone()],
                mailparse::MailAddr::Group(g) => g.addrs.iter().map(|s| s.addr.clone()).collect(),
            })
            .filter(|a| a.contains('@'))
            .collect(),
        Err(_) => value
            .split([',', ';', ' ', '<', '>'])
            .filter(|w| w.contains('@'))
            .map(str::to_owned)
            .collect(),
    }
}

/// The address of a header value that is one bare address (`a@b`) or one
/// `Name <a@b>` with a plain name: most From and To headers. They need no
/// RFC 5322 parser (which was a visible share of scanning a mail folder);
/// anything with quotes, comments, groups, lists or escapes goes to
/// `mailparse`, and gives the same address for these simple forms.
fn simple_address(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.contains([',', '"', '(', ')', ':', ';', '\\', '[']) {
        return None;
    }
    let address = match value.split_once('<') {
        None => value,
        Some((name, rest)) => {
            let inner = rest.strip_suffix('>')?;
            if name.contains(['@', '>']) || inner.contains(['<', '>']) {
                return None;
            }
            inner
        }
    };
    let (local, domain) = address.split_once('@')?;
    let plain = |s: &str| {
        !s.is_empty()
            && !s.contains(|c: char| c.is_whitespace() || c == '@' || c == '<' || c == '>')
    };
    (plain(local) && plain(domain)).then_some(address)
}

#[cfg(test)]
mod address_tests {
    use super::*;

    #[test]
    fn simple_addresses_are_read_as_mailparse_reads_them() {
        let through_mailparse = |v: &str| -> Vec<String> {
            mailparse::addrparse(v)
                .unwrap()
                .iter()
                .flat_map(|a| match a {
                    mailparse::MailAddr::Single(s) => vec![s.addr.clone()],
                    mailparse::MailAddr::Group(g) => {
                        g.addrs.iter().map(|s| s.addr.clone()).collect()
                    }
                })
                .collect()
        };
        for v in [
            "alice@example.com",
            "  alice@example.com ",
            "<alice@example.com>",
            "Alice <alice@example.com>",
            "Alice Smith <Alice.Smith+tag@Example.COM>",
            "=?utf-8?q?Ren=C3=A9?= <rene@example.fr>",
        ] {
            assert_eq!(
                simple_address(v).map(str::to_owned),
                through_mailparse(v).pop(),
                "{v:?}"
            );
            assert_eq!(addresses(v), through_mailparse(v), "{v:?}");
        }
        // Anything beyond the simple forms is left to the parser.
        for v in [
            "\"Smith, Alice\" <alice@example.com>",
            "a@example.com, b@example.com",
            "alice@example.com (Alice)",
            "team: a@example.com, b@example.com;",
            "not an address",
            "a@b@c",
            "x@ <y@z>",
            "Bob < bob@partner.org >",
        ] {
            assert_eq!(simple_address(v), None, "{v:?}");
        }
        assert_eq!(
            addresses("\"Smith, Alice\" <alice@example.com>, b@example.com"),
            ["alice@example.com", "b@example.com"]
        );
    }
}

/// Whether a raw message may carry something other than text parts: a part
/// whose type is not text, an attachment, or a uuencoded block.
/// (Conservative: an unusual header counts as a yes.)
///
/// Only lines starting `Content-` or `begin ` are looked at, found with a
/// SIMD newline search: one case-insensitive automaton over the whole
/// message ran byte by byte (no prefilter can serve 8 case-insensitive
/// patterns) and cost 8% of the proxy's CPU on 10 KB messages.
pub fn may_have_attachment(message: &[u8]) -> bool {
    // The spellings seen in practice, in any case. A message that slips
    // past is still scanned correctly, only on the session's task, where
    // its extractors keep their own deadline.
    const TYPES: [&[u8]; 6] = [
        b"application/",
        b"image/",
        b"audio/",
        b"video/",
        b"message/",
        b"model/",
    ];
    /// A header this long is unusual enough to count as a yes.
    const LONGEST_HEADER: usize = 4096;
    let starts = |text: &[u8], prefix: &[u8]| {
        text.get(..prefix.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(prefix))
    };
    let contains = |text: &[u8], needle: &[u8]| {
        text.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    let line_starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', message).map(|i| i + 1));
    for start in line_starts {
        let rest = &message[start..];
        if starts(rest, b"begin ") {
            return true;
        }
        if !starts(rest, b"content-") {
            continue;
        }
        // The header with its folded continuation lines.
        let mut end = 0;
        let header = loop {
            if end > LONGEST_HEADER {
                return true;
            }
            match memchr::memchr(b'\n', &rest[end..]) {
                Some(i) if matches!(rest.get(end + i + 1), Some(b' ' | b'\t')) => end += i + 1,
                Some(i) => break &rest[..end + i],
                None => break rest,
            }
        };
        if (starts(header, b"content-disposition:") && contains(header, b"attachment"))
            || (starts(header, b"content-type:") && TYPES.iter().any(|t| contains(header, t)))
        {
            return true;
        }
    }
    false
}

/// `Received:` fields in the header block.
pub fn count_received(message: &[u8]) -> usize {
    let end = memchr::memmem::find(message, b"\r\n\r\n").unwrap_or(message.len());
    message[..end]
        .split(|&b| b == b'\n')
        .filter(|l| l.len() >= 9 && l[..9].eq_ignore_ascii_case(b"received:"))
        .count()
}

#[cfg(test)]
mod sniffing_tests {
    use super::*;

    #[test]
    fn messages_that_may_carry_attachments_are_recognised() {
        for plain in [
            &b"Subject: hi\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n"[..],
            // Types named in text, not in a Content-Type header.
            b"Subject: application/pdf\r\n\r\nsend it as image/png or an attachment\r\n",
            b"Content-Type: text/plain\r\nX-Note: message/rfc822\r\n\r\nbeginning\r\n",
        ] {
            assert!(
                !may_have_attachment(plain),
                "{}",
                String::from_utf8_lossy(plain)
            );
        }
        for m in [
            &b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\n"[..],
            b"--b\r\ncontent-disposition: attachment; filename=a.txt\r\n",
            b"Content-Type: message/rfc822\r\n",
            b"Subject: x\r\n\r\ntext\nbegin 644 a.bin\n",
            b"Subject: x\r\nCONTENT-TYPE:\r\n\tImage/PNG\r\n\r\n",
            b"Content-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Disposition: inline;\r\n filename=a.pdf; attachment\r\n",
        ] {
            assert!(may_have_attachment(m), "{}", String::from_utf8_lossy(m));
        }
    }

    #[test]
    fn received_headers_are_counted_in_the_header_block_only() {
        let m = b"Received: a\r\nreceived: b\r\nSubject: x\r\n\r\nReceived: in body\r\n";
        assert_eq!(count_received(m), 2);
    }
}
