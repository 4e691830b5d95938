//! A program that embeds the crate without enabling workers gets PDFs and
//! spreadsheets as unscannable (SPEC §3.1) until it opts in to in-process
//! extraction. One test: the mode is process-wide.

use sluice_mime::{extract_document, worker, Limits};

#[test]
fn without_workers_pdfs_are_unscannable_until_in_process_is_chosen() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/hostile/text.pdf"
    );
    let pdf = std::fs::read(path).unwrap();
    let x = extract_document(&pdf, "text.pdf", &Limits::default());
    assert!(x.parts.iter().all(|p| !p.text.contains("Customer")));
    assert_eq!(x.unscannable.len(), 1);
    assert_eq!(x.unscannable[0].reason, "extractor workers not enabled");

    worker::enable_in_process_extraction();
    let x = extract_document(&pdf, "text.pdf", &Limits::default());
    assert!(x.unscannable.is_empty());
    assert!(x
        .parts
        .iter()
        .any(|p| p.text.contains("Customer Account Manager")));
}
