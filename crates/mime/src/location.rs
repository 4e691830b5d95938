//! Where a piece of text came from (SPEC §3.1).

use serde::Serialize;

/// The location of a text, unscannable or unsupported part inside a message.
///
/// Serializes exactly as SPEC §3.1 shows:
/// `{"part": "1.2", "content_type": "text/html", "filename": null,
/// "archive_path": null, "field": null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// RFC 3501 (IMAP) part number: `"1"` for a single-part body, `"2.1"` for
    /// the first part inside part 2. `None` only for the top-level Subject.
    pub part: Option<String>,
    /// Lowercased MIME type of the part (`None` for the top-level Subject).
    pub content_type: Option<String>,
    /// The part's decoded file name, if it has one.
    pub filename: Option<String>,
    /// Path inside an archive, `/`-joined across nested archives.
    pub archive_path: Option<String>,
    /// Set when the text is a header-derived field rather than content.
    pub field: Option<Field>,
}

/// A text that comes from a header rather than from a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Field {
    /// The decoded Subject header (of the message or of a forwarded one).
    Subject,
    /// The decoded file name of an attachment.
    Filename,
}

impl std::fmt::Display for Location {
    /// A compact human form: `part 2 application/zip "x.zip" > cards.txt`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.part {
            Some(p) => write!(f, "part {p}")?,
            None => write!(f, "message")?,
        }
        if let Some(ct) = &self.content_type {
            write!(f, " {ct}")?;
        }
        if let Some(name) = &self.filename {
            write!(f, " {name:?}")?;
        }
        if let Some(path) = &self.archive_path {
            write!(f, " > {path}")?;
        }
        match self.field {
            Some(Field::Subject) => write!(f, " (subject)"),
            Some(Field::Filename) => write!(f, " (file name)"),
            None => Ok(()),
        }
    }
}
