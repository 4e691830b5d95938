//! The tokio SMTP server: listener, per-connection loop, limits.
//!
//! Structured like tokio's mini-redis: [`serve`] accepts connections under
//! a semaphore (`max_connections`), each connection runs [`Connection`]'s
//! loop on its own task, and a shutdown future stops accepting while
//! transactions in flight finish. What to do with MAIL, RCPT and the
//! message is the [`Handler`]'s business; this module only speaks SMTP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::data::{DataProblem, DataReader, DataStatus};
use crate::inflight::{Charge, InflightBudget, ADMISSION_WAIT};
use crate::proxy_protocol::{read_header, HEADER_TIMEOUT};
use crate::session::{
    MailRequest, RcptRequest, Session, SessionConfig, State, Step, MAX_COMMAND_LINE,
};
use crate::stream::Stream;
use crate::Reply;

/// One finished DATA transaction.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// The client's address.
    pub peer: SocketAddr,
    /// Its HELO/EHLO name.
    pub helo: String,
    /// Reverse-path (`""` for the null sender).
    pub from: String,
    /// Accepted recipients.
    pub recipients: Vec<String>,
    /// The message, dot-unstuffed, CRLF line ends as received.
    pub message: Vec<u8>,
}

/// Decides what happens to each connection's commands and messages.
pub trait Handler: Send + Sync + 'static {
    /// Per-connection state (e.g. an upstream session).
    type Connection: ConnectionHandler;

    /// A client connected; `Err(reply)` refuses it (the reply is sent and
    /// the connection closed).
    fn connect(&self, peer: SocketAddr) -> Result<Self::Connection, Reply>;

    /// Whether connections from `peer` open with a PROXY protocol header
    /// (a load balancer in front); its address is then the client for
    /// everything (SPEC §6).
    fn expects_proxy_header(&self, peer: SocketAddr) -> bool {
        let _ = peer;
        false
    }
}

/// One connection's side of the [`Handler`].
pub trait ConnectionHandler: Send + 'static {
    /// MAIL FROM; the reply is the client's.
    fn mail(&mut self, helo: &str, request: &MailRequest) -> impl Future<Output = Reply> + Send;
    /// RCPT TO; the reply is the client's.
    fn rcpt(&mut self, request: &RcptRequest) -> impl Future<Output = Reply> + Send;
    /// A complete message; the reply answers the end of DATA.
    fn data(&mut self, transaction: Transaction) -> impl Future<Output = Reply> + Send;
    /// The transaction was abandoned (RSET, EHLO, refused DATA).
    fn reset(&mut self) -> impl Future<Output = ()> + Send;
    /// The client is gone.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
    /// TLS is up; `verified_certificate`: the client presented a
    /// certificate that chains to the configured client CAs.
    fn tls_established(&mut self, verified_certificate: bool) {
        let _ = verified_certificate;
    }
    /// Asked at each MAIL before [`ConnectionHandler::mail`]: `Err(reply)`
    /// sends the reply and closes the connection (relay control that
    /// depends on what happened after connect, such as a client
    /// certificate).
    fn admit(&mut self) -> Result<(), Reply> {
        Ok(())
    }
    /// Whether this client may send XFORWARD (asked once, at connect).
    fn xforward_allowed(&self) -> bool {
        false
    }
    /// XFORWARD attributes (names upper-case, values decoded) for the next
    /// transaction: who the MTA in front says the client is.
    fn xforward(&mut self, attributes: Vec<(String, String)>) {
        let _ = attributes;
    }
}

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Protocol settings.
    pub session: SessionConfig,
    /// Concurrent connections; more get `421 4.3.2`.
    pub max_connections: usize,
    /// Idle time per command before `421 4.4.2`.
    pub command_timeout: Duration,
    /// STARTTLS certificate and key (see [`crate::tls::server_config`]);
    /// `None`: STARTTLS is not offered.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// After shutdown starts, how long transactions in flight may take to
    /// finish before the server returns anyway (a client trickling a
    /// message byte by byte must not keep it alive for ever; an
    /// unanswered client retries, so nothing is lost).
    pub shutdown_grace: Duration,
    /// Message bytes all sessions hold at once (see [`crate::inflight`]);
    /// a clone shares one budget with another front end.
    pub inflight: InflightBudget,
    /// Whole-session deadline, reads and writes alike; past it `421 4.4.2`
    /// at the next read (a message already handed over finishes).
    pub session_timeout: Duration,
    /// Connections from one client address at once; 0 = no limit; past it
    /// `421 4.7.0`.
    pub max_connections_per_client: usize,
}

/// Accepts connections until `shutdown` resolves; then idle connections
/// are told `421 4.3.2` and closed, transactions in flight finish, and it
/// returns when the last connection is gone, or after
/// [`ServerConfig::shutdown_grace`].
pub async fn serve<H: Handler>(
    listener: TcpListener,
    config: ServerConfig,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) {
    let limit = Arc::new(Semaphore::new(config.max_connections));
    let inflight = config.inflight.clone();
    let per_client = PerClient::default();
    let config = Arc::new(config);
    let mut tasks = tokio::task::JoinSet::new();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: back off, keep serving.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Replies are written whole and flushed: Nagle's algorithm would
        // only hold a reply back waiting for an ACK.
        let _ = stream.set_nodelay(true);
        let permit = match limit.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                tracing::warn!(client = %peer.ip(), "refused: max_connections reached");
                tasks.spawn(async move {
                    let mut stream = stream;
                    let reply = Reply::new(421, (4, 3, 2), "Too many connections, try later");
                    let _ =
                        tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&reply.to_bytes()))
                            .await;
                });
                continue;
            }
        };
        let handler = handler.clone();
        let config = config.clone();
        let stopping = stopping.clone();
        let inflight = inflight.clone();
        let per_client = per_client.clone();
        tasks.spawn(async move {
            // Held for the connection's lifetime.
            let _permit = permit;
            let mut stream = stream;
            // Behind a load balancer: no greeting until it says who the
            // client is; a peer that does not is closed without a reply.
            let peer = if handler.expects_proxy_header(peer) {
                match read_header(&mut stream, HEADER_TIMEOUT).await {
                    Ok(Some(client)) => client,
                    Ok(None) => peer,
                    Err(e) => {
                        tracing::warn!(peer = %peer.ip(), "refused: {e}");
                        return;
                    }
                }
            } else {
                peer
            };
            let Some(_client_slot) = per_client.enter(peer.ip(), config.max_connections_per_client)
            else {
                tracing::warn!(client = %peer.ip(), "refused: max_connections_per_client reached");
                let reply = Reply::new(421, (4, 7, 0), "Too many connections from your address");
                let _ =
                    tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&reply.to_bytes())).await;
                return;
            };
            match handler.connect(peer) {
                Ok(conn) => {
                    Connection::new(stream, peer, &config, conn, stopping, inflight)
                        .run()
                        .await
                }
                Err(reply) => {
                    let _ =
                        tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&reply.to_bytes()))
                            .await;
                }
            }
        });
        // Reap finished connections so the set does not grow.
        while tasks.try_join_next().is_some() {}
    }
    let _ = stop.send(true);
    let drained = async { while tasks.join_next().await.is_some() {} };
    // Past the grace, dropping the set aborts what is left.
    let _ = tokio::time::timeout(config.shutdown_grace, drained).await;
}

/// A refusal or greeting to a client we do not serve gets this long.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections per client address (`max_connections_per_client`).
#[derive(Clone, Default)]
struct PerClient(Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>);

/// One connection's place in [`PerClient`]; leaves on drop.
struct ClientSlot {
    counts: PerClient,
    ip: std::net::IpAddr,
}

impl PerClient {
    /// A slot for `ip`, or `None` when it already holds `limit` (0: no limit).
    fn enter(&self, ip: std::net::IpAddr, limit: usize) -> Option<ClientSlot> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(ip).or_insert(0);
        if limit > 0 && *n >= limit {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                // The map holds only addresses with connections open.
                counts.remove(&self.ip);
            }
        }
    }
}

/// One client connection.
pub struct Connection<'c, C: ConnectionHandler> {
    stream: Stream<tokio_rustls::server::TlsStream<TcpStream>>,
    peer: SocketAddr,
    config: &'c ServerConfig,
    session: Session,
    handler: C,
    /// Received, not yet processed bytes.
    input: Vec<u8>,
    /// Replies not yet written (pipelining batches them).
    output: Vec<u8>,
    /// Becomes true when the server shuts down.
    stopping: tokio::sync::watch::Receiver<bool>,
    /// The server's in-flight byte budget.
    inflight: InflightBudget,
    /// The SIZE of the accepted MAIL command (0 when not given).
    declared_size: usize,
    /// When `session_timeout` ends the session.
    session_deadline: tokio::time::Instant,
}

enum Line {
    Complete(Vec<u8>),
    TooLong,
}

impl<'c, C: ConnectionHandler> Connection<'c, C> {
    fn new(
        stream: TcpStream,
        peer: SocketAddr,
        config: &'c ServerConfig,
        handler: C,
        stopping: tokio::sync::watch::Receiver<bool>,
        inflight: InflightBudget,
    ) -> Self {
        let mut session_config = config.session.clone();
        session_config.starttls = config.tls.is_some();
        let mut session = Session::new(session_config);
        if handler.xforward_allowed() {
            session.allow_xforward();
        }
        Connection {
            stream: Stream::Plain(stream),
            peer,
            config,
            session,
            handler,
            input: Vec::new(),
            output: Vec::new(),
            stopping,
            inflight,
            declared_size: 0,
            session_deadline: tokio::time::Instant::now() + config.session_timeout,
        }
    }

    /// Runs the session to its end; I/O errors end it quietly.
    pub async fn run(mut self) {
        let greeting = self.session.greeting();
        self.output.extend_from_slice(&greeting.to_bytes());
        if let Err(e) = self.serve().await {
            // A client that goes away is routine: debug, not warn.
            tracing::debug!(peer = %self.peer, "session ended: {e}");
        }
        self.handler.close().await;
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        loop {
            let line = match self.next_line().await? {
                Some(l) => l,
                None => return Ok(()),
            };
            let step = match line {
                Line::TooLong => Step::Reply(Reply::new(500, (5, 5, 2), "Line too long")),
                Line::Complete(l) => self.session.command(&l),
            };
            match step {
                Step::Reply(r) => self.output.extend_from_slice(&r.to_bytes()),
                Step::Close(r) => {
                    self.output.extend_from_slice(&r.to_bytes());
                    self.flush().await?;
                    return Ok(());
                }
                Step::Reset(r) => {
                    self.handler.reset().await;
                    self.output.extend_from_slice(&r.to_bytes());
                }
                Step::Mail(m) => {
                    if let Err(r) = self.handler.admit() {
                        self.output.extend_from_slice(&r.to_bytes());
                        self.flush().await?;
                        return Ok(());
                    }
                    let helo = self.session.helo().unwrap_or_default().to_owned();
                    let r = self.handler.mail(&helo, &m).await;
                    self.session.mail_answered(&m, &r);
                    self.declared_size = m.size;
                    self.output.extend_from_slice(&r.to_bytes());
                }
                Step::Xforward(attributes) => {
                    self.handler.xforward(attributes);
                    self.output
                        .extend_from_slice(&Reply::new(250, (2, 0, 0), "Ok").to_bytes());
                }
                Step::Rcpt(rcpt) => {
                    let r = self.handler.rcpt(&rcpt).await;
                    self.session.rcpt_answered(&rcpt, &r);
                    self.output.extend_from_slice(&r.to_bytes());
                }
                Step::Data(r) => {
                    // Replies before the wait are sent first: the client
                    // is told what it asked so far.
                    self.flush().await?;
                    let declared = self.declared_size;
                    let Some(charge) = self.inflight.admit(declared, ADMISSION_WAIT).await else {
                        self.handler.reset().await;
                        self.session.data_finished();
                        let busy =
                            Reply::new(451, (4, 3, 1), "Too much mail in progress, try later");
                        self.output.extend_from_slice(&busy.to_bytes());
                        continue;
                    };
                    self.output.extend_from_slice(&r.to_bytes());
                    self.flush().await?;
                    let reply = self.data(charge).await?;
                    self.output.extend_from_slice(&reply.to_bytes());
                    self.session.data_finished();
                }
                Step::StartTls(r) => {
                    self.output.extend_from_slice(&r.to_bytes());
                    self.flush().await?;
                    // RFC 3207: commands pipelined after STARTTLS are discarded.
                    self.input.clear();
                    let Some(tls) = self.config.tls.clone() else {
                        return Ok(());
                    };
                    let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Upgrading)
                    else {
                        return Ok(());
                    };
                    match tokio::time::timeout(
                        self.config.command_timeout,
                        TlsAcceptor::from(tls).accept(tcp),
                    )
                    .await
                    {
                        Ok(Ok(tls_stream)) => {
                            // With a client verifier, a presented certificate
                            // that did not verify failed the handshake.
                            let verified = tls_stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .is_some_and(|c| !c.is_empty());
                            self.handler.tls_established(verified);
                            self.stream = Stream::Tls(Box::new(tls_stream));
                            self.handler.reset().await;
                            self.session.tls_started();
                        }
                        // A failed handshake leaves nothing to talk on.
                        Ok(Err(e)) => {
                            tracing::info!(peer = %self.peer, "STARTTLS handshake failed: {e}");
                            return Ok(());
                        }
                        Err(_) => {
                            tracing::info!(peer = %self.peer, "STARTTLS handshake timed out");
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// Reads the message after 354 and hands it over.
    /// `charge` (this message's share of the in-flight budget) is held
    /// until the handler has answered.
    async fn data(&mut self, mut charge: Charge) -> std::io::Result<Reply> {
        let mut reader = DataReader::new(self.config.session.max_message_size);
        // The declared size is already charged to the budget: hold it in
        // one allocation.
        reader.expect(self.declared_size);
        // Bytes already received after the DATA line belong to the message.
        let mut pending = std::mem::take(&mut self.input);
        // The first read gets room for a typical message; later ones for
        // 64 KiB at a time (a large message in few reads).
        let mut room = 16 * 1024;
        loop {
            let status = reader.feed(&pending);
            let held = match &status {
                DataStatus::Done { message: Ok(m), .. } => m.len(),
                _ => reader.len(),
            };
            let over = !charge.cover(held);
            if over {
                reader.discard(DataProblem::OverBudget);
            }
            if let DataStatus::Done { consumed, message } = status {
                let message = if over {
                    Err(DataProblem::OverBudget)
                } else {
                    message
                };
                self.input = pending.split_off(consumed);
                return Ok(match message {
                    Ok(message) => {
                        let (from, recipients) = self.session.envelope();
                        let transaction = Transaction {
                            peer: self.peer,
                            helo: self.session.helo().unwrap_or_default().to_owned(),
                            from: from.unwrap_or_default().to_owned(),
                            recipients: recipients.to_vec(),
                            message,
                        };
                        let reply = self.handler.data(transaction).await;
                        drop(charge);
                        reply
                    }
                    Err(problem) => {
                        self.handler.reset().await;
                        match problem {
                            DataProblem::BareLineEnding => Reply::new(
                                550,
                                (5, 6, 0),
                                "Bare CR or LF in message data refused (line ends must be CRLF)",
                            ),
                            DataProblem::TooBig => Reply::new(
                                552,
                                (5, 3, 4),
                                "Message size exceeds fixed maximum message size",
                            ),
                            DataProblem::OverBudget => {
                                Reply::new(451, (4, 3, 1), "Too much mail in progress, try later")
                            }
                        }
                    }
                });
            }
            pending.clear();
            // Read straight into the spare capacity: no zeroed buffer and
            // no copy per read.
            pending.reserve(room);
            room = 64 * 1024;
            let n =
                match tokio::time::timeout(self.read_timeout(), self.stream.read_buf(&mut pending))
                    .await
                {
                    Ok(r) => r?,
                    Err(_) => return Err(self.idle_too_long().await),
                };
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// The next command line; replies are flushed before blocking on input.
    async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        let mut buf = [0u8; 4096];
        let mut discarding = false;
        loop {
            if let Some(pos) = self.input.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.input.drain(..=pos).collect();
                if discarding || line.len() > MAX_COMMAND_LINE {
                    return Ok(Some(Line::TooLong));
                }
                return Ok(Some(Line::Complete(line)));
            }
            if self.input.len() > MAX_COMMAND_LINE {
                // Keep memory bounded: drop the over-long line, answer once
                // its end arrives.
                self.input.clear();
                discarding = true;
            }
            self.flush().await?;
            // Between transactions a shutdown closes the session; inside
            // one, the client may finish it.
            let idle = matches!(self.session.state(), State::Connected | State::Ready);
            let mut stopping = self.stopping.clone();
            let n = if idle {
                tokio::select! {
                    n = self.read_some(&mut buf) => n?,
                    // The guard `wait_for` returns is dropped inside: it is not `Send`.
                    _ = async { stopping.wait_for(|s| *s).await.is_ok() } => {
                        self.output.extend_from_slice(&Reply::new(421, (4, 3, 2), "Service shutting down").to_bytes());
                        self.flush().await?;
                        return Ok(None);
                    }
                }
            } else {
                self.read_some(&mut buf).await?
            };
            if n == 0 {
                return Ok(None);
            }
            self.input.extend_from_slice(&buf[..n]);
        }
    }

    async fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match tokio::time::timeout(self.read_timeout(), self.stream.read(buf)).await {
            Ok(r) => r,
            Err(_) => Err(self.idle_too_long().await),
        }
    }

    /// How long the next read may wait: `command_timeout`, or less when
    /// the session's own deadline comes first.
    fn read_timeout(&self) -> Duration {
        let left = self
            .session_deadline
            .saturating_duration_since(tokio::time::Instant::now());
        self.config.command_timeout.min(left)
    }

    /// `command_timeout` or `session_timeout` passed: `421 4.4.2`, and the
    /// error that ends the session.
    async fn idle_too_long(&mut self) -> std::io::Error {
        let text = if tokio::time::Instant::now() >= self.session_deadline {
            "Session too long, closing connection"
        } else {
            "Idle too long, closing connection"
        };
        self.output
            .extend_from_slice(&Reply::new(421, (4, 4, 2), text).to_bytes());
        if let Err(e) = self.flush().await {
            return e;
        }
        std::io::ErrorKind::TimedOut.into()
    }

    /// Writes the pending replies. A client that does not read them within
    /// `command_timeout` (or the session's deadline) loses the session: a
    /// full socket buffer must not hold a connection slot for ever.
    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.output.is_empty() {
            let timeout = self.read_timeout().max(Duration::from_millis(1));
            match tokio::time::timeout(timeout, self.stream.write_all(&self.output)).await {
                Ok(r) => r?,
                Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
            }
            self.output.clear();
        }
        Ok(())
    }
}
