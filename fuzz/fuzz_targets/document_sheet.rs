//! calamine in process (.xlsx cell reader, .ods ranges): findings are what
//! the worker processes contain in production.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let Some((&which, doc)) = data.split_first() else {
        return;
    };
    sluice_mime::worker::enable_in_process_extraction();
    let name = if which % 2 == 0 { "a.xlsx" } else { "a.ods" };
    let _ = sluice_mime::extract_document(doc, name, &sluice_mime::Limits::default());
});
