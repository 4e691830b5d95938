//! Milter packets (version 6): what the MTA sends, what the filter
//! answers, and their bytes.
//!
//! A packet is a 32-bit big-endian length (the command byte and its data),
//! a command byte and the data. Strings are NUL-terminated. The format
//! follows Sendmail's `libmilter` (`mfdef.h`), which Postfix speaks too.

/// The protocol version this filter speaks.
pub const VERSION: u32 = 6;

/// Largest packet accepted: Postfix and Sendmail send body chunks of at
/// most 64 KiB; anything far larger is not a milter peer.
pub const MAX_PACKET: usize = 1 << 20;

/// Filter actions (`SMFIF_*`): what the filter may do at end of message.
pub mod actions {
    /// Add (or insert) headers.
    pub const ADD_HEADERS: u32 = 0x01;
}

/// Protocol flags (`SMFIP_*`): steps the filter does not want, and
/// details of how steps are sent.
pub mod flags {
    /// No `UNKNOWN` command callbacks.
    pub const NO_UNKNOWN: u32 = 0x100;
    /// No `DATA` command callbacks.
    pub const NO_DATA: u32 = 0x200;
    /// Header values keep their leading space.
    pub const HEADER_LEADING_SPACE: u32 = 0x0010_0000;
    /// No reply to a header.
    pub const NO_REPLY_HEADER: u32 = 0x80;
    /// No reply to connect.
    pub const NO_REPLY_CONNECT: u32 = 0x1000;
    /// No reply to HELO.
    pub const NO_REPLY_HELO: u32 = 0x2000;
    /// No reply to RCPT.
    pub const NO_REPLY_RCPT: u32 = 0x8000;
    /// No reply to end of headers.
    pub const NO_REPLY_END_OF_HEADERS: u32 = 0x0004_0000;
    /// No reply to a body chunk.
    pub const NO_REPLY_BODY: u32 = 0x0008_0000;
    /// The steps whose replies this filter never needs: it refuses a
    /// message at MAIL (no room) or at its end (size, verdict), so the MTA
    /// need not wait for the others. A size refusal found in a header or
    /// body chunk waits for the end of the message, which changes nothing
    /// for the client: the MTA answers it only after the final dot anyway.
    /// Fewer round trips per message.
    pub const NO_REPLY: u32 = NO_REPLY_HEADER
        | NO_REPLY_CONNECT
        | NO_REPLY_HELO
        | NO_REPLY_RCPT
        | NO_REPLY_END_OF_HEADERS
        | NO_REPLY_BODY;
}

/// One command from the MTA.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `O`: option negotiation.
    Negotiate {
        /// The MTA's protocol version.
        version: u32,
        /// Actions the MTA allows.
        actions: u32,
        /// Protocol flags the MTA supports.
        flags: u32,
    },
    /// `D`: macros for the step `stage` (a command byte).
    Macros {
        /// The step they belong to.
        stage: u8,
        /// Name and value pairs (`{client_addr}`, `i`, ...).
        pairs: Vec<(String, String)>,
    },
    /// `C`: a client connected.
    Connect {
        /// Its host name (or `[address]`).
        hostname: String,
        /// Its address (empty for a local or unknown family).
        address: String,
    },
    /// `H`: HELO or EHLO.
    Helo(String),
    /// `M`: MAIL FROM, the path first, then ESMTP parameters.
    Mail(Vec<String>),
    /// `R`: RCPT TO, the path first, then ESMTP parameters.
    Rcpt(Vec<String>),
    /// `T`: DATA.
    Data,
    /// `L`: one header field.
    Header {
        /// Field name.
        name: String,
        /// Field value as the MTA gives it.
        value: String,
    },
    /// `N`: end of headers.
    EndOfHeaders,
    /// `B`: a piece of the body.
    Body(Vec<u8>),
    /// `E`: end of the message, with a last piece of the body (often
    /// empty).
    EndOfMessage(Vec<u8>),
    /// `A`: the message is abandoned; the connection goes on.
    Abort,
    /// `Q`: the connection is over.
    Quit,
    /// `K`: the connection is over and the next one follows on this socket.
    QuitNewConnection,
    /// `U`: an SMTP command the MTA did not know.
    Unknown,
}

/// One answer to the MTA.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// `O`: the filter's side of the negotiation.
    Negotiate {
        /// The version spoken.
        version: u32,
        /// Actions the filter will take.
        actions: u32,
        /// Protocol flags the filter asks for.
        flags: u32,
    },
    /// `c`: go on.
    Continue,
    /// `a`: accept the message, no further steps for it.
    Accept,
    /// `t`: temporary failure.
    Tempfail,
    /// `d`: accept and throw away.
    Discard,
    /// `y`: reply with this SMTP code, status and text.
    ReplyCode(String),
    /// `i`: insert a header at `index` (0: the top).
    InsertHeader {
        /// Position among the headers.
        index: u32,
        /// Field name.
        name: String,
        /// Field value.
        value: String,
    },
}

/// Why a packet could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// A packet of length 0 or over [`MAX_PACKET`].
    #[error("packet length {0} out of range")]
    Length(usize),
    /// A command byte this filter does not know.
    #[error("unknown milter command {0:?}")]
    UnknownCommand(char),
    /// The data does not have the command's shape.
    #[error("malformed {0:?} packet")]
    Malformed(char),
}

/// The NUL-terminated strings of `data` (a missing final NUL is tolerated).
fn strings(data: &[u8]) -> Vec<String> {
    let data = data.strip_suffix(&[0]).unwrap_or(data);
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// Reads one command from its byte and data.
pub fn parse(command: u8, data: &[u8]) -> Result<Command, ProtocolError> {
    let malformed = || ProtocolError::Malformed(command as char);
    Ok(match command {
        b'O' => Command::Negotiate {
            version: u32_at(data, 0).ok_or_else(malformed)?,
            actions: u32_at(data, 4).ok_or_else(malformed)?,
            flags: u32_at(data, 8).ok_or_else(malformed)?,
        },
        b'D' => {
            let (&stage, rest) = data.split_first().ok_or_else(malformed)?;
            let list = strings(rest);
            let pairs = list
                .chunks(2)
                .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
                .collect();
            Command::Macros { stage, pairs }
        }
        b'C' => {
            // hostname NUL, family byte, then for '4'/'6' a port and an
            // address NUL; 'U' a path; 'L' nothing.
            let nul = data.iter().position(|&b| b == 0).ok_or_else(malformed)?;
            let hostname = String::from_utf8_lossy(&data[..nul]).into_owned();
            let rest = &data[nul + 1..];
            let address = match rest.first() {
                Some(b'4') | Some(b'6') => {
                    let text = rest.get(3..).ok_or_else(malformed)?;
                    strings(text).into_iter().next().unwrap_or_default()
                }
                _ => String::new(),
            };
            Command::Connect { hostname, address }
        }
        b'H' => Command::Helo(strings(data).into_iter().next().unwrap_or_default()),
        b'M' => Command::Mail(strings(data)),
        b'R' => Command::Rcpt(strings(data)),
        b'T' => Command::Data,
        b'L' => {
            let mut parts = strings(data).into_iter();
            let name = parts.next().ok_or_else(malformed)?;
            Command::Header {
                name,
                value: parts.next().unwrap_or_default(),
            }
        }
        b'N' => Command::EndOfHeaders,
        b'B' => Command::Body(data.to_vec()),
        // A last body chunk may ride along with the end of the message.
        b'E' => Command::EndOfMessage(data.to_vec()),
        b'A' => Command::Abort,
        b'Q' => Command::Quit,
        b'K' => Command::QuitNewConnection,
        b'U' => Command::Unknown,
        other => return Err(ProtocolError::UnknownCommand(other as char)),
    })
}

/// The bytes of one response packet.
pub fn encode(response: &Response) -> Vec<u8> {
    let (code, data): (u8, Vec<u8>) = match response {
        Response::Negotiate {
            version,
            actions,
            flags,
        } => {
            let mut d = Vec::with_capacity(12);
            d.extend_from_slice(&version.to_be_bytes());
            d.extend_from_slice(&actions.to_be_bytes());
            d.extend_from_slice(&flags.to_be_bytes());
            (b'O', d)
        }
        Response::Continue => (b'c', Vec::new()),
        Response::Accept => (b'a', Vec::new()),
        Response::Tempfail => (b't', Vec::new()),
        Response::Discard => (b'd', Vec::new()),
        Response::ReplyCode(text) => {
            let mut d = text.as_bytes().to_vec();
            d.push(0);
            (b'y', d)
        }
        Response::InsertHeader { index, name, value } => {
            let mut d = index.to_be_bytes().to_vec();
            d.extend_from_slice(name.as_bytes());
            d.push(0);
            d.extend_from_slice(value.as_bytes());
            d.push(0);
            (b'i', d)
        }
    };
    let mut out = Vec::with_capacity(5 + data.len());
    out.extend_from_slice(&((data.len() + 1) as u32).to_be_bytes());
    out.push(code);
    out.extend_from_slice(&data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_as_postfix_sends_them() {
        let mut neg = Vec::new();
        for v in [6u32, 0x1ff, 0x1f_ffff] {
            neg.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(
            parse(b'O', &neg),
            Ok(Command::Negotiate {
                version: 6,
                actions: 0x1ff,
                flags: 0x1f_ffff
            })
        );
        assert_eq!(
            parse(b'C', b"mx.example.org\x004\x00\x19203.0.113.5\x00"),
            Ok(Command::Connect {
                hostname: "mx.example.org".into(),
                address: "203.0.113.5".into()
            })
        );
        assert_eq!(
            parse(b'D', b"C{client_addr}\x00203.0.113.5\x00j\x00mx\x00"),
            Ok(Command::Macros {
                stage: b'C',
                pairs: vec![
                    ("{client_addr}".into(), "203.0.113.5".into()),
                    ("j".into(), "mx".into())
                ]
            })
        );
        assert_eq!(
            parse(b'M', b"<a@example.com>\x00SIZE=10\x00"),
            Ok(Command::Mail(vec![
                "<a@example.com>".into(),
                "SIZE=10".into()
            ]))
        );
        assert_eq!(
            parse(b'L', b"Subject\x00 hello\x00"),
            Ok(Command::Header {
                name: "Subject".into(),
                value: " hello".into()
            })
        );
        assert_eq!(parse(b'C', b"no nul"), Err(ProtocolError::Malformed('C')));
        assert_eq!(parse(b'O', b"\x00\x00"), Err(ProtocolError::Malformed('O')));
        assert_eq!(parse(b'z', b""), Err(ProtocolError::UnknownCommand('z')));
    }

    #[test]
    fn responses_have_their_wire_form() {
        assert_eq!(encode(&Response::Continue), b"\x00\x00\x00\x01c");
        assert_eq!(
            encode(&Response::ReplyCode("550 5.7.1 No".into())),
            b"\x00\x00\x00\x0ey550 5.7.1 No\x00"
        );
        assert_eq!(
            encode(&Response::InsertHeader {
                index: 0,
                name: "X-A".into(),
                value: "b".into()
            }),
            b"\x00\x00\x00\x0bi\x00\x00\x00\x00X-A\x00b\x00"
        );
    }
}
