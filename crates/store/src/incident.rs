//! Incidents and held messages as the API and the webhook show them (SPEC §8).

use serde::{Deserialize, Serialize};
use sluice_config::Action;
use sluice_dlp::Severity;

/// One incident: a triggered policy (its action taken or, in monitor mode,
/// recorded), with masked evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// ULID.
    pub id: String,
    /// When, in whole seconds (RFC 3339, UTC, in JSON).
    pub time: jiff::Timestamp,
    /// The deciding policy.
    pub policy: String,
    /// Its action (in monitor mode: the one that would have been taken).
    pub action: Action,
    /// Recorded, not applied.
    pub monitor: bool,
    /// The highest severity among `rules` (`low` for a policy triggered by
    /// unscannable content alone).
    pub severity: Severity,
    /// Rules of the policy's profiles that reached a threshold.
    pub rules: Vec<IncidentRule>,
    /// Envelope sender (`""` for the null sender).
    pub sender: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// Decoded Subject.
    pub subject: Option<String>,
    /// Message-ID header.
    pub message_id: Option<String>,
    /// The SMTP client's address: the original client's when an MTA in
    /// front passed it on (XFORWARD, PROXY protocol, the milter's connect
    /// step), else the connecting peer's.
    pub client_ip: Option<String>,
    /// The client's host name as the MTA in front resolved it.
    #[serde(default)]
    pub client_name: Option<String>,
    /// What the client said in HELO/EHLO.
    #[serde(default)]
    pub client_helo: Option<String>,
    /// The login the client authenticated as at the MTA in front.
    #[serde(default)]
    pub auth_user: Option<String>,
    /// The held message and what became of it (for `quarantine`), as of
    /// when the incident was read.
    pub quarantine: Option<QuarantineState>,
    /// A reviewer's verdict on it (SPEC §8), as of when it was read.
    #[serde(default)]
    pub triage: Option<Triage>,
    /// Matches with masked excerpts; empty with `forensics = "none"`.
    pub evidence: Vec<EvidenceItem>,
}

/// An incident's held message and what became of it (SPEC §8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineState {
    /// Quarantine id.
    pub id: String,
    /// Held, or how it left.
    pub state: HoldState,
    /// When it was held, or left (unknown for a message that left before
    /// the audit trail existed).
    pub time: Option<jiff::Timestamp>,
    /// Who let it out or deleted it (`system` for retention); none while
    /// it is held.
    pub actor: Option<String>,
    /// Recipients it has still to reach (all of them until a release).
    pub pending: Vec<String>,
}

/// A reviewer's verdict on an incident (set in the console, audited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triage {
    /// The verdict.
    pub state: TriageState,
    /// Why, in the reviewer's words.
    pub note: String,
    /// `user:<name>`.
    pub actor: String,
    /// When it was set.
    pub time: jiff::Timestamp,
}

/// The triage verdicts of SPEC §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriageState {
    /// Not looked at yet (or set back).
    New,
    /// Looked at; nothing more to do.
    Reviewed,
    /// The policy matched what it should not have.
    FalsePositive,
    /// Handed on.
    Escalated,
}

impl TriageState {
    /// Every verdict, in the order a form offers them.
    pub const ALL: [TriageState; 4] = [
        TriageState::New,
        TriageState::Reviewed,
        TriageState::FalsePositive,
        TriageState::Escalated,
    ];

    /// Its name in JSON and forms.
    pub fn name(self) -> &'static str {
        match self {
            TriageState::New => "new",
            TriageState::Reviewed => "reviewed",
            TriageState::FalsePositive => "false-positive",
            TriageState::Escalated => "escalated",
        }
    }

    /// The verdict named `name`.
    pub fn parse(name: &str) -> Option<TriageState> {
        TriageState::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Where a held message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldState {
    /// In the quarantine.
    Held,
    /// Relayed to every recipient.
    Released,
    /// Deleted by a reviewer.
    Deleted,
    /// Removed by retention.
    Expired,
}

/// A rule's outcome in an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRule {
    /// Rule name.
    pub rule: String,
    /// Profile it was evaluated in.
    pub profile: String,
    /// Level reached.
    pub severity: Severity,
    /// Its count.
    pub count: u64,
}

/// One match as evidence. The excerpt never shows an identifier's value
/// unmasked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// The rule it counted for.
    pub rule: String,
    /// The entity that matched.
    pub entity: String,
    /// Where in the message (part, content type, file name, archive path).
    pub location: serde_json::Value,
    /// About 40 characters around the match.
    pub excerpt: String,
    /// For identifier matches: the type's name (SPEC §3.3).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// For identifier matches: the confidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<sluice_dlp::Confidence>,
    /// For fingerprint matches: the document's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// For fingerprint matches: the document's similarity in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<u32>,
    /// For fingerprint matches by a passage: its length in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage_words: Option<u32>,
    /// For EDM matches: the table's row (SPEC §3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// For EDM matches: the columns found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
}

/// A held message, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// Quarantine id (given in the `250 2.0.0 quarantined <id>` reply).
    pub id: String,
    /// The incident that holds it.
    pub incident_id: String,
    /// When it was held (RFC 3339 in JSON).
    pub time: jiff::Timestamp,
    /// Envelope sender.
    pub sender: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// Decoded Subject.
    pub subject: Option<String>,
    /// Message size in bytes.
    pub size: u64,
}

impl Incident {
    /// The values the query language searches, by field, as stored.
    pub(crate) fn search_values(&self) -> Vec<(crate::Field, String)> {
        use crate::Field;
        let mut out = vec![
            (Field::Policy, self.policy.to_lowercase()),
            (Field::Action, self.action.name().to_owned()),
            (Field::Severity, self.severity.name().to_owned()),
            (Field::Sender, self.sender.to_lowercase()),
        ];
        if let Some(s) = &self.subject {
            out.push((Field::Subject, s.to_lowercase()));
        }
        for r in &self.recipients {
            out.push((Field::Recipient, r.to_lowercase()));
        }
        for r in &self.rules {
            out.push((Field::Rule, r.rule.to_lowercase()));
            out.push((Field::Profile, r.profile.to_lowercase()));
        }
        out.sort_by(|a, b| (a.0.name(), &a.1).cmp(&(b.0.name(), &b.1)));
        out.dedup();
        out
    }
}
