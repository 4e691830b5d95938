//! Windowed scans find what one pass finds.

use super::windows::{windows, Window};
use super::*;
use crate::{
    fingerprint::tests::prose, Dictionary, DocumentFingerprint, EntityDefinition, RuleDefinition,
};
use crate::{EntityKind, Section};

pub(super) fn rule(name: &str, entities: &[&str], count: CountMode) -> RuleDefinition {
    let mut r = RuleDefinition::new(name, entities);
    r.count = count;
    r.severity = Some(Thresholds {
        low: Some(1),
        ..Thresholds::default()
    });
    r
}

/// Every kind of matcher, every count mode and proximity.
pub(super) fn engine(document: &str) -> Engine {
    let entity = |name: &str, kind| EntityDefinition::new(name, kind);
    let mut near = rule("near", &["terms", "codes"], CountMode::Total);
    near.require = vec!["emails".into()];
    near.proximity = Some(60);
    Engine::new(Definitions::new(
        vec![
            entity(
                "terms",
                EntityKind::Dictionary {
                    dictionary: Dictionary::from_terms([
                        ("account manager", 1),
                        ("manager", 2),
                        ("file", 1),
                        ("顧客", 3),
                        ("revenue forecast", 2),
                    ]),
                    case_sensitive: false,
                },
            ),
            entity(
                "acronyms",
                EntityKind::Dictionary {
                    dictionary: Dictionary::from_terms([("NDA", 1), ("CRM", 1)]),
                    case_sensitive: true,
                },
            ),
            entity("cards", EntityKind::Identifier(Identifier::CreditCard)),
            entity("ibans", EntityKind::Identifier(Identifier::Iban)),
            entity("emails", EntityKind::Identifier(Identifier::EmailAddress)),
            entity(
                "codes",
                EntityKind::Regex {
                    // Spans whitespace, so a cut can fall inside a match.
                    pattern: r"order\s+[0-9]{2,5}(?:\s+[a-z]{3})?".into(),
                    case_sensitive: false,
                },
            ),
            EntityDefinition::edm("customers", customers(), crate::EdmSettings::default()),
            board(document),
        ],
        vec![
            rule("unique", &["terms", "acronyms", "codes"], CountMode::Unique),
            rule("total", &["terms", "acronyms", "cards"], CountMode::Total),
            rule("score", &["terms", "ibans", "emails"], CountMode::Score),
            rule("board", &["board", "terms"], CountMode::Unique),
            rule("rows", &["customers", "terms"], CountMode::Total),
            near,
        ],
        vec![],
    ))
    .unwrap()
}

/// A fingerprint entity of one document, "minutes", matched at 1% or by
/// a passage of 50 words.
pub(super) fn board(document: &str) -> EntityDefinition {
    EntityDefinition::new(
        "board",
        EntityKind::Fingerprint {
            documents: FingerprintSet {
                documents: vec![DocumentFingerprint::new("minutes", document)],
            },
            similarity: 1,
            min_passage_words: 50,
        },
    )
}

/// An EDM index of a small customer table, whose cells are among the
/// pieces of [`text`].
pub(super) fn customers() -> std::sync::Arc<crate::EdmIndex> {
    let table = "name,email,phone\n\
        Alice Example,alice@example.com,+1 555 010 4477\n\
        Bob Smith,bob.smith@partner.org,030 1234 5678\n";
    let salt = b"a salt of more than sixteen bytes";
    let mut bytes = Vec::new();
    crate::edm::build_from_csv(table.as_bytes(), salt, &[], 10, &mut bytes).unwrap();
    std::sync::Arc::new(crate::EdmIndex::from_bytes(bytes, salt).unwrap())
}

/// Text with every kind of match, and the things normalization
/// changes (whitespace runs, NBSP, format characters, full-width and
/// ligature letters, combining accents, CJK), in random order.
pub(super) fn text(seed: u64, pieces: usize) -> String {
    const PIECES: &[&str] = &[
        "Account Manager",
        "account\r\n   manager",
        "ACCOUNT\u{00A0}MAN\u{00AD}AGER",
        "managers",
        "Ｍａｎａｇｅｒ",
        "ﬁle",
        "caf\u{0065}\u{0301}",
        "顧客リスト",
        "NDA",
        "nda",
        "CRM,",
        "4111 1111 1111 1111",
        "card 5500-0000-0000-0004 12/29",
        "DE89 3704 0044 0532 0130 00",
        "alice@example.com",
        "Bob.Smith@Partner.org",
        "Alice Example",
        "bob smith",
        "(555) 010-4477",
        "030-1234-5678",
        "order 1234 abc",
        "order\n\n 99",
        "\u{200B}",
        "\t\t",
        "\n\n\n",
        "                                        ",
        "Revenue\nForecast",
        "the board approved revenue forecast for next quarter",
    ];
    let mut v = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::new();
    for i in 0..pieces {
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        if v.is_multiple_of(5) {
            out.push_str(&prose(v, 1 + (v % 40) as usize));
        } else {
            out.push_str(PIECES[(v as usize / 7) % PIECES.len()]);
        }
        // Mostly spaces between pieces; sometimes none, so pieces
        // glue into longer words.
        out.push_str(match (v >> 20) % 6 {
            0 => "",
            1 => "\n",
            _ => " ",
        });
        if i % 97 == 0 {
            out.push_str(&" ".repeat((v % 9000) as usize));
        }
    }
    out
}

#[test]
fn windows_cut_at_whitespace_runs_and_overlap() {
    let text = "aaaa bbbb  cccc\n\ndddd eeee ffff gggg hhhh iiii jjjj";
    let ws: Vec<Window> = windows(text, 8, 3).collect();
    assert_eq!(ws[0].start, 0);
    assert_eq!(ws.last().unwrap().cut, text.len());
    for pair in ws.windows(2) {
        assert_eq!(pair[0].cut, pair[1].start);
    }
    for w in &ws[..ws.len() - 1] {
        // A cut starts a whitespace run after a word.
        assert!(text[w.cut..].starts_with(char::is_whitespace));
        assert!(!text[..w.cut].ends_with(char::is_whitespace));
        // The overlap holds at least K words and ends where a run
        // starts, or runs to the end of the text.
        assert!(
            w.end == text.len()
                || (text[w.cut..w.end].split_whitespace().count() >= crate::fingerprint::K
                    && text[w.end..].starts_with(' '))
        );
    }
    // Nothing to cut at: one window.
    assert_eq!(windows(&"x".repeat(100), 8, 3).count(), 1);
}

#[test]
fn windowed_scans_find_what_one_pass_finds() {
    let document = prose(7, 400);
    let engine = engine(&document);
    for seed in 1..=6u64 {
        let mut body = text(seed, 3000);
        if seed % 2 == 0 {
            // An excerpt of the fingerprinted document, across cuts.
            body.push_str(&document[..document.len() / 2]);
            body.push_str(&text(seed + 100, 500));
        }
        let segments = [
            Segment::body(&body),
            Segment {
                text: &body[body.len() / 3..],
                section: Section::Attachments,
                alternative: None,
            },
        ];
        let whole = engine.scan_in_windows(&segments, usize::MAX, true);
        assert!(whole.rules.iter().all(|r| r.count > 0), "{whole:?}");
        let rows = whole.rules.iter().find(|r| r.rule == "rows").unwrap();
        assert!(
            rows.matches.iter().filter(|m| m.row.is_some()).count() > 10,
            "seed {seed}: customer rows found"
        );
        for window in [600, 5000, 64 << 10] {
            let windowed = engine.scan_in_windows(&segments, window, true);
            assert!(
                windows(&body, window, engine.overlap).count() > 1,
                "seed {seed}: more than one window of {window} bytes"
            );
            for (w, o) in windowed.rules.iter().zip(&whole.rules) {
                assert_eq!(w, o, "seed {seed}, windows of {window} bytes");
            }
        }
    }
}
