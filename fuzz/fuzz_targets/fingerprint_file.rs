//! Fingerprint files (JSON, versions 1 and 2): read, written back, then
//! compiled into an engine (its postings and k-gram filter built from the
//! hostile hashes) and searched with a text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = sluice_dlp::FingerprintSet::from_json(text) else {
        return;
    };
    let _ = set.to_json();
    let Ok(engine) = sluice_dlp::Engine::new(sluice_dlp::Definitions::new(
        vec![sluice_dlp::EntityDefinition::fingerprint("documents", set, 1)],
        vec![sluice_dlp::RuleDefinition::new("r", &["documents"])],
        vec![],
    )) else {
        return;
    };
    let _ = engine.scan_str(
        "The board approved the revenue forecast for next quarter, and the \
         minutes of the meeting were sent to the account manager. The board \
         approved the revenue forecast for next quarter once more.",
    );
});
