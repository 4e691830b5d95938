//! A decision as the incident the store, the API and the webhook show.

use std::net::IpAddr;

use sluice_policy::Decision;
use sluice_store::{EvidenceItem, Incident, IncidentRule, Timestamp};

/// `[store] forensics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forensics {
    /// No evidence kept.
    None,
    /// Masked excerpts around each match.
    Excerpts,
    /// Excerpts and the whole message.
    Full,
}

impl Forensics {
    pub fn from_config(value: &str) -> Forensics {
        match value {
            "none" => Forensics::None,
            "full" => Forensics::Full,
            _ => Forensics::Excerpts,
        }
    }
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

/// The incident for a triggered policy. Evidence lists the deciding
/// policy's rules' matches with masked excerpts (never the raw value of an
/// identifier), unless forensics is `none`.
pub fn incident_of(
    d: &Decision,
    id: &str,
    client: Option<IpAddr>,
    forensics: Forensics,
    quarantine_id: Option<String>,
) -> Incident {
    let rules: Vec<_> = d.policy_rules().collect();
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
                })
            })
            .collect()
    };
    Incident {
        id: id.to_owned(),
        time: Timestamp::now().rfc3339(),
        policy: d.policy.clone().unwrap_or_default(),
        action: d.action.map(|a| a.name().to_owned()).unwrap_or_default(),
        monitor: d.monitor,
        // A policy triggered by unscannable content alone has no rule.
        severity: d.severity().map_or("low", |s| s.name()).to_owned(),
        rules: rules
            .iter()
            .map(|r| IncidentRule {
                rule: r.rule.clone(),
                profile: r.profile.clone(),
                severity: r.severity.name().to_owned(),
                count: r.count,
            })
            .collect(),
        sender: d.sender.clone(),
        recipients: d.recipients.clone(),
        subject: d.subject.as_deref().map(sluice_dlp::redact),
        message_id: d.message_id.clone(),
        client_ip: client.map(|ip| ip.to_string()),
        quarantine_id,
        evidence,
    }
}
