//! Bytes in a declared charset to text, never to nothing.
//!
//! Every WHATWG label is decoded by `encoding_rs` (with BOM sniffing, so
//! `utf-16` works whichever byte order the BOM says). UTF-7 (RFC 2152), which
//! old Outlook versions still send and WHATWG does not define, is decoded
//! here. A missing, `us-ascii` or unknown label decodes as UTF-8 when the
//! bytes are valid UTF-8 and as windows-1252 otherwise: real mail mislabels
//! its charset often, and a DLP scan that drops a part because of a label is
//! a hole.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// How a declared charset is decoded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decoder {
    Utf7,
    /// UTF-8 when valid, else windows-1252 (see [`decode_unlabelled`]).
    Unlabelled,
    Whatwg(&'static Encoding),
}

fn decoder(label: Option<&str>) -> Decoder {
    let label = label
        .map(|l| l.trim().trim_matches('"').trim())
        .unwrap_or("");
    // RFC 2231 language suffix (`utf-8*en`) is not part of the charset name.
    let label = label.split('*').next().unwrap_or("");
    if label.eq_ignore_ascii_case("utf-7") || label.eq_ignore_ascii_case("unicode-1-1-utf-7") {
        return Decoder::Utf7;
    }
    let is_ascii_label = label.is_empty()
        || label.eq_ignore_ascii_case("us-ascii")
        || label.eq_ignore_ascii_case("ascii")
        || label.eq_ignore_ascii_case("default");
    match Encoding::for_label(label.as_bytes()) {
        // WHATWG maps some labels (e.g. "iso-2022-kr") to the replacement
        // encoding, which yields only U+FFFD: treat those as unknown.
        Some(encoding) if !is_ascii_label && encoding != encoding_rs::REPLACEMENT => {
            Decoder::Whatwg(encoding)
        }
        _ => Decoder::Unlabelled,
    }
}

/// Decodes `bytes` declared as `label` (a MIME charset name, any case).
///
/// ```
/// use sluice_mime::charset::decode;
/// assert_eq!(decode(b"\xe9t\xe9", Some("ISO-8859-1")), "été");
/// assert_eq!(decode(b"Hi Mom -+Jjo--!", Some("utf-7")), "Hi Mom -☺-!");
/// assert_eq!(decode("日本".as_bytes(), Some("x-unknown")), "日本");
/// assert_eq!(decode(b"caf\xe9", Some("x-unknown")), "café");
/// ```
pub fn decode(bytes: &[u8], label: Option<&str>) -> String {
    match decoder(label) {
        Decoder::Utf7 => decode_utf7(bytes),
        Decoder::Unlabelled => decode_unlabelled(bytes),
        Decoder::Whatwg(encoding) => {
            let (text, _, had_errors) = encoding.decode(bytes);
            if had_errors {
                if let Some(better) = decode_mislabelled(bytes, encoding) {
                    return better;
                }
            }
            text.into_owned()
        }
    }
}

/// [`decode`], reusing `bytes` for the text when they already are it (UTF-8
/// declared or not, or ASCII in a charset that extends ASCII): a 36 MB CSV
/// attachment is not held twice.
///
/// ```
/// use sluice_mime::charset::{decode, decode_owned};
/// for (bytes, label) in [(&b"plain"[..], Some("iso-8859-1")), (b"\xef\xbb\xbfcaf\xc3\xa9", None), (b"caf\xe9", Some("utf-8"))] {
///     assert_eq!(decode_owned(bytes.to_vec(), label), decode(bytes, label));
/// }
/// ```
pub fn decode_owned(bytes: Vec<u8>, label: Option<&str>) -> String {
    let reusable = match decoder(label) {
        Decoder::Utf7 => false,
        Decoder::Unlabelled => true,
        Decoder::Whatwg(encoding) => {
            encoding == UTF_8 || (encoding.is_ascii_compatible() && bytes.is_ascii())
        }
    };
    if !reusable {
        return decode(&bytes, label);
    }
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            // The BOM is dropped, as `decode` drops it.
            if text.starts_with('\u{feff}') {
                text.drain(..3);
            }
            text
        }
        Err(e) => decode(e.as_bytes(), label),
    }
}

/// Mail is often labelled with the wrong member of a charset family (EUC-JP
/// sent as ISO-2022-JP, GBK as GB2312, UTF-8 as anything). When the label's
/// decoder meets invalid bytes, the first family member (or UTF-8) that
/// decodes the bytes cleanly is used instead.
fn decode_mislabelled(bytes: &[u8], labelled: &'static Encoding) -> Option<String> {
    use encoding_rs::*;
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some(s.to_owned());
    }
    let family: &[&'static Encoding] = if [ISO_2022_JP, SHIFT_JIS, EUC_JP].contains(&labelled) {
        &[EUC_JP, SHIFT_JIS, ISO_2022_JP]
    } else if [GBK, GB18030, BIG5].contains(&labelled) {
        &[GB18030, BIG5]
    } else if labelled == EUC_KR {
        &[EUC_KR]
    } else {
        &[]
    };
    family.iter().filter(|&&e| e != labelled).find_map(|e| {
        e.decode_without_bom_handling_and_without_replacement(bytes)
            .map(|c| c.into_owned())
    })
}

/// UTF-8 when the bytes are valid UTF-8, else windows-1252.
pub fn decode_unlabelled(bytes: &[u8]) -> String {
    decode_unlabelled_borrowed(bytes).into_owned()
}

/// [`decode_unlabelled`], borrowing `bytes` when they are UTF-8 (as header
/// values almost always are), where a caller goes on to build text of its
/// own from them.
pub fn decode_unlabelled_borrowed(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s.strip_prefix('\u{feff}').unwrap_or(s)),
        Err(_) => {
            // A UTF-16 BOM is a reliable signal even without a label.
            if let Some((enc, _)) = Encoding::for_bom(bytes) {
                if enc != UTF_8 {
                    return Cow::Owned(enc.decode(bytes).0.into_owned());
                }
            }
            Cow::Owned(
                WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
                    .into_owned(),
            )
        }
    }
}

/// Whether `label` names a charset we can decode other than by fallback.
pub fn is_known(label: &str) -> bool {
    let label = label.trim().trim_matches('"');
    label.eq_ignore_ascii_case("utf-7") || Encoding::for_label(label.as_bytes()).is_some()
}

/// RFC 2152 UTF-7, through the `charset` crate (Thunderbird's choice of
/// labels, the same decoder `mailparse` uses): a run that is not valid
/// modified base64 becomes U+FFFD, never an error.
fn decode_utf7(bytes: &[u8]) -> String {
    charset::UTF_7
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_owned_bytes_gives_the_same_text() {
        let inputs: [&[u8]; 9] = [
            b"",
            b"plain ascii, +AGEA- too",
            "caf\u{e9} 日本".as_bytes(),
            b"\xef\xbb\xbfwith a BOM",
            b"\xff\xfeu\x00t\x00f\x001\x006\x00",
            b"caf\xe9",
            b"\x1b$B$3$s\x1b(B",
            b"\xa4\xb3\xa4\xf3",
            b"+ZeVnLIqe-",
        ];
        let labels = [
            None,
            Some("utf-8"),
            Some("US-ASCII"),
            Some("iso-8859-1"),
            Some("utf-16"),
            Some("iso-2022-jp"),
            Some("euc-jp"),
            Some("utf-7"),
            Some("iso-2022-kr"),
            Some("x-unknown"),
        ];
        for bytes in inputs {
            for label in labels {
                assert_eq!(
                    decode_owned(bytes.to_vec(), label),
                    decode(bytes, label),
                    "{bytes:?} as {label:?}"
                );
            }
        }
    }

    #[test]
    fn whatwg_labels_decode() {
        assert_eq!(
            decode(b"\xf0\xd2\xc9\xd7\xc5\xd4", Some("koi8-r")),
            "Привет"
        );
        assert_eq!(
            decode(b"\x93quoted\x94", Some("windows-1252")),
            "\u{201c}quoted\u{201d}"
        );
        assert_eq!(
            decode(b"\x1b$B$3$s$K$A$O\x1b(B", Some("ISO-2022-JP")),
            "こんにちは"
        );
        assert_eq!(decode(b"\xff\xfeH\0i\0", Some("utf-16")), "Hi");
        assert_eq!(decode(b"\xfe\xff\0H\0i", Some("utf-16")), "Hi");
        assert_eq!(decode(b"\xc4\xe3\xba\xc3", Some("gb2312")), "你好");
    }

    #[test]
    fn mislabelled_family_members_are_recovered() {
        // EUC-JP bytes labelled ISO-2022-JP, as found in real Japanese mail.
        assert_eq!(
            decode(b"\xc4\xb4\xa4\xd9\xa4\xde\xa4\xb9", Some("iso-2022-jp")),
            "調べます"
        );
        assert_eq!(decode("süß".as_bytes(), Some("iso-2022-jp")), "süß");
    }

    #[test]
    fn utf7_runs_and_literals() {
        assert_eq!(decode(b"A+ImIDkQ.", Some("UTF-7")), "A\u{2262}\u{391}.");
        assert_eq!(decode(b"1 +- 1", Some("utf-7")), "1 + 1");
        assert_eq!(decode(b"+ZeVnLIqe-", Some("utf-7")), "日本語");
    }

    #[test]
    fn unknown_and_missing_labels_fall_back() {
        assert_eq!(decode("naïve".as_bytes(), Some("fakescii")), "naïve");
        assert_eq!(decode(b"na\xefve", Some("fakescii")), "naïve");
        assert_eq!(decode(b"na\xefve", None), "naïve");
        assert_eq!(decode(b"plain", Some("us-ascii")), "plain");
        assert_eq!(decode(b"x", Some("iso-2022-kr")), "x");
    }
}
