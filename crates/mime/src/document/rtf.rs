//! RTF to plain text: a small control-word interpreter, enough for the
//! text of documents written by Word, WordPad, LibreOffice and Outlook.
//!
//! Destinations that are not text (font and colour tables, style sheets,
//! pictures, embedded objects, field instructions, anything marked `\*`)
//! are skipped; `\par`, `\line` and `\row` end lines, `\tab` and `\cell`
//! separate words; `\'hh` bytes are decoded in the document's `\ansicpg`
//! code page and `\uN` characters honour `\ucN`.

use encoding_rs::{Encoding, WINDOWS_1252};

const SKIPPED_DESTINATIONS: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "objdata",
    "themedata",
    "colorschememapping",
    "datastore",
    "latentstyles",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "xmlnstbl",
    "mmathpr",
    "fldinst",
    "filetbl",
    "revtbl",
    "pgdsctbl",
    "docvar",
    "wgrffmtfilter",
    "nonshppict",
    "blipuid",
    "falt",
    "panose",
    "bkmkstart",
    "bkmkend",
];

#[derive(Clone, Copy)]
struct GroupState {
    skip: bool,
    uc: usize,
}

/// Converts an RTF document to text.
pub(crate) fn to_text(rtf: &[u8]) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut encoding: &'static Encoding = WINDOWS_1252;
    let mut stack: Vec<GroupState> = Vec::new();
    let mut state = GroupState { skip: false, uc: 1 };
    // Characters still to drop after a `\u` (its ANSI fallback).
    let mut to_skip = 0usize;
    let mut i = 0;
    let flush = |pending: &mut Vec<u8>, out: &mut String, enc: &'static Encoding| {
        if !pending.is_empty() {
            out.push_str(&enc.decode_without_bom_handling(pending).0);
            pending.clear();
        }
    };
    while i < rtf.len() {
        let c = rtf[i];
        match c {
            b'{' => {
                // Bound the nesting we track so hostile input cannot grow
                // the stack without limit; deeper groups share a state.
                if stack.len() < 10_000 {
                    stack.push(state);
                }
                i += 1;
            }
            b'}' => {
                if let Some(s) = stack.pop() {
                    state = s;
                }
                to_skip = 0;
                i += 1;
            }
            b'\\' => {
                let Some(&next) = rtf.get(i + 1) else { break };
                if next.is_ascii_alphabetic() {
                    let start = i + 1;
                    let mut j = start;
                    while j < rtf.len() && rtf[j].is_ascii_alphabetic() {
                        j += 1;
                    }
                    let word = std::str::from_utf8(&rtf[start..j])
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    let num_start = j;
                    if j < rtf.len() && rtf[j] == b'-' {
                        j += 1;
                    }
                    while j < rtf.len() && rtf[j].is_ascii_digit() && j - num_start < 10 {
                        j += 1;
                    }
                    let param: Option<i64> = std::str::from_utf8(&rtf[num_start..j])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    if j < rtf.len() && rtf[j] == b' ' {
                        j += 1;
                    }
                    i = j;
                    if word == "bin" {
                        i = i
                            .saturating_add(param.unwrap_or(0).max(0) as usize)
                            .min(rtf.len());
                        continue;
                    }
                    if SKIPPED_DESTINATIONS.contains(&word.as_str()) {
                        state.skip = true;
                        continue;
                    }
                    if state.skip {
                        continue;
                    }
                    match word.as_str() {
                        "par" | "line" | "row" | "sect" | "page" => {
                            flush(&mut pending, &mut out, encoding);
                            out.push('\n');
                        }
                        "tab" | "cell" => {
                            flush(&mut pending, &mut out, encoding);
                            out.push('\t');
                        }
                        "uc" => state.uc = param.unwrap_or(1).clamp(0, 10) as usize,
                        "u" => {
                            flush(&mut pending, &mut out, encoding);
                            let mut n = param.unwrap_or(0);
                            if n < 0 {
                                n += 65536;
                            }
                            out.push(
                                char::from_u32(n as u32).unwrap_or(char::REPLACEMENT_CHARACTER),
                            );
                            to_skip = state.uc;
                        }
                        "ansicpg" => {
                            flush(&mut pending, &mut out, encoding);
                            encoding = code_page(param.unwrap_or(1252));
                        }
                        "emdash" => out.push('\u{2014}'),
                        "endash" => out.push('\u{2013}'),
                        "lquote" => out.push('\u{2018}'),
                        "rquote" => out.push('\u{2019}'),
                        "ldblquote" => out.push('\u{201c}'),
                        "rdblquote" => out.push('\u{201d}'),
                        "bullet" => out.push('\u{2022}'),
                        _ => {}
                    }
                    continue;
                }
                i += 2;
                match next {
                    b'*' => state.skip = true,
                    b'\'' => {
                        let hex = rtf
                            .get(i..i + 2)
                            .and_then(|h| std::str::from_utf8(h).ok())
                            .and_then(|h| u8::from_str_radix(h, 16).ok());
                        if let Some(b) = hex {
                            i += 2;
                            if to_skip > 0 {
                                to_skip -= 1;
                            } else if !state.skip {
                                pending.push(b);
                            }
                        }
                    }
                    b'\n' | b'\r' if !state.skip => {
                        flush(&mut pending, &mut out, encoding);
                        out.push('\n');
                    }
                    b'~' if !state.skip => pending.push(0xa0),
                    b'_' if !state.skip => pending.push(b'-'),
                    b'\\' | b'{' | b'}' if !state.skip => {
                        if to_skip > 0 {
                            to_skip -= 1;
                        } else {
                            pending.push(next);
                        }
                    }
                    _ => {}
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                if to_skip > 0 {
                    to_skip -= 1;
                } else if !state.skip {
                    pending.push(c);
                }
                i += 1;
            }
        }
    }
    flush(&mut pending, &mut out, encoding);
    out
}

fn code_page(n: i64) -> &'static Encoding {
    let label = match n {
        932 => "shift_jis".to_owned(),
        936 => "gbk".to_owned(),
        949 => "euc-kr".to_owned(),
        950 => "big5".to_owned(),
        10000 => "macintosh".to_owned(),
        n => format!("windows-{n}"),
    };
    Encoding::for_label(label.as_bytes()).unwrap_or(WINDOWS_1252)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paragraphs_and_escapes() {
        let rtf = br"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}{\colortbl;\red0\green0\blue0;}
{\*\generator Riched20;}\pard\f0 Cus{\b tomer}\par Account Manager\tab caf\'e9 \{x\}\par}";
        let t = to_text(rtf);
        assert_eq!(t, "Customer\nAccount Manager\tcafé {x}\n");
    }

    #[test]
    fn unicode_with_fallback_skipping() {
        let t = to_text(br"{\rtf1\uc1 \u26085?\u26412?\uc2 \u-3?? end}");
        assert_eq!(t, "日本\u{fffd} end");
    }

    #[test]
    fn code_page_bytes() {
        let t = to_text(br"{\rtf1\ansi\ansicpg1251 \'cf\'f0\'e8\'e2\'e5\'f2}");
        assert_eq!(t, "Привет");
    }
}
