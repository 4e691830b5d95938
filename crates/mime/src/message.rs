//! The MIME tree walk: message → [`Extraction`].

use std::borrow::Cow;

use memchr::memmem;
use serde::Serialize;

use crate::charset;
use crate::containment::guarded;
use crate::document::archive::{self, Allowance, Listing, Stop};
use crate::document::{self, office, Format};
use crate::header::{decode_encoded_words, Headers};
use crate::html::html_to_text;
use crate::limits::{Budget, Exceeded};
use crate::location::{Field, Location};
use crate::transfer::{find_uuencoded, TransferEncoding};
use crate::worker;
use crate::Limits;

/// Which part of a message a text belongs to, for a rule's `scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// The message's own Subject header.
    Subject,
    /// The message's own text and HTML parts.
    Body,
    /// Everything else: file names, attachments, archives, attached and
    /// forwarded messages (including their subjects and bodies).
    Attachments,
}

/// Membership of a text in one branch of a `multipart/alternative`: texts
/// with the same `group` are alternative renderings of one content, so a
/// `total` count must take only the best branch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlternativeBranch {
    /// Part number of the `multipart/alternative` (`""` for a top-level one).
    pub group: String,
    /// Index of the branch (0-based) inside the group.
    pub branch: usize,
}

/// One piece of decoded text and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPart {
    /// Where the text is in the message (SPEC §3.1).
    pub location: Location,
    /// Decoded text, not yet normalized for matching.
    pub text: String,
    /// Scope section the text belongs to.
    pub section: Section,
    /// Set when the text is inside a `multipart/alternative`.
    pub alternative: Option<AlternativeBranch>,
}

/// A part whose text is not in [`Extraction::parts`], and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedPart {
    /// Where the part is.
    pub location: Location,
    /// Why it was not scanned, for people.
    pub reason: String,
}

/// Everything extracted from one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extraction {
    /// Decoded top-level Subject.
    pub subject: Option<String>,
    /// Top-level Message-ID, as written.
    pub message_id: Option<String>,
    /// Decoded top-level From.
    pub from: Option<String>,
    /// Decoded top-level To, Cc and Bcc fields (each field one entry).
    pub recipients: Vec<String>,
    /// `Auto-Submitted` (RFC 3834), to recognise auto-replies.
    pub auto_submitted: Option<String>,
    /// `Precedence` (bulk, list, junk).
    pub precedence: Option<String>,
    /// Texts in message order.
    pub parts: Vec<TextPart>,
    /// Content that should have been scanned but could not be.
    pub unscannable: Vec<SkippedPart>,
    /// Content in formats Sluice does not extract (never a policy trigger).
    pub unsupported: Vec<SkippedPart>,
}

/// Extracts every scannable text of `raw` (one RFC 5322 message, CRLF or
/// LF line ends, an optional leading mbox `From ` line), within `limits`.
///
/// Never fails and never panics on malformed input: what cannot be decoded
/// is in [`Extraction::unscannable`].
pub fn extract(raw: &[u8], limits: &Limits) -> Extraction {
    let mut walker = Walker {
        budget: Budget::new(limits),
        out: Extraction::default(),
    };
    let (headers, body_start) = Headers::parse(raw);
    walker.out.subject = headers.text("subject");
    walker.out.message_id = headers.text("message-id");
    walker.out.from = headers.text("from");
    walker.out.auto_submitted = headers.text("auto-submitted");
    walker.out.precedence = headers.text("precedence");
    for name in ["to", "cc", "bcc"] {
        walker.out.recipients.extend(headers.all_text(name));
    }
    let ctx = Context {
        depth: 0,
        section: Section::Body,
        alternative: None,
        in_digest: false,
    };
    walker.message(&headers, &raw[body_start..], "", ctx);
    walker.out
}

/// Extracts the text of one file that is not a mail message: a document,
/// spreadsheet, PDF, text file or archive named `filename` (the name helps
/// detect the format; the content decides). An `.eml` file is walked as a
/// message. Locations are those of a single attachment numbered `"1"`.
///
/// ```
/// use sluice_mime::{extract_document, Limits};
/// let x = extract_document(b"Customer list", "notes.txt", &Limits::default());
/// assert_eq!(x.parts[0].text, "Customer list");
/// ```
pub fn extract_document(data: &[u8], filename: &str, limits: &Limits) -> Extraction {
    let mut walker = Walker {
        budget: Budget::new(limits),
        out: Extraction::default(),
    };
    let info = PartInfo {
        number: "1".into(),
        content_type: "application/octet-stream".into(),
        filename: Some(filename.to_owned()),
    };
    let ctx = Context {
        depth: 0,
        section: Section::Attachments,
        alternative: None,
        in_digest: false,
    };
    walker.document(data.to_vec(), &info, None, None, &ctx);
    walker.out
}

/// Where in the tree the walk is.
#[derive(Debug, Clone)]
struct Context {
    depth: usize,
    section: Section,
    alternative: Option<AlternativeBranch>,
    /// Inside `multipart/digest`, where parts default to `message/rfc822`.
    in_digest: bool,
}

/// A part's identity, carried into everything extracted from it.
#[derive(Debug, Clone)]
struct PartInfo {
    number: String,
    content_type: String,
    filename: Option<String>,
}

impl PartInfo {
    fn location(&self, archive_path: Option<&str>) -> Location {
        Location {
            part: Some(self.number.clone()),
            content_type: Some(self.content_type.clone()),
            filename: self.filename.clone(),
            archive_path: archive_path.map(str::to_owned),
            field: None,
        }
    }
}

fn child_number(parent: &str, index: usize) -> String {
    if parent.is_empty() {
        index.to_string()
    } else {
        format!("{parent}.{index}")
    }
}

struct Walker<'l> {
    budget: Budget<'l>,
    out: Extraction,
}

impl Walker<'_> {
    fn unscannable(&mut self, location: Location, reason: impl ToString) {
        self.out.unscannable.push(SkippedPart {
            location,
            reason: reason.to_string(),
        });
    }

    fn unsupported(&mut self, location: Location, reason: impl ToString) {
        self.out.unsupported.push(SkippedPart {
            location,
            reason: reason.to_string(),
        });
    }

    fn text(&mut self, location: Location, text: String, ctx: &Context) {
        if text.trim().is_empty() {
            return;
        }
        self.out.parts.push(TextPart {
            location,
            text,
            section: ctx.section,
            alternative: ctx.alternative.clone(),
        });
    }

    /// A message (top-level, or the body of a `message/rfc822` part
    /// numbered `number`): its Subject, then its body.
    fn message(&mut self, headers: &Headers, body: &[u8], number: &str, ctx: Context) {
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
        let ctype = content_type(headers, false);
        let body_number = if ctype.mimetype.starts_with("multipart/") {
            number.to_owned()
        } else {
            child_number(number, 1)
        };
        self.entity(headers, body, body_number, ctx);
    }

    /// One MIME entity (part) with its headers and raw body.
    fn entity(&mut self, headers: &Headers, body: &[u8], number: String, ctx: Context) {
        let ctype = content_type(headers, ctx.in_digest);
        let disposition = headers
            .unfolded("content-disposition")
            .map(|d| mailparse::parse_content_disposition(&d));
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
    fn decode_body<'b>(
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

    fn multipart(
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
            self.entity(&headers, &part[body_start..], number, child);
        }
    }

    fn embedded_message(&mut self, data: &[u8], info: &PartInfo, ctx: Context) {
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
    fn plain_text(
        &mut self,
        data: Cow<[u8]>,
        charset: Option<&str>,
        info: &PartInfo,
        ctx: &Context,
    ) {
        let uu = if memmem::find(&data, b"begin ").is_some() {
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
        if memmem::find(&data, b"-----BEGIN PGP MESSAGE-----").is_some() {
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

    /// An attachment or archive entry: detect its format and extract.
    fn document(
        &mut self,
        data: Vec<u8>,
        info: &PartInfo,
        archive_path: Option<&str>,
        charset: Option<&str>,
        ctx: &Context,
    ) {
        let location = info.location(archive_path);
        if let Err(e) = self.budget.check_time() {
            self.unscannable(location, e);
            return;
        }
        let name = archive_path
            .and_then(|p| p.rsplit('/').next())
            .or(info.filename.as_deref());
        let declared = if archive_path.is_some() {
            "application/octet-stream"
        } else {
            info.content_type.as_str()
        };
        let ctx = &Context {
            section: if ctx.section == Section::Body && info.filename.is_some() {
                Section::Attachments
            } else {
                ctx.section
            },
            ..ctx.clone()
        };
        match document::sniff(&data, declared, name) {
            Format::Text => self.text(location, charset::decode_owned(data, charset), ctx),
            Format::Html => self.text(
                location,
                html_to_text(&charset::decode(&data, charset)),
                ctx,
            ),
            Format::Rtf => {
                let result = guarded("rtf", || Ok(document::rtf::to_text(&data)));
                self.leaf_text(location, result, ctx);
            }
            Format::Pdf => self.isolated(worker::Kind::Pdf, &data, location, ctx),
            Format::Spreadsheet => self.isolated(worker::Kind::Spreadsheet, &data, location, ctx),
            format @ (Format::Docx | Format::Pptx | Format::OpenDocumentText) => {
                let allowance = self.budget.part_allowance();
                let result = guarded("office", || office::extract(&data, format, allowance));
                self.leaf_document(location, result, ctx);
            }
            Format::EncryptedOffice => {
                self.unscannable(location, "password-protected Office document")
            }
            Format::Message if archive_path.is_some() => {
                self.archived_message(&data, location, ctx)
            }
            Format::Message => self.embedded_message(&data, info, ctx.clone()),
            format @ (Format::Zip | Format::Gzip | Format::Tar) => {
                self.archive(format, data, info, archive_path, ctx)
            }
            Format::Unsupported(reason) => self.unsupported(location, reason),
        }
    }

    /// Runs an extractor that input can make allocate or loop without
    /// bound, in a worker process (or where [`worker`] is told to), with
    /// the part's allowance and the message's deadline.
    fn isolated(&mut self, kind: worker::Kind, data: &[u8], location: Location, ctx: &Context) {
        let allowance = self.budget.part_allowance();
        let result = worker::extract(
            kind,
            data,
            allowance,
            self.budget.deadline,
            self.budget.limits.max_scan_time,
        );
        match result {
            Ok(extracted) => {
                if let Some(reason) = &extracted.unscannable {
                    self.unscannable(location.clone(), reason);
                }
                let document = office::DocumentText {
                    text: extracted.text,
                    expanded: extracted.expanded,
                    truncated: extracted.truncated,
                };
                self.leaf_document(location, Ok(document), ctx);
            }
            Err(reason) => self.unscannable(location, reason),
        }
    }

    fn leaf_text(&mut self, location: Location, result: Result<String, String>, ctx: &Context) {
        match result {
            Ok(text) => {
                self.budget.charge(text.len() as u64);
                self.text(location, text, ctx);
            }
            Err(reason) => self.unscannable(location, reason),
        }
    }

    fn leaf_document(
        &mut self,
        location: Location,
        result: Result<office::DocumentText, String>,
        ctx: &Context,
    ) {
        match result {
            Ok(doc) => {
                self.budget.charge(doc.expanded);
                if doc.truncated {
                    self.unscannable(location.clone(), self.budget.allowance_reason());
                }
                self.text(location, doc.text, ctx);
            }
            Err(reason) => self.unscannable(location, reason),
        }
    }

    fn archive(
        &mut self,
        format: Format,
        data: Vec<u8>,
        info: &PartInfo,
        archive_path: Option<&str>,
        ctx: &Context,
    ) {
        let location = info.location(archive_path);
        let depth = ctx.depth + 1;
        if let Err(e) = self.budget.check_depth(depth) {
            self.unscannable(location, e);
            return;
        }
        let allowance = Allowance {
            max_entries: self.budget.limits.max_archive_entries,
            per_entry: self.budget.limits.max_part_bytes,
            total: self.budget.remaining_expanded(),
        };
        let inner_name = {
            let name = archive_path
                .and_then(|p| p.rsplit('/').next())
                .or(info.filename.as_deref())
                .unwrap_or("data.gz");
            let lower = name.to_ascii_lowercase();
            if lower.ends_with(".tgz") {
                format!("{}.tar", &name[..name.len() - 4])
            } else if lower.ends_with(".gz") {
                name[..name.len() - 3].to_owned()
            } else {
                name.to_owned()
            }
        };
        let result: Result<Listing, String> = guarded("archive", || match format {
            Format::Zip => archive::read_zip(&data, allowance),
            Format::Gzip => archive::read_gzip(&data, inner_name, allowance),
            _ => archive::read_tar(&data, allowance),
        });
        let listing = match result {
            Ok(l) => l,
            Err(reason) => {
                self.unscannable(location, reason);
                return;
            }
        };
        let join = |path: &str| match archive_path {
            Some(parent) => format!("{parent}/{path}"),
            None => path.to_owned(),
        };
        for (path, reason) in &listing.problems {
            self.unscannable(info.location(Some(&join(path))), reason);
        }
        match listing.stopped {
            Some(Stop::TooManyEntries) => {
                self.unscannable(
                    location.clone(),
                    Exceeded::ArchiveEntries(self.budget.limits.max_archive_entries),
                );
            }
            Some(Stop::OutOfBytes) => self.unscannable(
                location.clone(),
                Exceeded::ExpandedBytes(self.budget.limits.max_expanded_bytes),
            ),
            None => {}
        }
        let nested = Context {
            depth,
            ..ctx.clone()
        };
        if format == Format::Gzip {
            // .tgz / .tar.gz: the tar inside is the archive the user sees;
            // do not add a level for the decompressed stream.
            if let [entry] = &listing.entries[..] {
                if document::sniff(&entry.data, "application/octet-stream", Some(&entry.path))
                    == Format::Tar
                {
                    let entry = listing.entries.into_iter().next().expect("one entry");
                    self.budget.charge(entry.data.len() as u64);
                    self.archive(Format::Tar, entry.data, info, archive_path, ctx);
                    return;
                }
            }
        }
        for entry in listing.entries {
            let path = join(&entry.path);
            if let Err(e) = self.budget.take_part() {
                self.unscannable(info.location(Some(&path)), e);
                break;
            }
            if entry.truncated {
                self.unscannable(
                    info.location(Some(&path)),
                    Exceeded::PartBytes(self.budget.limits.max_part_bytes),
                );
            }
            self.budget.charge(entry.data.len() as u64);
            self.document(entry.data, info, Some(&path), None, &nested);
        }
    }

    /// A message file inside an archive has no RFC 3501 part numbers of
    /// its own: its texts are reported at the archive entry's location
    /// (subjects keep `field: "subject"`).
    fn archived_message(&mut self, data: &[u8], location: Location, ctx: &Context) {
        let depth = ctx.depth + 1;
        if let Err(e) = self.budget.check_depth(depth) {
            self.unscannable(location, e);
            return;
        }
        let limits = Limits {
            max_depth: self.budget.limits.max_depth.min(Limits::DEPTH_CEILING) - depth,
            max_expanded_bytes: self.budget.remaining_expanded(),
            max_scan_time: self.budget.remaining_time(),
            ..self.budget.limits.clone()
        };
        let inner = extract(data, &limits);
        let nested = Context {
            depth,
            section: Section::Attachments,
            alternative: None,
            in_digest: false,
        };
        for part in inner.parts {
            self.budget.charge(part.text.len() as u64);
            let field = part.location.field.filter(|f| *f == Field::Subject);
            self.text(
                Location {
                    field,
                    ..location.clone()
                },
                part.text,
                &nested,
            );
        }
        for skipped in inner.unscannable {
            self.unscannable(location.clone(), skipped.reason);
        }
        for skipped in inner.unsupported {
            self.unsupported(location.clone(), skipped.reason);
        }
    }
}

/// A decoded parameter value: RFC 2231 (already joined and decoded by
/// `mailparse` for charsets it knows; `name*` with an unknown charset is
/// decoded here with the charset fallback), then RFC 2047 encoded words,
/// which many clients put in file names.
fn param_value(params: &std::collections::BTreeMap<String, String>, name: &str) -> Option<String> {
    if let Some(v) = params.get(name) {
        return Some(decode_encoded_words(v));
    }
    let extended = params.get(&format!("{name}*"))?;
    let mut pieces = extended.splitn(3, '\'');
    let (charset, _lang, encoded) = (pieces.next()?, pieces.next()?, pieces.next()?);
    let bytes = crate::transfer::decode_percent(encoded);
    Some(charset::decode(&bytes, Some(charset)))
}

fn content_type(headers: &Headers, in_digest: bool) -> mailparse::ParsedContentType {
    match headers.unfolded("content-type") {
        Some(v) if v.contains('/') => mailparse::parse_content_type(&v),
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
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Option<Vec<&'a [u8]>> {
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

fn strip_line_break(body: &[u8], floor: usize, mut at: usize) -> usize {
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
