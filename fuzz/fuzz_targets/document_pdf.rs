//! pdf-extract/lopdf in process: what this finds (aborts, stack overflows,
//! allocation bombs) is what the worker processes contain in production;
//! each finding becomes a regression test through the worker.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    sluice_mime::worker::enable_in_process_extraction();
    let _ = sluice_mime::extract_document(data, "a.pdf", &sluice_mime::Limits::default());
});
