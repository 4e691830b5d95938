//! Word processing and presentation documents (OOXML and OpenDocument):
//! zip containers of XML whose text lives in run elements.
//!
//! Runs of one paragraph join without a space (Word splits words across
//! runs at every formatting or spell-check boundary), while paragraphs,
//! line breaks, tabs and table cells separate words.

use std::io::{Cursor, Read};

use quick_xml::events::Event;
use quick_xml::Reader;

use super::Format;

/// Text of a document and the bytes its XML expanded to.
#[derive(Debug)]
pub(crate) struct DocumentText {
    pub text: String,
    pub expanded: u64,
    /// Set when the allowance ran out before every XML part was read.
    pub truncated: bool,
}

/// Extracts the text of a .docx, .pptx, .odt or .odp held in `data`,
/// reading at most `allowance` bytes of XML.
pub(crate) fn extract(data: &[u8], format: Format, allowance: u64) -> Result<DocumentText, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| format!("document container unreadable: {e}"))?;
    let mut names: Vec<String> = zip
        .file_names_raw()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let dialect = match format {
        Format::Docx => {
            names.retain(|n| {
                n == "word/document.xml"
                    || [
                        "word/header",
                        "word/footer",
                        "word/footnotes",
                        "word/endnotes",
                        "word/comments",
                    ]
                    .iter()
                    .any(|p| n.starts_with(p) && n.ends_with(".xml"))
            });
            // Body first, then the rest in a stable order.
            names.sort_by_key(|n| (n != "word/document.xml", n.clone()));
            Dialect::Ooxml
        }
        Format::Pptx => {
            names.retain(|n| {
                (n.starts_with("ppt/slides/slide") || n.starts_with("ppt/notesSlides/notesSlide"))
                    && n.ends_with(".xml")
            });
            // slide2 before slide10: order by the number in the name.
            names.sort_by_key(|n| {
                let digits: String = n.chars().filter(char::is_ascii_digit).collect();
                (n.contains("notes"), digits.parse::<u64>().unwrap_or(0))
            });
            Dialect::Ooxml
        }
        _ => {
            names.retain(|n| n == "content.xml" || n == "styles.xml");
            names.sort_by_key(|n| n != "content.xml");
            Dialect::OpenDocument
        }
    };
    if names.is_empty() {
        return Err("document has no text content part".into());
    }
    let mut out = DocumentText {
        text: String::new(),
        expanded: 0,
        truncated: false,
    };
    for name in names {
        let index = zip
            .index_for_name(&name)
            .ok_or_else(|| format!("{name}: not found"))?;
        let mut entry = zip
            .by_index_raw(index)
            .map_err(|e| format!("{name}: {e}"))?;
        if entry.encrypted() {
            return Err("password-protected document".into());
        }
        let left = allowance.saturating_sub(out.expanded);
        let mut xml = read_part(&mut entry, left).map_err(|e| format!("{name}: {e}"))?;
        if xml.len() as u64 > left {
            xml.truncate(left as usize);
            out.truncated = true;
        }
        out.expanded += xml.len() as u64;
        xml_text(&String::from_utf8_lossy(&xml), dialect, &mut out.text);
        if out.truncated {
            break;
        }
    }
    Ok(out)
}

/// The bytes of one zip entry, at most `left + 1` of them expanded (one
/// more than allowed tells the caller it was cut).
///
/// The entry is read raw and inflated here with a per-thread inflate
/// state that is reset, not rebuilt, for each part: the zip crate's
/// reader allocates and clears a new state and window per entry, which
/// cost more than inflating the kilobyte of XML a typical part holds.
/// (The CRC is not checked: a damaged document is scanned as far as it
/// inflates, like any damaged part.)
fn read_part(
    entry: &mut zip::read::ZipFile<'_, Cursor<&[u8]>>,
    left: u64,
) -> Result<Vec<u8>, String> {
    let limit = left.saturating_add(1);
    let mut raw =
        Vec::with_capacity(usize::try_from(entry.compressed_size().min(16 << 20)).unwrap_or(0));
    match entry.compression() {
        zip::CompressionMethod::Stored => {
            entry
                .take(limit)
                .read_to_end(&mut raw)
                .map_err(|e| e.to_string())?;
            Ok(raw)
        }
        zip::CompressionMethod::Deflated => {
            entry.read_to_end(&mut raw).map_err(|e| e.to_string())?;
            inflate(&raw, usize::try_from(limit).unwrap_or(usize::MAX))
        }
        other => Err(format!("unsupported compression method {other}")),
    }
}

/// Inflates raw deflate `input` into at most `limit` bytes.
fn inflate(input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    thread_local! {
        static INFLATE: std::cell::RefCell<flate2::Decompress> =
            std::cell::RefCell::new(flate2::Decompress::new(false));
    }
    INFLATE.with_borrow_mut(|state| {
        state.reset(false);
        let mut out = Vec::with_capacity(
            input
                .len()
                .saturating_mul(4)
                .clamp(4096, 1 << 20)
                .min(limit),
        );
        loop {
            let (read, written) = (state.total_in(), out.len());
            let at = usize::try_from(read)
                .unwrap_or(input.len())
                .min(input.len());
            let status = state
                .decompress_vec(&input[at..], &mut out, flate2::FlushDecompress::Finish)
                .map_err(|e| format!("damaged deflate data: {e}"))?;
            if status == flate2::Status::StreamEnd || out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
            if out.len() == out.capacity() {
                // Full: grow (within the limit) and go on.
                out.reserve(out.capacity().min(limit - out.len()).max(4096));
            } else if state.total_in() == read && out.len() == written {
                return Err("deflate data ends early".into());
            }
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// WordprocessingML / DrawingML: text only inside `t` (and `delText`).
    Ooxml,
    /// ODF: every text node is content.
    OpenDocument,
}

/// Appends the text of one XML part to `out`. Malformed XML ends the part
/// early; what was read stays.
pub(crate) fn xml_text(xml: &str, dialect: Dialect, out: &mut String) {
    let mut reader = Reader::from_str(xml);
    let mut in_text = 0usize;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(e) => e,
        };
        match event {
            Event::Start(e) => {
                let name = e.local_name();
                match (dialect, name.as_ref()) {
                    (Dialect::Ooxml, "t" | "delText") => in_text += 1,
                    (Dialect::OpenDocument, "s") => out.push(' '),
                    (_, "tab") => out.push('\t'),
                    (_, "br" | "cr" | "line-break") => out.push('\n'),
                    _ => {}
                }
            }
            Event::Empty(e) => match e.local_name().as_ref() {
                "tab" => out.push('\t'),
                "br" | "cr" | "line-break" => out.push('\n'),
                "s" if dialect == Dialect::OpenDocument => {
                    let count = e
                        .try_get_attribute("text:c")
                        .ok()
                        .flatten()
                        .and_then(|a| a.value.parse::<usize>().ok())
                        .unwrap_or(1);
                    out.extend(std::iter::repeat_n(' ', count.min(64)));
                }
                _ => {}
            },
            Event::End(e) => match (dialect, e.local_name().as_ref()) {
                (Dialect::Ooxml, "t" | "delText") => in_text = in_text.saturating_sub(1),
                (_, "p" | "h") => out.push('\n'),
                (_, "tc" | "table-cell") => out.push('\t'),
                _ => {}
            },
            Event::Text(t) if in_text > 0 || dialect == Dialect::OpenDocument => {
                out.push_str(&t.xml10_content());
            }
            Event::CData(t) if in_text > 0 || dialect == Dialect::OpenDocument => {
                out.push_str(&t);
            }
            Event::GeneralRef(r) if in_text > 0 || dialect == Dialect::OpenDocument => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_xml_entity(&r) {
                    out.push_str(s);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_inflate_whole_cut_at_the_limit_or_fail_when_truncated() {
        use std::io::Write;
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("<w:t>cell {i}</w:t>").into_bytes())
            .collect();
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&text).unwrap();
        let raw = encoder.finish().unwrap();
        assert_eq!(inflate(&raw, usize::MAX).unwrap(), text);
        assert_eq!(inflate(&raw, 1001).unwrap(), &text[..1001]);
        // The state is reset between parts: the same input again.
        assert_eq!(inflate(&raw, usize::MAX).unwrap(), text);
        assert!(inflate(&raw[..raw.len() / 2], usize::MAX).is_err());
    }

    #[test]
    fn runs_join_and_paragraphs_separate() {
        let xml = r#"<w:document xmlns:w="x"><w:body>
            <w:p><w:r><w:t>Cus</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>tomer</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Account </w:t><w:tab/><w:t>Manager &amp; co</w:t></w:r></w:p>
            <w:p><w:r><w:instrText>HYPERLINK "x"</w:instrText></w:r></w:p>
            </w:body></w:document>"#;
        let mut out = String::new();
        xml_text(xml, Dialect::Ooxml, &mut out);
        assert_eq!(out, "Customer\nAccount \tManager & co\n\n");
    }

    #[test]
    fn opendocument_spaces_and_spans() {
        let xml = r#"<office:document-content xmlns:office="o" xmlns:text="t"><office:body><office:text>
            <text:h>Title</text:h><text:p>Sales<text:s text:c="2"/>En<text:span>gineer</text:span></text:p>
            </office:text></office:body></office:document-content>"#;
        let mut out = String::new();
        xml_text(xml, Dialect::OpenDocument, &mut out);
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(words, ["Title", "Sales", "Engineer"]);
    }
}
