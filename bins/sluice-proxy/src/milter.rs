//! The milter front end's handler (SPEC §6): the same inspection and plan
//! as the SMTP proxy, executed as milter verdicts. The MTA keeps the queue:
//! nothing is relayed from here; a quarantined message is committed to the
//! store before the MTA is told to discard it, and any failure of Sluice's
//! own is a tempfail, never an accept of unscanned mail.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use sluice_config::Cidr;
use sluice_milter::{Message, MilterHandler, Verdict};
use sluice_policy::{plan, Disposition, Envelope};

use crate::incident::ClientFacts;
use crate::relay::Proxy;
use crate::transaction_log::{log_text, TransactionLog};

/// The tempfail for anything that went wrong on Sluice's side.
const TEMPFAIL: &str = "451 4.3.0 Message could not be inspected, try again later";

/// The proxy's state, and who may use the milter.
pub struct MilterFront {
    pub proxy: Arc<Proxy>,
    pub allowed_clients: Vec<Cidr>,
}

impl MilterHandler for MilterFront {
    fn admits(&self, peer: IpAddr) -> bool {
        self.allowed_clients.iter().any(|net| net.contains(peer))
    }

    async fn end_of_message(&self, message: Message) -> Verdict {
        let started = Instant::now();
        let mut log = TransactionLog {
            client: message
                .client
                .address
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            sender: log_text(&message.sender),
            recipients: message.recipients.len(),
            size: message.raw.len(),
            ..TransactionLog::default()
        };
        let verdict = self.decide(message, &mut log).await;
        log.reply = log_text(&match &verdict {
            Verdict::Accept(_) => "accept".to_owned(),
            Verdict::Discard => "discard (quarantined)".to_owned(),
            Verdict::Reject(r) | Verdict::Tempfail(r) => r.clone(),
        });
        log.total_ms = started.elapsed().as_secs_f64() * 1e3;
        log.write();
        verdict
    }
}

impl MilterFront {
    async fn decide(&self, message: Message, log: &mut TransactionLog) -> Verdict {
        let proxy = &self.proxy;
        proxy.metrics.messages.inc();
        proxy.metrics.bytes.inc_by(message.raw.len() as u64);
        let client = ClientFacts {
            address: message.client.address,
            name: message.client.name.clone(),
            helo: message.client.helo.clone(),
            auth_user: message.client.auth_user.clone(),
        };
        let envelope = Envelope {
            sender: Some(message.sender.clone()),
            recipients: Some(message.recipients.clone()),
        };
        let raw = Arc::new(message.raw);
        let scan_started = Instant::now();
        let Some(decision) = proxy.inspect(envelope, raw.clone()).await else {
            return Verdict::Tempfail(TEMPFAIL.into());
        };
        let scan_time = scan_started.elapsed();
        proxy.metrics.scan_seconds.observe(scan_time.as_secs_f64());
        log.scan_ms = scan_time.as_secs_f64() * 1e3;
        // The MTA's queue id names the transaction when it gave one.
        let id = crate::stamps::new_id();
        log.id = match &message.client.queue_id {
            Some(q) => format!("{id} queue_id={}", log_text(q)),
            None => id.clone(),
        };
        proxy.count_decision(&decision, log);

        let plan = plan(&decision);
        let recorded = proxy.incidents(&decision, &plan, &id, &raw, &client);
        let scanned = format!("X-Sluice-Scanned: {}", proxy.hostname);
        match plan.disposition.clone() {
            Disposition::Reject { text } => {
                proxy.record(recorded, &decision, &plan);
                Verdict::Reject(format!("550 5.7.1 {text}"))
            }
            Disposition::Quarantine => {
                match proxy
                    .quarantine(
                        &message.sender,
                        &message.recipients,
                        &id,
                        raw,
                        recorded,
                        &decision,
                        &plan,
                    )
                    .await
                {
                    Ok(()) => Verdict::Discard,
                    Err(()) => Verdict::Tempfail(
                        "451 4.3.0 Quarantine unavailable, try again later".into(),
                    ),
                }
            }
            Disposition::Relay { header } => {
                proxy.record(recorded, &decision, &plan);
                let mut headers = vec![scanned];
                headers.extend(header);
                Verdict::Accept(headers)
            }
        }
    }
}
