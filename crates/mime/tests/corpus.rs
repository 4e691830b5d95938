//! Every message of the shared real-world corpus (../shared/corpus, see its
//! README) extracts without a panic; skipped with a notice when absent.
//! Word-level fidelity against Python's email package is checked through
//! the CLI in bins/sluice-scan/tests/cli.rs.

use std::path::{Path, PathBuf};

use sluice_mime::{Extraction, Limits};

mod common;

/// Extraction with the crate's worker processes enabled, as a program
/// that embeds the crate would run it.
fn extract(raw: &[u8], limits: &Limits) -> Extraction {
    common::with_workers();
    sluice_mime::extract(raw, limits)
}

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SLUICE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    dir.join("eml").is_dir().then_some(dir)
}

fn eml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            eml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "eml") {
            out.push(p);
        }
    }
}

#[test]
fn every_corpus_message_extracts() {
    let Some(dir) = corpus_dir() else {
        // In CI the corpus is laid beside the clone: missing, it is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "../shared/corpus missing in CI"
        );
        eprintln!("NOTICE: ../shared/corpus not found; corpus test skipped");
        return;
    };
    let mut files = Vec::new();
    eml_files(&dir.join("eml"), &mut files);
    assert!(files.len() >= 300, "corpus has {} messages", files.len());
    let mut with_text = 0;
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let x = std::panic::catch_unwind(|| extract(&raw, &Limits::default()))
            .unwrap_or_else(|_| panic!("extraction panicked on {}", f.display()));
        if !x.parts.is_empty() {
            with_text += 1;
        }
    }
    // Three corpus messages have no text at all (an empty body, a digest of
    // empty parts); every other one yields some.
    assert!(
        with_text + 3 >= files.len(),
        "{with_text} of {} messages yielded text",
        files.len()
    );
}
