//! A segment whose text repeats an earlier one's takes that one's
//! matches: the scan's result is what searching it again gives.

use super::window_tests::{board, customers, engine, rule, text};
use super::windows::WINDOW_BYTES;
use super::*;
use crate::fingerprint::tests::prose;
use crate::{Dictionary, EntityDefinition, EntityKind, Section};

/// Values of many identifier types, with the words people write beside
/// them (so keywords raise confidence).
const IDENTIFIERS: &[&str] = &[
    "SSN 123-45-6789",
    "BSN 1112.22.333",
    "USt-IdNr. DE 136 695 976",
    "AHV 756.1234.5678.97",
    "CPF 390.533.447-05",
    "CNPJ 16.727.230/0001-97",
    "NIE X-1234567-L",
    "DNI 12345678-Z",
    "henkilötunnus 131052-308T",
    "주민등록번호 971013-9019902",
    "Aadhaar 2341 2341 2346",
    "IBAN gb82 west 1234 5698 7654 32",
    "BIC DEUTDEFF500",
    "NPI 1234567893",
    "DEA AB1234563",
    "MBI 1EG4-TE5-MK73",
    "passport C03005988",
    "NINO AB 12 34 56 C",
    "Medicare 2123 45670 1",
    "NRIC S1234567D",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    "postgres://app:s3cr3t-Pa55@db.internal.example.com:5432/app",
    "2001:db8::8a2e:370:7334",
    "server 10.20.30.40",
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----",
    "card 5500-0000-0000-0004",
];

/// An engine with every identifier type, a dictionary, an EDM table and
/// a fingerprinted document, and no regex entity: texts a space apart at
/// either end may share their matches.
fn edges_free_engine(document: &str) -> Engine {
    let mut entities: Vec<EntityDefinition> = Identifier::ALL
        .iter()
        .map(|id| EntityDefinition::new(id.name(), EntityKind::Identifier(*id)))
        .collect();
    let names: Vec<&str> = Identifier::ALL.iter().map(|id| id.name()).collect();
    entities.push(EntityDefinition::new(
        "terms",
        EntityKind::Dictionary {
            dictionary: Dictionary::from_terms([("account manager", 1), ("file", 1)]),
            case_sensitive: false,
        },
    ));
    entities.push(EntityDefinition::edm(
        "customers",
        customers(),
        crate::EdmSettings::default(),
    ));
    entities.push(board(document));
    let mut identifiers = rule("identifiers", &names, CountMode::Total);
    identifiers.min_confidence = Some(Confidence::Low);
    let mut unique = rule("unique", &names, CountMode::Unique);
    unique.min_confidence = Some(Confidence::Medium);
    let mut near = rule("near", &["terms"], CountMode::Total);
    near.require = vec!["email-address".into()];
    near.proximity = Some(80);
    let engine = Engine::new(Definitions::new(
        entities,
        vec![
            identifiers,
            unique,
            near,
            rule("board", &["board"], CountMode::Unique),
            rule("rows", &["customers", "terms"], CountMode::Total),
        ],
        vec![],
    ))
    .unwrap();
    assert!(engine.edges_free);
    engine
}

/// A text with identifiers among `text`'s pieces (dictionary terms, EDM
/// cells, normalization's cases) and an excerpt of `document`.
fn body(seed: u64, document: &str) -> String {
    let mut out = String::new();
    for (i, id) in IDENTIFIERS.iter().enumerate() {
        out.push_str(&text(seed * 100 + i as u64, 8));
        out.push_str(if i % 3 == 0 { "\n" } else { " " });
        out.push_str(id);
        out.push(' ');
    }
    out.push_str(&document[..document.len() / 3]);
    out.push_str(&prose(seed, 30));
    out
}

/// `body` as other parts of a message may hold it: as a mail program's
/// HTML alternative renders it (line breaks before and after), with other
/// line endings and spaces, with one more letter (not a repeat).
fn renderings(body: &str) -> Vec<String> {
    vec![
        format!("\n\n\n{body}\n"),
        format!("{}  \r\n", body.replace('\n', "\r\n")),
        format!(" {} ", body.replace(' ', "\u{00A0}")),
        format!("\t{body}"),
        format!("X{body}"),
        body.to_owned(),
    ]
}

fn assert_same_with_and_without_repeats(engine: &Engine, seed: u64, body: &str) -> ScanResult {
    let renderings = renderings(body);
    let mut segments = vec![Segment {
        text: body,
        section: Section::Body,
        alternative: Some(("1", 0)),
    }];
    for (i, r) in renderings.iter().enumerate() {
        segments.push(Segment {
            text: r,
            section: if i % 2 == 0 {
                Section::Body
            } else {
                Section::Attachments
            },
            alternative: (i == 0).then_some(("1", 1)),
        });
    }
    let searched = engine.scan_in_windows(&segments, WINDOW_BYTES, false);
    let reused = engine.scan_in_windows(&segments, WINDOW_BYTES, true);
    assert_eq!(searched.cells, reused.cells, "seed {seed}: EDM cells");
    for (s, r) in searched.rules.iter().zip(&reused.rules) {
        assert_eq!(s, r, "seed {seed}");
    }
    searched
}

#[test]
fn repeated_texts_give_what_searching_them_again_gives() {
    let document = prose(11, 300);
    let engine = edges_free_engine(&document);
    for seed in 1..=6 {
        let result = assert_same_with_and_without_repeats(&engine, seed, &body(seed, &document));
        // Not a vacuous comparison: every kind of matcher found something,
        // in the repeats too.
        let types: std::collections::HashSet<Identifier> = result
            .rule("identifiers")
            .unwrap()
            .matches
            .iter()
            .filter_map(|m| m.identifier.map(|(id, _)| id))
            .collect();
        assert!(types.len() >= 20, "seed {seed}: {} types", types.len());
        for name in ["near", "board", "rows"] {
            let rule = result.rule(name).unwrap();
            assert!(
                rule.matches.iter().any(|m| m.segment > 0),
                "seed {seed}: {name} in a repeated segment"
            );
        }
    }
}

#[test]
fn with_a_regex_entity_only_identical_texts_share_matches() {
    // The windowed-scan engine has a regex entity, whose `^` or `\s` may
    // see a space at either end.
    let document = prose(5, 300);
    let engine = engine(&document);
    assert!(!engine.edges_free);
    for seed in 1..=4 {
        let mut body = text(seed, 400);
        body.push_str(&document[..document.len() / 2]);
        assert_same_with_and_without_repeats(&engine, seed, &body);
    }
    // A pattern that sees the space: its matches differ in the texts that
    // have one.
    let edges = Engine::new(Definitions::new(
        vec![EntityDefinition::new(
            "edges",
            EntityKind::Regex {
                pattern: r"\A\s*\S+|\S+\s*\z".into(),
                case_sensitive: true,
            },
        )],
        vec![rule("edges", &["edges"], CountMode::Unique)],
        vec![],
    ))
    .unwrap();
    let body = format!("First {} last", text(9, 400));
    let result = assert_same_with_and_without_repeats(&edges, 0, &body);
    assert!(result.rule("edges").unwrap().count > 2);
}

#[test]
fn a_repeat_is_the_same_text_at_most_a_space_apart_at_either_end() {
    let found = nothing_found();
    let text = "x".repeat(300);
    let mut repeats = repeats::RepeatedTexts::new(true, true);
    repeats.remember(&text, &found);
    assert!(repeats.find(true, &text, 1).is_some());
    assert!(repeats.find(true, &format!(" {text} "), 1).is_some());
    assert!(repeats.find(true, &format!("{text} "), 1).is_some());
    assert!(
        repeats.find(false, &text, 1).is_none(),
        "not a whole segment"
    );
    assert!(repeats.find(true, &format!("  {text}"), 1).is_none());
    assert!(repeats.find(true, &format!("{text}y"), 1).is_none());
    let mut strict = repeats::RepeatedTexts::new(true, false);
    strict.remember(&text, &found);
    assert!(strict.find(true, &text, 1).is_some());
    assert!(strict.find(true, &format!(" {text}"), 1).is_none());
    let mut off = repeats::RepeatedTexts::new(false, true);
    off.remember(&text, &found);
    assert!(off.find(true, &text, 1).is_none());
    // Sixteen texts are kept, no more.
    let mut full = repeats::RepeatedTexts::new(true, true);
    let texts: Vec<String> = (0..17).map(|i| format!("{i:03}{text}")).collect();
    for t in &texts {
        full.remember(t, &found);
    }
    assert!(full.find(true, &texts[15], 1).is_some());
    assert!(full.find(true, &texts[16], 1).is_none());
    // A text with a great many matches is not kept: searched again.
    let mut many = nothing_found();
    many.kgrams = vec![(0, 0); 5000];
    let mut crowded = repeats::RepeatedTexts::new(true, true);
    crowded.remember(&text, &many);
    assert!(crowded.find(true, &text, 1).is_none());
}

/// What a search that found nothing returns.
fn nothing_found() -> repeats::WindowFound {
    repeats::WindowFound {
        hits: Vec::new(),
        kgrams: Vec::new(),
        cells: Vec::new(),
        owned_words: 0,
    }
}
