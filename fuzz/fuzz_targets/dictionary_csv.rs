//! Dictionary CSV files (terms, optional weights, quoting).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    if let Ok(d) = sluice_dlp::Dictionary::from_csv(data) {
        let _ = d.distinct(false);
    }
});
