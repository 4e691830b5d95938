//! The one log line each transaction gets (SPEC §6), and text from
//! messages made safe for logs.

/// One log line per transaction (SPEC §6).
#[derive(Default)]
pub struct TransactionLog {
    pub id: String,
    pub client: String,
    pub sender: String,
    pub recipients: usize,
    pub size: usize,
    pub message_id: String,
    /// The deciding policy, `""` for none.
    pub policy: String,
    pub action: &'static str,
    pub monitor: bool,
    pub reply: String,
    pub scan_ms: f64,
    /// Waiting for the upstream's reply to the data (not added by us).
    pub upstream_ms: f64,
    pub total_ms: f64,
}

/// Text from a message or a peer as a log may hold it: control
/// characters escaped (`\u{1b}`), so a header cannot forge log lines or
/// drive a terminal.
pub fn log_text(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Milliseconds to two decimals: enough for a log, short to read.
fn round2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

impl TransactionLog {
    /// One event with every field (text or JSON per `[proxy] log_format`,
    /// chosen by the subscriber).
    pub fn write(&self) {
        tracing::info!(
            tx = %self.id,
            client = %self.client,
            from = %self.sender,
            rcpts = self.recipients,
            size = self.size,
            message_id = %self.message_id,
            policy = %self.policy,
            action = %self.action,
            monitor = self.monitor,
            reply = %self.reply,
            scan_ms = round2(self.scan_ms),
            upstream_ms = round2(self.upstream_ms),
            total_ms = round2(self.total_ms),
            "transaction"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_escapes_control_characters() {
        assert_eq!(log_text("<a@b>"), "<a@b>");
        assert_eq!(
            log_text("<a\r\nforged line\u{1b}[31m>"),
            "<a\\u{d}\\u{a}forged line\\u{1b}[31m>"
        );
    }
}
