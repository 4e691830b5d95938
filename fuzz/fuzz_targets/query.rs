//! The incident query language: parse, and turn what parses into SQL.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = sluice_store::Filter::parse(text) {
        let _ = format!("{filter:?}");
    }
});
