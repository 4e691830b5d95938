//! The DATA section: framing, dot-unstuffing, size limit and the SMTP
//! smuggling defence.
//!
//! The end of DATA is only `CRLF . CRLF` (the opening CRLF may be the one
//! that ended the DATA command). A bare LF or bare CR anywhere in the data,
//! or a line that is only NULs before a dot, is what SMTP smuggling uses to
//! make two servers disagree about where a message ends: the reader keeps
//! reading to the real `CRLF . CRLF`, relays nothing, and reports it, so
//! the session can answer `550 5.6.0` and go on. Data past the size limit
//! is read and discarded (memory stays bounded) and reported.

/// Why a DATA section is refused, found once its real end is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataProblem {
    /// A bare LF or CR, or a NUL-only line before a dot: possible smuggling.
    BareLineEnding,
    /// More bytes than the limit.
    TooBig,
    /// The proxy's in-flight budget ran out while the message arrived.
    OverBudget,
}

/// The outcome of feeding bytes to a [`DataReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStatus {
    /// More input is needed.
    More,
    /// The end was found after `consumed` bytes of the last input: the
    /// message (unstuffed, with CRLF line ends as received), or why not.
    Done {
        /// Bytes of the last input that belonged to the DATA section;
        /// the rest are the next commands (pipelining).
        consumed: usize,
        /// The message, or the problem.
        message: Result<Vec<u8>, DataProblem>,
    },
}

/// Incremental reader of one DATA section.
///
/// Invariant: `message` holds the unstuffed bytes of complete lines read so
/// far (never more than `limit`); `line` holds the current incomplete line.
#[derive(Debug)]
pub struct DataReader {
    limit: usize,
    message: Vec<u8>,
    line: Vec<u8>,
    problem: Option<DataProblem>,
    /// The previous byte was a CR (across `feed` calls).
    after_cr: bool,
    /// The current line outgrew the limit and was dropped: whatever it
    /// ends with, it is not the `.` line.
    line_dropped: bool,
}

impl DataReader {
    /// A reader that accepts at most `limit` bytes of message.
    pub fn new(limit: usize) -> Self {
        DataReader {
            limit,
            // Most mail fits: no run of reallocations (and copies) while a
            // typical message grows from nothing.
            message: Vec::with_capacity(limit.min(16 << 10)),
            line: Vec::new(),
            problem: None,
            after_cr: false,
            line_dropped: false,
        }
    }

    /// Feeds received bytes.
    ///
    /// ```
    /// use sluice_smtp::data::{DataReader, DataStatus};
    /// let mut r = DataReader::new(1000);
    /// assert_eq!(r.feed(b"Subject: x\r\n\r\n..dot\r\n"), DataStatus::More);
    /// match r.feed(b".\r\nQUIT\r\n") {
    ///     DataStatus::Done { consumed, message } => {
    ///         assert_eq!(consumed, 3);
    ///         assert_eq!(message.unwrap(), b"Subject: x\r\n\r\n.dot\r\n");
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn feed(&mut self, input: &[u8]) -> DataStatus {
        let mut i = 0;
        while i < input.len() {
            if self.after_cr {
                self.after_cr = false;
                if input[i] == b'\n' {
                    // A complete CRLF line (the CR is already in `line`).
                    self.line.push(b'\n');
                    if self.line == b".\r\n" && !self.line_dropped {
                        let message = match self.problem {
                            Some(p) => Err(p),
                            None => Ok(std::mem::take(&mut self.message)),
                        };
                        return DataStatus::Done {
                            consumed: i + 1,
                            message,
                        };
                    }
                    self.finish_line();
                    i += 1;
                    continue;
                }
                // The CR was bare; this byte is read as any other below.
                self.problem.get_or_insert(DataProblem::BareLineEnding);
            }
            // Ordinary bytes up to the next CR or LF are copied in one go.
            let end = memchr::memchr2(b'\r', b'\n', &input[i..]).map_or(input.len(), |p| i + p);
            if end > i {
                self.line.extend_from_slice(&input[i..end]);
                i = end;
            } else {
                if input[i] == b'\r' {
                    self.after_cr = true;
                } else {
                    self.problem.get_or_insert(DataProblem::BareLineEnding);
                }
                self.line.push(input[i]);
                i += 1;
            }
            // A line longer than the limit cannot fit anyway: keep memory bounded.
            if self.line.len() > self.limit {
                if self.problem != Some(DataProblem::OverBudget) {
                    self.problem = Some(DataProblem::TooBig);
                }
                self.line.clear();
                self.line_dropped = true;
            }
        }
        DataStatus::More
    }

    /// Makes room for a message announced as `bytes` (MAIL's SIZE), at
    /// most the limit: a large message then grows into one allocation
    /// instead of doubling its way there (each doubling briefly holds the
    /// old and the new buffer, 3x the message at the last step).
    pub fn expect(&mut self, bytes: usize) {
        let want = bytes.min(self.limit);
        if want > self.message.capacity() {
            self.message.reserve_exact(want - self.message.len());
        }
    }

    /// Bytes of message kept so far.
    pub fn len(&self) -> usize {
        self.message.len() + self.line.len()
    }

    /// Whether no byte of message was kept yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops what was kept and reads on to the end of DATA without keeping
    /// anything: the message will be answered as `problem`.
    pub fn discard(&mut self, problem: DataProblem) {
        self.problem = Some(problem);
        self.message = Vec::new();
    }

    fn discarding(&self) -> bool {
        matches!(
            self.problem,
            Some(DataProblem::TooBig | DataProblem::OverBudget)
        )
    }

    fn finish_line(&mut self) {
        self.line_dropped = false;
        let line = std::mem::take(&mut self.line);
        // `\0.` lines are read as the end by some servers.
        if line.len() > 3
            && line[..line.len() - 3].iter().all(|&b| b == 0)
            && line.ends_with(b".\r\n")
        {
            self.problem.get_or_insert(DataProblem::BareLineEnding);
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        if self.discarding() {
            // Nothing more is kept.
        } else if self.message.len() + unstuffed.len() > self.limit {
            self.problem = Some(DataProblem::TooBig);
            self.message.clear();
            self.message.shrink_to_fit();
        } else {
            self.message.extend_from_slice(unstuffed);
        }
        self.line = line;
        self.line.clear();
    }
}

/// Dot-stuffs a message for sending and appends the `.` line: every line
/// starting with `.` gets another; a message not ending in CRLF gets one.
///
/// ```
/// use sluice_smtp::data::dot_stuff;
/// assert_eq!(dot_stuff(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
/// assert_eq!(dot_stuff(b".x"), b"..x\r\n.\r\n");
/// ```
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut stuffer = DotStuffer::default();
    stuffer.push(message, &mut out);
    stuffer.finish(&mut out);
    out
}

/// Incremental dot-stuffing, so a message held in several pieces (added
/// headers, then the original bytes) is sent without first being copied
/// into one buffer.
#[derive(Debug)]
pub struct DotStuffer {
    at_line_start: bool,
    last_two: [u8; 2],
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            at_line_start: true,
            last_two: [0, 0],
        }
    }
}

impl DotStuffer {
    /// Appends the stuffed form of `bytes` to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.at_line_start && rest[0] == b'.' {
                out.push(b'.');
            }
            // A line (or the rest of one) at a time.
            let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |p| p + 1);
            let (line, tail) = rest.split_at(end);
            out.extend_from_slice(line);
            self.at_line_start = line.ends_with(b"\n");
            self.last_two = match line {
                [.., a, b] => [*a, *b],
                [b] => [self.last_two[1], *b],
                [] => self.last_two,
            };
            rest = tail;
        }
    }

    /// Appends the end of data (a CRLF first if the message lacks one).
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.last_two != *b"\r\n" {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(chunks: &[&[u8]], limit: usize) -> (usize, Result<Vec<u8>, DataProblem>) {
        let mut r = DataReader::new(limit);
        for (n, c) in chunks.iter().enumerate() {
            if let DataStatus::Done { consumed, message } = r.feed(c) {
                assert_eq!(n, chunks.len() - 1, "ended early");
                return (consumed, message);
            }
        }
        panic!("no end found");
    }

    #[test]
    fn stuffing_then_reading_gives_the_message_back_in_any_chunking() {
        let message: Vec<u8> = (0..400)
            .map(|i| match i % 7 {
                0 => format!(".line {i}\r\n"),
                1 => format!("..{i}\r\n"),
                2 => "\r\n".to_owned(),
                _ => format!("text {i} {}\r\n", "x".repeat(i % 90)),
            })
            .collect::<String>()
            .into_bytes();
        let stuffed = dot_stuff(&message);
        for size in [1, 2, 3, 7, 64, 1000, stuffed.len()] {
            let chunks: Vec<&[u8]> = stuffed.chunks(size).collect();
            let (consumed, m) = read_all(&chunks, 1 << 20);
            assert_eq!(m.unwrap(), message, "chunks of {size}");
            assert_eq!(consumed, chunks.last().unwrap().len());
        }
        // Stuffing in pieces is stuffing whole.
        let mut stuffer = DotStuffer::default();
        let mut out = Vec::new();
        for piece in message.chunks(5) {
            stuffer.push(piece, &mut out);
        }
        stuffer.finish(&mut out);
        assert_eq!(out, stuffed);
    }

    #[test]
    fn end_only_at_crlf_dot_crlf_even_across_chunks() {
        let (consumed, m) = read_all(&[b"line\r", b"\n.", b"\r", b"\nNOOP\r\n"], 100);
        assert_eq!(m.unwrap(), b"line\r\n");
        assert_eq!(consumed, 1, "only the LF of the last chunk ended the data");
        // An empty message: the DATA command's CRLF opens the first line.
        let (_, m) = read_all(&[b".\r\n"], 100);
        assert_eq!(m.unwrap(), b"");
    }

    #[test]
    fn smuggling_variants_are_read_to_the_real_end_and_refused() {
        let variants: &[&[u8]] = &[
            b"a\r\n\n.\n\r\nMAIL FROM:<x>\r\n.\r\n",
            b"a\n.\r\nMAIL FROM:<x>\r\n.\r\n",
            b"a\r.\rMAIL FROM:<x>\r\n.\r\n",
            b"a\r\n.\rMAIL FROM:<x>\r\n.\r\n",
            b"a\r\n.\nMAIL FROM:<x>\r\n.\r\n",
            b"a\r\n\x00.\r\nMAIL FROM:<x>\r\n.\r\n",
            b"a\n\r\n.\r\n",
        ];
        for v in variants {
            let (consumed, m) = read_all(&[v], 1000);
            assert_eq!(
                m,
                Err(DataProblem::BareLineEnding),
                "{:?}",
                String::from_utf8_lossy(v)
            );
            assert_eq!(consumed, v.len(), "the real end is the last CRLF.CRLF");
        }
    }

    #[test]
    fn size_limit_reads_on_with_bounded_memory() {
        let mut r = DataReader::new(10);
        for _ in 0..1000 {
            assert_eq!(
                r.feed(b"0123456789012345678901234567890123456789\r\n"),
                DataStatus::More
            );
            assert!(r.message.capacity() <= 64 && r.line.capacity() <= 128);
        }
        assert_eq!(
            r.feed(b".\r\n"),
            DataStatus::Done {
                consumed: 3,
                message: Err(DataProblem::TooBig)
            }
        );
    }

    #[test]
    fn a_dropped_long_line_ending_in_a_dot_is_not_the_end() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b".\r\nRSET\r\n.\r\n");
        let (consumed, m) = read_all(&[&input], 20);
        assert_eq!(m, Err(DataProblem::TooBig));
        assert_eq!(consumed, input.len());
    }

    #[test]
    fn long_lines_are_kept_as_they_are() {
        let long = vec![b'x'; 5000];
        let mut input = long.clone();
        input.extend_from_slice(b"\r\n.\r\n");
        let (_, m) = read_all(&[&input], 10_000);
        assert_eq!(m.unwrap().len(), 5002);
    }

    #[test]
    fn stuffing_round_trip() {
        let message = b"From: a\r\n\r\n.\r\n..two\r\nend\r\n";
        let stuffed = dot_stuff(message);
        let mut r = DataReader::new(1000);
        assert_eq!(
            r.feed(&stuffed),
            DataStatus::Done {
                consumed: stuffed.len(),
                message: Ok(message.to_vec())
            }
        );
    }
}
