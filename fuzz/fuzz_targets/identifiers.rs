//! Every built-in identifier type over arbitrary text, through a whole
//! engine (candidate search, validators, keywords, confidence), and the
//! free-text masking that runs the same searches.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_dlp::{
    Confidence, Definitions, Engine, EntityDefinition, Identifier, RuleDefinition, Segment,
};
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let entities = Identifier::ALL
            .iter()
            .map(|id| EntityDefinition::identifier(id.name(), *id))
            .collect();
        let names: Vec<&str> = Identifier::ALL.iter().map(|id| id.name()).collect();
        let mut rule = RuleDefinition::new("all", &names);
        rule.min_confidence = Some(Confidence::Low);
        Engine::new(Definitions::new(entities, vec![rule], vec![])).expect("compiles")
    })
}

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let result = engine().scan_str(&text);
    for m in &result.rules[0].matches {
        assert!(text.get(m.span.clone()).is_some());
    }
    let _ = sluice_dlp::redact(&text);
    // The text again as an HTML alternative would render it: its matches
    // are taken from the first (a repeat, shifted by the line breaks), and
    // must be the same ones, at valid places of their own text.
    let html = format!("\n\n{text}\r\n");
    let segments = [Segment::body(&text), Segment::body(&html)];
    let both = engine().scan(&segments);
    let all = &both.rules[0].matches;
    if all.len() < sluice_dlp::MAX_EVIDENCE {
        let of = |s: usize| {
            all.iter()
                .filter(|m| m.segment == s)
                .map(|m| (m.value.clone(), m.identifier, m.text.trim().to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(of(0), of(1));
    }
    for m in all {
        let own = if m.segment == 0 { text.as_ref() } else { html.as_str() };
        assert!(own.get(m.span.clone()).is_some());
    }
});
