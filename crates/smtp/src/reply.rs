//! SMTP replies as values.

/// One reply: a code, an optional enhanced status code (RFC 3463) and
/// text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Three-digit reply code.
    pub code: u16,
    /// Enhanced status code, e.g. `(5, 7, 1)`.
    pub status: Option<(u8, u16, u16)>,
    /// Text lines (at least one).
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply with an enhanced status code.
    pub fn new(code: u16, status: (u8, u16, u16), text: impl Into<String>) -> Reply {
        Reply {
            code,
            status: Some(status),
            lines: vec![text.into()],
        }
    }

    /// Whether the code is 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// Wire form: `250-first\r\n250 last\r\n`, the enhanced code on every
    /// line (RFC 2034).
    ///
    /// ```
    /// use sluice_smtp::Reply;
    /// let r = Reply::new(550, (5, 7, 1), "Message blocked by data-loss policy");
    /// assert_eq!(r.to_bytes(), b"550 5.7.1 Message blocked by data-loss policy\r\n");
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let n = self.lines.len().max(1);
        for i in 0..n {
            let sep = if i + 1 == n { ' ' } else { '-' };
            let text = self.lines.get(i).map_or("", String::as_str);
            // A reply line must not break the framing.
            let text: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            let line = match self.status {
                Some((a, b, c)) => format!("{}{sep}{a}.{b}.{c} {text}\r\n", self.code),
                None => format!("{}{sep}{text}\r\n", self.code),
            };
            out.extend_from_slice(line.as_bytes());
        }
        out
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(String::from_utf8_lossy(&self.to_bytes()).trim_end())
    }
}
