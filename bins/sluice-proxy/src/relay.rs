//! The proxy's SMTP handler: relay control, the transparent upstream
//! session, and what each decision does to a message.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sluice_policy::{Action, Cidr, Decision, Envelope, Inspector};
use sluice_smtp::{
    ConnectionHandler, Handler, MailRequest, RcptRequest, Reply, Transaction, UpstreamClient,
};

/// Where accepted mail goes.
pub enum Destination {
    /// Relay to these `host:port`s, tried in order.
    Relay {
        addresses: Vec<String>,
        timeout: Duration,
        /// STARTTLS to the upstream.
        tls: sluice_smtp::tls::UpstreamTls,
        /// AUTH user and password, if the upstream wants them.
        auth: Option<(String, String)>,
    },
    /// Deliver into this Maildir (written and fsynced).
    Maildir(PathBuf),
}

/// What SIGHUP reloads: swapped whole, so a connection sees one
/// configuration or the other, never a mix.
pub struct Live {
    pub inspector: Inspector,
    pub allowed_clients: Vec<Cidr>,
}

/// State shared by all connections.
pub struct Proxy {
    pub live: std::sync::RwLock<Arc<Live>>,
    /// `text` or `json` transaction log lines.
    pub log_json: bool,
    pub hostname: String,
    pub destination: Destination,
    /// Folder for quarantined messages and the incident log.
    pub data_dir: PathBuf,
}

/// More than this many `Received:` headers is a mail loop (RFC 5321 §6.3).
const MAX_RECEIVED: usize = 50;

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
        if !self
            .0
            .live()
            .allowed_clients
            .iter()
            .any(|net| net.contains(peer.ip()))
        {
            return Err(Reply::new(554, (5, 7, 1), "Relay access denied"));
        }
        Ok(ProxyConnection {
            proxy: self.0.clone(),
            peer,
            upstream: None,
            in_transaction: false,
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
    async fn mail(&mut self, _helo: &str, request: &MailRequest) -> Reply {
        let Destination::Relay {
            addresses,
            timeout,
            tls,
            auth,
        } = &self.proxy.destination
        else {
            self.in_transaction = true;
            return Reply::new(250, (2, 1, 0), "Sender OK");
        };
        if self.upstream.is_none() {
            let connected =
                match UpstreamClient::connect(addresses, &self.proxy.hostname, *timeout, tls).await
                {
                    Ok(mut u) => match auth {
                        Some((user, password)) => u.authenticate(user, password).await.map(|_| u),
                        None => Ok(u),
                    },
                    Err(e) => Err(e),
                };
            match connected {
                Ok(u) => self.upstream = Some(u),
                Err(e) => {
                    crate::log(&format!("upstream: {e}"));
                    return upstream_unavailable();
                }
            }
        }
        let reply = self.forward(&request.line).await;
        self.in_transaction = reply.is_positive();
        reply
    }

    async fn rcpt(&mut self, request: &RcptRequest) -> Reply {
        match self.proxy.destination {
            Destination::Maildir(_) => Reply::new(250, (2, 1, 5), "Recipient OK"),
            Destination::Relay { .. } => self.forward(&request.line).await,
        }
    }

    async fn data(&mut self, t: Transaction) -> Reply {
        let started = std::time::Instant::now();
        let mut log = TransactionLog {
            client: t.peer.ip().to_string(),
            sender: t.from.clone(),
            recipients: t.recipients.len(),
            size: t.message.len(),
            ..TransactionLog::default()
        };
        let reply = self.process(t, &mut log).await;
        log.reply = reply.to_string();
        log.total_ms = started.elapsed().as_secs_f64() * 1e3;
        log.write(self.proxy.log_json);
        reply
    }

    async fn reset(&mut self) {
        self.reset_upstream().await;
    }

    async fn close(&mut self) {
        if let Some(u) = self.upstream.take() {
            u.quit().await;
        }
    }
}

impl ProxyConnection {
    async fn process(&mut self, t: Transaction, log: &mut TransactionLog) -> Reply {
        let received = count_received(&t.message);
        if received > MAX_RECEIVED {
            self.reset_upstream().await;
            return Reply::new(
                554,
                (5, 4, 6),
                format!("Mail loop detected ({received} Received headers)"),
            );
        }
        let live = self.proxy.live();
        let scan_started = std::time::Instant::now();
        let envelope = Envelope {
            sender: Some(t.from.clone()),
            recipients: Some(t.recipients.clone()),
        };
        let message = Arc::new(t.message);
        let scanned = message.clone();
        // Scanning is CPU work: off the async workers, so other sessions
        // are not stalled behind a large attachment.
        let decision =
            match tokio::task::spawn_blocking(move || live.inspector.inspect(&envelope, &scanned))
                .await
            {
                Ok(d) => d,
                Err(_) => {
                    self.reset_upstream().await;
                    return Reply::new(
                        451,
                        (4, 3, 0),
                        "Message could not be inspected, try again later",
                    );
                }
            };
        log.scan_ms = scan_started.elapsed().as_secs_f64() * 1e3;
        let id = next_id();
        log.id = id.clone();
        log.message_id = decision.message_id.clone().unwrap_or_default();
        log.decision = match (&decision.policy, decision.action) {
            (Some(p), Some(a)) if decision.monitor => format!("{a} by {p:?} (monitor)"),
            (Some(p), Some(a)) => format!("{a} by {p:?}"),
            _ => "allow".into(),
        };
        if decision.policy.is_some() && decision.action != Some(Action::Allow) {
            record_incident(&self.proxy.data_dir, &id, &t.peer, &decision);
        }
        let mut extra_header = None;
        if !decision.monitor {
            match decision.action {
                Some(Action::Block) => {
                    self.reset_upstream().await;
                    let text = decision
                        .reject_message
                        .clone()
                        .unwrap_or_else(|| "Message blocked by data-loss policy".into());
                    return Reply::new(550, (5, 7, 1), &text);
                }
                Some(Action::Quarantine) => {
                    self.reset_upstream().await;
                    return match quarantine(
                        &self.proxy.data_dir,
                        &id,
                        &t.from,
                        &t.recipients,
                        &message,
                    ) {
                        Ok(()) => Reply::new(250, (2, 0, 0), format!("quarantined {id}")),
                        Err(_) => {
                            Reply::new(451, (4, 3, 0), "Quarantine unavailable, try again later")
                        }
                    };
                }
                Some(Action::AddHeader) => extra_header = decision.header.clone(),
                _ => {}
            }
        }
        let headers = trace_headers(
            &self.proxy.hostname,
            &t.helo,
            self.peer,
            &id,
            extra_header.as_deref(),
        );
        self.in_transaction = false;
        match &self.proxy.destination {
            Destination::Maildir(dir) => match deliver_maildir(dir, &id, &[&headers, &message]) {
                Ok(()) => Reply::new(250, (2, 0, 0), format!("delivered {id}")),
                Err(_) => Reply::new(451, (4, 3, 0), "Local delivery failed, try again later"),
            },
            Destination::Relay { .. } => {
                let Some(upstream) = self.upstream.as_mut() else {
                    return upstream_unavailable();
                };
                match upstream.data(&[&headers, &message]).await {
                    Ok(r) => r,
                    Err(_) => {
                        self.upstream = None;
                        upstream_unavailable()
                    }
                }
            }
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
    decision: String,
    reply: String,
    scan_ms: f64,
    total_ms: f64,
}

impl TransactionLog {
    fn write(&self, json: bool) {
        let line = if json {
            serde_json::json!({
                "id": self.id, "client": self.client, "sender": self.sender, "recipients": self.recipients,
                "size": self.size, "message_id": self.message_id, "decision": self.decision,
                "reply": self.reply, "scan_ms": self.scan_ms, "total_ms": self.total_ms,
            })
            .to_string()
        } else {
            format!(
                "tx={} client={} from=<{}> rcpts={} size={} message-id={} decision={} reply=\"{}\" scan_ms={:.1} total_ms={:.1}",
                self.id, self.client, self.sender, self.recipients, self.size, self.message_id, self.decision, self.reply, self.scan_ms, self.total_ms
            )
        };
        crate::log(&line);
    }
}

/// `Received:` fields in the header block.
fn count_received(message: &[u8]) -> usize {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(message.len());
    message[..end]
        .split(|&b| b == b'\n')
        .filter(|l| l.len() >= 9 && l[..9].eq_ignore_ascii_case(b"received:"))
        .count()
}

/// Our `Received:` and `X-Sluice-Scanned:` fields (and the policy's
/// header), sent before the message; the message's own bytes follow
/// unchanged, so DKIM signatures stay valid.
fn trace_headers(
    hostname: &str,
    helo: &str,
    peer: SocketAddr,
    id: &str,
    extra: Option<&str>,
) -> Vec<u8> {
    let mut out = format!(
        "Received: from {helo} ([{}])\r\n\tby {hostname} (Sluice) with ESMTP id {id};\r\n\t{}\r\n",
        peer.ip(),
        rfc5322_now()
    )
    .into_bytes();
    out.extend_from_slice(format!("X-Sluice-Scanned: {hostname}\r\n").as_bytes());
    if let Some(h) = extra {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A sortable, unique id: milliseconds since 1970 and a counter, base 32.
fn next_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut v = ((ms as u128) << 40)
        | ((std::process::id() as u128 & 0xff) << 32)
        | (n as u128 & 0xffff_ffff);
    let mut s = Vec::new();
    for _ in 0..18 {
        s.push(ALPHABET[(v & 31) as usize]);
        v >>= 5;
    }
    s.reverse();
    String::from_utf8(s).expect("ASCII")
}

fn rfc5322_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Writes `bytes` to `path` durably: a temporary file, fsync, rename,
/// fsync of the folder.
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(path)
}

fn quarantine(
    data_dir: &Path,
    id: &str,
    from: &str,
    recipients: &[String],
    message: &[u8],
) -> std::io::Result<()> {
    let dir = data_dir.join("quarantine");
    let envelope = serde_json::json!({"id": id, "sender": from, "recipients": recipients});
    write_durably(&dir, &format!("{id}.json"), envelope.to_string().as_bytes())?;
    write_durably(&dir, &format!("{id}.eml"), message)?;
    Ok(())
}

fn deliver_maildir(dir: &Path, id: &str, parts: &[&[u8]]) -> std::io::Result<()> {
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let name = format!("{id}.{}.sluice", std::process::id());
    let tmp = dir.join("tmp").join(&name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        for part in parts {
            f.write_all(part)?;
        }
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join("new").join(&name))?;
    std::fs::File::open(dir.join("new"))?.sync_all()
}

/// Appends one incident as a JSON line (the full store is `sluice-store`'s
/// job); a failure is logged, never a reason to lose or hold mail.
fn record_incident(data_dir: &Path, id: &str, peer: &SocketAddr, d: &Decision) {
    let incident = serde_json::json!({
        "id": id,
        "policy": d.policy,
        "action": d.action.map(|a| a.name()),
        "monitor": d.monitor,
        "rules": d.rules.iter().map(|r| serde_json::json!({"rule": r.rule, "profile": r.profile, "severity": r.severity.name(), "count": r.count})).collect::<Vec<_>>(),
        "sender": d.sender,
        "recipients": d.recipients,
        "subject": d.subject,
        "message_id": d.message_id,
        "client_ip": peer.ip().to_string(),
    });
    let written = std::fs::create_dir_all(data_dir).and_then(|_| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("incidents.jsonl"))?;
        writeln!(f, "{incident}")
    });
    if let Err(e) = written {
        crate::log(&format!("cannot record incident {id}: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_headers_are_counted_in_the_header_block_only() {
        let m = b"Received: a\r\nreceived: b\r\nSubject: x\r\n\r\nReceived: in body\r\n";
        assert_eq!(count_received(m), 2);
    }

    #[test]
    fn dates_are_rfc5322() {
        let d = rfc5322_now();
        assert!(d.ends_with(" +0000") && d.len() == 31, "{d}");
    }

    #[test]
    fn ids_are_unique_and_sortable() {
        let a = next_id();
        let b = next_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 18);
    }
}
