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
//!   Content-Type / Content-Disposition parameters including RFC 2231
//!   continuations. Encoded words (RFC 2047) and transfer encodings are
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
//! * **Third-party parsers are contained.** PDF, Office, spreadsheet and
//!   archive extractors run on reused worker threads with 256 MiB stacks, under
//!   `catch_unwind`, with the message's remaining scan time as a deadline
//!   (see [`containment`]). A panic, a deep recursion that fits the big stack
//!   or a runaway loop becomes an unscannable part with a reason. The one
//!   exception: Office documents up to 1 MiB are extracted on the calling
//!   thread under `catch_unwind` alone, because their parsers (zip, inflate,
//!   quick-xml's pull reader) are iterative and linear in input the part
//!   allowance bounds, and waking a worker for each one cost more than the
//!   extraction itself (it halved a mail folder's scan time).
//!
//! **Remaining risk:** a third-party parser that aborts the process
//! (`std::process::abort`, an allocation failure, or a recursion deeper than
//! the worker's 256 MiB stack) still kills it; a runaway extractor thread
//! past its deadline is abandoned, not killed (Rust threads cannot be), and
//! keeps one core busy until it ends.
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

pub use html::html_to_text;
pub use limits::Limits;
pub use location::{Field, Location};
pub use message::{
    extract, extract_document, AlternativeBranch, Extraction, Section, SkippedPart, TextPart,
};
