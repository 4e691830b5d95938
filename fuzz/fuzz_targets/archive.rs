//! zip, gzip and tar listings with nested archives, under the limits.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let Some((&which, doc)) = data.split_first() else {
        return;
    };
    let name = ["a.zip", "a.gz", "a.tar", "a.tgz"][usize::from(which) % 4];
    let limits = sluice_mime::Limits {
        max_part_bytes: 16 << 20,
        max_expanded_bytes: 64 << 20,
        ..sluice_mime::Limits::default()
    };
    let _ = sluice_mime::extract_document(doc, name, &limits);
});
