//! A small SMTP client for relaying to the upstream MTA.
//!
//! Written on our own rather than with `mail-send` because a transparent
//! relay needs every upstream reply — including the one to the end of
//! DATA, which `mail-send` 0.6 drops — and must send the message bytes
//! exactly (dot-stuffed, nothing added), which both `mail-send` 0.6 and 0.7
//! do not. Commands are forwarded as the client wrote them.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::data::DotStuffer;
use crate::stream::Stream;
use crate::tls::{UpstreamTls, UpstreamTlsMode};

/// Bytes stuffed and written at a time.
const CHUNK: usize = 64 * 1024;
use crate::Reply;

/// Why the upstream could not be used.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No address could be connected to.
    #[error("cannot connect to upstream: {0}")]
    Connect(String),
    /// The upstream did not answer in time.
    #[error("upstream timed out")]
    Timeout,
    /// The connection failed or closed.
    #[error("upstream connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The upstream sent something that is not an SMTP reply.
    #[error("upstream sent an invalid reply: {0:?}")]
    Protocol(String),
    /// The upstream refused the session (greeting or EHLO).
    #[error("upstream refused the session: {0}")]
    Refused(Reply),
    /// STARTTLS was required and failed (not offered, refused, or the
    /// certificate is not valid for the name).
    #[error("upstream TLS failed: {0}")]
    Tls(String),
}

/// Credentials for upstream AUTH.
#[derive(Debug, Clone)]
pub struct Auth {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// AUTH in a session without TLS is allowed (`allow_plaintext_auth`).
    pub allow_plaintext: bool,
}

/// One upstream SMTP session.
pub struct UpstreamClient {
    stream: BufReader<Stream<tokio_rustls::client::TlsStream<TcpStream>>>,
    /// The session is encrypted.
    pub tls: bool,
    timeout: Duration,
    /// The upstream's EHLO keywords (uppercase).
    pub extensions: Vec<String>,
}

impl UpstreamClient {
    /// Connects to the first address that answers, reads the greeting, says
    /// EHLO (HELO if EHLO is refused) and starts TLS as `tls` says.
    pub async fn connect(
        addresses: &[String],
        helo: &str,
        timeout: Duration,
        tls: &UpstreamTls,
    ) -> Result<UpstreamClient, UpstreamError> {
        Self::connect_with(addresses, helo, timeout, tls, None).await
    }

    /// [`UpstreamClient::connect`], then AUTH when `auth` is given. Each
    /// address is tried in turn until one gives a usable session: a refused
    /// connection, a greeting other than 220 (a `421` from a host going
    /// down), a failed STARTTLS or a failed AUTH all move on to the next
    /// address; the last address's error is returned.
    pub async fn connect_with(
        addresses: &[String],
        helo: &str,
        timeout: Duration,
        tls: &UpstreamTls,
        auth: Option<&Auth>,
    ) -> Result<UpstreamClient, UpstreamError> {
        let mut last = UpstreamError::Connect("no upstream address configured".into());
        for address in addresses {
            match Self::open_one(address, helo, timeout, tls, auth).await {
                Ok(client) => return Ok(client),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn open_one(
        address: &str,
        helo: &str,
        timeout: Duration,
        tls: &UpstreamTls,
        auth: Option<&Auth>,
    ) -> Result<UpstreamClient, UpstreamError> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(UpstreamError::Connect(format!("{address}: {e}"))),
            Err(_) => return Err(UpstreamError::Connect(format!("{address}: timed out"))),
        };
        let _ = stream.set_nodelay(true);
        let mut client = UpstreamClient {
            stream: BufReader::new(Stream::Plain(stream)),
            tls: false,
            timeout,
            extensions: Vec::new(),
        };
        let greeting = client.read_reply().await?;
        if greeting.code != 220 {
            return Err(UpstreamError::Refused(greeting));
        }
        client.greet(helo).await?;
        if tls.mode != UpstreamTlsMode::Off {
            let host = address
                .rsplit_once(':')
                .map_or(address, |(h, _)| h)
                .trim_matches(['[', ']']);
            client
                .start_tls(tls, tls.name.as_deref().unwrap_or(host))
                .await?;
            if client.tls {
                client.greet(helo).await?;
            }
        }
        if let Some(auth) = auth {
            if !client.tls && !auth.allow_plaintext {
                // Never the password in clear: this address is unusable.
                client.quit().await;
                return Err(UpstreamError::Tls(format!(
                    "{address}: AUTH needs an encrypted session (allow_plaintext_auth = false)"
                )));
            }
            client.authenticate(&auth.user, &auth.password).await?;
        }
        Ok(client)
    }

    async fn greet(&mut self, helo: &str) -> Result<(), UpstreamError> {
        let ehlo = self.command(&format!("EHLO {helo}")).await?;
        if ehlo.is_positive() {
            self.extensions = ehlo
                .lines
                .iter()
                .skip(1)
                .map(|l| l.to_ascii_uppercase())
                .collect();
            return Ok(());
        }
        let helo_reply = self.command(&format!("HELO {helo}")).await?;
        if !helo_reply.is_positive() {
            return Err(UpstreamError::Refused(helo_reply));
        }
        self.extensions.clear();
        Ok(())
    }

    /// STARTTLS per `tls.mode`: opportunistic goes on in clear text when the
    /// upstream does not offer or refuses it; required fails.
    async fn start_tls(&mut self, tls: &UpstreamTls, name: &str) -> Result<(), UpstreamError> {
        let required = tls.mode == UpstreamTlsMode::Required;
        if !self.extensions.iter().any(|e| e == "STARTTLS") {
            return if required {
                Err(UpstreamError::Tls(
                    "the upstream does not offer STARTTLS".into(),
                ))
            } else {
                Ok(())
            };
        }
        let go = self.command("STARTTLS").await?;
        if go.code != 220 {
            return if required {
                Err(UpstreamError::Tls(format!("STARTTLS refused: {go}")))
            } else {
                Ok(())
            };
        }
        let server_name = rustls_pki_types::ServerName::try_from(name.to_owned())
            .map_err(|e| UpstreamError::Tls(format!("{name:?}: {e}")))?;
        let config = if required {
            tls.verified.clone()
        } else {
            tls.unverified.clone()
        };
        let Stream::Plain(tcp) = std::mem::replace(self.stream.get_mut(), Stream::Upgrading) else {
            return Err(UpstreamError::Tls("TLS already active".into()));
        };
        let handshake = tokio_rustls::TlsConnector::from(config).connect(server_name, tcp);
        match tokio::time::timeout(self.timeout, handshake).await {
            Ok(Ok(stream)) => {
                self.stream = BufReader::new(Stream::Tls(Box::new(stream)));
                self.tls = true;
                Ok(())
            }
            Ok(Err(e)) => Err(UpstreamError::Tls(e.to_string())),
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    /// AUTH PLAIN (or LOGIN when only that is offered) with `user` and
    /// `password`; call after [`UpstreamClient::connect`], so over TLS
    /// when the upstream offers it.
    pub async fn authenticate(&mut self, user: &str, password: &str) -> Result<(), UpstreamError> {
        use base64::Engine as _;
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let mechanisms: Vec<String> = self
            .extensions
            .iter()
            .filter_map(|e| e.strip_prefix("AUTH ").or_else(|| e.strip_prefix("AUTH=")))
            .flat_map(|m| m.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        let reply = if mechanisms.iter().any(|m| m == "PLAIN") {
            let token = b64(format!("\0{user}\0{password}").as_bytes());
            self.command(&format!("AUTH PLAIN {token}")).await?
        } else if mechanisms.iter().any(|m| m == "LOGIN") {
            let r = self.command("AUTH LOGIN").await?;
            if r.code != 334 {
                return Err(UpstreamError::Refused(r));
            }
            let r = self.command(&b64(user.as_bytes())).await?;
            if r.code != 334 {
                return Err(UpstreamError::Refused(r));
            }
            self.command(&b64(password.as_bytes())).await?
        } else {
            return Err(UpstreamError::Protocol(
                "the upstream offers neither AUTH PLAIN nor AUTH LOGIN".into(),
            ));
        };
        if reply.code == 235 {
            Ok(())
        } else {
            Err(UpstreamError::Refused(reply))
        }
    }

    /// Sends one command line (without CRLF) and returns the reply.
    pub async fn command(&mut self, line: &str) -> Result<Reply, UpstreamError> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write(&bytes).await?;
        self.read_reply().await
    }

    /// DATA, the message (the concatenation of `parts`) dot-stuffed, and
    /// the reply to its end. The parts are stuffed and sent in 64 KiB
    /// pieces: a 50 MB message is not copied whole again.
    pub async fn data(&mut self, parts: &[&[u8]]) -> Result<Reply, UpstreamError> {
        let go = self.command("DATA").await?;
        if go.code != 354 {
            return Ok(go);
        }
        let mut stuffer = DotStuffer::default();
        // Room for the whole of a small message once stuffed (a dot per
        // line at most adds little), up to a chunk and its stuffing.
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut buf = Vec::with_capacity((total + total / 16 + 8).min(CHUNK + CHUNK / 8));
        for part in parts {
            for piece in part.chunks(CHUNK) {
                stuffer.push(piece, &mut buf);
                // Parts are gathered into one write up to a chunk: a small
                // message (trace headers, message, final dot) is one
                // segment, not one per part.
                if buf.len() >= CHUNK {
                    self.write(&buf).await?;
                    buf.clear();
                }
            }
        }
        stuffer.finish(&mut buf);
        self.write(&buf).await?;
        self.read_reply().await
    }

    /// Ends the session politely.
    pub async fn quit(mut self) {
        let _ = self.command("QUIT").await;
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), UpstreamError> {
        match tokio::time::timeout(self.timeout, self.stream.get_mut().write_all(bytes)).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    /// Reads one (possibly multi-line) reply, bounded: lines of at most
    /// [`MAX_REPLY_LINE`] bytes, at most [`MAX_REPLY_LINES`] of them. The
    /// text is bytes on the wire: what is not UTF-8 is read as Latin-1
    /// (`550 5.1.1 Empf\xe4nger unbekannt` stays a 550 and reads
    /// "Empfänger"), never an error that would turn a 5xx into a 451.
    async fn read_reply(&mut self) -> Result<Reply, UpstreamError> {
        let mut lines = Vec::new();
        let mut code;
        let mut raw = Vec::new();
        // One deadline for the whole reply: an upstream trickling a line a
        // minute must not stretch it to `MAX_REPLY_LINES` timeouts.
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if lines.len() == MAX_REPLY_LINES {
                return Err(UpstreamError::Protocol(format!(
                    "reply of more than {MAX_REPLY_LINES} lines"
                )));
            }
            raw.clear();
            let limit = (MAX_REPLY_LINE + 1) as u64;
            let mut bounded = (&mut self.stream).take(limit);
            let read = bounded.read_until(b'\n', &mut raw);
            let n = match tokio::time::timeout_at(deadline, read).await {
                Ok(r) => r?,
                Err(_) => return Err(UpstreamError::Timeout),
            };
            if n == 0 {
                return Err(UpstreamError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            if n > MAX_REPLY_LINE {
                return Err(UpstreamError::Protocol(format!(
                    "reply line longer than {MAX_REPLY_LINE} bytes"
                )));
            }
            let line = reply_text(&raw);
            let line = line.trim_end_matches(['\r', '\n']);
            let parsed: Option<u16> = line.get(..3).and_then(|c| c.parse().ok());
            let Some(c) = parsed.filter(|c| (200..600).contains(c)) else {
                return Err(UpstreamError::Protocol(line.chars().take(200).collect()));
            };
            code = c;
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if last {
                break;
            }
        }
        Ok(parse_enhanced(code, lines))
    }
}

/// Longest reply line accepted, CRLF included (RFC 5321 allows 512; real
/// servers send longer, none this long).
pub const MAX_REPLY_LINE: usize = 4096;

/// Most lines in one reply (an EHLO reply has a line per extension).
pub const MAX_REPLY_LINES: usize = 128;

/// A reply line's text: UTF-8 when it is, else Latin-1 (every byte a
/// character), so no reply is refused for its charset.
fn reply_text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => std::borrow::Cow::Owned(raw.iter().map(|&b| char::from(b)).collect()),
    }
}

/// Splits an enhanced status code off the reply text when every line has
/// the same one (`250 2.0.0 Ok: queued as X`).
fn parse_enhanced(code: u16, lines: Vec<String>) -> Reply {
    let status = |l: &str| -> Option<(u8, u16, u16)> {
        let word = l.split(' ').next()?;
        let mut parts = word.split('.');
        let (a, b, c) = (
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
        );
        (parts.next().is_none() && u16::from(a) == code / 100).then_some((a, b, c))
    };
    match lines.first().and_then(|l| status(l)) {
        Some(s) if lines.iter().all(|l| status(l) == Some(s)) => {
            let text = lines
                .iter()
                .map(|l| l.split_once(' ').map_or("", |(_, t)| t).to_owned())
                .collect();
            Reply {
                code,
                status: Some(s),
                lines: text,
            }
        }
        _ => Reply {
            code,
            status: None,
            lines,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_reply_text_is_read_not_refused() {
        assert_eq!(
            reply_text(b"550 5.1.1 Empf\xe4nger unbekannt\r\n"),
            "550 5.1.1 Empfänger unbekannt\r\n"
        );
        assert_eq!(reply_text("250 Grüße\r\n".as_bytes()), "250 Grüße\r\n");
    }

    #[test]
    fn enhanced_codes_are_recognised() {
        let r = parse_enhanced(250, vec!["2.0.0 Ok: queued as 4F1".into()]);
        assert_eq!(
            (r.status, r.lines[0].as_str()),
            (Some((2, 0, 0)), "Ok: queued as 4F1")
        );
        assert_eq!(r.to_bytes(), b"250 2.0.0 Ok: queued as 4F1\r\n");
        let r = parse_enhanced(550, vec!["5.1.1 <x@y>: Recipient address rejected".into()]);
        assert_eq!(r.status, Some((5, 1, 1)));
        let r = parse_enhanced(250, vec!["mx.example.com".into(), "PIPELINING".into()]);
        assert_eq!(r.status, None);
        assert_eq!(r.to_bytes(), b"250-mx.example.com\r\n250 PIPELINING\r\n");
    }
}
