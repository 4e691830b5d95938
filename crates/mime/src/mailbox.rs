//! Mailbox files: mbox splitting.

/// Splits an mbox file into its messages, each without its `From ` line.
///
/// A message starts at a line beginning with `From ` at the start of the
/// file or after an empty line (the mboxrd/mboxcl writers' form; a bare
/// `From ` inside a paragraph of a body is body text). `>From ` quoting
/// (mboxrd) is undone.
///
/// ```
/// use sluice_mime::mailbox::split_mbox;
/// let mbox = b"From a@b Mon Jan 1 00:00:00 2024\nSubject: 1\n\n>From here\n\nFrom c@d Tue Jan 2 00:00:00 2024\nSubject: 2\n\nx\n";
/// let messages = split_mbox(mbox);
/// assert_eq!(messages.len(), 2);
/// assert_eq!(messages[0], b"Subject: 1\n\nFrom here\n\n");
/// assert_eq!(messages[1], b"Subject: 2\n\nx\n");
/// ```
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut previous_blank = true;
    let mut pos = 0;
    while pos < data.len() {
        let end = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| pos + i + 1);
        let line = &data[pos..end];
        pos = end;
        if previous_blank && line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                messages.push(m);
            }
            current = Some(Vec::new());
            previous_blank = false;
            continue;
        }
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        previous_blank = content.is_empty() || content == b"\r";
        let buf = current.get_or_insert_with(Vec::new);
        let quoted = line
            .iter()
            .position(|&b| b != b'>')
            .is_some_and(|n| n > 0 && line[n..].starts_with(b"From "));
        buf.extend_from_slice(if quoted { &line[1..] } else { line });
    }
    if let Some(m) = current {
        messages.push(m);
    }
    messages
}
