//! SPEC §3.2–§4 semantics, one test per rule of the contract.

use sluice_dlp::{
    CountMode, Definitions, Dictionary, DocumentFingerprint, Engine, EntityDefinition, EntityKind,
    Error, FingerprintSet, Identifier, RuleDefinition, Section, Segment, Severity, Thresholds,
};

fn dictionary(name: &str, terms: &[(&str, u32)], case_sensitive: bool) -> EntityDefinition {
    EntityDefinition::new(
        name,
        EntityKind::Dictionary {
            dictionary: Dictionary::from_terms(terms.iter().copied()),
            case_sensitive,
        },
    )
}

fn identifier(name: &str, id: Identifier) -> EntityDefinition {
    EntityDefinition::new(name, EntityKind::Identifier(id))
}

fn engine(entities: Vec<EntityDefinition>, rules: Vec<RuleDefinition>) -> Engine {
    Engine::new(Definitions::new(entities, rules, vec![])).unwrap()
}

fn one_rule(terms: &[(&str, u32)], count: CountMode) -> Engine {
    let mut rule = RuleDefinition::new("r", &["d"]);
    rule.count = count;
    rule.severity = Some(Thresholds {
        low: Some(1),
        ..Thresholds::default()
    });
    engine(vec![dictionary("d", terms, false)], vec![rule])
}

fn values(e: &Engine, text: &str) -> Vec<String> {
    e.scan_str(text)
        .rule("r")
        .unwrap()
        .matches
        .iter()
        .map(|m| m.value.clone())
        .collect()
}

#[test]
fn word_boundaries() {
    let e = one_rule(&[("customer", 1)], CountMode::Total);
    assert_eq!(
        values(&e, "customers and customer_id and xcustomer"),
        Vec::<String>::new()
    );
    assert_eq!(values(&e, "Customer: customer-facing (CUSTOMER)").len(), 3);
    assert_eq!(values(&e, "customer").len(), 1);
    assert_eq!(
        values(&e, "Kundencustomerß"),
        Vec::<String>::new(),
        "letters outside ASCII are word characters"
    );
}

#[test]
fn spaceless_scripts_need_no_boundary() {
    let e = one_rule(
        &[("顧客", 1), ("ลูกค้า", 1), ("abc顧客", 1)],
        CountMode::Total,
    );
    assert_eq!(values(&e, "新規顧客情報"), ["顧客"]);
    assert_eq!(values(&e, "ข้อมูลลูกค้าใหม่"), ["ลูกค้า"]);
    // Latin edge still needs a boundary: "xabc顧客" has a letter before "abc".
    assert_eq!(values(&e, "xabc顧客 abc顧客"), ["顧客", "abc顧客", "顧客"]);
}

#[test]
fn overlapping_terms_both_match() {
    let e = one_rule(&[("Account Manager", 1), ("Manager", 1)], CountMode::Unique);
    let r = e.scan_str("our account\n\tmanager");
    assert_eq!(r.rule("r").unwrap().count, 2);
    assert_eq!(r.rule("r").unwrap().matches[0].text, "account\n\tmanager");
}

#[test]
fn normalization_nfkc_format_characters_and_case() {
    let e = one_rule(&[("Customer", 1), ("straße", 1)], CountMode::Total);
    let r = e.scan_str(
        "ＣＵＳＴＯＭＥＲ and Cus\u{200B}tomer and Cus\u{00AD}tomer and STRASSE and STRAẞE",
    );
    let m = &r.rule("r").unwrap().matches;
    let texts: Vec<&str> = m.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "ＣＵＳＴＯＭＥＲ",
            "Cus\u{200B}tomer",
            "Cus\u{00AD}tomer",
            "STRAẞE"
        ]
    );
}

#[test]
fn case_sensitive_dictionaries() {
    let mut rule = RuleDefinition::new("r", &["d"]);
    rule.severity = Some(Thresholds {
        low: Some(1),
        ..Thresholds::default()
    });
    let e = engine(vec![dictionary("d", &[("ACME", 1)], true)], vec![rule]);
    assert_eq!(values(&e, "acme ACME Acme"), ["ACME"]);
}

#[test]
fn unique_total_and_score() {
    let terms = [
        ("Customer", 3),
        ("Account Manager", 2),
        ("Sales Engineer", 1),
    ];
    let text = "Customer, customer, CUSTOMER and the Account Manager";
    assert_eq!(
        one_rule(&terms, CountMode::Unique)
            .scan_str(text)
            .rule("r")
            .unwrap()
            .count,
        2
    );
    assert_eq!(
        one_rule(&terms, CountMode::Total)
            .scan_str(text)
            .rule("r")
            .unwrap()
            .count,
        4
    );
    assert_eq!(
        one_rule(&terms, CountMode::Score)
            .scan_str(text)
            .rule("r")
            .unwrap()
            .count,
        5
    );
}

#[test]
fn evidence_is_capped_but_the_count_is_not() {
    let terms = [("Account Manager", 1), ("Customer", 1)];
    let text = format!(
        "{} and one Customer",
        "Account Manager, ".repeat(3 * sluice_dlp::MAX_EVIDENCE)
    );
    let result = one_rule(&terms, CountMode::Total).scan_str(&text);
    let r = result.rule("r").unwrap();
    assert_eq!(r.count, 3 * sluice_dlp::MAX_EVIDENCE as u64 + 1);
    assert_eq!(r.matches.len(), sluice_dlp::MAX_EVIDENCE);
    // Every distinct value keeps at least one piece of evidence, in order.
    assert_eq!(r.matches.last().unwrap().value, "customer");
    assert!(r
        .matches
        .windows(2)
        .all(|w| w[0].span.start < w[1].span.start));
}

#[test]
fn weights_from_csv_with_typographic_quotes() {
    let d = Dictionary::from_csv("“Customer\",5\n‘Purchase date’\n".as_bytes()).unwrap();
    let mut rule = RuleDefinition::new("r", &["d"]);
    rule.count = CountMode::Score;
    let e = engine(
        vec![EntityDefinition::new(
            "d",
            EntityKind::Dictionary {
                dictionary: d,
                case_sensitive: false,
            },
        )],
        vec![rule],
    );
    let r = e.scan_str("customer purchase date");
    assert_eq!(r.rule("r").unwrap().count, 6);
}

#[test]
fn default_threshold_is_half_of_n_rounded_up() {
    let four = [("a1", 1), ("b2", 1), ("c3", 1), ("d4", 1)];
    let five = [("a1", 1), ("b2", 1), ("c3", 1), ("d4", 1), ("e5", 1)];
    for (terms, expected_low) in [(&four[..], 2), (&five[..], 3)] {
        let e = engine(
            vec![dictionary("d", terms, false)],
            vec![RuleDefinition::new("r", &["d"])],
        );
        assert_eq!(e.thresholds("r").unwrap().low, Some(expected_low));
        let below: Vec<&str> = terms
            .iter()
            .take(expected_low as usize - 1)
            .map(|t| t.0)
            .collect();
        let at: Vec<&str> = terms
            .iter()
            .take(expected_low as usize)
            .map(|t| t.0)
            .collect();
        assert_eq!(
            e.scan_str(&below.join(" ")).rule("r").unwrap().severity,
            None
        );
        assert_eq!(
            e.scan_str(&at.join(" ")).rule("r").unwrap().severity,
            Some(Severity::Low)
        );
    }
    // n counts distinct terms across all the rule's dictionaries.
    let e = engine(
        vec![
            dictionary("x", &[("a1", 1), ("b2", 1)], false),
            dictionary("y", &[("B2", 1), ("c3", 1)], false),
        ],
        vec![RuleDefinition::new("r", &["x", "y"])],
    );
    assert_eq!(e.thresholds("r").unwrap().low, Some(2));
    // Without dictionaries: low = 1.
    let e = engine(
        vec![identifier("cards", Identifier::CreditCard)],
        vec![RuleDefinition::new("r", &["cards"])],
    );
    assert_eq!(e.thresholds("r").unwrap().low, Some(1));
}

#[test]
fn severity_levels_and_threshold_errors() {
    let mut rule = RuleDefinition::new("r", &["d"]);
    rule.severity = Some(Thresholds {
        low: Some(2),
        medium: Some(3),
        high: Some(4),
        critical: Some(5),
    });
    let e = engine(
        vec![dictionary(
            "d",
            &[("a1", 1), ("b2", 1), ("c3", 1), ("d4", 1), ("e5", 1)],
            false,
        )],
        vec![rule.clone()],
    );
    let sev = |t: &str| e.scan_str(t).rule("r").unwrap().severity;
    assert_eq!(sev("a1"), None);
    assert_eq!(sev("a1 b2"), Some(Severity::Low));
    assert_eq!(sev("a1 b2 c3"), Some(Severity::Medium));
    assert_eq!(sev("a1 b2 c3 d4 e5"), Some(Severity::Critical));

    rule.severity = Some(Thresholds {
        low: Some(3),
        medium: Some(3),
        ..Thresholds::default()
    });
    let err = Engine::new(Definitions::new(
        vec![dictionary("d", &[("a", 1)], false)],
        vec![rule.clone()],
        vec![],
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rule \"r\": severity: medium: thresholds must rise with the level: medium = 3 is not above low = 3"
    );
    rule.severity = Some(Thresholds {
        medium: Some(5),
        critical: Some(2),
        ..Thresholds::default()
    });
    assert!(matches!(
        Engine::new(Definitions::new(
            vec![dictionary("d", &[("a", 1)], false)],
            vec![rule],
            vec![]
        )),
        Err(Error::Threshold { .. })
    ));
}

#[test]
fn definition_errors_name_the_culprit() {
    let err = Engine::new(Definitions::new(
        vec![],
        vec![RuleDefinition::new("r", &["missing"])],
        vec![],
    ))
    .unwrap_err();
    assert_eq!(
        err,
        Error::UnknownEntity {
            rule: "r".into(),
            entity: "missing".into()
        }
    );
    let bad = EntityDefinition::new(
        "codes",
        EntityKind::Regex {
            pattern: "PRJ-[0-9".into(),
            case_sensitive: false,
        },
    );
    let err = Engine::new(Definitions::new(vec![bad], vec![], vec![])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("entity \"codes\": invalid regex"),
        "{err}"
    );
}

#[test]
fn regex_entities_case_rules() {
    let re = |cs| {
        EntityDefinition::new(
            "codes",
            EntityKind::Regex {
                pattern: "PRJ-[0-9]{6}".into(),
                case_sensitive: cs,
            },
        )
    };
    let mut rule = RuleDefinition::new("r", &["codes"]);
    rule.count = CountMode::Total;
    let e = engine(vec![re(false)], vec![rule.clone()]);
    assert_eq!(
        values(&e, "prj-123456 PRJ-123456"),
        ["prj-123456", "prj-123456"]
    );
    assert_eq!(
        e.scan_str("prj-123456 PRJ-123456").rule("r").unwrap().count,
        2
    );
    let e = engine(vec![re(true)], vec![rule]);
    assert_eq!(values(&e, "prj-123456 PRJ-123456"), ["PRJ-123456"]);
}

#[test]
fn identifiers_count_unique_normalized_values() {
    let e = engine(
        vec![identifier("cards", Identifier::CreditCard)],
        vec![RuleDefinition::new("r", &["cards"])],
    );
    let r = e.scan_str("4242 4242 4242 4242, again 4242-4242-4242-4242, and 5555555555554444");
    let rule = r.rule("r").unwrap();
    assert_eq!(rule.matches.len(), 3);
    assert_eq!(rule.count, 2);
    assert_eq!(rule.matches[1].text, "4242-4242-4242-4242");
    assert_eq!(rule.matches[1].value, "4242424242424242");
}

#[test]
fn require_and_proximity() {
    let mut rule = RuleDefinition::new("r", &["cards"]);
    rule.require = vec!["card-words".into()];
    rule.proximity = Some(20);
    let e = engine(
        vec![
            identifier("cards", Identifier::CreditCard),
            dictionary("card-words", &[("visa", 1), ("card number", 1)], false),
        ],
        vec![rule],
    );
    assert_eq!(
        e.scan_str("4242 4242 4242 4242")
            .rule("r")
            .unwrap()
            .severity,
        None,
        "require absent"
    );
    assert_eq!(
        e.scan_str("Visa: 4242 4242 4242 4242")
            .rule("r")
            .unwrap()
            .count,
        1
    );
    let far = format!("visa {} 4242 4242 4242 4242", "padding ".repeat(10));
    assert_eq!(
        e.scan_str(&far).rule("r").unwrap().count,
        0,
        "outside proximity"
    );
    // The require match must be in the same part.
    let segs = [
        Segment::body("card number below"),
        Segment::body("4242 4242 4242 4242"),
    ];
    assert_eq!(e.scan(&segs).rule("r").unwrap().count, 0);
}

#[test]
fn scope_and_alternatives() {
    let mut subject_only = RuleDefinition::new("subject", &["d"]);
    subject_only.scope = vec![Section::Subject];
    subject_only.severity = Some(Thresholds {
        low: Some(1),
        ..Thresholds::default()
    });
    let mut total = RuleDefinition::new("total", &["d"]);
    total.count = CountMode::Total;
    total.severity = Some(Thresholds {
        low: Some(1),
        ..Thresholds::default()
    });
    let e = engine(
        vec![dictionary("d", &[("customer", 1)], false)],
        vec![subject_only, total],
    );
    let segs = [
        Segment {
            text: "customer",
            section: Section::Subject,
            alternative: None,
        },
        Segment {
            text: "customer customer",
            section: Section::Body,
            alternative: Some(("1", 0)),
        },
        Segment {
            text: "<p>customer customer customer</p>",
            section: Section::Body,
            alternative: Some(("1", 1)),
        },
        Segment {
            text: "customer",
            section: Section::Attachments,
            alternative: None,
        },
    ];
    let r = e.scan(&segs);
    assert_eq!(r.rule("subject").unwrap().count, 1);
    // 1 (subject) + best alternative 3 + 1 (attachment), not 1 + 2 + 3 + 1.
    assert_eq!(r.rule("total").unwrap().count, 5);
}

#[test]
fn fingerprint_excerpt_found_unrelated_not() {
    let doc = "The board approved the acquisition of Northwind Traders for 42 million, subject to regulatory review. \
               Integration will begin in the second quarter with a joint steering committee chaired by the chief operating officer. \
               Employees of the acquired company keep their current benefits until the end of the fiscal year. \
               The purchase price is payable in three instalments tied to revenue milestones agreed with the sellers. \
               Communications about the deal remain confidential until the public announcement scheduled for next month. \
               Legal counsel will prepare the disclosure schedules and coordinate with the auditors on the valuation. \
               Any leak of these terms before the announcement could jeopardize the transaction and expose the company to liability.";
    let set = FingerprintSet {
        documents: vec![DocumentFingerprint::new("board-minutes.docx", doc)],
    };
    let mut rule = RuleDefinition::new("r", &["board"]);
    rule.severity = Some(Thresholds {
        low: Some(1),
        ..Thresholds::default()
    });
    let e = engine(
        vec![EntityDefinition::new(
            "board",
            EntityKind::Fingerprint {
                documents: set,
                similarity: 20,
                min_passage_words: 0,
            },
        )],
        vec![rule],
    );
    // ~30% of the document, re-cased and reflowed, inside other text.
    let words: Vec<&str> = doc.split_whitespace().collect();
    let excerpt = words[40..85].join("\n").to_uppercase();
    let r = e.scan_str(&format!(
        "FYI, forwarded from a colleague:\n> {excerpt}\nregards"
    ));
    let rule = r.rule("r").unwrap();
    assert_eq!(rule.count, 1, "{rule:?}");
    assert_eq!(rule.matches[0].value, "board-minutes.docx");
    assert!(rule.matches[0].similarity.unwrap() >= 20);
    let unrelated = "The board reviewed the quarterly revenue and the company announced benefits for employees; \
                     the committee will coordinate with auditors next month on the valuation of the public offering.";
    assert_eq!(e.scan_str(unrelated).rule("r").unwrap().count, 0);
}

#[test]
fn engine_is_shared_across_threads() {
    let e = std::sync::Arc::new(one_rule(&[("customer", 1)], CountMode::Total));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || {
                e.scan_str(&"customer ".repeat(i + 1))
                    .rule("r")
                    .unwrap()
                    .count
            })
        })
        .collect();
    let counts: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(counts, [1, 2, 3, 4]);
}
