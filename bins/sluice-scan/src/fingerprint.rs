//! `sluice-scan fingerprint --out FILE [--exclude DOC]... DOC...`

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use sluice_dlp::{DocumentFingerprint, FingerprintSet};
use sluice_mime::{extract, extract_document, Limits};

pub fn run(out: &Path, docs: &[String], exclude: &[String]) -> ExitCode {
    let limits = Limits::default();
    let mut set = FingerprintSet::default();
    let mut failed = false;
    for doc in docs {
        let Some((name, text)) = document_text(doc, &limits) else {
            failed = true;
            continue;
        };
        let fingerprint = DocumentFingerprint::new(name, &text);
        if fingerprint.hashes.is_empty() {
            eprintln!(
                "sluice-scan: {doc}: no text to fingerprint (fewer than {} words extracted)",
                sluice_dlp::FINGERPRINT_K
            );
            failed = true;
            continue;
        }
        set.documents.push(fingerprint);
    }
    // Boilerplate: each k-gram of an excluded document leaves every
    // fingerprinted one.
    for doc in exclude {
        match document_text(doc, &limits) {
            Some((_, text)) => set.exclude(&text),
            None => failed = true,
        }
    }
    if failed {
        return ExitCode::from(2);
    }
    if let Err(e) = std::fs::write(out, set.to_json()) {
        eprintln!("sluice-scan: cannot write {}: {e}", out.display());
        return ExitCode::from(2);
    }
    let hashes: usize = set.documents.iter().map(|d| d.hashes.len()).sum();
    let written = writeln!(
        std::io::stdout(),
        "fingerprinted {} document(s), {hashes} hashes, into {}",
        set.documents.len(),
        out.display()
    );
    crate::reported(written, ExitCode::SUCCESS)
}

/// A document's name (its file name) and extracted text; `None` (with a
/// message) when it cannot be read.
fn document_text(doc: &str, limits: &Limits) -> Option<(String, String)> {
    let path = Path::new(doc);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("sluice-scan: cannot read {doc}: {e}");
            return None;
        }
    };
    let name = path
        .file_name()
        .map_or_else(|| doc.to_owned(), |n| n.to_string_lossy().into_owned());
    let is_message = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("eml"));
    let x = if is_message {
        extract(&bytes, limits)
    } else {
        extract_document(&bytes, &name, limits)
    };
    for u in &x.unscannable {
        eprintln!(
            "sluice-scan: warning: {doc}: part not fingerprinted ({}): {}",
            u.location, u.reason
        );
    }
    let text: Vec<&str> = x
        .parts
        .iter()
        .filter(|p| p.location.field.is_none())
        .map(|p| p.text.as_str())
        .collect();
    Some((name, text.join("\n")))
}
