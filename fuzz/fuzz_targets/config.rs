//! `sluice.toml` parsing and validation (paths inside resolve against a
//! folder that does not exist, so files are reported missing, not read).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = sluice_config::Config::parse(text, "/nonexistent/fuzz.toml") {
        let _ = config.validate();
    }
});
