//! What happens to one message at the end of DATA: it is inspected, the
//! decision is planned ([`sluice_policy::plan`]), and the plan executed —
//! incidents recorded, the message rejected, quarantined or relayed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_config::Forensics;
use sluice_mime::header::{count_received, may_have_attachment};
use sluice_policy::{plan, Decision, Disposition, Envelope, Plan};
use sluice_smtp::{Reply, Transaction};
use sluice_store::{Held, IncidentRecord};

use crate::delivery::{deliver_maildir, trace_headers, Destination};
use crate::incident::{incident_of, ClientFacts};
use crate::relay::{Proxy, ProxyConnection};
use crate::transaction_log::{log_text, TransactionLog};
use crate::upstream::upstream_unavailable;

/// Messages up to this size without attachments are scanned on the
/// session's own task.
const INLINE_SCAN: usize = 64 * 1024;

/// More than this many `Received:` headers is a mail loop (RFC 5321 §6.3).
const MAX_RECEIVED: usize = 50;

/// A quarantine write slower than this is given up on (`451 4.3.0`): the
/// client's own timeout for the end of DATA (10 minutes in RFC 5321,
/// Postfix's `smtpd_proxy_timeout` 100 s) must not be reached first.
const QUARANTINE_TIMEOUT: Duration = Duration::from_secs(30);

/// The incidents of a plan, ready for the store: the deciding one under
/// the transaction's id (which is also the quarantine id).
pub(crate) struct Recorded {
    deciding: Option<IncidentRecord>,
    others: Vec<IncidentRecord>,
}

impl ProxyConnection {
    /// Inspects, plans and executes; the reply for the client's DATA.
    pub(crate) async fn process(&mut self, t: Transaction, log: &mut TransactionLog) -> Reply {
        let proxy = self.proxy.clone();
        let metrics = &proxy.metrics;
        metrics.messages.inc();
        metrics.bytes.inc_by(t.message.len() as u64);
        let received = count_received(&t.message);
        if received > MAX_RECEIVED {
            self.upstream.reset().await;
            return Reply::new(
                554,
                (5, 4, 6),
                format!("Mail loop detected ({received} Received headers)"),
            );
        }
        let scan_started = Instant::now();
        let message = Arc::new(t.message);
        let envelope = Envelope {
            sender: Some(t.from.clone()),
            recipients: Some(t.recipients.clone()),
        };
        let Some(decision) = proxy.inspect(envelope, message.clone()).await else {
            self.upstream.reset().await;
            return Reply::new(
                451,
                (4, 3, 0),
                "Message could not be inspected, try again later",
            );
        };
        let scan_time = scan_started.elapsed();
        metrics.scan_seconds.observe(scan_time.as_secs_f64());
        log.scan_ms = scan_time.as_secs_f64() * 1e3;
        let id = crate::stamps::new_id();
        log.id = id.clone();
        proxy.count_decision(&decision, log);

        let plan = plan(&decision);
        let client = self.client(&t.helo);
        if let Some(ip) = client.address.filter(|ip| *ip != self.peer.ip()) {
            log.client = format!("{ip} via {}", self.peer.ip());
        }
        let recorded = proxy.incidents(&decision, &plan, &id, &message, &client);
        match plan.disposition.clone() {
            Disposition::Reject { text } => {
                self.upstream.reset().await;
                proxy.record(recorded, &decision, &plan);
                Reply::new(550, (5, 7, 1), &text)
            }
            Disposition::Quarantine => {
                self.upstream.reset().await;
                match proxy
                    .quarantine(
                        &t.from,
                        &t.recipients,
                        &id,
                        message,
                        recorded,
                        &decision,
                        &plan,
                    )
                    .await
                {
                    Ok(()) => Reply::new(250, (2, 0, 0), format!("quarantined {id}")),
                    Err(()) => {
                        Reply::new(451, (4, 3, 0), "Quarantine unavailable, try again later")
                    }
                }
            }
            Disposition::Relay { header } => {
                proxy.record(recorded, &decision, &plan);
                let headers = trace_headers(
                    &proxy.hostname,
                    &t.helo,
                    Some(self.peer.ip()),
                    &id,
                    header.as_deref(),
                );
                let relay_started = Instant::now();
                let reply = self.relay(&id, &[&headers, &message]).await;
                let relay_time = relay_started.elapsed();
                metrics.relay_seconds.observe(relay_time.as_secs_f64());
                log.upstream_ms = relay_time.as_secs_f64() * 1e3;
                reply
            }
        }
    }
}

impl Proxy {
    /// The decision in the metrics and the transaction's log line.
    pub(crate) fn count_decision(&self, decision: &Decision, log: &mut TransactionLog) {
        log.message_id = log_text(&sluice_dlp::redact(
            decision.message_id.as_deref().unwrap_or_default(),
        ));
        log.policy = decision.policy().unwrap_or_default().to_owned();
        log.action = decision.action().map_or("allow", |a| a.name());
        log.monitor = decision.is_monitor();
        self.metrics
            .decisions
            .with_label_values(&[
                decision.policy().unwrap_or(""),
                log.action,
                if log.monitor { "monitor" } else { "enforce" },
            ])
            .inc();
    }

    /// The decision for a message; `None` when the scan failed (a panic:
    /// a bug the fuzzers have not found yet), which the client is told to
    /// retry.
    pub(crate) async fn inspect(
        &self,
        envelope: Envelope,
        message: Arc<Vec<u8>>,
    ) -> Option<Decision> {
        let live = self.live();
        if message.len() <= INLINE_SCAN && !may_have_attachment(&message) {
            // A small text-only message decodes and scans in well under a
            // millisecond: handing it to another thread would cost more.
            let inspect =
                std::panic::AssertUnwindSafe(|| live.inspector.inspect(&envelope, &message));
            std::panic::catch_unwind(inspect).ok()
        } else {
            // Larger ones, and anything with attachments (whose extractors
            // may take long), are scanned off the async workers, so other
            // sessions are not stalled behind them.
            let slot = self.scan_slots.clone().acquire_owned().await;
            let scan = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                live.inspector.inspect(&envelope, &message)
            });
            scan.await.ok()
        }
    }

    /// The plan's incidents as store records: the deciding one under `id`,
    /// monitor-mode ones under ids of their own.
    pub(crate) fn incidents(
        &self,
        decision: &Decision,
        plan: &Plan,
        id: &str,
        message: &Arc<Vec<u8>>,
        client: &ClientFacts,
    ) -> Recorded {
        let forensics = self.forensics;
        let record = |incident| IncidentRecord {
            incident,
            message: (forensics == Forensics::Full).then(|| message.clone()),
        };
        let mut recorded = Recorded {
            deciding: None,
            others: Vec::new(),
        };
        for i in &plan.incidents {
            let incident_id = if i.deciding {
                id.to_owned()
            } else {
                crate::stamps::new_id()
            };
            let quarantine_id =
                (i.deciding && plan.disposition == Disposition::Quarantine).then(|| id.to_owned());
            let incident = record(incident_of(
                decision,
                i.triggered,
                &incident_id,
                client,
                forensics,
                quarantine_id,
            ));
            if i.deciding {
                recorded.deciding = Some(incident);
            } else {
                recorded.others.push(incident);
            }
        }
        recorded
    }

    /// Queues incidents for the store and announces the deciding one
    /// (webhook; sender notice when the plan says so). Every incident goes
    /// to the webhook; only the deciding one can notify.
    pub(crate) fn record(&self, recorded: Recorded, decision: &Decision, plan: &Plan) {
        for incident in recorded.others {
            self.announce(&incident, decision, false);
            self.submit(incident);
        }
        if let Some(incident) = recorded.deciding {
            self.announce(&incident, decision, plan.notify_sender);
            self.submit(incident);
        }
    }

    /// Webhook and sender notice for one incident, once the action has
    /// been applied.
    fn announce(&self, incident: &IncidentRecord, decision: &Decision, notify_sender: bool) {
        if let Some(w) = &self.webhook {
            w.post(&incident.incident);
        }
        if notify_sender {
            let matched: Vec<&str> = decision
                .policy_rules()
                .flat_map(|r| r.matches.iter().map(|m| m.value.as_str()))
                .collect();
            self.notifier.notify(&incident.incident, &matched);
        }
    }

    /// Queues an incident for the store; a full queue is logged and
    /// counted, never waited for.
    fn submit(&self, incident: IncidentRecord) {
        let id = incident.incident.id.clone();
        if !self.incidents.submit(incident) {
            self.metrics.incidents_lost.inc();
            tracing::warn!("incident {id} dropped: the store's queue is full");
        }
    }

    /// Holds the message: the store has it and its incident before the
    /// client is answered; a failed write records nothing (the client is
    /// told to retry) and is `Err`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn quarantine(
        &self,
        sender: &str,
        recipients: &[String],
        id: &str,
        message: Arc<Vec<u8>>,
        recorded: Recorded,
        decision: &Decision,
        plan: &Plan<'_>,
    ) -> Result<(), ()> {
        let Some(incident) = recorded.deciding.clone() else {
            unreachable!("a quarantine plan always has its deciding incident");
        };
        let held = Held {
            id: id.to_owned(),
            incident_id: id.to_owned(),
            time: incident.incident.time,
            sender: sender.to_owned(),
            recipients: recipients.to_vec(),
            subject: decision.subject.as_deref().map(sluice_dlp::redact),
            size: message.len() as u64,
        };
        let store = self.store.clone();
        let write = crate::store_call::run(move || store.quarantine(&held, &message, &incident));
        match tokio::time::timeout(QUARANTINE_TIMEOUT, write).await {
            Ok(Ok(())) => {
                // The deciding incident is in the store with the message;
                // announce it and record the monitor-mode ones.
                if let Some(incident) = &recorded.deciding {
                    self.announce(incident, decision, plan.notify_sender);
                }
                for incident in recorded.others {
                    self.announce(&incident, decision, false);
                    self.submit(incident);
                }
                Ok(())
            }
            failed => {
                self.metrics.quarantine_errors.inc();
                let why = match failed {
                    Ok(Err(e)) => e,
                    _ => format!("quarantine write slower than {QUARANTINE_TIMEOUT:?}"),
                };
                tracing::warn!("tx={id}: cannot quarantine: {why}");
                Err(())
            }
        }
    }
}

impl ProxyConnection {
    /// Passes the message on: into the maildir, or as the data of the
    /// transaction open upstream.
    async fn relay(&mut self, id: &str, chunks: &[&[u8]]) -> Reply {
        match &*self.proxy.destination {
            Destination::Maildir(dir) => match deliver_maildir(dir, id, chunks) {
                Ok(()) => Reply::new(250, (2, 0, 0), format!("delivered {id}")),
                Err(_) => Reply::new(451, (4, 3, 0), "Local delivery failed, try again later"),
            },
            Destination::Relay { .. } => match self.upstream.data(chunks).await {
                Ok(reply) => reply,
                Err(()) => {
                    self.proxy.metrics.upstream_errors.inc();
                    upstream_unavailable()
                }
            },
        }
    }
}
