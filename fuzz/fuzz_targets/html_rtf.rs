//! HTML to text and the RTF interpreter, both ours.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = sluice_mime::html_to_text(&text);
    let _ = sluice_mime::extract_document(data, "a.rtf", &sluice_mime::Limits::default());
});
