//! The quarantine's operations — list, release, delete — as the HTTP API,
//! the CLI and (later) the console all perform them: one implementation,
//! so a release is the same operation wherever it starts (SPEC §8).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::json;
use sluice_store::{AuditAction, AuditEntry, Held, Store, StoreError};

use crate::delivery::{trace_headers, Destination, RecipientReply};
use crate::metrics::Metrics;

/// Why a quarantine operation did not happen.
#[derive(Debug)]
pub enum QuarantineError {
    /// No held message with that id.
    NotFound(String),
    /// A release of it is under way (no double delivery).
    Releasing(String),
    /// No upstream session could be had; the message is kept whole.
    Upstream(String),
    /// The store failed.
    Store(String),
}

impl std::error::Error for QuarantineError {}

impl std::fmt::Display for QuarantineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuarantineError::NotFound(id) => write!(f, "no quarantined message {id}"),
            QuarantineError::Releasing(id) => write!(f, "{id} is being released"),
            QuarantineError::Upstream(why) | QuarantineError::Store(why) => f.write_str(why),
        }
    }
}

impl From<StoreError> for QuarantineError {
    fn from(e: StoreError) -> Self {
        QuarantineError::Store(e.to_string())
    }
}

/// Who asks for a quarantine operation, as the audit trail records it.
#[derive(Debug, Clone)]
pub struct Requester {
    /// `token:<name>`, `cli:<login>`, ... (SPEC §8).
    pub actor: String,
    /// The address the request came from (none from the CLI).
    pub client_ip: Option<std::net::IpAddr>,
}

impl Requester {
    /// Someone at this machine's command line.
    pub fn cli(actor: String) -> Requester {
        Requester {
            actor,
            client_ip: None,
        }
    }
}

/// The held messages and how to let them out.
pub struct Quarantine {
    store: Arc<Store>,
    destination: Arc<Destination>,
    hostname: String,
    metrics: Arc<Metrics>,
    /// Held messages being released now: a second release of the same
    /// message waits for none, it is refused.
    releasing: Mutex<HashSet<String>>,
}

/// Marks a message as being released; the mark goes when this is dropped,
/// also when the request is cancelled half-way (the client went away).
struct Releasing<'a> {
    quarantine: &'a Quarantine,
    id: String,
}

impl<'a> Releasing<'a> {
    fn start(quarantine: &'a Quarantine, id: &str) -> Option<Releasing<'a>> {
        let mut set = quarantine
            .releasing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        set.insert(id.to_owned()).then(|| Releasing {
            quarantine,
            id: id.to_owned(),
        })
    }
}

impl Drop for Releasing<'_> {
    fn drop(&mut self) {
        self.quarantine
            .releasing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// What a release did: every recipient's reply, and whether none is left.
pub struct Released {
    pub id: String,
    pub recipients: Vec<RecipientReply>,
    /// Recipients refused with 4xx, still held for a later release.
    pub pending: Vec<String>,
}

impl Released {
    /// Who the release reached, who refused it for good (5xx) and who is
    /// still pending (4xx), for the audit trail: `delivered: a@x; refused:
    /// b@y; pending: c@z`, empty groups left out.
    fn outcome(&self) -> String {
        let replied = |pick: &dyn Fn(&RecipientReply) -> bool| -> Vec<&str> {
            self.recipients
                .iter()
                .filter(|r| pick(r))
                .map(|r| r.address.as_str())
                .collect()
        };
        let group = |name: &str, who: Vec<&str>| {
            (!who.is_empty()).then(|| format!("{name}: {}", who.join(", ")))
        };
        [
            group("delivered", replied(&|r| r.reply.is_positive())),
            group("refused", replied(&|r| r.reply.code >= 500)),
            group("pending", self.pending.iter().map(String::as_str).collect()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ")
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "released": self.pending.is_empty(),
            "recipients": self.recipients.iter().map(|r| json!({
                "address": r.address,
                "reply": r.reply.to_string(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// A store call ([`crate::store_call::run`]); its error is a store error.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, QuarantineError> {
    crate::store_call::run(f)
        .await
        .map_err(QuarantineError::Store)
}

impl Quarantine {
    /// The quarantine of `store`, releasing through `destination`.
    pub fn new(
        store: Arc<Store>,
        destination: Arc<Destination>,
        hostname: String,
        metrics: Arc<Metrics>,
    ) -> Quarantine {
        Quarantine {
            store,
            destination,
            hostname,
            metrics,
            releasing: Mutex::new(HashSet::new()),
        }
    }

    /// The held messages, oldest first.
    pub async fn list(&self) -> Result<Vec<Held>, QuarantineError> {
        let store = self.store.clone();
        blocking(move || store.held()).await
    }

    /// Deletes a held message (refused while it is being released); logged
    /// and audited with who asked.
    pub async fn delete(&self, id: &str, by: &Requester) -> Result<(), QuarantineError> {
        let incident_id = self.incident_of(id).await;
        let result = self.delete_held(id).await;
        let actor = &by.actor;
        match &result {
            Ok(()) => tracing::info!(actor = %actor, quarantine = %id, "quarantine delete: ok"),
            Err(e) => tracing::info!(actor = %actor, quarantine = %id, "quarantine delete: {e}"),
        }
        let outcome = result.as_ref().map(|()| None).map_err(|e| e.to_string());
        self.audit(AuditAction::Delete, id, incident_id, by, outcome)
            .await;
        result
    }

    /// The incident of a held message, for the audit trail (none when it
    /// is not held, or the store cannot say).
    async fn incident_of(&self, id: &str) -> Option<String> {
        let store = self.store.clone();
        let wanted = id.to_owned();
        let held = blocking(move || store.held_entry(&wanted)).await.ok()??;
        Some(held.incident_id)
    }

    /// Appends an operation's outcome (`Ok(detail)` or the error) to the
    /// audit trail. A store that cannot take it is logged: the operation
    /// itself has happened and is not undone.
    async fn audit(
        &self,
        action: AuditAction,
        id: &str,
        incident_id: Option<String>,
        by: &Requester,
        outcome: Result<Option<String>, String>,
    ) {
        let mut entry = AuditEntry::now(by.actor.clone(), action);
        entry.quarantine_id = Some(id.to_owned());
        entry.incident_id = incident_id;
        entry.client_ip = by.client_ip.map(|ip| ip.to_string());
        match outcome {
            Ok(detail) => entry.detail = detail,
            Err(e) => entry.result = e,
        }
        let store = self.store.clone();
        if let Err(e) = blocking(move || store.record_audit(&entry)).await {
            tracing::error!(quarantine = %id, "audit trail: {e}");
        }
    }

    async fn delete_held(&self, id: &str) -> Result<(), QuarantineError> {
        let Some(_releasing) = Releasing::start(self, id) else {
            return Err(QuarantineError::Releasing(id.to_owned()));
        };
        let store = self.store.clone();
        let wanted = id.to_owned();
        match blocking(move || store.delete_held(&wanted)).await? {
            true => Ok(()),
            false => Err(QuarantineError::NotFound(id.to_owned())),
        }
    }

    /// Relays a held message upstream to the recipients not yet delivered
    /// (SPEC §8): a 4xx recipient stays pending, a 5xx one gets the sender a
    /// delivery status notice, and the message is removed only when no
    /// recipient is pending. `Err` (502) only when no upstream session could
    /// be had; the message is then kept whole.
    pub async fn release(&self, id: &str, by: &Requester) -> Result<Released, QuarantineError> {
        let incident_id = self.incident_of(id).await;
        let result = self.relay_held(id).await;
        let actor = &by.actor;
        match &result {
            Ok(r) => tracing::info!(
                actor = %actor,
                quarantine = %id,
                "quarantine release: {} ({} recipient(s) pending)",
                if r.pending.is_empty() { "released" } else { "partly released" },
                r.pending.len()
            ),
            Err(e) => tracing::info!(actor = %actor, quarantine = %id, "quarantine release: {e}"),
        }
        let outcome = result
            .as_ref()
            .map(|r| Some(r.outcome()))
            .map_err(|e| e.to_string());
        self.audit(AuditAction::Release, id, incident_id, by, outcome)
            .await;
        result
    }

    async fn relay_held(&self, id: &str) -> Result<Released, QuarantineError> {
        let Some(_releasing) = Releasing::start(self, id) else {
            return Err(QuarantineError::Releasing(id.to_owned()));
        };
        let store = self.store.clone();
        let wanted = id.to_owned();
        let Some((held, message)) = blocking(move || store.held_message(&wanted)).await? else {
            return Err(QuarantineError::NotFound(id.to_owned()));
        };
        let headers = trace_headers(&self.hostname, "", None, id, None);
        let recipients = self
            .destination
            .send_each(
                &self.hostname,
                id,
                &held.sender,
                &held.recipients,
                &[&headers, &message],
            )
            .await
            .map_err(|e| {
                self.metrics.upstream_errors.inc();
                QuarantineError::Upstream(format!(
                    "release of {id} failed, the message is kept: {e}"
                ))
            })?;
        let pending: Vec<String> = recipients
            .iter()
            .filter(|r| !r.reply.is_positive() && r.reply.code < 500)
            .map(|r| r.address.clone())
            .collect();
        let failed: Vec<&RecipientReply> =
            recipients.iter().filter(|r| r.reply.code >= 500).collect();
        if !failed.is_empty() && !held.sender.is_empty() {
            let notice = delivery_status_notice(&self.hostname, id, &held.sender, &failed);
            // Sent before the answer (a release is rare and the CLI's
            // runtime ends with it); a failure to send it is logged, not
            // fatal.
            let notice_id = crate::stamps::new_id();
            let sender = std::slice::from_ref(&held.sender);
            if let Err(e) = self
                .destination
                .send(&self.hostname, &notice_id, "", sender, &[&notice])
                .await
            {
                tracing::warn!("delivery status notice to <{}> failed: {e}", held.sender);
            }
        }
        let store = self.store.clone();
        let wanted = id.to_owned();
        let remaining = pending.clone();
        blocking(move || {
            if remaining.is_empty() {
                store.delete_held(&wanted).map(|_| ())
            } else {
                store.keep_held_for(&wanted, &remaining).map(|_| ())
            }
        })
        .await
        .map_err(|e| {
            QuarantineError::Store(format!(
                "{id} was relayed but the quarantine could not be updated: {e}"
            ))
        })?;
        Ok(Released {
            id: id.to_owned(),
            recipients,
            pending,
        })
    }
}

/// A delivery status notice (RFC 3464) for recipients a release could not
/// reach for good, from `<>`.
fn delivery_status_notice(
    hostname: &str,
    id: &str,
    sender: &str,
    failed: &[&RecipientReply],
) -> Vec<u8> {
    let boundary = format!("sluice-dsn-{}", crate::stamps::new_id());
    let mut listed = String::new();
    let mut fields = String::new();
    for r in failed {
        let reply = r.reply.to_string().replace(['\r', '\n'], " ");
        listed.push_str(&format!("  <{}>: {reply}\r\n", r.address));
        let status = r
            .reply
            .status
            .map_or_else(|| "5.0.0".to_owned(), |(a, b, c)| format!("{a}.{b}.{c}"));
        fields.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {reply}\r\n",
            r.address
        ));
    }
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\nTo: <{sender}>\r\n\
         Subject: Undelivered: released message {id}\r\nDate: {date}\r\n\
         Message-ID: <{mid}@{hostname}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your message {id} was held by the data-loss prevention gateway and then\r\n\
         released, but could not be delivered to:\r\n\r\n{listed}\r\n\
         --{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; {hostname}\r\n{fields}\r\n--{boundary}--\r\n",
        date = crate::stamps::mail_date(),
        mid = crate::stamps::new_id(),
    )
    .into_bytes()
}
