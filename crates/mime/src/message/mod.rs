//! The MIME tree walk: message → [`Extraction`].
//!
//! `mod.rs` holds what an extraction is and the walker's state;
//! `tree.rs` walks the MIME tree (messages, entities, multiparts, text
//! bodies); `attachments.rs` turns attachments and archive entries into
//! text (in process or in a worker).

use serde::Serialize;

use crate::header::Headers;
use crate::limits::Budget;
use crate::location::Location;
use crate::Limits;

mod attachments;
mod params;
mod tree;

/// Which part of a message a text belongs to, for a rule's `scope`.
/// Exhaustive: SPEC §4's three scopes cover every part. (The DLP engine
/// has its own `Section`: `sluice-mime` knows nothing of DLP and the engine
/// nothing of MIME; `sluice_policy::segments` maps one to the other.)
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
}
