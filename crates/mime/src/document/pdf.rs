//! PDF text through `pdf-extract` (which uses `lopdf`).
//!
//! Runs in an extraction worker process (see [`crate::worker`]): both
//! crates panic on damaged files, and content streams can be made to inflate
//! to gigabytes (a stream deflated twice, one stream listed thousands of
//! times on a page), which only the worker's address-space cap bounds.
//!
//! Content that was not read never passes as clean: a page that draws
//! (images, text operators) but yields no text makes the PDF unscannable
//! (`no text layer (pages 3, 7)`), and so do pages that the page tree does
//! not reach (a tree that contains itself yields no pages at all).

use pdf_extract::{
    content::Content, Document, MediaBox, OutputDev, OutputError, PlainTextOutput, Transform,
};

use crate::worker::Extracted;

/// Extracts the text of a PDF. A PDF encrypted with a user password cannot
/// be read; one with only an owner password (copy/print restrictions) is
/// decrypted with the empty password.
pub(crate) fn extract(data: &[u8]) -> Result<Extracted, String> {
    let unreadable = |e: &dyn std::fmt::Display| {
        if memchr::memmem::find(data, b"/Encrypt").is_some() {
            format!("password-protected PDF ({e})")
        } else {
            format!("PDF unreadable: {e}")
        }
    };
    let mut doc = Document::load_mem(data).map_err(|e| unreadable(&e))?;
    if doc.is_encrypted() {
        doc.decrypt("").map_err(|e| unreadable(&e))?;
    }
    let pages = doc.get_pages();
    let declared = doc
        .objects
        .values()
        .filter(|o| {
            o.as_dict()
                .ok()
                .and_then(|d| d.get(b"Type").ok())
                .and_then(|t| t.as_name().ok())
                == Some(b"Page".as_slice())
        })
        .count();
    let mut text = String::new();
    let mut tracker = PageTracker {
        inner: PlainTextOutput::new(&mut text),
        visible: 0,
        page: 0,
        blank: Vec::new(),
    };
    pdf_extract::output_doc(&doc, &mut tracker).map_err(|e| unreadable(&e))?;
    let blank = std::mem::take(&mut tracker.blank);
    drop(tracker);
    let mut problems = Vec::new();
    let unread = declared.saturating_sub(pages.len());
    if unread > 0 {
        problems.push(format!(
            "{unread} of {declared} pages not reachable from the page tree"
        ));
    }
    let textless: Vec<String> = blank
        .into_iter()
        .filter(|n| pages.get(n).is_some_and(|id| draws(&doc, *id)))
        .map(|n| n.to_string())
        .collect();
    if !textless.is_empty() {
        problems.push(format!("no text layer (pages {})", textless.join(", ")));
    }
    Ok(Extracted {
        expanded: text.len() as u64,
        text,
        truncated: false,
        unscannable: (!problems.is_empty()).then(|| problems.join("; ")),
    })
}

/// Whether a page's content paints something a reader would see as
/// content: an image or form (`Do`, inline `BI`) or text operators (which
/// yielded nothing if we are asking). Vector-only pages (rules, boxes) are
/// not content a text layer could carry.
fn draws(doc: &Document, page: (u32, u16)) -> bool {
    let Ok(bytes) = doc.get_page_content(page) else {
        // Content that cannot even be decoded is not text we read.
        return !doc.get_page_contents(page).is_empty();
    };
    match Content::decode(&bytes) {
        Ok(content) => content
            .operations
            .iter()
            .any(|op| matches!(op.operator.as_str(), "Do" | "BI" | "Tj" | "TJ" | "'" | "\"")),
        Err(_) => !bytes.iter().all(u8::is_ascii_whitespace),
    }
}

/// Plain-text output that also notes which pages produced no visible
/// character.
struct PageTracker<'a> {
    inner: PlainTextOutput<&'a mut String>,
    visible: usize,
    page: u32,
    blank: Vec<u32>,
}

impl OutputDev for PageTracker<'_> {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.page = page_num;
        self.visible = 0;
        self.inner.begin_page(page_num, media_box, art_box)
    }
    fn end_page(&mut self) -> Result<(), OutputError> {
        if self.visible == 0 {
            self.blank.push(self.page);
        }
        self.inner.end_page()
    }
    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        if char.chars().any(|c| !c.is_whitespace() && !c.is_control()) {
            self.visible += 1;
        }
        self.inner
            .output_character(trm, width, spacing, font_size, char)
    }
    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.inner.begin_word()
    }
    fn end_word(&mut self) -> Result<(), OutputError> {
        self.inner.end_word()
    }
    fn end_line(&mut self) -> Result<(), OutputError> {
        self.inner.end_line()
    }
}
