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
        if bytes[i] != b'<' {
            i += 1;
            continue;
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
            let name = html[name_start..name_end].to_ascii_lowercase();
            i = tag_end(bytes, name_end);
            if BREAKING.contains(&name.as_str()) {
                out.push('\n');
            } else if !closing && HIDDEN.contains(&name.as_str()) {
                i = skip_hidden(bytes, i, &name);
            }
        }
        text_start = i;
    }
    push_text(&mut out, &html[text_start.min(html.len())..]);
    out
}

fn push_text(out: &mut String, text: &str) {
    if !text.is_empty() {
        out.push_str(&html_escape::decode_html_entities(text));
    }
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// End of a tag starting at `from` (just past its name): the `>` outside
/// quoted attribute values.
fn tag_end(bytes: &[u8], from: usize) -> usize {
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
}

/// Skips past `</name ...>`, case-insensitively.
fn skip_hidden(bytes: &[u8], from: usize, name: &str) -> usize {
    let mut i = from;
    while let Some(p) = find(bytes, i, b"</") {
        let after = p + 2;
        let candidate = bytes.get(after..after + name.len());
        if candidate.is_some_and(|c| c.eq_ignore_ascii_case(name.as_bytes())) {
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
    fn unterminated_markup_ends_cleanly() {
        assert_eq!(html_to_text("text<!-- never closed"), "text");
        assert_eq!(html_to_text("text<b"), "text");
        assert_eq!(html_to_text("a<script>never"), "a");
    }
}
