//! .docx/.pptx/.odt/.odp: zip, inflate and the XML pull reader, which stay
//! in process because they are bounded by construction; this checks it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let Some((&which, doc)) = data.split_first() else {
        return;
    };
    let name = ["a.docx", "a.pptx", "a.odt", "a.odp"][usize::from(which) % 4];
    let _ = sluice_mime::extract_document(doc, name, &sluice_mime::Limits::default());
});
