//! The proxy's SMTP handler: relay control and the transparent upstream
//! session. What a message's decision does is `execute.rs`.

use std::net::SocketAddr;
use std::sync::Arc;

use sluice_config::{Cidr, Forensics};
use sluice_policy::Inspector;
use sluice_smtp::{
    ConnectionHandler, Handler, MailRequest, RcptRequest, Reply, Transaction, MAIL_PARAMETERS,
    RCPT_PARAMETERS,
};
use sluice_store::{IncidentQueue, Store};

use crate::delivery::Destination;
use crate::incident::ClientFacts;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::transaction_log::{log_text, TransactionLog};
use crate::upstream::{upstream_unavailable, UpstreamPool, UpstreamSession};
use crate::webhook::Webhook;

/// What SIGHUP reloads: swapped whole, so a connection sees one
/// configuration or the other, never a mix.
pub struct Live {
    pub inspector: Inspector,
    pub allowed_clients: Vec<Cidr>,
    /// MTAs whose XFORWARD is believed (for incidents and logs only).
    pub xforward_clients: Vec<Cidr>,
    /// Load balancers that open with a PROXY header.
    pub proxy_protocol: Vec<Cidr>,
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

    fn expects_proxy_header(&self, peer: SocketAddr) -> bool {
        self.0
            .live()
            .proxy_protocol
            .iter()
            .any(|net| net.contains(peer.ip()))
    }

    fn connect(&self, peer: SocketAddr) -> Result<ProxyConnection, Reply> {
        let live = self.0.live();
        let allowed = live
            .allowed_clients
            .iter()
            .any(|net| net.contains(peer.ip()));
        let xforward = live
            .xforward_clients
            .iter()
            .any(|net| net.contains(peer.ip()));
        // Without client certificates there is nothing the client could
        // still do to be admitted: refuse at once.
        if !allowed && !self.0.client_certificates {
            // An administrator who forgot their MTA's address needs to see it.
            tracing::warn!(client = %peer.ip(), "refused: not in [proxy] allowed_clients");
            return Err(relay_denied());
        }
        Ok(ProxyConnection {
            proxy: self.0.clone(),
            peer,
            upstream: UpstreamSession::default(),
            admitted: allowed,
            xforward,
            xforwarded: Vec::new(),
        })
    }
}

/// One client connection's relay state.
pub struct ProxyConnection {
    pub(crate) proxy: Arc<Proxy>,
    pub(crate) peer: SocketAddr,
    pub(crate) upstream: UpstreamSession,
    /// From an allowed address, or with a verified client certificate.
    admitted: bool,
    /// The peer is in `xforward_clients`.
    xforward: bool,
    /// XFORWARD attributes for the next transaction (SPEC §6): who the MTA
    /// in front says the client is. They change what incidents and logs
    /// show, never relay control.
    pub(crate) xforwarded: Vec<(String, String)>,
}

fn relay_denied() -> Reply {
    Reply::new(554, (5, 7, 1), "Relay access denied")
}

impl ProxyConnection {
    /// The command for the upstream: the path exactly as the client wrote
    /// it, and each parameter whose extension the upstream offers (SPEC §6);
    /// the others are dropped and logged.
    fn upstream_line(&self, path: &str, params: &[String], carriers: &[(&str, &str)]) -> String {
        let mut line = path.to_owned();
        for param in params {
            let keyword = param.split('=').next().unwrap_or(param);
            let carrier = carriers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
                .map(|(_, extension)| *extension);
            match carrier {
                Some(extension) if self.upstream.offers(extension) => {
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
                self.upstream.open_with(u);
                Ok(())
            }
            Err(e) => {
                self.proxy.metrics.upstream_errors.inc();
                tracing::warn!("upstream: {e}");
                Err(upstream_unavailable())
            }
        }
    }
}

impl ProxyConnection {
    /// The client as incidents and logs show it: the one XFORWARD named,
    /// else the connecting peer.
    pub(crate) fn client(&self, helo: &str) -> ClientFacts {
        let attribute = |name: &str| {
            self.xforwarded
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                // Postfix's words for "not known".
                .filter(|v| !matches!(*v, "[UNAVAILABLE]" | "[TEMPUNAVAIL]"))
        };
        match attribute("ADDR") {
            Some(addr) => ClientFacts {
                address: addr.strip_prefix("IPV6:").unwrap_or(addr).parse().ok(),
                name: attribute("NAME").map(str::to_owned),
                helo: attribute("HELO").map(str::to_owned),
                auth_user: None,
            },
            None => ClientFacts {
                address: Some(self.peer.ip()),
                helo: Some(helo.to_owned()).filter(|h| !h.is_empty()),
                ..ClientFacts::default()
            },
        }
    }

    /// Passes the XFORWARD attributes on when the upstream takes them (the
    /// ones it advertises), before the transaction's MAIL.
    async fn forward_xforward(&mut self) {
        let Some(offered) = self.upstream.extension_args("XFORWARD") else {
            return;
        };
        let line: Vec<String> = self
            .xforwarded
            .iter()
            .filter(|(n, _)| offered.iter().any(|o| o.eq_ignore_ascii_case(n)))
            .map(|(n, v)| format!("{n}={}", sluice_smtp::xtext_encode(v)))
            .collect();
        if !line.is_empty() {
            // A refusal changes nothing for the mail: the upstream only
            // loses what it would have logged.
            let reply = self
                .upstream
                .command(&format!("XFORWARD {}", line.join(" ")))
                .await;
            if !reply.is_positive() {
                tracing::info!(
                    "upstream refused XFORWARD: {}",
                    log_text(&reply.to_string())
                );
            }
        }
    }
}

impl ConnectionHandler for ProxyConnection {
    fn xforward_allowed(&self) -> bool {
        self.xforward
    }

    fn xforward(&mut self, attributes: Vec<(String, String)>) {
        // Later attributes replace earlier ones of the same name.
        for (name, value) in attributes {
            self.xforwarded.retain(|(n, _)| *n != name);
            self.xforwarded.push((name, value));
        }
    }

    fn tls_established(&mut self, verified_certificate: bool) {
        self.admitted |= verified_certificate;
    }

    fn admit(&mut self) -> Result<(), Reply> {
        if self.admitted {
            Ok(())
        } else {
            tracing::warn!(
                client = %self.peer.ip(),
                "refused: not in [proxy] allowed_clients and no verified client certificate"
            );
            Err(relay_denied())
        }
    }

    async fn mail(&mut self, _helo: &str, request: &MailRequest) -> Reply {
        if let Destination::Maildir(_) = *self.proxy.destination {
            return Reply::new(250, (2, 1, 0), "Sender OK");
        }
        let pooled = self.upstream.take_from(&self.proxy.pool);
        if !self.upstream.is_open() {
            if let Err(reply) = self.open_upstream().await {
                return reply;
            }
        }
        if !self.xforwarded.is_empty() {
            self.forward_xforward().await;
        }
        let line = self.upstream_line(&request.path, &request.params, MAIL_PARAMETERS);
        let mut reply = self.upstream.command(&line).await;
        if pooled && !self.upstream.is_open() {
            // The pooled session had been closed by the upstream meanwhile:
            // nothing was sent to the client yet, so start afresh.
            if let Err(reply) = self.open_upstream().await {
                return reply;
            }
            let line = self.upstream_line(&request.path, &request.params, MAIL_PARAMETERS);
            reply = self.upstream.command(&line).await;
        }
        self.upstream.set_in_transaction(reply.is_positive());
        reply
    }

    async fn rcpt(&mut self, request: &RcptRequest) -> Reply {
        match *self.proxy.destination {
            Destination::Maildir(_) => Reply::new(250, (2, 1, 5), "Recipient OK"),
            Destination::Relay { .. } => {
                let line = self.upstream_line(&request.path, &request.params, RCPT_PARAMETERS);
                self.upstream.command(&line).await
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
        // XFORWARD names the client of one transaction.
        self.xforwarded.clear();
        log.reply = log_text(&reply.to_string());
        log.total_ms = started.elapsed().as_secs_f64() * 1e3;
        log.write();
        reply
    }

    async fn reset(&mut self) {
        self.upstream.reset().await;
        self.xforwarded.clear();
    }

    async fn close(&mut self) {
        // A transaction the client abandoned is reset before the session
        // is lent to another client.
        self.upstream.release(&self.proxy.pool).await;
    }
}
