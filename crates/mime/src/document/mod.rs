//! Attachments to text: format detection and the leaf extractors.
//!
//! Every extractor here is a plain function from bytes to text (or to
//! archive entries) that may panic on hostile input; `message` runs them
//! in process under [`crate::containment::guarded`] or in a worker process
//! ([`crate::worker`]) and charges what they expand to the
//! message's budget. Archive extractors return entries rather than recursing,
//! so nesting, limits and locations are handled in one place.

pub(crate) mod archive;
pub(crate) mod office;
pub(crate) mod pdf;
pub(crate) mod rtf;
pub(crate) mod sheet;

use memchr::memmem;

/// What an attachment is, decided from its bytes first, then its declared
/// type and file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Html,
    Rtf,
    Pdf,
    Docx,
    Pptx,
    OpenDocumentText,
    Spreadsheet,
    Zip,
    Gzip,
    Tar,
    Message,
    /// OOXML inside an encrypted OLE container.
    EncryptedOffice,
    /// Something we do not extract text from, with why.
    Unsupported(&'static str),
}

fn extension(filename: Option<&str>) -> String {
    filename
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Decides the format of `data`, declared as `content_type` and named
/// `filename`. Magic bytes win over labels: mail clients label documents
/// `application/octet-stream` all the time, and an attacker can label a
/// zip `text/plain`.
pub(crate) fn sniff(data: &[u8], content_type: &str, filename: Option<&str>) -> Format {
    let ext = extension(filename);
    let ct = content_type;
    if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        return sniff_zip(data, ct, &ext);
    }
    let head = &data[..data.len().min(1024)];
    if memmem::find(head, b"%PDF-").is_some() {
        return Format::Pdf;
    }
    if data.starts_with(b"{\\rtf") {
        return Format::Rtf;
    }
    if data.starts_with(&[0x1f, 0x8b]) {
        return Format::Gzip;
    }
    if data.len() > 262 && &data[257..262] == b"ustar" {
        return Format::Tar;
    }
    if data.starts_with(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]) {
        let encrypted_marker: Vec<u8> = "EncryptionInfo"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        if memmem::find(data, &encrypted_marker).is_some() {
            return Format::EncryptedOffice;
        }
        return Format::Unsupported("legacy binary Office (OLE) document");
    }
    if data.starts_with(b"MZ")
        || data.starts_with(b"\x7fELF")
        || data.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
    {
        return Format::Unsupported("executable");
    }
    if ct == "application/ms-tnef"
        || ct == "application/vnd.ms-tnef"
        || ext == "dat" && data.starts_with(&[0x78, 0x9f, 0x3e, 0x22])
    {
        return Format::Unsupported("TNEF (winmail.dat)");
    }
    match ext.as_str() {
        "docx" | "docm" | "xlsx" | "xlsm" | "pptx" | "odt" | "ods" | "odp" | "zip" => {
            // Declared as a zip-based format but not a zip.
            return Format::Unsupported("not a readable zip container");
        }
        _ => {}
    }
    let top = ct.split('/').next().unwrap_or("");
    if matches!(top, "image" | "audio" | "video" | "font" | "model") {
        return Format::Unsupported(match top {
            "image" => "image",
            "audio" => "audio",
            "video" => "video",
            _ => "binary media",
        });
    }
    if matches!(
        ext.as_str(),
        "png" | "jpg" | "jpeg" | "gif" | "bmp" | "tif" | "tiff" | "webp" | "ico" | "heic" | "svgz"
    ) {
        return Format::Unsupported("image");
    }
    if matches!(
        ext.as_str(),
        "mp3" | "wav" | "ogg" | "m4a" | "mp4" | "mov" | "avi" | "mkv"
    ) {
        return Format::Unsupported("audio or video");
    }
    if matches!(
        ext.as_str(),
        "exe" | "dll" | "msi" | "so" | "dylib" | "class" | "jar"
    ) {
        return Format::Unsupported("executable");
    }
    if ct == "text/html" || matches!(ext.as_str(), "html" | "htm" | "xhtml") {
        return Format::Html;
    }
    if ct == "text/rtf" || ct == "application/rtf" || ext == "rtf" {
        return Format::Rtf;
    }
    if ct == "message/rfc822" || ct == "message/global" || ext == "eml" {
        return Format::Message;
    }
    if ct.starts_with("text/")
        || matches!(
            ct,
            "application/json" | "application/xml" | "application/csv" | "application/x-sh"
        )
        || matches!(
            ext.as_str(),
            "txt" | "csv" | "tsv" | "json" | "xml" | "log" | "md" | "ini" | "yaml" | "yml"
        )
    {
        return Format::Text;
    }
    if ct.starts_with("application/pgp") || ct.contains("pkcs7") || ct.contains("pkcs10") {
        return Format::Unsupported("signature or key material");
    }
    if looks_textual(data) {
        Format::Text
    } else {
        Format::Unsupported("binary data of unknown format")
    }
}

fn sniff_zip(data: &[u8], ct: &str, ext: &str) -> Format {
    let has = |needle: &[u8]| memmem::find(data, needle).is_some();
    match ext {
        "docx" | "docm" | "dotx" => return Format::Docx,
        "pptx" | "pptm" | "ppsx" => return Format::Pptx,
        "xlsx" | "xlsm" | "ods" => return Format::Spreadsheet,
        "odt" | "odp" => return Format::OpenDocumentText,
        _ => {}
    }
    if ct.contains("wordprocessingml") || has(b"word/document.xml") {
        Format::Docx
    } else if ct.contains("presentationml") || has(b"ppt/presentation.xml") {
        Format::Pptx
    } else if ct.contains("spreadsheetml")
        || has(b"xl/workbook.xml")
        || has(b"application/vnd.oasis.opendocument.spreadsheet")
    {
        Format::Spreadsheet
    } else if has(b"application/vnd.oasis.opendocument.text")
        || has(b"application/vnd.oasis.opendocument.presentation")
    {
        Format::OpenDocumentText
    } else {
        Format::Zip
    }
}

/// No NUL bytes in the first 8 KiB: text by the same test `grep` uses.
pub(crate) fn looks_textual(data: &[u8]) -> bool {
    let head = &data[..data.len().min(8192)];
    if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
        return true;
    }
    !head.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_beats_labels() {
        assert_eq!(
            sniff(b"%PDF-1.4 ...", "application/octet-stream", Some("a.bin")),
            Format::Pdf
        );
        assert_eq!(
            sniff(b"\x1f\x8b\x08\x00", "text/plain", Some("x.txt")),
            Format::Gzip
        );
        assert_eq!(
            sniff(b"{\\rtf1 hi}", "application/octet-stream", None),
            Format::Rtf
        );
        assert_eq!(
            sniff(b"MZ\x90\0", "application/pdf", Some("x.pdf")),
            Format::Unsupported("executable")
        );
    }

    #[test]
    fn labels_and_text_fallback() {
        assert_eq!(
            sniff(b"a,b\n1,2", "application/octet-stream", Some("data.csv")),
            Format::Text
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0", "image/png", Some("a.png")),
            Format::Unsupported("image")
        );
        assert_eq!(
            sniff(b"plain words", "application/octet-stream", None),
            Format::Text
        );
        assert_eq!(
            sniff(b"\0\x01\x02", "application/octet-stream", None),
            Format::Unsupported("binary data of unknown format")
        );
        assert_eq!(
            sniff(b"<p>x</p>", "application/octet-stream", Some("a.htm")),
            Format::Html
        );
    }
}
