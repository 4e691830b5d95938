//! Whole messages through the MIME walk, decoders and in-process
//! extractors. PDFs and spreadsheets stay unscannable here (no workers):
//! they have targets of their own.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let limits = sluice_mime::Limits {
        max_scan_time: std::time::Duration::from_secs(5),
        ..sluice_mime::Limits::default()
    };
    let x = sluice_mime::extract(data, &limits);
    for part in &x.parts {
        assert!(part.text.len() as u64 <= limits.max_expanded_bytes + data.len() as u64 * 4 + 1024);
    }
});
