//! The milter listener and one MTA connection: packets in, the message
//! assembled, the handler's verdict out.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use sluice_smtp::inflight::{Charge, InflightBudget, ADMISSION_WAIT};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::protocol::{
    actions, encode, flags, parse, Command, ProtocolError, Response, MAX_PACKET, VERSION,
};

/// Who the MTA says the SMTP client is (connect step and macros).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// The client's address.
    pub address: Option<IpAddr>,
    /// Its host name as the MTA resolved it (`None` when unknown).
    pub name: Option<String>,
    /// What it said in HELO/EHLO.
    pub helo: Option<String>,
    /// The SASL login it authenticated as (`{auth_authen}`).
    pub auth_user: Option<String>,
    /// The MTA's queue id (`i`).
    pub queue_id: Option<String>,
}

/// One whole message, at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who sent it, as the MTA saw them.
    pub client: Client,
    /// The envelope sender, without angle brackets (`""`: null sender).
    pub sender: String,
    /// The envelope recipients, without angle brackets.
    pub recipients: Vec<String>,
    /// The message: its headers as the MTA passed them, a blank line, the
    /// body (CRLF line ends).
    pub raw: Vec<u8>,
}

/// What the MTA is to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it, with these header lines (`Name: value`) inserted at the
    /// top, in this order.
    Accept(Vec<String>),
    /// Refuse it with this reply (`550 5.7.1 ...`).
    Reject(String),
    /// Accept it and throw it away (it is in the quarantine).
    Discard,
    /// Ask the client to try again later with this reply (`451 ...`).
    Tempfail(String),
}

/// What the milter front end asks of its user.
pub trait MilterHandler: Send + Sync + 'static {
    /// Whether a TCP peer may use the milter (unix sockets are guarded by
    /// their file permissions).
    fn admits(&self, peer: IpAddr) -> bool;

    /// The verdict on one message. It must not fail: a failure of its own
    /// is a [`Verdict::Tempfail`].
    fn end_of_message(&self, message: Message)
        -> impl std::future::Future<Output = Verdict> + Send;
}

/// Settings of the milter front end.
#[derive(Debug, Clone)]
pub struct MilterConfig {
    /// Largest message (headers and body) accepted; past it `552 5.3.4`.
    pub max_message_size: usize,
    /// How long the MTA may stay silent between packets.
    pub timeout: Duration,
    /// Message bytes held at once, shared with the SMTP listener.
    pub inflight: InflightBudget,
}

/// Where the milter listens: `host:port`, or `unix:/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MilterAddress {
    /// A TCP socket.
    Tcp(SocketAddr),
    /// A unix socket path (replaced if it exists), mode 0660: the MTA
    /// connects as a member of the socket's group.
    Unix(std::path::PathBuf),
}

impl MilterAddress {
    /// Reads `127.0.0.1:8891` or `unix:/run/sluice/milter.sock`.
    pub fn parse(s: &str) -> Result<MilterAddress, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a path".into());
            }
            return Ok(MilterAddress::Unix(path.into()));
        }
        s.parse()
            .map(MilterAddress::Tcp)
            .map_err(|_| format!("expected an address such as \"127.0.0.1:8891\" or \"unix:/run/sluice/milter.sock\", found {s:?}"))
    }
}

/// Serves the milter on `address` until `shutdown` completes.
pub async fn serve_milter<H: MilterHandler>(
    address: &MilterAddress,
    config: MilterConfig,
    handler: Arc<H>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let config = Arc::new(config);
    tokio::pin!(shutdown);
    match address {
        MilterAddress::Tcp(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!("milter listening on {}", listener.local_addr()?);
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of file descriptors and the like: back off.
                            tracing::warn!("milter accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = &mut shutdown => return Ok(()),
                };
                if !handler.admits(peer.ip()) {
                    tracing::warn!(
                        "milter client {} refused: not in [milter] allowed_clients",
                        peer.ip()
                    );
                    continue;
                }
                let _ = stream.set_nodelay(true);
                tokio::spawn(run(QuickAck(stream), config.clone(), handler.clone()));
            }
        }
        MilterAddress::Unix(path) => {
            // A socket left by an earlier run would make bind fail.
            if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_dir()) {
                std::fs::remove_file(path)?;
            }
            let listener = tokio::net::UnixListener::bind(path)?;
            // Connecting needs write permission on the socket, and the MTA
            // runs as a user of its own (Postfix's smtpd as `postfix`):
            // owner and group may connect, others may not, whatever the
            // umask (the service's 0027 would leave the group read-only).
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
            tracing::info!("milter listening on unix:{}", path.display());
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((s, _)) => s,
                        Err(e) => {
                            tracing::warn!("milter accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = &mut shutdown => return Ok(()),
                };
                tokio::spawn(run(stream, config.clone(), handler.clone()));
            }
        }
    }
}

/// A TCP connection from the MTA that acknowledges what it reads at once.
///
/// Most steps get no reply (`flags::NO_REPLY*`), so an acknowledgement
/// could only ride on data after the kernel's delayed-ACK timer; and an
/// MTA that does not turn Nagle's algorithm off on its milter socket
/// (Postfix) holds each small packet until the one before is
/// acknowledged. Quick-ack mode is not sticky: it is asked for again
/// after every read.
struct QuickAck(tokio::net::TcpStream);

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let read = std::pin::Pin::new(&mut self.0).poll_read(cx, buf);
        if read.is_ready() {
            #[cfg(target_os = "linux")]
            let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
        }
        read
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// One connection, logged when it ends badly.
async fn run<S, H>(stream: S, config: Arc<MilterConfig>, handler: Arc<H>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: MilterHandler,
{
    let mut connection = Connection {
        // Buffered: the MTA often sends a step's macros and the step in
        // one segment, which one read then takes (two `read_exact` calls
        // per packet were two system calls on a bare socket).
        stream: tokio::io::BufReader::new(stream),
        config,
        handler,
        state: State::default(),
    };
    if let Err(e) = connection.serve().await {
        tracing::info!("milter connection ended: {e}");
    }
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("the MTA sent nothing for {0:?}")]
    Timeout(Duration),
}

/// What one connection knows: the client, the negotiated flags and the
/// message being received.
#[derive(Default)]
struct State {
    client: Client,
    /// Header values arrive with their leading space.
    leading_space: bool,
    /// `flags::NO_REPLY*` bits agreed: steps answered with nothing.
    no_reply: u32,
    /// A refusal decided at a step without a reply, for the next step
    /// that has one.
    pending: Option<Response>,
    sender: String,
    recipients: Vec<String>,
    raw: Vec<u8>,
    charge: Option<Charge>,
    /// The message was already answered (too large, no room): the rest of
    /// its packets are only acknowledged.
    refused: bool,
}

impl State {
    fn new_message(&mut self) {
        self.sender.clear();
        self.recipients.clear();
        self.raw = Vec::new();
        self.charge = None;
        self.refused = false;
        self.pending = None;
        self.client.queue_id = None;
    }
}

struct Connection<S, H> {
    stream: S,
    config: Arc<MilterConfig>,
    handler: Arc<H>,
    state: State,
}

/// The `flags::NO_REPLY*` bit of a step (0: it is always answered).
fn no_reply_bit(command: &Command) -> u32 {
    match command {
        Command::Connect { .. } => flags::NO_REPLY_CONNECT,
        Command::Helo(_) => flags::NO_REPLY_HELO,
        Command::Rcpt(_) => flags::NO_REPLY_RCPT,
        Command::Header { .. } => flags::NO_REPLY_HEADER,
        Command::EndOfHeaders => flags::NO_REPLY_END_OF_HEADERS,
        Command::Body(_) => flags::NO_REPLY_BODY,
        _ => 0,
    }
}

/// An address without its angle brackets.
fn bare(path: &str) -> String {
    path.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

impl<S: AsyncRead + AsyncWrite + Unpin, H: MilterHandler> Connection<S, H> {
    async fn serve(&mut self) -> Result<(), ConnectionError> {
        loop {
            let (code, data) = self.read_packet().await?;
            let command = parse(code, &data)?;
            let responses = match command {
                Command::Quit => return Ok(()),
                Command::QuitNewConnection => {
                    self.state = State::default();
                    continue;
                }
                command => {
                    let silent = no_reply_bit(&command) & self.state.no_reply != 0;
                    let responses = self.step(command).await;
                    if silent {
                        // The MTA waits for nothing here; a refusal waits
                        // for the next step it does wait for.
                        if let Some(r) = responses.into_iter().find(|r| *r != Response::Continue) {
                            self.state.pending.get_or_insert(r);
                        }
                        continue;
                    }
                    match self.state.pending.take() {
                        Some(refusal) if !responses.is_empty() => vec![refusal],
                        _ => responses,
                    }
                }
            };
            // One write for all of a step's answers (a header to add, then
            // the verdict): one system call, one segment.
            let out: Vec<u8> = responses.iter().flat_map(encode).collect();
            if !out.is_empty() {
                self.stream.write_all(&out).await?;
                self.stream.flush().await?;
            }
        }
    }

    async fn read_packet(&mut self) -> Result<(u8, Vec<u8>), ConnectionError> {
        let timeout = self.config.timeout;
        let read = async {
            let mut length = [0u8; 4];
            self.stream.read_exact(&mut length).await?;
            let length = u32::from_be_bytes(length) as usize;
            if length == 0 || length > MAX_PACKET {
                return Err(ConnectionError::Protocol(ProtocolError::Length(length)));
            }
            let mut packet = vec![0u8; length];
            self.stream.read_exact(&mut packet).await?;
            let data = packet.split_off(1);
            Ok((packet[0], data))
        };
        tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| ConnectionError::Timeout(timeout))?
    }

    /// The answers to one command (none for macros and abort).
    async fn step(&mut self, command: Command) -> Vec<Response> {
        let s = &mut self.state;
        match command {
            Command::Negotiate {
                actions: offered_actions,
                flags: offered_flags,
                ..
            } => {
                let wanted = flags::NO_UNKNOWN
                    | flags::NO_DATA
                    | flags::HEADER_LEADING_SPACE
                    | flags::NO_REPLY;
                let agreed = wanted & offered_flags;
                s.leading_space = agreed & flags::HEADER_LEADING_SPACE != 0;
                s.no_reply = agreed & flags::NO_REPLY;
                vec![Response::Negotiate {
                    version: VERSION,
                    actions: actions::ADD_HEADERS & offered_actions,
                    flags: agreed,
                }]
            }
            Command::Macros { pairs, .. } => {
                for (name, value) in pairs {
                    let value = Some(value).filter(|v| !v.is_empty());
                    match name.as_str() {
                        "i" => s.client.queue_id = value,
                        "{auth_authen}" => s.client.auth_user = value,
                        "{client_addr}" => {
                            if let Some(ip) = value.and_then(|v| v.parse().ok()) {
                                s.client.address = Some(ip);
                            }
                        }
                        _ => {}
                    }
                }
                Vec::new()
            }
            Command::Connect { hostname, address } => {
                s.client = Client {
                    address: address.parse().ok(),
                    // Postfix says "unknown" and Sendmail "[addr]" when the
                    // address did not resolve.
                    name: Some(hostname)
                        .filter(|h| !h.is_empty() && h != "unknown" && !h.starts_with('[')),
                    ..Client::default()
                };
                vec![Response::Continue]
            }
            Command::Helo(helo) => {
                s.client.helo = Some(helo).filter(|h| !h.is_empty());
                vec![Response::Continue]
            }
            Command::Mail(args) => {
                s.new_message();
                s.sender = args.first().map(|a| bare(a)).unwrap_or_default();
                let declared = args
                    .iter()
                    .skip(1)
                    .find_map(|p| {
                        let (k, v) = p.split_once('=')?;
                        k.eq_ignore_ascii_case("SIZE")
                            .then(|| v.parse::<usize>().ok())?
                    })
                    .unwrap_or(0)
                    .min(self.config.max_message_size);
                match self.config.inflight.admit(declared, ADMISSION_WAIT).await {
                    Some(charge) => {
                        s.charge = Some(charge);
                        vec![Response::Continue]
                    }
                    None => {
                        s.refused = true;
                        vec![Response::ReplyCode(
                            "451 4.3.1 Too much mail in flight, try again later".into(),
                        )]
                    }
                }
            }
            Command::Rcpt(args) => {
                if let Some(path) = args.first() {
                    s.recipients.push(bare(path));
                }
                vec![Response::Continue]
            }
            Command::Header { name, value } => {
                // A refused message's packets are only acknowledged: what
                // an MTA sends after the refusal is not held.
                if s.refused {
                    return vec![Response::Continue];
                }
                s.raw.extend_from_slice(name.as_bytes());
                s.raw.push(b':');
                if !s.leading_space {
                    s.raw.push(b' ');
                }
                // Folded values come with bare LF between their lines.
                let mut previous = 0u8;
                for &b in value.as_bytes() {
                    if b == b'\n' && previous != b'\r' {
                        s.raw.push(b'\r');
                    }
                    s.raw.push(b);
                    previous = b;
                }
                s.raw.extend_from_slice(b"\r\n");
                self.grown()
            }
            Command::EndOfHeaders => {
                if !s.refused {
                    s.raw.extend_from_slice(b"\r\n");
                }
                self.grown()
            }
            Command::Body(chunk) => {
                if !s.refused {
                    s.raw.extend_from_slice(&chunk);
                }
                self.grown()
            }
            Command::EndOfMessage(chunk) => {
                if s.refused {
                    return vec![Response::Continue];
                }
                s.raw.extend_from_slice(&chunk);
                if let Some(refusal) = self.grown().into_iter().find(|r| *r != Response::Continue) {
                    return vec![refusal];
                }
                let s = &mut self.state;
                let message = Message {
                    client: s.client.clone(),
                    sender: std::mem::take(&mut s.sender),
                    recipients: std::mem::take(&mut s.recipients),
                    raw: std::mem::take(&mut s.raw),
                };
                let verdict = self.handler.end_of_message(message).await;
                // The charge is held until the verdict is given.
                self.state.new_message();
                match verdict {
                    Verdict::Accept(headers) => {
                        let mut out: Vec<Response> = headers
                            .iter()
                            .rev()
                            .filter_map(|h| {
                                let (name, value) = h.split_once(':')?;
                                Some(Response::InsertHeader {
                                    index: 0,
                                    name: name.to_owned(),
                                    value: if self.state.leading_space {
                                        value.to_owned()
                                    } else {
                                        value.trim_start().to_owned()
                                    },
                                })
                            })
                            .collect();
                        out.push(Response::Accept);
                        out
                    }
                    Verdict::Reject(reply) | Verdict::Tempfail(reply) => {
                        vec![Response::ReplyCode(reply)]
                    }
                    Verdict::Discard => vec![Response::Discard],
                }
            }
            Command::Abort => {
                s.new_message();
                Vec::new()
            }
            Command::Data | Command::Unknown => vec![Response::Continue],
            Command::Quit | Command::QuitNewConnection => Vec::new(),
        }
    }

    /// Checks the message's size and charge after it grew: `Continue`, or
    /// the one refusal (after which the message's packets are only
    /// acknowledged).
    fn grown(&mut self) -> Vec<Response> {
        let s = &mut self.state;
        if s.refused {
            return vec![Response::Continue];
        }
        if s.raw.len() > self.config.max_message_size {
            s.refused = true;
            s.raw = Vec::new();
            return vec![Response::ReplyCode(
                "552 5.3.4 Message size exceeds fixed maximum message size".into(),
            )];
        }
        let covered = s.charge.as_mut().is_some_and(|c| c.cover(s.raw.len()));
        if !covered {
            s.refused = true;
            s.raw = Vec::new();
            return vec![Response::ReplyCode(
                "451 4.3.1 Too much mail in flight, try again later".into(),
            )];
        }
        vec![Response::Continue]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_tcp_connection_asks_for_quick_acks_after_every_read() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut server = QuickAck(server);
        let quick = |s: &QuickAck| socket2::SockRef::from(&s.0).tcp_quickack().unwrap();
        for round in 0..3 {
            // Whatever the kernel switched to meanwhile, a read asks again.
            socket2::SockRef::from(&server.0)
                .set_tcp_quickack(false)
                .unwrap();
            assert!(!quick(&server));
            client.write_all(&[round]).await.unwrap();
            let mut byte = [0u8; 1];
            server.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte, [round]);
            assert!(quick(&server), "round {round}");
        }
    }

    struct Accepting;

    impl MilterHandler for Accepting {
        fn admits(&self, _peer: IpAddr) -> bool {
            true
        }

        async fn end_of_message(&self, _message: Message) -> Verdict {
            Verdict::Accept(Vec::new())
        }
    }

    #[tokio::test]
    async fn nothing_is_held_after_a_refusal() {
        let (stream, _peer) = tokio::io::duplex(64);
        let mut c = Connection {
            stream,
            config: Arc::new(MilterConfig {
                max_message_size: 100,
                timeout: Duration::from_secs(1),
                inflight: InflightBudget::new(1 << 20),
            }),
            handler: Arc::new(Accepting),
            state: State::default(),
        };
        c.step(Command::Mail(vec!["<a@example.com>".into()])).await;
        let header = || Command::Header {
            name: "X".into(),
            value: "y".repeat(60),
        };
        assert_eq!(c.step(header()).await, vec![Response::Continue]);
        assert!(
            matches!(&c.step(header()).await[..], [Response::ReplyCode(r)] if r.starts_with("552"))
        );
        // A peer that goes on sending cannot grow what is held.
        for _ in 0..100 {
            c.step(header()).await;
            c.step(Command::Body(vec![b'x'; 1000])).await;
        }
        c.step(Command::EndOfHeaders).await;
        assert_eq!(c.state.raw.len(), 0);
    }
}
