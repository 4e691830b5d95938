//! PDF text through `pdf-extract` (which uses `lopdf`). Both are known to
//! panic on damaged files; callers run this under containment.

/// Extracts the text of a PDF. A PDF encrypted with a user password cannot
/// be read; one with only an owner password (copy/print restrictions) is
/// decrypted with the empty password by `pdf-extract`.
pub(crate) fn extract(data: &[u8]) -> Result<String, String> {
    match pdf_extract::extract_text_from_mem(data) {
        Ok(text) => Ok(text),
        Err(e) if memchr::memmem::find(data, b"/Encrypt").is_some() => {
            Err(format!("password-protected PDF ({e})"))
        }
        Err(e) => Err(format!("PDF unreadable: {e}")),
    }
}
