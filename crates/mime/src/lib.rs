//! Turns one email message into the text a DLP engine must see.
//!
//! `sluice-mime` decodes a raw RFC 5322 message — headers, MIME tree,
//! transfer encodings, charsets, HTML, office documents, PDFs, RTF, archives
//! and attached or forwarded messages — into a flat list of [`TextPart`]s,
//! each with a [`Location`] that says exactly where the text came from. What
//! could not be decoded is reported, never silently dropped: content that
//! *should* have been scanned but could not be (encrypted, password
//! protected, over a limit, an extractor failed) is **unscannable**; formats
//! we do not extract text from (images, audio, executables) are
//! **unsupported**. The crate knows nothing of DLP: matching is
//! `sluice-dlp`'s business.
//!
//! ```
//! use sluice_mime::{extract, Limits};
//!
//! let raw = b"Subject: Quarterly =?utf-8?q?r=C3=A9sum=C3=A9?=\r\n\
//!             Content-Type: text/html\r\n\r\n<p>Cus<b>tomer</b> list</p>";
//! let message = extract(raw, &Limits::default());
//! assert_eq!(message.parts[0].text, "Quarterly résumé");
//! assert_eq!(message.parts[1].text.trim(), "Customer list");
//! assert_eq!(message.parts[1].location.part.as_deref(), Some("1"));
//! ```
//!
//! # Design decisions
//!
//! * **We walk the MIME tree ourselves.** `mailparse::parse_mail` fails the
//!   *whole* message on a header it dislikes or past 100 nested parts, and
//!   gives no subparts when an opening boundary is missing. A DLP gateway
//!   must scan what decodes, so this crate splits headers and multiparts
//!   itself (tolerating LF-only lines, missing or duplicated boundaries, NUL
//!   bytes and 8-bit headers) and uses `mailparse` for what it does well:
//!   Content-Type / Content-Disposition parameters with RFC 2231 charsets
//!   and continuations (plain values, almost all of them, are read by the
//!   walk itself into `mailparse`'s structures, with its rules and at a
//!   fraction of its cost). Encoded words (RFC 2047) and transfer encodings are
//!   decoded here, leniently, because `mailparse` rejects broken base64 and
//!   leaves unknown-charset words raw.
//! * **Never nothing.** An unknown charset decodes as UTF-8 if the bytes are
//!   valid UTF-8 and as windows-1252 otherwise; UTF-7, which is not a WHATWG
//!   encoding, is decoded by [`charset`].
//! * **Limits are budgets, not guesses.** Every expansion (transfer decoding,
//!   decompression, archive entries, nesting) is charged against the
//!   [`Limits`] of one message; past a limit the rest is unscannable and the
//!   scan goes on with what is left. Decompression reads at most one
//!   part's budget plus one byte, so a zip bomb costs bounded time and memory.
//! * **Parsers that input can blow up run in worker processes.** PDF and
//!   spreadsheet extraction (`pdf-extract`/`lopdf`, `calamine`) can be made
//!   to allocate without bound or loop; they run in separate processes
//!   capped by `max_extractor_memory` (`RLIMIT_AS`) and killed at the
//!   message's deadline (see [`worker`], which also says how a program that
//!   embeds this crate enables them). Without workers those formats are
//!   unscannable (`extractor workers not enabled`) unless the program opts
//!   in to in-process extraction.
//! * **The rest is bounded by construction** and stays in process under
//!   `catch_unwind` ([`containment`]): zip, gzip and tar listings read each
//!   entry through the part allowance plus one byte and stop at
//!   `max_archive_entries`; Office XML (.docx/.pptx/.odt/.odp) is inflated
//!   into at most the allowance and read by quick-xml's pull reader, which
//!   expands no entities and keeps no tree; RTF is our own interpreter with
//!   a capped group stack; HTML is our own linear tag stripper. Each is
//!   iterative, so input controls neither their recursion nor, past the
//!   limits, their memory.
#![deny(missing_docs)]

pub mod charset;
pub mod containment;
mod document;
pub mod header;
mod html;
mod limits;
mod location;
pub mod mailbox;
mod message;
pub mod transfer;
pub mod worker;

pub use html::html_to_text;
pub use limits::Limits;
pub use location::{Field, Location};
pub use message::{
    extract, extract_document, AlternativeBranch, Extraction, Section, SkippedPart, TextPart,
};
