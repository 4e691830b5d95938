//! Embedding the engine: a CSV dictionary, validated identifiers and a
//! regex; segments tagged with their scope section; masked evidence.
//!
//! `cargo run -p sluice-dlp --example embed`

use sluice_dlp::{
    redact, Definitions, Dictionary, Engine, EntityDefinition, Identifier, ProfileDefinition,
    RuleDefinition, Section, Segment, Severity, Thresholds,
};

fn main() -> Result<(), sluice_dlp::Error> {
    // A dictionary as a CSV file holds it: one term a line, an optional
    // weight in the second column.
    let csv = "Customer,1\nAccount Manager,2\nRenewal date,1\n";
    let customer_terms = Dictionary::from_csv(csv.as_bytes())?;

    let mut cards = RuleDefinition::new("Cards", &["card", "iban"]);
    cards.severity = Some(Thresholds {
        low: Some(1),
        high: Some(3),
        ..Thresholds::default()
    });
    // Only the body and attachments: a card number in a subject is rare
    // enough to be someone's test.
    cards.scope = vec![Section::Body, Section::Attachments];

    let engine = Engine::new(Definitions::new(
        vec![
            EntityDefinition::dictionary("customer-terms", customer_terms),
            EntityDefinition::identifier("card", Identifier::CreditCard),
            EntityDefinition::identifier("iban", Identifier::Iban),
            EntityDefinition::regex("project-codes", r"\bPRJ-[0-9]{4}\b").case_sensitive(),
        ],
        vec![
            // Default threshold: low = ceil(3/2) = 2 distinct terms.
            RuleDefinition::new("Customer entitlement", &["customer-terms"]),
            cards,
            RuleDefinition::new("Projects", &["project-codes"]),
        ],
        vec![ProfileDefinition::new(
            "Customer data",
            &["Customer entitlement", "Cards"],
        )],
    ))?
    // This program scans one message at a time: no threads of its own.
    .with_threads(1);

    // One message as the segments a MIME walker would give: each text with
    // its scope section.
    let segments = [
        Segment {
            text: "Card for the Customer",
            section: Section::Subject,
            alternative: None,
        },
        Segment::body(
            "Hello, our Account Manager confirmed the renewal date. \
             Pay with 4111 1111 1111 1111 or DE89 3704 0044 0532 0130 00; project PRJ-0042.",
        ),
    ];
    let result = engine.scan(&segments);
    for rule in result.matched() {
        println!(
            "{}: count {} -> {}",
            rule.rule,
            rule.count,
            rule.severity.map_or("-", Severity::name)
        );
        for m in &rule.matches {
            // Evidence never shows an identifier whole.
            println!(
                "  {} in segment {}: {}",
                m.entity,
                m.segment,
                redact(&m.text)
            );
        }
    }
    assert_eq!(
        result.rule("Cards").and_then(|r| r.severity),
        Some(Severity::Low)
    );
    Ok(())
}
