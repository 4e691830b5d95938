//! Sender notifications (`notify_sender`, SPEC §5): a short message to the
//! envelope sender saying what happened and what to do, sent with
//! `MAIL FROM:<>` so it can never bounce into a loop, and never containing
//! the matched values.
//!
//! Sent by one task from a bounded queue, with retries; a full queue or a
//! failed send is logged and counted, never a reason to hold mail.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use sluice_config::Action;
use sluice_store::Incident;
use tokio::sync::mpsc;

use crate::delivery::{DeliveryError, Destination};
use crate::metrics::Metrics;
use crate::retry::{Attempt, Outcome};

/// Waits before each retry of a notification.
const RETRIES: [Duration; 4] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
];

/// Notifications waiting to be sent at most.
const QUEUE: usize = 1000;

/// The built-in text; `[notify] template` replaces it. Placeholders:
/// `{sender}`, `{subject}`, `{recipients}`, `{policy}`, `{rules}`,
/// `{severity}`, `{action}`, `{outcome}`, `{incident_id}`, `{next_steps}`,
/// `{release_link}` (a quarantine notice's release-request link, which
/// `{next_steps}` carries when the template does not place it).
/// A first line `Subject: ...` sets the notification's subject.
pub const BUILT_IN_TEMPLATE: &str = "Subject: Data-loss policy: your message was {outcome}
Your message

  Subject:    {subject}
  Recipients: {recipients}

was {outcome} by the data-loss prevention policy \"{policy}\".

  Rules:      {rules}
  Severity:   {severity}
  Action:     {action}
  Incident:   {incident_id}

{next_steps}

This is an automatic message; replies are not read.
";

/// Queues notifications for the sending task.
#[derive(Clone)]
pub struct Notifier {
    /// (recipient, message)
    queue: mpsc::Sender<(String, Vec<u8>)>,
    metrics: Arc<Metrics>,
    from: String,
    hostname: String,
    template: Arc<String>,
    /// Release-request links for quarantine notices (`[notify]
    /// console_url`).
    links: Option<Arc<ReleaseLinks>>,
}

/// How quarantine notices link to the console's release-request page
/// (SPEC §9).
pub struct ReleaseLinks {
    /// `[notify] console_url`, without a trailing `/`.
    pub base: String,
    /// `[console] secret_file`.
    pub secret: crate::console::signing::Secret,
    /// `[notify] link_ttl`.
    pub ttl: Duration,
}

impl ReleaseLinks {
    /// The link for held message `quarantine_id`, valid `ttl` from now,
    /// and when it stops being valid.
    pub fn link(&self, quarantine_id: &str) -> (String, jiff::Timestamp) {
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let expires = jiff::Timestamp::now().as_second().saturating_add(ttl);
        let token = self.secret.release_link(quarantine_id, expires);
        let until = jiff::Timestamp::from_second(expires).unwrap_or(jiff::Timestamp::MAX);
        (format!("{}/request/{token}", self.base), until)
    }
}

/// Where the sending task's messages go.
struct Outbox {
    destination: Arc<Destination>,
    hostname: String,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Starts the sending task (call inside the runtime).
    pub fn start(
        destination: Arc<Destination>,
        hostname: String,
        from: String,
        template: String,
        metrics: Arc<Metrics>,
        links: Option<ReleaseLinks>,
    ) -> Notifier {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let outbox = Outbox {
            destination,
            hostname: hostname.clone(),
            metrics: metrics.clone(),
        };
        tokio::spawn(outbox.run(receiver));
        Notifier {
            queue,
            metrics,
            from,
            hostname,
            template: Arc::new(template),
            links: links.map(Arc::new),
        }
    }

    /// Queues the notification for `incident` (to its sender). Never waits.
    /// `matched` are the decoded matched values, withheld wherever the
    /// notification would quote them (a card number in the subject).
    pub fn notify(&self, incident: &Incident, matched: &[&str]) {
        let mut incident = incident.clone();
        incident.subject = incident.subject.map(|s| withhold(&s, matched));
        let message = self.compose(&incident);
        if self.queue.try_send((incident.sender, message)).is_err() {
            self.metrics
                .notifications
                .with_label_values(&["dropped"])
                .inc();
            tracing::warn!(
                "notification for incident {} dropped: queue full",
                incident.id
            );
        }
    }

    /// The whole notification message.
    pub fn compose(&self, i: &Incident) -> Vec<u8> {
        let (outcome, next_steps) = match i.action {
            Action::Block => (
                "blocked",
                "It was not delivered. Remove the sensitive content and send it again, or ask \
                 your data-protection team (quoting the incident id) if it must go out as it is.",
            ),
            Action::Quarantine => (
                "held for review",
                "It has not been delivered yet. A reviewer will release or delete it; contact \
                 your data-protection team, quoting the incident id, if it is urgent.",
            ),

            Action::AddHeader => (
                "marked for review",
                "It was passed on marked for review, and your mail service may hold it. Contact \
                 your data-protection team, quoting the incident id, with any questions.",
            ),
            Action::Alert | Action::Allow => (
                "delivered and recorded",
                "It was delivered. Please check that sending this content was intended.",
            ),
        };
        // A held message's notice links to the release-request page.
        let release_link = match (&self.links, &i.quarantine) {
            (Some(links), Some(q)) if i.action == Action::Quarantine && !i.monitor => {
                let (url, until) = links.link(&q.id);
                format!(
                    "To ask for its release, give a business reason here (valid until {}):\n  {url}",
                    until.strftime("%Y-%m-%d %H:%M UTC")
                )
            }
            _ => String::new(),
        };
        let next_steps = if release_link.is_empty() || self.template.contains("{release_link}") {
            next_steps.to_owned()
        } else {
            format!("{next_steps}\n\n{release_link}")
        };
        let rules = i
            .rules
            .iter()
            .map(|r| format!("{} ({})", r.rule, r.severity))
            .collect::<Vec<_>>()
            .join(", ");
        let rules = if rules.is_empty() {
            "content that could not be scanned".to_owned()
        } else {
            rules
        };
        let filled = self
            .template
            .replace("{sender}", &i.sender)
            .replace("{subject}", i.subject.as_deref().unwrap_or("(no subject)"))
            .replace("{recipients}", &i.recipients.join(", "))
            .replace("{policy}", &i.policy)
            .replace("{rules}", &rules)
            .replace("{severity}", i.severity.name())
            .replace("{action}", i.action.name())
            .replace("{outcome}", outcome)
            .replace("{incident_id}", &i.id)
            .replace("{next_steps}", &next_steps)
            .replace("{release_link}", &release_link);
        let (subject, body) = match filled.strip_prefix("Subject:") {
            Some(rest) => {
                let (s, b) = rest.split_once('\n').unwrap_or((rest, ""));
                (s.trim().to_owned(), b.to_owned())
            }
            None => (
                format!("Data-loss policy: your message was {outcome}"),
                filled,
            ),
        };
        self.message(&i.sender, &subject, &body, &i.id)
    }

    /// A plain-text message from `[notify] from` to `to`, with the
    /// notices' headers; `id` makes its Message-ID.
    fn message(&self, to: &str, subject: &str, body: &str, id: &str) -> Vec<u8> {
        let body = body.replace("\r\n", "\n").replace('\n', "\r\n");
        format!(
            "From: {from}\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\n\
             Message-ID: <{id}.notify@{host}>\r\nAuto-Submitted: auto-generated\r\n\
             X-Sluice-Scanned: {host}\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}",
            from = self.from,
            subject = encode_header(&withhold(subject, &[])),
            date = crate::stamps::mail_date(),
            host = self.hostname,
        )
        .into_bytes()
    }

    /// Queues a plain message to `to` (release-request notices); never
    /// waits. `subject` is put on one line.
    pub fn mail(&self, to: &str, subject: &str, body: &str) {
        let id = ulid::Ulid::new().to_string();
        let message = self.message(to, subject, body, &id);
        if self.queue.try_send((to.to_owned(), message)).is_err() {
            self.metrics
                .notifications
                .with_label_values(&["dropped"])
                .inc();
            tracing::warn!("notice to {to} dropped: queue full");
        }
    }
}

/// `text` on one line with each of `values` replaced by `[withheld]`.
fn withhold(text: &str, values: &[&str]) -> String {
    let mut out = text.replace(['\r', '\n'], " ");
    for v in values.iter().filter(|v| !v.is_empty()) {
        out = out.replace(v, "[withheld]");
    }
    out
}

/// An RFC 2047 encoded word when the text is not plain ASCII.
fn encode_header(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

impl Outbox {
    /// Sends each notice with its own retry schedule ([`crate::retry`]):
    /// a recipient whose server keeps deferring never holds up the others.
    async fn run(self, receiver: mpsc::Receiver<(String, Vec<u8>)>) {
        let outbox = Arc::new(self);
        let sender = outbox.clone();
        crate::retry::run(
            receiver,
            &RETRIES,
            move |(to, message): (String, Vec<u8>)| {
                let outbox = sender.clone();
                async move {
                    let id = crate::stamps::new_id();
                    let sent = outbox
                        .destination
                        .send(
                            &outbox.hostname,
                            &id,
                            "",
                            std::slice::from_ref(&to),
                            &[&message],
                        )
                        .await;
                    let attempt = match sent {
                        Ok(_) => Attempt::Done,
                        Err(DeliveryError::Transient(e)) => {
                            tracing::warn!("notification to <{to}>: {e}; will retry");
                            Attempt::Retry(e)
                        }
                        Err(e) => Attempt::Failed(e.to_string()),
                    };
                    ((to, message), attempt)
                }
            },
            |(to, _), outcome| {
                let result = match outcome {
                    Outcome::Sent => "sent",
                    Outcome::Failed(e) => {
                        tracing::warn!("notification to <{to}> failed: {e}");
                        "failed"
                    }
                    Outcome::Dropped(e) => {
                        tracing::warn!("notification to <{to}> dropped ({e}): too many waiting");
                        "dropped"
                    }
                };
                outbox
                    .metrics
                    .notifications
                    .with_label_values(&[result])
                    .inc();
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident() -> Incident {
        Incident {
            id: "01JD0000000000000000000000".into(),
            time: "2026-11-28T09:14:03Z".parse().unwrap(),
            policy: "Card block".into(),
            action: Action::Block,
            monitor: false,
            severity: sluice_dlp::Severity::Low,
            rules: vec![sluice_store::IncidentRule {
                rule: "Card numbers".into(),
                profile: "Payment data".into(),
                severity: sluice_dlp::Severity::Low,
                count: 1,
            }],
            sender: "alice@example.com".into(),
            recipients: vec!["bob@partner.org".into()],
            subject: Some("Zahlung für Bob".into()),
            message_id: None,
            client_ip: None,
            client_name: None,
            client_helo: None,
            auth_user: None,
            quarantine: None,
            triage: None,
            evidence: vec![sluice_store::EvidenceItem {
                rule: "Card numbers".into(),
                entity: "cards".into(),
                location: serde_json::Value::Null,
                excerpt: "card **** **** **** 1111 exp".into(),
                ..Default::default()
            }],
        }
    }

    fn notifier(template: &str) -> Notifier {
        let (queue, _) = mpsc::channel(1);
        Notifier {
            queue,
            metrics: Arc::new(Metrics::new()),
            from: "dlp-noreply@example.com".into(),
            hostname: "dlp.test".into(),
            template: Arc::new(template.into()),
            links: None,
        }
    }

    #[test]
    fn the_built_in_notification_says_what_happened_without_evidence() {
        let text = String::from_utf8(notifier(BUILT_IN_TEMPLATE).compose(&incident())).unwrap();
        assert!(text.starts_with("From: dlp-noreply@example.com\r\nTo: <alice@example.com>\r\n"));
        assert!(text.contains("Subject: Data-loss policy: your message was blocked\r\n"));
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"));
        for part in [
            "Zahlung für Bob",
            "bob@partner.org",
            "\"Card block\"",
            "Card numbers (low)",
            "01JD0000000000000000000000",
            "Remove the sensitive content",
        ] {
            assert!(text.contains(part), "{part} missing from\n{text}");
        }
        assert!(!text.contains("1111"), "{text}");
    }

    #[test]
    fn matched_values_in_the_subject_are_withheld() {
        assert_eq!(
            withhold("card 4111 1111 1111 1111\r\n now", &["4111 1111 1111 1111"]),
            "card [withheld]   now"
        );
    }

    #[test]
    fn a_template_replaces_the_text_and_may_set_the_subject() {
        let t = "Subject: Blocked: {subject}\nDear {sender}, {policy} did {action}.\n";
        let text = String::from_utf8(notifier(t).compose(&incident())).unwrap();
        assert!(text.contains("Subject: =?UTF-8?B?"), "{text}");
        assert!(
            text.ends_with("\r\n\r\nDear alice@example.com, Card block did block.\r\n"),
            "{text}"
        );
    }
}
