//! Transfer decoders: lenient base64, quoted-printable, uuencode, RFC 2047
//! encoded words; none may grow past a bound of its input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_mime::transfer;

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    assert!(transfer::decode_base64(data).len() <= data.len());
    assert!(transfer::decode_quoted_printable(data).len() <= data.len());
    for file in transfer::find_uuencoded(data) {
        assert!(file.data.len() <= data.len());
    }
    let text = String::from_utf8_lossy(data);
    let _ = sluice_mime::header::decode_encoded_words(&text);
});
