//! Malformed and hostile input: scanned as far as it decodes, never a panic.

use sluice_mime::{Extraction, Limits};

mod common;

/// Extraction with the crate's worker processes enabled, as a program
/// that embeds the crate would run it.
fn extract(raw: &[u8], limits: &Limits) -> Extraction {
    common::with_workers();
    sluice_mime::extract(raw, limits)
}

fn texts(raw: &[u8]) -> Vec<String> {
    extract(raw, &Limits::default())
        .parts
        .into_iter()
        .map(|p| p.text.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn lf_only_with_mbox_from_line() {
    let raw = b"From alice@example.com Sat Nov 28 09:14:03 2026\nSubject: hi\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\nCustomer one\n--x--\n";
    assert_eq!(texts(raw), ["hi", "Customer one"]);
}

#[test]
fn missing_opening_boundary_scans_body_as_text() {
    let raw = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=nope\r\n\r\nAccount Manager list\r\n";
    assert_eq!(texts(raw), ["s", "Account Manager list"]);
    let raw = b"Content-Type: multipart/mixed\r\n\r\nno boundary parameter\r\n";
    assert_eq!(texts(raw), ["no boundary parameter"]);
}

#[test]
fn duplicated_and_unclosed_boundaries() {
    let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\nContent-Type: text/plain\n\nfirst\n--b\n\nsecond";
    assert_eq!(texts(raw), ["first", "second"]);
    let numbers: Vec<Option<String>> = extract(raw, &Limits::default())
        .parts
        .into_iter()
        .map(|p| p.location.part)
        .collect();
    assert_eq!(numbers, [Some("1".to_owned()), Some("2".to_owned())]);
}

#[test]
fn missing_content_type_nul_bytes_and_eight_bit_headers() {
    // Latin-1 in one header, raw UTF-8 (RFC 6532) in another.
    let raw = b"Subject: caf\xe9\nX-Note: \xc3\xa9t\xc3\xa9\n\nbody with \0 NUL and caf\xe9\n";
    let t = texts(raw);
    assert_eq!(t, ["café", "body with \0 NUL and café"]);
    let x = extract(b"Subject: \xc3\xa9t\xc3\xa9\n\nx", &Limits::default());
    assert_eq!(x.subject.as_deref(), Some("été"));
}

#[test]
fn truncated_base64_and_bad_quoted_printable() {
    let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\nQ3VzdG9tZXIgbGlzd\n--b\nContent-Transfer-Encoding: quoted-printable\n\nAccount Man=\nager =ZZ=4\n--b--\n";
    assert_eq!(texts(raw), ["Customer lis", "Account Manager =ZZ=4"]);
}

#[test]
fn uuencoded_attachment_inside_a_plain_body() {
    let raw = b"Subject: uu\n\nSee file.\nbegin 644 list.txt\n>0W5S=&]M97(@;&ES=#H@06-C;W5N=\"!-86YA9V5R\n`\nend\nBye\n";
    let x = extract(raw, &Limits::default());
    let t: Vec<(&str, Option<&str>)> = x
        .parts
        .iter()
        .map(|p| (p.text.trim(), p.location.filename.as_deref()))
        .collect();
    assert_eq!(
        t,
        [
            ("uu", None),
            ("See file.\nBye", None),
            ("list.txt", Some("list.txt")),
            ("Customer list: Account Manager", Some("list.txt"))
        ]
    );
}

#[test]
fn encrypted_mail_is_unscannable() {
    let pgp = b"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\n\n--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--b\nContent-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n--b--\n";
    let x = extract(pgp, &Limits::default());
    assert_eq!(x.unscannable.len(), 1);
    assert_eq!(x.unscannable[0].reason, "PGP/MIME encrypted part");
    let smime = b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\nContent-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggHB\n";
    let x = extract(smime, &Limits::default());
    assert_eq!(x.unscannable[0].reason, "S/MIME encrypted part");
    assert_eq!(x.unscannable[0].location.part.as_deref(), Some("1"));
    let inline = b"Subject: x\n\n-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n";
    assert_eq!(
        extract(inline, &Limits::default()).unscannable[0].reason,
        "PGP encrypted body (inline)"
    );
}

#[test]
fn multipart_digest_parts_default_to_messages() {
    let raw = b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst digest body\n--d\n\nSubject: two\n\nsecond\n--d--\n";
    let x = extract(raw, &Limits::default());
    let got: Vec<(Option<&str>, &str)> = x
        .parts
        .iter()
        .map(|p| (p.location.part.as_deref(), p.text.trim()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("1"), "one"),
            (Some("1.1"), "first digest body"),
            (Some("2"), "two"),
            (Some("2.1"), "second")
        ]
    );
}

#[test]
fn endless_nesting_is_cut_at_max_depth() {
    let mut raw = Vec::new();
    for i in 0..5000 {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
        );
    }
    raw.extend_from_slice(b"\ndeep text\n");
    let x = extract(&raw, &Limits::default());
    assert!(x
        .unscannable
        .iter()
        .any(|u| u.reason.contains("max_depth 10")));
    // A configured depth beyond the supported ceiling is clamped, not a
    // stack overflow.
    let x = extract(
        &raw,
        &Limits {
            max_depth: 10_000,
            ..Limits::default()
        },
    );
    assert!(
        x.unscannable
            .iter()
            .any(|u| u.reason.contains("max_depth 100")),
        "{:?}",
        x.unscannable
    );
    let shallow: Vec<u8> = raw
        .split(|&b| b == b'\n')
        .skip(5000 * 3 - 60 * 3)
        .flat_map(|l| l.iter().chain(b"\n"))
        .copied()
        .collect();
    let x = extract(
        &shallow,
        &Limits {
            max_depth: 100,
            ..Limits::default()
        },
    );
    assert!(
        x.parts.iter().any(|p| p.text.contains("deep text")),
        "{:?}",
        x
    );
}

#[test]
fn corrupt_documents_are_unscannable_not_fatal() {
    let attach = |ct: &str, name: &str, body: &[u8]| {
        let mut m = format!(
            "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b\nContent-Type: {ct}\nContent-Disposition: attachment; filename={name}\n\n"
        )
        .into_bytes();
        m.extend_from_slice(body);
        m.extend_from_slice(b"\n--b--\n");
        extract(&m, &Limits::default())
    };
    let x = attach("application/pdf", "broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF");
    assert_eq!(x.unscannable.len(), 1, "{:?}", x);
    assert!(
        x.unscannable[0].reason.contains("PDF"),
        "{:?}",
        x.unscannable
    );
    let x = attach(
        "application/zip",
        "broken.zip",
        b"PK\x03\x04garbage that is not a zip",
    );
    assert!(
        x.unscannable[0].reason.contains("zip archive unreadable"),
        "{:?}",
        x.unscannable
    );
    let x = attach(
        "application/octet-stream",
        "broken.docx",
        b"PK\x03\x04\x14\0\0\0\0\0",
    );
    assert!(
        x.unscannable[0].reason.contains("unreadable"),
        "{:?}",
        x.unscannable
    );
    assert!(x.parts.iter().any(|p| p.text.trim() == "body"));
}

#[test]
fn garbage_and_empty_input() {
    assert!(extract(b"", &Limits::default()).parts.is_empty());
    let mut noise = Vec::new();
    let mut v: u32 = 12345;
    for _ in 0..200_000 {
        v = v.wrapping_mul(1_103_515_245).wrapping_add(12345);
        noise.push((v >> 16) as u8);
    }
    let _ = extract(&noise, &Limits::default());
    let _ = extract(b"\r\r\r\n\n--\n--\r\n: \n=?=?=?\n", &Limits::default());
}

#[test]
fn rfc2231_name_in_an_unknown_charset_still_decodes() {
    let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename*=x-unknown''Kunden%C3%BCbersicht.txt\n\nx\n--b\nContent-Type: text/plain\nContent-Disposition: attachment;\n filename*0*=utf-8''Pr%C3%BCf; filename*1=ung.txt\n\ny\n--b--\n";
    let x = extract(raw, &Limits::default());
    let names: Vec<&str> = x
        .parts
        .iter()
        .filter_map(|p| p.location.filename.as_deref())
        .collect();
    assert_eq!(names[0], "Kundenübersicht.txt");
    assert!(names.contains(&"Prüfung.txt"), "{names:?}");
}

/// Inputs the fuzzers (`fuzz/`) found crashing, kept as regressions. Each
/// is a minimal form of the finding (the found inputs were mutated corpus
/// messages, which stay out of the repository).
#[test]
fn fuzz_findings_stay_fixed() {
    // mime_extract: an encoded word whose encoding letter is multi-byte
    // was sliced inside the character (a panic in header decoding).
    let x = extract(
        "Subject: =?utf-8?\u{20ac}?x?= and =?utf-8?q?ok?=\r\n\r\nbody".as_bytes(),
        &Limits::default(),
    );
    assert_eq!(x.parts[0].text, "=?utf-8?\u{20ac}?x?= and ok");
}
