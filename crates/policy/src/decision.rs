//! A decision as data: what the rules found and which policies triggered,
//! before anything is done about it (see [`crate::plan`]).

use serde::Serialize;
use sluice_config::{Action, Mode};
use sluice_dlp::{Confidence, Identifier, Severity, Thresholds};
use sluice_mime::{Location, SkippedPart};

/// Who sends a message to whom. `None` fields are taken from the message's
/// headers (From; To, Cc and Bcc), as the offline scanner does without
/// `--from`/`--to`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The envelope sender (`MAIL FROM`), `""` for the null sender.
    pub sender: Option<String>,
    /// The envelope recipients (`RCPT TO`).
    pub recipients: Option<Vec<String>>,
}

/// One match as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The entity that matched.
    pub entity: String,
    /// The original decoded text of the match.
    pub value: String,
    /// The normalized value counted.
    #[serde(skip)]
    pub normalized: String,
    /// Where it is.
    pub location: Location,
    /// About 40 characters around the match, on one line; a built-in
    /// identifier's value is masked in it ([`sluice_dlp::Identifier::mask`]).
    /// Empty when the inspector was built not to cut this match's excerpt
    /// ([`crate::Inspector::with_excerpts`]).
    #[serde(skip)]
    pub excerpt: String,
    /// For fingerprint matches, the document's similarity in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<u32>,
    /// For fingerprint matches, the longest passage in words; null for a
    /// match by similarity alone (SPEC §3.5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passage_words: Option<Option<u32>>,
    /// For identifier matches, the type.
    #[serde(
        rename = "type",
        skip_serializing_if = "Option::is_none",
        serialize_with = "identifier_name"
    )]
    pub identifier: Option<Identifier>,
    /// For identifier matches, the confidence (SPEC §3.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// For EDM matches, the table's row (from 1); `value` is then
    /// `"row N"` (SPEC §3.6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// For EDM matches, the columns found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
}

fn identifier_name<S: serde::Serializer>(id: &Option<Identifier>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(id.name()),
        None => s.serialize_none(),
    }
}

/// A rule that reached its lowest threshold, in one evaluated profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleOutcome {
    /// Rule name.
    pub rule: String,
    /// Profile it was evaluated in.
    pub profile: String,
    /// Level reached.
    pub severity: Severity,
    /// The count.
    pub count: u64,
    /// The thresholds in force.
    #[serde(skip)]
    pub thresholds: Thresholds,
    /// Every counted match.
    pub matches: Vec<Evidence>,
}

/// A policy that triggered, with what it asks for.
///
/// Invariant: `header` is set exactly when `action` is `add-header` (the
/// configuration guarantees the policy has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triggered {
    /// The policy's name.
    pub policy: String,
    /// Its profiles (the rules of [`Decision::rules`] that count for it
    /// are those of these profiles).
    pub profiles: Vec<String>,
    /// Its action (in monitor mode, the one that would have been taken).
    pub action: Action,
    /// Whether the action is applied or only recorded.
    pub mode: Mode,
    /// Header line to add (`add-header`).
    pub header: Option<String>,
    /// Reply text (`block`).
    pub reject_message: String,
    /// The policy asks for a sender notification and the message may get
    /// one: its sender is not empty and it is not itself automatic.
    pub notify_sender: bool,
}

impl Triggered {
    /// Recorded, not applied.
    pub fn is_monitor(&self) -> bool {
        self.mode == Mode::Monitor
    }
}

/// What the rules found in one message and which policies triggered.
///
/// Invariants: `decided`, when set, is the first triggered policy in
/// enforce mode, or — when only monitor-mode policies triggered — the
/// first of those; `monitored` lists every monitor-mode policy that
/// triggered, in file order (SPEC §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Message-ID header.
    pub message_id: Option<String>,
    /// Decoded Subject.
    pub subject: Option<String>,
    /// The sender the policies saw.
    pub sender: String,
    /// The recipients the policies saw.
    pub recipients: Vec<String>,
    /// The reported decision, if a policy triggered.
    pub decided: Option<Triggered>,
    /// Monitor-mode policies that triggered, in order.
    pub monitored: Vec<Triggered>,
    /// Rules that reached their lowest threshold in the evaluated profiles.
    pub rules: Vec<RuleOutcome>,
    /// Content that could not be scanned.
    pub unscannable: Vec<SkippedPart>,
    /// Content in formats not extracted.
    pub unsupported: Vec<SkippedPart>,
    /// Why each policy did or did not apply and trigger, in order; empty
    /// from an inspector built [`crate::Inspector::without_explanations`].
    pub trace: Vec<String>,
}

impl Decision {
    /// The reported policy's name.
    pub fn policy(&self) -> Option<&str> {
        self.decided.as_ref().map(|t| t.policy.as_str())
    }

    /// The reported action.
    pub fn action(&self) -> Option<Action> {
        self.decided.as_ref().map(|t| t.action)
    }

    /// Whether the reported decision is only recorded (monitor mode).
    pub fn is_monitor(&self) -> bool {
        self.decided.as_ref().is_some_and(Triggered::is_monitor)
    }

    /// The rules that count for policy `t` (those of its profiles).
    pub fn rules_of<'a>(&'a self, t: &'a Triggered) -> impl Iterator<Item = &'a RuleOutcome> {
        self.rules
            .iter()
            .filter(move |r| t.profiles.contains(&r.profile))
    }

    /// The rules that count for the reported policy; empty when none
    /// triggered or it triggered on unscannable content alone.
    pub fn policy_rules(&self) -> impl Iterator<Item = &RuleOutcome> {
        let profiles: &[String] = self.decided.as_ref().map_or(&[], |t| &t.profiles);
        self.rules
            .iter()
            .filter(move |r| profiles.contains(&r.profile))
    }

    /// The highest severity among [`Decision::policy_rules`].
    pub fn severity(&self) -> Option<Severity> {
        self.policy_rules().map(|r| r.severity).max()
    }

    /// Whether the message triggered a policy whose action is not `allow`
    /// (or, without policies, matched a rule): the scanner's exit status 1.
    /// Monitor-mode policies listed in `monitored` alone do not count
    /// unless one of them is the reported decision (SPEC §7).
    pub fn is_finding(&self, policies: bool) -> bool {
        if policies {
            self.action().is_some_and(|a| a != Action::Allow)
        } else {
            !self.rules.is_empty()
        }
    }
}
