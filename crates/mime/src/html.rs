//! HTML to text, the way a reader sees it.
//!
//! A small tag stripper rather than a layout engine (`html2text` wraps lines
//! and adds link markers and spaces that would split or invent words):
//! inline markup joins (`Cus<b>tomer</b>` is `Customer`), block and line
//! elements separate words, script/style/template content and comments are
//! dropped, entities (all of HTML5's, via `html-escape`) are decoded.

/// Elements that end a line of text when they open or close.
const BREAKING: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "br",
    "caption",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "html",
    "li",
    "main",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "ul",
];

/// Elements whose content is not text a reader sees.
const HIDDEN: &[&str] = &["script", "style", "template", "noscript"];

/// Converts an HTML document or fragment to plain text.
///
/// ```
/// use sluice_mime::html_to_text;
/// assert_eq!(html_to_text("<p>Cus<b>tomer</b>&nbsp;&amp;<br>Account&#32;Manager</p>"),
///            "\nCustomer\u{a0}&\nAccount Manager\n");
/// assert_eq!(html_to_text("a<script>x<y</script>b<!-- c -->d"), "abd");
/// ```
pub fn html_to_text(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len() / 2);
    let mut text_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Text runs to the next `<`: found with a vectorized search rather
        // than a byte at a time (HTML parts were a fifth of extraction).
        match memchr::memchr(b'<', &bytes[i..]) {
            Some(p) => i += p,
            None => break,
        }
        let next = bytes.get(i + 1).copied().unwrap_or(0);
        let is_markup = next.is_ascii_alphabetic() || next == b'/' || next == b'!' || next == b'?';
        if !is_markup {
            i += 1;
            continue;
        }
        push_text(&mut out, &html[text_start..i]);
        if bytes[i..].starts_with(b"<!--") {
            i = find(bytes, i + 4, b"-->").map_or(bytes.len(), |e| e + 3);
        } else if next == b'!' || next == b'?' {
            i = find(bytes, i, b">").map_or(bytes.len(), |e| e + 1);
        } else {
            let closing = next == b'/';
            let name_start = if closing { i + 2 } else { i + 1 };
            let name_end = bytes[name_start..]
                .iter()
                .position(|b| !b.is_ascii_alphanumeric())
                .map_or(bytes.len(), |p| name_start + p);
            let name = &bytes[name_start..name_end];
            let is = |list: &[&str]| list.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name));
            i = tag_end(bytes, name_end);
            if is(BREAKING) {
                out.push('\n');
            } else if !closing && is(HIDDEN) {
                i = skip_hidden(bytes, i, name);
            }
        }
        text_start = i;
    }
    push_text(&mut out, &html[text_start.min(html.len())..]);
    out
}

fn push_text(out: &mut String, text: &str) {
    // Entities start with `&`: most runs of text have none, and the
    // decoder reads a run byte by byte to find out (a fifth of the HTML's
    // conversion, where `memchr` reads 32 bytes a step).
    if memchr::memchr(b'&', text.as_bytes()).is_none() {
        out.push_str(text);
    } else {
        out.push_str(&html_escape::decode_html_entities(text));
    }
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|p| from + p)
}

/// End of a tag starting at `from` (just past its name): the `>` outside
/// quoted attribute values.
fn tag_end(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    // From one quote or `>` to the next; a quoted value is skipped whole.
    while let Some(p) = memchr::memchr3(b'>', b'"', b'\'', &bytes[at..]) {
        let b = bytes[at + p];
        if b == b'>' {
            return at + p + 1;
        }
        match memchr::memchr(b, &bytes[at + p + 1..]) {
            Some(q) => at += p + 1 + q + 1,
            None => return bytes.len(),
        }
    }
    bytes.len()
}

/// Skips past `</name ...>`, case-insensitively.
fn skip_hidden(bytes: &[u8], from: usize, name: &[u8]) -> usize {
    let mut i = from;
    while let Some(p) = find(bytes, i, b"</") {
        let after = p + 2;
        let candidate = bytes.get(after..after + name.len());
        if candidate.is_some_and(|c| c.eq_ignore_ascii_case(name)) {
            return tag_end(bytes, after + name.len());
        }
        i = after;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_markup_joins_words() {
        assert_eq!(
            html_to_text("Cus<b>tomer</b> <span class=\"x\">Man<i>a</i>ger</span>"),
            "Customer Manager"
        );
    }

    #[test]
    fn block_elements_separate_words() {
        let t = html_to_text(
            "<table><tr><td>Customer</td><td>Sales</td></tr></table><div>one</div>two",
        );
        let words: Vec<&str> = t.split_whitespace().collect();
        assert_eq!(words, ["Customer", "Sales", "one", "two"]);
    }

    #[test]
    fn attributes_with_angle_brackets_and_style_blocks() {
        assert_eq!(
            html_to_text("<a title=\"a>b\">link</a><STYLE>p{}</style >x"),
            "linkx"
        );
        assert_eq!(html_to_text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
        assert_eq!(
            html_to_text("&lt;b&gt; &eacute;&#x263A;&bogus;"),
            "<b> é☺&bogus;"
        );
    }

    #[test]
    fn a_tag_ends_where_a_byte_at_a_time_reading_ends_it() {
        // The quoted-value state machine, one byte at a time.
        let reference = |bytes: &[u8], from: usize| {
            let mut quote = 0u8;
            for (k, &b) in bytes[from..].iter().enumerate() {
                match (quote, b) {
                    (0, b'"' | b'\'') => quote = b,
                    (0, b'>') => return from + k + 1,
                    (q, b) if q == b => quote = 0,
                    _ => {}
                }
            }
            bytes.len()
        };
        let pieces: [&[u8]; 7] = [b"a", b"\"", b"'", b">", b" x=", b"<", b"\"'>'\""];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for round in 0..5_000 {
            let mut tag = Vec::new();
            for _ in 0..round % 12 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                tag.extend_from_slice(pieces[(seed % 7) as usize]);
            }
            for from in 0..=tag.len() {
                assert_eq!(
                    tag_end(&tag, from),
                    reference(&tag, from),
                    "{tag:?} from {from}"
                );
            }
        }
    }

    #[test]
    fn unterminated_markup_ends_cleanly() {
        assert_eq!(html_to_text("text<!-- never closed"), "text");
        assert_eq!(html_to_text("text<b"), "text");
        assert_eq!(html_to_text("a<script>never"), "a");
    }
}
