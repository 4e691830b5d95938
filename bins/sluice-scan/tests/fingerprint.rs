//! `sluice-scan fingerprint` end to end: the file holds hashes and names,
//! never text, and finds a ~30% excerpt pasted into HTML or a .docx at
//! `similarity = 20`, but not unrelated text on the same subject.

use std::path::Path;
use std::process::Command;

use sluice_dlp::{
    Definitions, Engine, EntityDefinition, EntityKind, FingerprintSet, RuleDefinition,
};
use sluice_mime::{extract, Limits};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn similarity_rule(set: FingerprintSet) -> Engine {
    Engine::new(Definitions::new(
        vec![EntityDefinition::new(
            "board",
            EntityKind::Fingerprint {
                documents: set,
                similarity: 20,
                min_passage_words: 0,
            },
        )],
        vec![RuleDefinition::new("board papers", &["board"])],
        vec![],
    ))
    .unwrap()
}

fn scan_message(engine: &Engine, name: &str) -> u64 {
    let raw = std::fs::read(repo().join("fixtures/messages").join(name)).unwrap();
    let x = extract(&raw, &Limits::default());
    engine
        .scan(&sluice_policy::segments(&x))
        .rule("board papers")
        .unwrap()
        .count
}

#[test]
fn fingerprint_file_finds_excerpts_and_holds_no_text() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("board.fp");
    let status = Command::new(env!("CARGO_BIN_EXE_sluice-scan"))
        .arg("fingerprint")
        .arg("--out")
        .arg(&out)
        .arg(repo().join("fixtures/attachments/board-minutes.docx"))
        .status()
        .unwrap();
    assert!(status.success());
    let json = std::fs::read_to_string(&out).unwrap();
    for word in ["Northwind", "escrow", "acquisition", "confidential"] {
        assert!(
            !json.to_lowercase().contains(&word.to_lowercase()),
            "{word} leaked into the fingerprint file"
        );
    }
    let set = FingerprintSet::from_json(&json).unwrap();
    assert_eq!(set.documents[0].name, "board-minutes.docx");
    let engine = similarity_rule(set);
    assert_eq!(
        scan_message(&engine, "board-excerpt-html.eml"),
        1,
        "excerpt re-cased and reflowed in HTML"
    );
    assert_eq!(
        scan_message(&engine, "board-excerpt-docx.eml"),
        1,
        "excerpt inside a .docx split across runs"
    );
    assert_eq!(
        scan_message(&engine, "board-unrelated.eml"),
        0,
        "same subject, different text"
    );
}

#[test]
fn unreadable_or_empty_documents_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "too short").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice-scan"))
        .args(["fingerprint", "--out"])
        .arg(dir.path().join("x.fp"))
        .arg(&empty)
        .arg(dir.path().join("missing.docx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("no text to fingerprint"), "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
    assert!(!dir.path().join("x.fp").exists());
}
