//! Fingerprint files (JSON, versions 1 and 2): read, then written back.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = sluice_dlp::FingerprintSet::from_json(text) {
        let _ = set.to_json();
    }
});
