//! Every built-in identifier type over arbitrary text, through a whole
//! engine (candidate search, validators, keywords, confidence), and the
//! free-text masking that runs the same searches.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_dlp::{Confidence, Definitions, Engine, EntityDefinition, Identifier, RuleDefinition};
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
});
