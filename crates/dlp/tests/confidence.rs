//! Confidence as SPEC §3.3 states it, through a whole engine: keywords
//! within 300 characters, short capital keywords, `min_confidence`,
//! entity keywords and `exclude`, overlapping types counted once.

use sluice_dlp::{
    Confidence, Definitions, Engine, EntityDefinition, Error, Identifier, RuleDefinition,
};

fn engine(entities: Vec<EntityDefinition>, min: Option<Confidence>) -> Engine {
    let names: Vec<String> = entities.iter().map(|e| e.name.clone()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut rule = RuleDefinition::new("r", &names);
    rule.min_confidence = min;
    Engine::new(Definitions::new(entities, vec![rule], vec![])).expect("compiles")
}

fn count(e: &Engine, text: &str) -> u64 {
    e.scan_str(text).rule("r").expect("rule").count
}

#[test]
fn bare_numbers_count_only_with_a_keyword_near() {
    let e = engine(
        vec![EntityDefinition::identifier("bsn", Identifier::NlBsn)],
        None,
    );
    assert_eq!(
        count(&e, "order 111222333 shipped"),
        0,
        "low without a keyword"
    );
    assert_eq!(count(&e, "BSN: 111222333"), 1);
    assert_eq!(count(&e, "mijn burgerservicenummer is 111222333"), 1);
    assert_eq!(
        count(&e, "bsn 111222333"),
        0,
        "short capital keywords match in capitals only"
    );
    let far = format!("BSN {} 111222333", "x ".repeat(160));
    assert_eq!(
        count(&e, &far),
        0,
        "a keyword 320 characters away is not near"
    );
    let near = format!("BSN {} 111222333", "x ".repeat(140));
    assert_eq!(count(&e, &near), 1);
    let after = "111222333 is mijn BSN";
    assert_eq!(count(&e, after), 1, "a keyword after the value counts too");

    let low = engine(
        vec![EntityDefinition::identifier("bsn", Identifier::NlBsn)],
        Some(Confidence::Low),
    );
    assert_eq!(count(&low, "order 111222333 shipped"), 1);
    let high = engine(
        vec![EntityDefinition::identifier("ssn", Identifier::UsSsn)],
        Some(Confidence::High),
    );
    assert_eq!(count(&high, "ref 123-45-6789"), 0, "medium is below high");
    assert_eq!(count(&high, "SSN 123-45-6789"), 1);
}

#[test]
fn ssn_with_separators_is_medium_bare_is_low() {
    let e = engine(
        vec![EntityDefinition::identifier("ssn", Identifier::UsSsn)],
        None,
    );
    assert_eq!(count(&e, "ref 123-45-6789"), 1);
    assert_eq!(count(&e, "ref 123456789"), 0);
    assert_eq!(count(&e, "social security number 123456789"), 1);
    let m = &e.scan_str("SSN 123456789").rules[0].matches[0];
    assert_eq!(m.identifier, Some((Identifier::UsSsn, Confidence::High)));
}

#[test]
fn entity_keywords_and_exclude() {
    let bsn = EntityDefinition::identifier("bsn", Identifier::NlBsn).with_keywords(["klantnummer"]);
    let e = engine(vec![bsn], None);
    assert_eq!(count(&e, "klantnummer 111222333"), 1);
    let cards = EntityDefinition::identifier("cards", Identifier::CreditCard)
        .with_exclude(["4111 1111 1111 1111"]);
    let e = engine(vec![cards], None);
    assert_eq!(
        count(
            &e,
            "test card 4111-1111-1111-1111, real 5555 5555 5555 4444"
        ),
        1
    );
    let bad = EntityDefinition::identifier("cards", Identifier::CreditCard).with_exclude(["4111"]);
    let err = Engine::new(Definitions::new(vec![bad], vec![], vec![])).unwrap_err();
    assert!(matches!(err, Error::Entity { .. }), "{err}");
}

#[test]
fn a_span_several_types_read_counts_once_as_the_likeliest() {
    // 759 649 510 passes the Canadian SIN's Luhn and the Dutch BSN's
    // eleven-test, and has the shape of a US SSN.
    let e = engine(
        vec![
            EntityDefinition::identifier("sin", Identifier::CaSin),
            EntityDefinition::identifier("bsn", Identifier::NlBsn),
            EntityDefinition::identifier("ssn", Identifier::UsSsn),
        ],
        Some(Confidence::Low),
    );
    let result = e.scan_str("SIN 759 649 510");
    let rule = &result.rules[0];
    assert_eq!(rule.count, 1, "{:?}", rule.matches);
    assert_eq!(
        rule.matches[0].identifier,
        Some((Identifier::CaSin, Confidence::High))
    );
}

#[test]
fn min_confidence_needs_an_identifier_entity() {
    let mut rule = RuleDefinition::new("r", &["words"]);
    rule.min_confidence = Some(Confidence::High);
    let words = EntityDefinition::regex("words", "secret");
    let err = Engine::new(Definitions::new(vec![words], vec![rule], vec![])).unwrap_err();
    assert!(matches!(err, Error::Confidence { .. }), "{err}");
}
