//! The MIME tree: messages, entities, multiparts and text bodies.

use std::borrow::Cow;

use memchr::memmem;

use crate::charset;
use crate::header::{decode_encoded_words, Headers};
use crate::html::html_to_text;
use crate::location::{Field, Location};
use crate::transfer::{find_uuencoded, may_hold_uuencoded, TransferEncoding};

use super::params;
use super::{child_number, AlternativeBranch, Context, PartInfo, Section, Walker};

impl Walker<'_> {
    /// A message (top-level, or the body of a `message/rfc822` part
    /// numbered `number`): its Subject, then its body.
    pub(super) fn message(&mut self, headers: &Headers, body: &[u8], number: &str, ctx: Context) {
        if let Some(subject) = headers.text("subject") {
            let location = Location {
                part: (!number.is_empty()).then(|| number.to_owned()),
                content_type: (!number.is_empty()).then(|| "message/rfc822".to_owned()),
                filename: None,
                archive_path: None,
                field: Some(Field::Subject),
            };
            let section = if number.is_empty() {
                Section::Subject
            } else {
                ctx.section
            };
            self.text(
                location,
                subject,
                &Context {
                    section,
                    ..ctx.clone()
                },
            );
        }
        let ctype = content_type(headers, ctx.in_digest);
        let body_number = if ctype.mimetype.starts_with("multipart/") {
            number.to_owned()
        } else {
            child_number(number, 1)
        };
        self.entity(headers, ctype, body, body_number, ctx);
    }

    /// One MIME entity (part) with its headers, their parsed content type
    /// ([`content_type`], parsed once by the caller, which needs it too)
    /// and its raw body.
    pub(super) fn entity(
        &mut self,
        headers: &Headers,
        ctype: mailparse::ParsedContentType,
        body: &[u8],
        number: String,
        ctx: Context,
    ) {
        let disposition = headers
            .unfolded("content-disposition")
            .map(|d| params::content_disposition(&d));
        let dparams = disposition.as_ref().map(|d| &d.params);
        let filename = dparams
            .and_then(|p| param_value(p, "filename"))
            .or_else(|| param_value(&ctype.params, "name"))
            .filter(|f| !f.trim().is_empty());
        let is_attachment = filename.is_some()
            || disposition
                .as_ref()
                .is_some_and(|d| d.disposition == mailparse::DispositionType::Attachment);
        let mimetype = ctype.mimetype.clone();
        let info = PartInfo {
            number: number.clone(),
            content_type: mimetype.clone(),
            filename: filename.clone(),
        };

        if let Err(e) = self.budget.take_part() {
            self.unscannable(info.location(None), e);
            return;
        }
        let mut ctx = ctx;
        if is_attachment && ctx.section == Section::Body {
            ctx.section = Section::Attachments;
        }
        if let Some(name) = &filename {
            let location = Location {
                field: Some(Field::Filename),
                ..info.location(None)
            };
            self.text(
                location,
                name.clone(),
                &Context {
                    section: Section::Attachments,
                    ..ctx.clone()
                },
            );
        }

        if mimetype.starts_with("multipart/") {
            self.multipart(&ctype, body, &info, ctx);
            return;
        }
        let encoding = TransferEncoding::from_header(
            &headers
                .text("content-transfer-encoding")
                .unwrap_or_default(),
        );
        let data = self.decode_body(encoding, body, &info);
        let charset = ctype.params.get("charset").cloned();
        match mimetype.as_str() {
            "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
                let smime_type = ctype
                    .params
                    .get("smime-type")
                    .map(|s| s.to_ascii_lowercase());
                let reason = match smime_type.as_deref() {
                    Some("signed-data") => "S/MIME opaque-signed content (not extracted)",
                    Some("compressed-data") => "S/MIME compressed content (not extracted)",
                    _ => "S/MIME encrypted part",
                };
                self.unscannable(info.location(None), reason);
            }
            "application/pgp-encrypted" => {
                self.unscannable(info.location(None), "PGP encrypted part");
            }
            "application/pkcs7-signature"
            | "application/x-pkcs7-signature"
            | "application/pgp-signature" => {
                self.unsupported(info.location(None), "signature");
            }
            // message/partial: the first fragment carries the headers.
            "message/rfc822" | "message/global" | "message/partial" => {
                self.embedded_message(&data, &info, ctx)
            }
            "text/plain" if !is_attachment => {
                self.plain_text(data, charset.as_deref(), &info, &ctx)
            }
            "text/html" if !is_attachment => {
                let text = html_to_text(&charset::decode(&data, charset.as_deref()));
                self.text(info.location(None), text, &ctx);
            }
            _ => self.document(data.into_owned(), &info, None, charset.as_deref(), &ctx),
        }
    }

    /// Decodes a body within the part allowance; a 7bit/8bit/binary body is
    /// borrowed, not copied (nested forwards would copy the rest of the
    /// message at every level).
    pub(super) fn decode_body<'b>(
        &mut self,
        encoding: TransferEncoding,
        body: &'b [u8],
        info: &PartInfo,
    ) -> Cow<'b, [u8]> {
        let allowance = self.budget.part_allowance();
        let mut data = encoding.decode(body);
        if data.len() as u64 > allowance {
            self.unscannable(info.location(None), self.budget.allowance_reason());
            match &mut data {
                Cow::Borrowed(b) => *b = &b[..allowance as usize],
                Cow::Owned(v) => v.truncate(allowance as usize),
            }
        }
        self.budget.charge(data.len() as u64);
        data
    }

    pub(super) fn multipart(
        &mut self,
        ctype: &mailparse::ParsedContentType,
        body: &[u8],
        info: &PartInfo,
        ctx: Context,
    ) {
        let mimetype = ctype.mimetype.as_str();
        if mimetype == "multipart/encrypted" {
            self.unscannable(info.location(None), "PGP/MIME encrypted part");
            return;
        }
        let depth = ctx.depth + 1;
        if let Err(e) = self.budget.check_depth(depth) {
            self.unscannable(info.location(None), e);
            return;
        }
        let parts = ctype
            .params
            .get("boundary")
            // Trailing blanks cannot end a boundary (RFC 2046 bcharsnospace);
            // mail clients and Python's email strip them.
            .map(|b| b.trim_end())
            .filter(|b| !b.is_empty())
            .and_then(|b| split_multipart(body, b.as_bytes()));
        let Some(parts) = parts else {
            // No boundary, or the opening boundary is missing: the body is
            // still text a reader might see. Scan it as plain text.
            let fallback = PartInfo {
                content_type: "text/plain".into(),
                ..info.clone()
            };
            let number = if info.number.is_empty() {
                "1".to_owned()
            } else {
                info.number.clone()
            };
            self.plain_text(
                Cow::Borrowed(body),
                None,
                &PartInfo { number, ..fallback },
                &ctx,
            );
            return;
        };
        let alternative = mimetype == "multipart/alternative";
        let signed = mimetype == "multipart/signed";
        // A repeated delimiter leaves an empty section; like Python's email
        // and MUAs, it is not a part and takes no number.
        for (i, part) in parts.into_iter().filter(|p| !p.is_empty()).enumerate() {
            let mut child = Context {
                depth,
                in_digest: mimetype == "multipart/digest",
                ..ctx.clone()
            };
            if alternative {
                child.alternative = Some(AlternativeBranch {
                    group: info.number.clone(),
                    branch: i,
                });
            }
            let number = child_number(&info.number, i + 1);
            if signed && i > 0 {
                // The signature of multipart/signed: no content of its own.
                let loc = PartInfo {
                    number,
                    content_type: "application/signature".into(),
                    filename: None,
                };
                let (h, _) = Headers::parse(part);
                let ct = content_type(&h, false);
                self.unsupported(
                    PartInfo {
                        content_type: ct.mimetype,
                        ..loc
                    }
                    .location(None),
                    "signature",
                );
                continue;
            }
            if part.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let (headers, body_start) = Headers::parse(part);
            let ctype = content_type(&headers, child.in_digest);
            self.entity(&headers, ctype, &part[body_start..], number, child);
        }
    }

    pub(super) fn embedded_message(&mut self, data: &[u8], info: &PartInfo, ctx: Context) {
        let depth = ctx.depth + 1;
        if let Err(e) = self.budget.check_depth(depth) {
            self.unscannable(info.location(None), e);
            return;
        }
        let (headers, body_start) = Headers::parse(data);
        let child = Context {
            depth,
            section: Section::Attachments,
            alternative: None,
            in_digest: false,
        };
        self.message(&headers, &data[body_start..], &info.number, child);
    }

    /// A text/plain body: uuencoded files inside it are cut out and
    /// extracted as attachments; inline PGP blocks are reported.
    pub(super) fn plain_text(
        &mut self,
        data: Cow<[u8]>,
        charset: Option<&str>,
        info: &PartInfo,
        ctx: &Context,
    ) {
        let uu = if may_hold_uuencoded(&data) {
            find_uuencoded(&data)
        } else {
            Vec::new()
        };
        let data = if uu.is_empty() {
            data
        } else {
            let mut text_bytes = Vec::with_capacity(data.len());
            let mut last = 0;
            for f in &uu {
                text_bytes.extend_from_slice(&data[last..f.span.start]);
                last = f.span.end;
            }
            text_bytes.extend_from_slice(&data[last..]);
            Cow::Owned(text_bytes)
        };
        static PGP: std::sync::LazyLock<memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memmem::Finder::new(b"-----BEGIN PGP MESSAGE-----"));
        if PGP.find(&data).is_some() {
            self.unscannable(info.location(None), "PGP encrypted body (inline)");
        }
        // A decoded body becomes the text itself when it can.
        let text = match data {
            Cow::Borrowed(bytes) => charset::decode(bytes, charset),
            Cow::Owned(bytes) => charset::decode_owned(bytes, charset),
        };
        self.text(info.location(None), text, ctx);
        for file in uu {
            let attached = PartInfo {
                number: info.number.clone(),
                content_type: "application/octet-stream".into(),
                filename: Some(file.name.clone()),
            };
            let attach_ctx = Context {
                section: Section::Attachments,
                ..ctx.clone()
            };
            let location = Location {
                field: Some(Field::Filename),
                ..attached.location(None)
            };
            self.text(location, file.name.clone(), &attach_ctx);
            self.document(file.data, &attached, None, None, &attach_ctx);
        }
    }
}

/// A decoded parameter value: RFC 2231 (already joined and decoded by
/// `mailparse` for charsets it knows; `name*` with an unknown charset is
/// decoded here with the charset fallback), then RFC 2047 encoded words,
/// which many clients put in file names.
pub(super) fn param_value(
    params: &std::collections::BTreeMap<String, String>,
    name: &str,
) -> Option<String> {
    if let Some(v) = params.get(name) {
        return Some(decode_encoded_words(v));
    }
    let extended = params.get(&format!("{name}*"))?;
    let mut pieces = extended.splitn(3, '\'');
    let (charset, _lang, encoded) = (pieces.next()?, pieces.next()?, pieces.next()?);
    let bytes = crate::transfer::decode_percent(encoded);
    Some(charset::decode(&bytes, Some(charset)))
}

pub(super) fn content_type(headers: &Headers, in_digest: bool) -> mailparse::ParsedContentType {
    match headers.unfolded("content-type") {
        Some(v) if v.contains('/') => params::content_type(&v),
        _ => {
            let mut ct = mailparse::ParsedContentType::default();
            if in_digest {
                ct.mimetype = "message/rfc822".into();
            }
            ct
        }
    }
}

/// Splits a multipart body at its boundary lines. `None` when no opening
/// boundary is present (the caller scans the body as text).
///
/// A delimiter is a line starting with `--boundary` followed by `--`, blanks
/// or the end of the line (so boundary `a` does not match `--ab`). The line
/// break before a delimiter belongs to it. A missing closing delimiter ends
/// the last part at the end of the body; a repeated delimiter yields an
/// empty part.
pub(super) fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Option<Vec<&'a [u8]>> {
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&delimiter);
    // (start of delimiter line, end of delimiter line incl. its line break, closing?)
    let mut delimiters: Vec<(usize, usize, bool)> = Vec::new();
    let mut from = 0;
    while let Some(p) = finder.find(&body[from..]).map(|p| p + from) {
        from = p + delimiter.len();
        if p > 0 && body[p - 1] != b'\n' {
            continue;
        }
        let rest = &body[p + delimiter.len()..];
        let closing = rest.starts_with(b"--");
        let after = if closing { &rest[2..] } else { rest };
        let line_end = after.iter().position(|&b| b == b'\n');
        let tail = &after[..line_end.unwrap_or(after.len())];
        if !tail.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let end = p
            + delimiter.len()
            + (rest.len() - after.len())
            + line_end.map_or(after.len(), |e| e + 1);
        delimiters.push((p, end, closing));
        if closing {
            break;
        }
    }
    let first = delimiters.first()?;
    if first.2 {
        // Only a closing delimiter: no parts at all.
        return Some(Vec::new());
    }
    let mut parts = Vec::with_capacity(delimiters.len());
    for (i, &(_, end, closing)) in delimiters.iter().enumerate() {
        if closing {
            break;
        }
        let stop = delimiters
            .get(i + 1)
            .map_or(body.len(), |&(next_start, _, _)| {
                strip_line_break(body, end, next_start)
            });
        parts.push(&body[end..stop.max(end)]);
    }
    Some(parts)
}

pub(super) fn strip_line_break(body: &[u8], floor: usize, mut at: usize) -> usize {
    if at > floor && body[at - 1] == b'\n' {
        at -= 1;
        if at > floor && body[at - 1] == b'\r' {
            at -= 1;
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{extract, Limits};

    #[test]
    fn multipart_split_variants() {
        let body = b"preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b \r\n\r\ntwo\r\n--b--\r\nepilogue";
        let parts = split_multipart(body, b"b").unwrap();
        assert_eq!(parts, vec![&b"A: 1\r\n\r\none"[..], &b"\r\ntwo"[..]]);
        // Missing closing delimiter: last part runs to the end.
        assert_eq!(
            split_multipart(b"--b\n\nx\n", b"b").unwrap(),
            vec![&b"\nx\n"[..]]
        );
        // Boundary prefix of a longer one is not a delimiter.
        assert_eq!(split_multipart(b"--bb\n\nx", b"b"), None);
        // Duplicated delimiter: an empty part.
        assert_eq!(
            split_multipart(b"--b\n--b\n\nx", b"b").unwrap(),
            vec![&b""[..], &b"\nx"[..]]
        );
    }

    #[test]
    fn part_numbers_follow_rfc3501() {
        let raw = b"Subject: s\nContent-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\nplain\n--i\nContent-Type: text/html\n\n<b>html</b>\n--i--\n--o\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner body\n--o--\n";
        let x = extract(raw, &Limits::default());
        let got: Vec<(Option<&str>, &str, Section)> = x
            .parts
            .iter()
            .map(|p| (p.location.part.as_deref(), p.text.trim(), p.section))
            .collect();
        assert_eq!(
            got,
            vec![
                (None, "s", Section::Subject),
                (Some("1.1"), "plain", Section::Body),
                (Some("1.2"), "html", Section::Body),
                (Some("2"), "inner", Section::Attachments),
                (Some("2.1"), "inner body", Section::Attachments),
            ]
        );
        assert_eq!(
            x.parts[1].alternative,
            Some(AlternativeBranch {
                group: "1".into(),
                branch: 0
            })
        );
        assert_eq!(
            x.parts[2].alternative,
            Some(AlternativeBranch {
                group: "1".into(),
                branch: 1
            })
        );
    }
}
