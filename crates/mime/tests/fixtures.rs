//! Extraction of messages and attachments made by independent
//! implementations (Python's email package, python-docx, openpyxl,
//! python-pptx, odfpy, reportlab, msoffcrypto-tool, pyzipper; see
//! fixtures/make_fixtures.py).

use sluice_mime::{Extraction, Field, Limits, Section, TextPart};

mod common;

/// Extraction with the crate's worker processes enabled, as a program
/// that embeds the crate would run it.
fn extract(raw: &[u8], limits: &Limits) -> Extraction {
    common::with_workers();
    sluice_mime::extract(raw, limits)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn part_with<'a>(x: &'a Extraction, needle: &str) -> &'a TextPart {
    x.parts
        .iter()
        .find(|p| words(&p.text).contains(needle))
        .unwrap_or_else(|| panic!("no part contains {needle:?}: {:#?}", x.parts))
}

#[test]
fn html_alternative_docx_and_xlsx() {
    let x = extract(&fixture("messages/customer-review.eml"), &Limits::default());
    assert_eq!(x.subject.as_deref(), Some("Résumé of the Customer review"));
    let html = x
        .parts
        .iter()
        .find(|p| p.location.content_type.as_deref() == Some("text/html"))
        .unwrap();
    assert_eq!(
        words(&html.text),
        "Hi Bob, the Account Manager list is attached."
    );
    assert_eq!(html.location.part.as_deref(), Some("1.2"));
    assert_eq!(html.section, Section::Body);
    assert_eq!(html.alternative.as_ref().map(|a| a.branch), Some(1));

    let docx = part_with(&x, "Customer entitlement review");
    assert_eq!(
        docx.location.filename.as_deref(),
        Some("customer-review.docx")
    );
    assert_eq!(docx.location.part.as_deref(), Some("2"));
    assert_eq!(docx.section, Section::Attachments);
    for expected in [
        "Account Manager: Bob Jones",
        "Sales Engineer",
        "Purchase date",
        "Confidential header text",
    ] {
        assert!(
            words(&docx.text).contains(expected),
            "{expected:?} in {:?}",
            docx.text
        );
    }
    let xlsx = part_with(&x, "Customer Account Manager Purchase date Seats");
    assert!(xlsx
        .text
        .contains("Example Corp\tBob Jones\t2026-03-14\t250"));
    assert!(xlsx.text.contains("Sales Engineer assigned"));
    let name = x
        .parts
        .iter()
        .find(|p| p.location.field == Some(Field::Filename))
        .unwrap();
    assert_eq!(name.text, "customer-review.docx");
    assert!(x.unscannable.is_empty(), "{:?}", x.unscannable);
}

#[test]
fn charsets_encoded_words_and_rfc2231_names() {
    let x = extract(&fixture("messages/charsets.eml"), &Limits::default());
    assert_eq!(x.subject.as_deref(), Some("Приветこんにちは"));
    part_with(&x, "Привет, Customer");
    part_with(&x, "こんにちは Account Manager");
    part_with(&x, "\u{201c}Sales Engineer\u{201d} café");
    part_with(&x, "Hi Mom -☺-! Purchase date");
    let file = part_with(&x, "Customer notes in a file");
    assert_eq!(
        file.location.filename.as_deref(),
        Some("Kundenliste für Verkäufer.txt")
    );
    assert_eq!(file.section, Section::Attachments);
}

#[test]
fn forwarded_message_with_nested_archives() {
    let x = extract(
        &fixture("messages/forwarded-archive.eml"),
        &Limits::default(),
    );
    let subject = x
        .parts
        .iter()
        .find(|p| p.text == "Customer export")
        .unwrap();
    assert_eq!(subject.location.field, Some(Field::Subject));
    assert_eq!(subject.location.part.as_deref(), Some("2"));
    assert_eq!(subject.section, Section::Attachments);
    let csv = part_with(&x, "Bob,Account Manager");
    assert_eq!(csv.location.part.as_deref(), Some("2.2"));
    assert_eq!(
        csv.location.content_type.as_deref(),
        Some("application/zip")
    );
    assert_eq!(csv.location.filename.as_deref(), Some("bundle.zip"));
    assert_eq!(
        csv.location.archive_path.as_deref(),
        Some("data/export.tgz/export/customers.csv")
    );
    assert_eq!(
        part_with(&x, "Purchase date 2026-03-14")
            .location
            .archive_path
            .as_deref(),
        Some("data/notes.txt.gz/notes.txt")
    );
    assert_eq!(
        part_with(&x, "Customer entitlement review")
            .location
            .archive_path
            .as_deref(),
        Some("docs/customer-review.docx")
    );
    assert_eq!(
        part_with(&x, "Export attached.").location.part.as_deref(),
        Some("2.1")
    );
}

#[test]
fn encrypted_and_protected_content_is_unscannable_images_unsupported() {
    let x = extract(
        &fixture("messages/locked-attachments.eml"),
        &Limits::default(),
    );
    let reasons: Vec<(Option<&str>, Option<&str>, &str)> = x
        .unscannable
        .iter()
        .map(|u| {
            (
                u.location.filename.as_deref(),
                u.location.archive_path.as_deref(),
                u.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(
        reasons[0],
        (
            Some("encrypted.zip"),
            Some("cards.txt"),
            "encrypted archive entry"
        )
    );
    assert_eq!(reasons[1].0, Some("protected.pdf"));
    assert!(reasons[1].2.starts_with("password-protected PDF"));
    assert_eq!(
        reasons[2],
        (
            Some("protected.docx"),
            None,
            "password-protected Office document"
        )
    );
    // The unencrypted entry of the same archive is still scanned.
    assert_eq!(
        part_with(&x, "Customer list follows")
            .location
            .archive_path
            .as_deref(),
        Some("plain.txt")
    );
    part_with(
        &x,
        "Customer statement for Example Corp Account Manager Bob Jones",
    );
    assert_eq!(x.unsupported.len(), 1);
    assert_eq!(
        x.unsupported[0].location.filename.as_deref(),
        Some("logo.png")
    );
    assert_eq!(x.unsupported[0].reason, "image");
}

#[test]
fn presentation_opendocument_spreadsheet_and_rtf() {
    let x = extract(&fixture("messages/office-formats.eml"), &Limits::default());
    part_with(
        &x,
        "Quarterly Customer review Account Manager: Bob Jones Sales Engineer: Carol",
    );
    // odfpy wrote "Account " + span "Man" + "ager": one word in the output.
    part_with(&x, "Customer memo Account Manager Bob Jones");
    // Declared application/octet-stream: recognized by content.
    let ods = part_with(&x, "Customer Sales Engineer Example Corp Carol");
    assert_eq!(ods.location.filename.as_deref(), Some("sheet.ods"));
    part_with(&x, "Customer notes Account Manager: Bob Jones café");
    assert!(x.unscannable.is_empty(), "{:?}", x.unscannable);
}

#[test]
fn zip_bomb_stops_at_the_limits() {
    // 17 KB of zip expanding to 10 GiB. The byte limits are under test, not
    // the clock: a slow (debug, loaded) machine must not hit the deadline.
    let roomy = Limits {
        max_scan_time: std::time::Duration::from_secs(600),
        ..Limits::default()
    };
    let x = extract(&fixture("messages/zip-bomb.eml"), &roomy);
    assert!(
        x.unscannable
            .iter()
            .any(|u| u.reason.contains("max_expanded_bytes")),
        "{:?}",
        x.unscannable
    );
    assert!(x
        .unscannable
        .iter()
        .any(|u| u.reason.contains("max_part_bytes")));
    part_with(&x, "Nothing to see.");
    let small = Limits {
        max_part_bytes: 1 << 20,
        max_expanded_bytes: 4 << 20,
        ..roomy
    };
    let x = extract(&fixture("messages/zip-bomb.eml"), &small);
    assert!(
        x.unscannable
            .iter()
            .any(|u| u.reason.contains("max_part_bytes 1048576")),
        "{:?}",
        x.unscannable
    );
}

#[test]
fn limits_make_the_rest_unscannable() {
    let raw = fixture("messages/forwarded-archive.eml");
    let x = extract(
        &raw,
        &Limits {
            max_depth: 1,
            ..Limits::default()
        },
    );
    assert!(
        x.unscannable
            .iter()
            .any(|u| u.reason.contains("max_depth 1")),
        "{:?}",
        x.unscannable
    );
    part_with(&x, "FYI, see below.");

    let x = extract(
        &raw,
        &Limits {
            max_parts: 2,
            ..Limits::default()
        },
    );
    assert!(x
        .unscannable
        .iter()
        .any(|u| u.reason.contains("max_parts 2")));

    let x = extract(
        &raw,
        &Limits {
            max_archive_entries: 1,
            ..Limits::default()
        },
    );
    assert!(x
        .unscannable
        .iter()
        .any(|u| u.reason.contains("max_archive_entries 1")));

    let x = extract(
        &raw,
        &Limits {
            max_scan_time: std::time::Duration::ZERO,
            ..Limits::default()
        },
    );
    assert!(x
        .unscannable
        .iter()
        .any(|u| u.reason.contains("max_scan_time")));
}
