//! `sluice-scan extract` through the built binary: input kinds, JSON shape,
//! order, errors and exit codes, and corpus fidelity against Python's email.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice-scan"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn extract_json(args: &[&str]) -> (Output, Vec<Value>) {
    let out = bin()
        .args(["extract", "--format", "json"])
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    let lines = json_lines(&out);
    (out, lines)
}

#[test]
fn json_shape_matches_the_spec() {
    let (out, lines) = extract_json(&["fixtures/messages/card-number.eml"]);
    assert!(out.status.success());
    assert_eq!(lines.len(), 1);
    let m = &lines[0];
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["path", "parts", "unscannable", "unsupported", "error"]
    );
    assert_eq!(m["path"], "fixtures/messages/card-number.eml");
    assert_eq!(m["error"], Value::Null);
    let body = &m["parts"][1];
    assert_eq!(
        body["location"],
        serde_json::json!({"part": "1", "content_type": "text/plain", "filename": null, "archive_path": null, "field": null})
    );
    assert!(body["text"]
        .as_str()
        .unwrap()
        .contains("4111 1111 1111 1111 12/29"));
    assert_eq!(m["parts"][0]["location"]["field"], "subject");
    assert_eq!(m["parts"][0]["location"]["part"], Value::Null);
}

#[test]
fn unscannable_and_unsupported_are_listed_with_reasons() {
    let (_, lines) = extract_json(&["fixtures/messages/locked-attachments.eml"]);
    let u = &lines[0]["unscannable"][0];
    assert_eq!(u["reason"], "encrypted archive entry");
    assert_eq!(u["location"]["archive_path"], "cards.txt");
    assert_eq!(u["location"]["filename"], "encrypted.zip");
    assert_eq!(
        lines[0]["unsupported"][0]["location"]["filename"],
        "logo.png"
    );
}

#[test]
fn folders_mbox_maildir_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("b.eml"), "Subject: second\n\nb").unwrap();
    std::fs::write(
        d.join("a.eml"),
        "From x@y Sat Nov 28 09:14:03 2026\nSubject: first\n\na",
    )
    .unwrap();
    std::fs::write(d.join("notes.txt"), "not mail").unwrap();
    std::fs::write(d.join("box.mbox"), "From a@b Sat Nov 28 09:14:03 2026\nSubject: m1\n\none\n\nFrom c@d Sat Nov 28 09:14:04 2026\nSubject: m2\n\ntwo\n").unwrap();
    for sub in ["Maildir/cur", "Maildir/new", "Maildir/tmp"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("Maildir/cur/1.host:2,S"), "Subject: seen\n\nx").unwrap();
    std::fs::write(d.join("Maildir/new/2.host"), "Subject: unseen\n\ny").unwrap();
    std::fs::write(d.join("Maildir/tmp/3.host"), "Subject: in delivery\n\nz").unwrap();

    let out = bin()
        .args(["extract", "--format", "json"])
        .arg(d)
        .output()
        .unwrap();
    assert!(out.status.success());
    let got: Vec<(String, String)> = json_lines(&out)
        .iter()
        .map(|m| {
            let name = m["path"]
                .as_str()
                .unwrap()
                .strip_prefix(&format!("{}/", d.display()))
                .unwrap()
                .to_owned();
            (name, m["parts"][0]["text"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected = [
        ("Maildir/cur/1.host:2,S", "seen"),
        ("Maildir/new/2.host", "unseen"),
        ("a.eml", "first"),
        ("b.eml", "second"),
        ("box.mbox#1", "m1"),
        ("box.mbox#2", "m2"),
    ];
    assert_eq!(got, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));

    let mut child = bin()
        .args(["extract", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Subject: piped\n\nhello")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines = json_lines(&out);
    assert_eq!(lines[0]["path"], "-");
    assert_eq!(lines[0]["parts"][1]["text"], "hello");
}

#[test]
fn unreadable_path_is_an_error_line_and_exit_2_in_input_order() {
    let (out, lines) = extract_json(&[
        "fixtures/messages/card-number.eml",
        "no/such/file.eml",
        "fixtures/messages/charsets.eml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let paths: Vec<&str> = lines.iter().map(|m| m["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "fixtures/messages/card-number.eml",
            "no/such/file.eml",
            "fixtures/messages/charsets.eml"
        ]
    );
    assert!(lines[1]["error"]
        .as_str()
        .unwrap()
        .contains("no/such/file.eml"));
    assert_eq!(lines[1]["parts"], serde_json::json!([]));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("No such file"));
}

#[test]
fn malformed_message_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.eml");
    std::fs::write(
        &p,
        b"Content-Type: multipart/mixed; boundary=\"x\n\n\0\0--x\n\xff\xfe",
    )
    .unwrap();
    let out = bin()
        .args(["extract", "--format", "json"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json_lines(&out)[0]["error"], Value::Null);
}

#[test]
fn a_binary_is_scanned_with_a_warning_and_mail_with_binary_parts_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("program.bin");
    let mut bytes = b"\x7fELF\x02\x01\x01\0\0\0".to_vec();
    bytes.extend_from_slice(b" 4111 1111 1111 1111 ");
    std::fs::write(&binary, &bytes).unwrap();
    let mail = dir.path().join("utf16.eml");
    std::fs::write(
        &mail,
        b"Content-Type: text/plain; charset=utf-16le\nContent-Transfer-Encoding: binary\n\nH\0i\0",
    )
    .unwrap();
    let out = bin()
        .args([
            "scan",
            "--config",
            "fixtures/demo/sluice.toml",
            "--format",
            "json",
        ])
        .arg(&binary)
        .arg(&mail)
        .current_dir(repo())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("program.bin: not a mail message (a binary file)"),
        "{stderr}"
    );
    // Still scanned: the card number in it is found.
    assert_eq!(json_lines(&out)[0]["policy"], "Card block");
}

#[test]
fn human_format_names_locations() {
    let out = bin()
        .args(["extract", "fixtures/messages/forwarded-archive.eml"])
        .current_dir(repo())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "[part 2.2 application/zip \"bundle.zip\" > data/export.tgz/export/customers.csv]"
        ),
        "{text}"
    );
    assert!(text.contains("Bob,Account Manager"));
}

/// Every word of every text part that Python's email package decodes must
/// be in our extraction (tests/corpus_fidelity.py; misses are explained in
/// the README). Skipped with a notice when the corpus or python3 is absent.
#[test]
fn corpus_fidelity_against_python_email() {
    let corpus = std::env::var_os("SLUICE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/corpus"));
    if !corpus.join("eml").is_dir() {
        // In CI the corpus is laid beside the clone: missing, it is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "../shared/corpus missing in CI"
        );
        eprintln!(
            "NOTICE: {} not found; corpus fidelity test skipped",
            corpus.display()
        );
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus_fidelity.py");
    let out = match Command::new("python3")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_sluice-scan"))
        .arg(&corpus)
        .args(["--min-share", "99.9"])
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "python3 not runnable in CI: {e}"
            );
            eprintln!("NOTICE: python3 not runnable ({e}); corpus fidelity test skipped");
            return;
        }
    };
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
