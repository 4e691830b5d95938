//! A decision as the incident the store, the API and the webhook show.

use std::net::IpAddr;

use sluice_config::Forensics;
use sluice_policy::{Decision, Triggered};
use sluice_store::{EvidenceItem, HoldState, Incident, IncidentRule, QuarantineState};

/// Who sent a message, as far as the front end knows: the connecting
/// peer, or the original client an MTA in front passed on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFacts {
    /// Its address.
    pub address: Option<IpAddr>,
    /// Its host name, as the MTA in front resolved it.
    pub name: Option<String>,
    /// What it said in HELO/EHLO.
    pub helo: Option<String>,
    /// The login it authenticated as at the MTA in front.
    pub auth_user: Option<String>,
}

/// A location whose free text (file name, archive path) has every
/// identifier value masked (SPEC §8): a file named after a card number is
/// stored as `**** **** **** 1111.pdf`.
fn redacted_location(location: &sluice_mime::Location) -> sluice_mime::Location {
    let mut out = location.clone();
    out.filename = out.filename.as_deref().map(sluice_dlp::redact);
    out.archive_path = out.archive_path.as_deref().map(sluice_dlp::redact);
    out
}

/// The incident for policy `t`, triggered by decision `d`. Evidence lists
/// the matches of the policy's rules with masked excerpts (never the raw
/// value of an identifier), unless forensics is `none`.
pub fn incident_of(
    d: &Decision,
    t: &Triggered,
    id: &str,
    client: &ClientFacts,
    forensics: Forensics,
    quarantine_id: Option<String>,
) -> Incident {
    let time = crate::stamps::now_in_seconds();
    // Held now, for every recipient (what the webhook shows); the store
    // brings it up to date whenever the incident is read.
    let quarantine = quarantine_id.map(|held| QuarantineState {
        id: held,
        state: HoldState::Held,
        time: Some(time),
        actor: None,
        pending: d.recipients.clone(),
    });
    let rules: Vec<_> = d.rules_of(t).collect();
    let evidence = if forensics == Forensics::None {
        Vec::new()
    } else {
        rules
            .iter()
            .flat_map(|r| {
                r.matches.iter().map(|m| EvidenceItem {
                    rule: r.rule.clone(),
                    entity: m.entity.clone(),
                    location: serde_json::to_value(redacted_location(&m.location))
                        .unwrap_or_default(),
                    excerpt: m.excerpt.clone(),
                    identifier: m.identifier.map(|i| i.name().to_owned()),
                    confidence: m.confidence,
                    document: m.similarity.map(|_| m.value.clone()),
                    similarity: m.similarity,
                    passage_words: m.passage_words.flatten(),
                    row: m.row,
                    columns: m.columns.clone(),
                })
            })
            .collect()
    };
    Incident {
        id: id.to_owned(),
        time,
        policy: t.policy.clone(),
        action: t.action,
        monitor: t.is_monitor(),
        // A policy triggered by unscannable content alone has no rule.
        severity: rules.iter().map(|r| r.severity).max().unwrap_or_default(),
        rules: rules
            .iter()
            .map(|r| IncidentRule {
                rule: r.rule.clone(),
                profile: r.profile.clone(),
                severity: r.severity,
                count: r.count,
            })
            .collect(),
        sender: d.sender.clone(),
        recipients: d.recipients.clone(),
        subject: d.subject.as_deref().map(sluice_dlp::redact),
        message_id: d.message_id.clone(),
        client_ip: client.address.map(|ip| ip.to_string()),
        client_name: client.name.as_deref().map(sluice_dlp::redact),
        client_helo: client.helo.clone(),
        auth_user: client.auth_user.clone(),
        quarantine,
        triage: None,
        evidence,
    }
}
