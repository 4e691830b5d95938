//! The proxy's SMTP handler: relay control, the transparent upstream
//! session, and what each decision does to a message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_policy::{Action, Cidr, Envelope, Inspector};
use sluice_smtp::{
    ConnectionHandler, Handler, MailRequest, RcptRequest, Reply, Transaction, UpstreamClient,
    MAIL_PARAMETERS, RCPT_PARAMETERS,
};
use sluice_store::{Held, IncidentQueue, IncidentRecord, Store};

use crate::delivery::{deliver_maildir, trace_headers, Destination};
use crate::incident::{incident_of, Forensics};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::webhook::Webhook;

/// What SIGHUP reloads: swapped whole, so a connection sees one
/// configuration or the other, never a mix.
pub struct Live {
    pub inspector: Inspector,
    pub allowed_clients: Vec<Cidr>,
}

/// State shared by all connections.
pub struct Proxy {
    pub live: std::sync::RwLock<Arc<Live>>,
    /// `[proxy.tls] client_ca` is set: a client outside `allowed_clients`
    /// may still relay after STARTTLS with a verified certificate.
    pub client_certificates: bool,
    pub hostname: String,
    pub destination: Arc<Destination>,
    /// Incidents and the quarantine.
    pub store: Arc<Store>,
    /// Incidents on their way to the store (never blocks a session).
    pub incidents: IncidentQueue,
    pub forensics: Forensics,
    pub notifier: Notifier,
    pub webhook: Option<Webhook>,
    pub metrics: Arc<Metrics>,
    /// Upstream sessions left by clients that have gone.
    pub pool: UpstreamPool,
    /// Scans on the blocking pool at once, one per core: scanning is CPU
    /// work, so more at once only adds working sets (and allocator arenas)
    /// without finishing sooner; waiting messages hold only their bytes,
    /// which the in-flight budget already counts.
    pub scan_slots: Arc<tokio::sync::Semaphore>,
}

/// Idle upstream sessions kept for the next client: connect, greeting,
/// EHLO, STARTTLS and AUTH are the expensive end of a relay, and most
/// senders use one connection per message. Bounded in number and age, so
/// idle clients never hold upstream sessions and the upstream's own idle
/// timeout is never reached.
#[derive(Default)]
pub struct UpstreamPool {
    idle: std::sync::Mutex<Vec<(UpstreamClient, Instant)>>,
}

/// Most idle upstream sessions kept.
const POOL_MAX: usize = 32;
/// Idle upstream sessions older than this are closed, not reused.
const POOL_IDLE: Duration = Duration::from_secs(30);

impl UpstreamPool {
    /// The most recently used session still fresh enough; stale ones are
    /// closed on the way.
    fn take(&self) -> Option<UpstreamClient> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((upstream, since)) = idle.pop() {
            if since.elapsed() < POOL_IDLE {
                return Some(upstream);
            }
            tokio::spawn(upstream.quit());
        }
        None
    }

    /// Keeps a session (between transactions) for reuse; gives it back
    /// when the pool is full.
    fn put(&self, upstream: UpstreamClient) -> Option<UpstreamClient> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= POOL_MAX {
            return Some(upstream);
        }
        idle.push((upstream, Instant::now()));
        None
    }
}

/// Messages up to this size without attachments are scanned on the
/// session's own task.
const INLINE_SCAN: usize = 64 * 1024;

/// Whether a message may carry something other than text parts: a part
/// whose type is not text, an attachment, or a uuencoded block.
/// (Conservative: an unusual header counts as a yes.)
///
/// Only lines starting `Content-` or `begin ` are looked at, found with a
/// SIMD newline search: one case-insensitive automaton over the whole
/// message ran byte by byte (no prefilter can serve 8 case-insensitive
/// patterns) and cost 8% of the proxy's CPU on 10 KB messages.
fn has_attachment(message: &[u8]) -> bool {
    // The spellings seen in practice, in any case. A message that slips
    // past is still scanned correctly, only on the session's task, where
    // its extractors keep their own deadline.
    const TYPES: [&[u8]; 6] = [
        b"application/",
        b"image/",
        b"audio/",
        b"video/",
        b"message/",
        b"model/",
    ];
    /// A header this long is unusual enough to count as a yes.
    const LONGEST_HEADER: usize = 4096;
    let starts = |text: &[u8], prefix: &[u8]| {
        text.get(..prefix.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(prefix))
    };
    let contains = |text: &[u8], needle: &[u8]| {
        text.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    let line_starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', message).map(|i| i + 1));
    for start in line_starts {
        let rest = &message[start..];
        if starts(rest, b"begin ") {
            return true;
        }
        if !starts(rest, b"content-") {
            continue;
        }
        // The header with its folded continuation lines.
        let mut end = 0;
        let header = loop {
            if end > LONGEST_HEADER {
                return true;
            }
            match memchr::memchr(b'\n', &rest[end..]) {
                Some(i) if matches!(rest.get(end + i + 1), Some(b' ' | b'\t')) => end += i + 1,
                Some(i) => break &rest[..end + i],
                None => break rest,
            }
        };
        if (starts(header, b"content-disposition:") && contains(header, b"attachment"))
            || (starts(header, b"content-type:") && TYPES.iter().any(|t| contains(header, t)))
        {
            return true;
        }
    }
    false
}

/// More than this many `Received:` headers is a mail loop (RFC 5321 §6.3).
const MAX_RECEIVED: usize = 50;

/// A quarantine write slower than this is given up on (`451 4.3.0`): the
/// client's own timeout for the end of DATA (10 minutes in RFC 5321,
/// Postfix's `smtpd_proxy_timeout` 100 s) must not be reached first.
const QUARANTINE_TIMEOUT: Duration = Duration::from_secs(30);

impl Proxy {
    /// The configuration in force.
    pub fn live(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The handler given to the server: the shared state behind an `Arc`, so
/// every connection can hold it.
pub struct SharedProxy(pub Arc<Proxy>);

impl Handler for SharedProxy {
    type Connection = ProxyConnection;

    fn connect(&self, peer: SocketAddr) -> Result<ProxyConnection, Reply> {
        let allowed = self
            .0
            .live()
            .allowed_clients
            .iter()
            .any(|net| net.contains(peer.ip()));
        // Without client certificates there is nothing the client could
        // still do to be admitted: refuse at once.
        if !allowed && !self.0.client_certificates {
            return Err(relay_denied());
        }
        Ok(ProxyConnection {
            proxy: self.0.clone(),
            peer,
            upstream: None,
            in_transaction: false,
            admitted: allowed,
        })
    }
}

/// One client connection's relay state.
pub struct ProxyConnection {
    proxy: Arc<Proxy>,
    peer: SocketAddr,
    /// Opened at the first MAIL, reused for later transactions.
    upstream: Option<UpstreamClient>,
    in_transaction: bool,
    /// From an allowed address, or with a verified client certificate.
    admitted: bool,
}

fn relay_denied() -> Reply {
    Reply::new(554, (5, 7, 1), "Relay access denied")
}

fn upstream_unavailable() -> Reply {
    Reply::new(451, (4, 4, 1), "Upstream unavailable, try again later")
}

impl ProxyConnection {
    /// Forwards a command to the upstream; a broken upstream is dropped
    /// and the client told to retry.
    async fn forward(&mut self, line: &str) -> Reply {
        let Some(upstream) = self.upstream.as_mut() else {
            return upstream_unavailable();
        };
        match upstream.command(line).await {
            Ok(r) => {
                if r.code == 421 {
                    self.upstream = None;
                    return upstream_unavailable();
                }
                r
            }
            Err(_) => {
                self.upstream = None;
                upstream_unavailable()
            }
        }
    }

    /// The command for the upstream: the path exactly as the client wrote
    /// it, and each parameter whose extension the upstream offers (SPEC §6);
    /// the others are dropped and logged.
    fn upstream_line(&self, path: &str, params: &[String], carriers: &[(&str, &str)]) -> String {
        let offered = |extension: &str| {
            self.upstream.as_ref().is_some_and(|u| {
                u.extensions.iter().any(|e| {
                    e.split_ascii_whitespace()
                        .next()
                        .is_some_and(|k| k.eq_ignore_ascii_case(extension))
                })
            })
        };
        let mut line = path.to_owned();
        for param in params {
            let keyword = param.split('=').next().unwrap_or(param);
            let carrier = carriers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
                .map(|(_, extension)| *extension);
            match carrier {
                Some(extension) if offered(extension) => {
                    line.push(' ');
                    line.push_str(param);
                }
                _ => tracing::info!(
                    "parameter {} not forwarded: the upstream does not offer {}",
                    log_text(keyword),
                    carrier.unwrap_or("it")
                ),
            }
        }
        line
    }

    /// Opens a new upstream session; the reply for the client if it fails.
    async fn open_upstream(&mut self) -> Result<(), Reply> {
        match self.proxy.destination.open(&self.proxy.hostname).await {
            Ok(u) => {
                self.upstream = Some(u);
                Ok(())
            }
            Err(e) => {
                self.proxy.metrics.upstream_errors.inc();
                tracing::warn!("upstream: {e}");
                Err(upstream_unavailable())
            }
        }
    }

    async fn reset_upstream(&mut self) {
        if self.in_transaction {
            if let Some(u) = self.upstream.as_mut() {
                if u.command("RSET").await.is_err() {
                    self.upstream = None;
                }
            }
        }
        self.in_transaction = false;
    }
}

impl ConnectionHandler for ProxyConnection {
    fn tls_established(&mut self, verified_certificate: bool) {
        self.admitted |= verified_certificate;
    }

    fn admit(&mut self) -> Result<(), Reply> {
        if self.admitted {
            Ok(())
        } else {
            Err(relay_denied())
        }
    }

    async fn mail(&mut self, _helo: &str, request: &MailRequest) -> Reply {
        if let Destination::Maildir(_) = *self.proxy.destination {
            self.in_transaction = true;
            return Reply::new(250, (2, 1, 0), "Sender OK");
        }
        let mut pooled = false;
        if self.upstream.is_none() {
            self.upstream = self.proxy.pool.take();
            pooled = self.upstream.is_some();
        }
        if self.upstream.is_none() {
            if let Err(reply) = self.open_upstream().await {
                return reply;
            }
        }
        let line = self.upstream_line(&request.path, &request.params, MAIL_PARAMETERS);
        let mut reply = self.forward(&line).await;
        if pooled && self.upstream.is_none() {
            // The pooled session had been closed by the upstream meanwhile:
            // nothing was sent to the client yet, so start afresh.
            if let Err(reply) = self.open_upstream().await {
                return reply;
            }
            let line = self.upstream_line(&request.path, &request.params, MAIL_PARAMETERS);
            reply = self.forward(&line).await;
        }
        self.in_transaction = reply.is_positive();
        reply
    }

    async fn rcpt(&mut self, request: &RcptRequest) -> Reply {
        match *self.proxy.destination {
            Destination::Maildir(_) => Reply::new(250, (2, 1, 5), "Recipient OK"),
            Destination::Relay { .. } => {
                let line = self.upstream_line(&request.path, &request.params, RCPT_PARAMETERS);
                self.forward(&line).await
            }
        }
    }

    async fn data(&mut self, t: Transaction) -> Reply {
        let started = std::time::Instant::now();
        let mut log = TransactionLog {
            client: t.peer.ip().to_string(),
            sender: log_text(&t.from),
            recipients: t.recipients.len(),
            size: t.message.len(),
            ..TransactionLog::default()
        };
        let reply = self.process(t, &mut log).await;
        log.reply = log_text(&reply.to_string());
        log.total_ms = started.elapsed().as_secs_f64() * 1e3;
        log.write();
        reply
    }

    async fn reset(&mut self) {
        self.reset_upstream().await;
    }

    async fn close(&mut self) {
        let Some(mut upstream) = self.upstream.take() else {
            return;
        };
        // A transaction the client abandoned is reset before the session
        // is lent to another client.
        if self.in_transaction && upstream.command("RSET").await.is_err() {
            return;
        }
        if let Some(upstream) = self.proxy.pool.put(upstream) {
            upstream.quit().await;
        }
    }
}

impl ProxyConnection {
    async fn process(&mut self, t: Transaction, log: &mut TransactionLog) -> Reply {
        let proxy = self.proxy.clone();
        let metrics = &proxy.metrics;
        metrics.messages.inc();
        metrics.bytes.inc_by(t.message.len() as u64);
        let received = count_received(&t.message);
        if received > MAX_RECEIVED {
            self.reset_upstream().await;
            return Reply::new(
                554,
                (5, 4, 6),
                format!("Mail loop detected ({received} Received headers)"),
            );
        }
        let live = proxy.live();
        let scan_started = Instant::now();
        let envelope = Envelope {
            sender: Some(t.from.clone()),
            recipients: Some(t.recipients.clone()),
        };
        let message = Arc::new(t.message);
        let scanned = message.clone();
        // Scanning is CPU work: off the async workers, so other sessions
        // are not stalled behind a large attachment.
        let decision = if message.len() <= INLINE_SCAN && !has_attachment(&message) {
            // A small text-only message decodes and scans in well under a
            // millisecond: handing it to another thread would cost more. A
            // panic (a bug the fuzzers have not found yet) is answered like
            // a failed blocking scan, not by dropping the connection.
            let inspect =
                std::panic::AssertUnwindSafe(|| live.inspector.inspect(&envelope, &scanned));
            std::panic::catch_unwind(inspect).ok()
        } else {
            // Larger ones, and anything with attachments (whose extractors
            // may take long), are scanned off the async workers, so other
            // sessions are not stalled behind them.
            let slot = proxy.scan_slots.clone().acquire_owned().await;
            let scan = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                live.inspector.inspect(&envelope, &scanned)
            });
            scan.await.ok()
        };
        let Some(decision) = decision else {
            self.reset_upstream().await;
            return Reply::new(
                451,
                (4, 3, 0),
                "Message could not be inspected, try again later",
            );
        };
        let scan_time = scan_started.elapsed();
        metrics.scan_seconds.observe(scan_time.as_secs_f64());
        log.scan_ms = scan_time.as_secs_f64() * 1e3;
        let id = sluice_store::ulid();
        log.id = id.clone();
        log.message_id = log_text(&sluice_dlp::redact(
            decision.message_id.as_deref().unwrap_or_default(),
        ));
        log.policy = decision.policy.clone().unwrap_or_default();
        log.action = decision
            .action
            .filter(|_| decision.policy.is_some())
            .map_or("allow", |a| a.name());
        log.monitor = decision.monitor;
        metrics
            .decisions
            .with_label_values(&[
                decision.policy.as_deref().unwrap_or(""),
                decision.action.map_or("allow", |a| a.name()),
                if decision.monitor {
                    "monitor"
                } else {
                    "enforce"
                },
            ])
            .inc();
        let action = decision.action.filter(|_| decision.policy.is_some());
        let enforced = if decision.monitor { None } else { action };
        // An incident for every triggered policy but `allow` (§5).
        let incident = action.filter(|&a| a != Action::Allow).map(|_| {
            let quarantine_id = (enforced == Some(Action::Quarantine)).then(|| id.clone());
            IncidentRecord {
                incident: incident_of(
                    &decision,
                    &id,
                    Some(t.peer.ip()),
                    proxy.forensics,
                    quarantine_id,
                ),
                message: (proxy.forensics == Forensics::Full).then(|| message.clone()),
            }
        });
        let matched: Vec<&str> = decision
            .policy_rules()
            .flat_map(|r| r.matches.iter().map(|m| m.value.as_str()))
            .collect();
        // Incident, webhook and notification once the action has been
        // applied (a failed quarantine records nothing: the client retries).
        let announce = |incident: &IncidentRecord| {
            if let Some(w) = &proxy.webhook {
                w.post(&incident.incident);
            }
            if decision.notify_sender {
                proxy.notifier.notify(&incident.incident, &matched);
            }
        };
        let mut extra_header = None;
        match enforced {
            Some(Action::Block) => {
                self.reset_upstream().await;
                if let Some(incident) = &incident {
                    self.record(incident.clone());
                    announce(incident);
                }
                let text = decision
                    .reject_message
                    .clone()
                    .unwrap_or_else(|| "Message blocked by data-loss policy".into());
                return Reply::new(550, (5, 7, 1), &text);
            }
            Some(Action::Quarantine) => {
                self.reset_upstream().await;
                let Some(incident) = incident else {
                    unreachable!("a quarantine decision always has an incident");
                };
                let held = Held {
                    id: id.clone(),
                    incident_id: id.clone(),
                    time: incident.incident.time.clone(),
                    sender: t.from.clone(),
                    recipients: t.recipients.clone(),
                    subject: decision.subject.as_deref().map(sluice_dlp::redact),
                    size: message.len() as u64,
                };
                let store = proxy.store.clone();
                let record = incident.clone();
                let write =
                    tokio::task::spawn_blocking(move || store.quarantine(&held, &message, &record));
                return match tokio::time::timeout(QUARANTINE_TIMEOUT, write).await {
                    Ok(Ok(Ok(()))) => {
                        announce(&incident);
                        Reply::new(250, (2, 0, 0), format!("quarantined {id}"))
                    }
                    failed => {
                        metrics.quarantine_errors.inc();
                        let why = match failed {
                            Ok(Ok(Err(e))) => e.to_string(),
                            Ok(Err(e)) => format!("quarantine write panicked: {e}"),
                            _ => format!("quarantine write slower than {QUARANTINE_TIMEOUT:?}"),
                        };
                        tracing::warn!("tx={id}: cannot quarantine: {why}");
                        Reply::new(451, (4, 3, 0), "Quarantine unavailable, try again later")
                    }
                };
            }
            Some(Action::AddHeader) => extra_header = decision.header.clone(),
            _ => {}
        }
        if let Some(incident) = &incident {
            self.record(incident.clone());
            announce(incident);
        }
        let headers = trace_headers(
            &proxy.hostname,
            &t.helo,
            Some(self.peer.ip()),
            &id,
            extra_header.as_deref(),
        );
        self.in_transaction = false;
        let relay_started = Instant::now();
        let reply = match &*proxy.destination {
            Destination::Maildir(dir) => match deliver_maildir(dir, &id, &[&headers, &message]) {
                Ok(()) => Reply::new(250, (2, 0, 0), format!("delivered {id}")),
                Err(_) => Reply::new(451, (4, 3, 0), "Local delivery failed, try again later"),
            },
            Destination::Relay { .. } => {
                let Some(upstream) = self.upstream.as_mut() else {
                    metrics.upstream_errors.inc();
                    return upstream_unavailable();
                };
                match upstream.data(&[&headers, &message]).await {
                    Ok(r) if r.is_positive() => r,
                    Ok(r) => {
                        // Refused at DATA (the transaction may still be
                        // open upstream) or at the final dot: reset before
                        // this session serves another transaction or
                        // client; one that cannot be reset is not reused.
                        if upstream.command("RSET").await.is_err() {
                            self.upstream = None;
                        }
                        r
                    }
                    Err(_) => {
                        metrics.upstream_errors.inc();
                        self.upstream = None;
                        upstream_unavailable()
                    }
                }
            }
        };
        let relay_time = relay_started.elapsed();
        metrics.relay_seconds.observe(relay_time.as_secs_f64());
        log.upstream_ms = relay_time.as_secs_f64() * 1e3;
        reply
    }

    /// Queues an incident for the store; a full queue is logged and
    /// counted, never waited for.
    fn record(&self, incident: IncidentRecord) {
        let id = incident.incident.id.clone();
        if !self.proxy.incidents.submit(incident) {
            self.proxy.metrics.incidents_lost.inc();
            tracing::warn!("incident {id} dropped: the store's queue is full");
        }
    }
}

/// One log line per transaction (SPEC §6).
#[derive(Default)]
struct TransactionLog {
    id: String,
    client: String,
    sender: String,
    recipients: usize,
    size: usize,
    message_id: String,
    /// The deciding policy, `""` for none.
    policy: String,
    action: &'static str,
    monitor: bool,
    reply: String,
    scan_ms: f64,
    /// Waiting for the upstream's reply to the data (not added by us).
    upstream_ms: f64,
    total_ms: f64,
}

/// Text from a message or a peer as a log may hold it: control
/// characters escaped (`\u{1b}`), so a header cannot forge log lines or
/// drive a terminal.
fn log_text(text: &str) -> String {
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
    fn write(&self) {
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

/// `Received:` fields in the header block.
fn count_received(message: &[u8]) -> usize {
    let end = memchr::memmem::find(message, b"\r\n\r\n").unwrap_or(message.len());
    message[..end]
        .split(|&b| b == b'\n')
        .filter(|l| l.len() >= 9 && l[..9].eq_ignore_ascii_case(b"received:"))
        .count()
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

    #[test]
    fn messages_that_may_carry_attachments_are_recognised() {
        for plain in [
            &b"Subject: hi\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n"[..],
            // Types named in text, not in a Content-Type header.
            b"Subject: application/pdf\r\n\r\nsend it as image/png or an attachment\r\n",
            b"Content-Type: text/plain\r\nX-Note: message/rfc822\r\n\r\nbeginning\r\n",
        ] {
            assert!(!has_attachment(plain), "{}", String::from_utf8_lossy(plain));
        }
        for m in [
            &b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\n"[..],
            b"--b\r\ncontent-disposition: attachment; filename=a.txt\r\n",
            b"Content-Type: message/rfc822\r\n",
            b"Subject: x\r\n\r\ntext\nbegin 644 a.bin\n",
            b"Subject: x\r\nCONTENT-TYPE:\r\n\tImage/PNG\r\n\r\n",
            b"Content-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Disposition: inline;\r\n filename=a.pdf; attachment\r\n",
        ] {
            assert!(has_attachment(m), "{}", String::from_utf8_lossy(m));
        }
    }

    #[test]
    fn received_headers_are_counted_in_the_header_block_only() {
        let m = b"Received: a\r\nreceived: b\r\nSubject: x\r\n\r\nReceived: in body\r\n";
        assert_eq!(count_received(m), 2);
    }
}
