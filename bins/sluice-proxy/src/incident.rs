//! A decision as the incident the store, the API and the webhook show.

use std::net::IpAddr;

use sluice_config::Forensics;
use sluice_policy::{Decision, Triggered};
use sluice_store::{EvidenceItem, Incident, IncidentRule};

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
    client: Option<IpAddr>,
    forensics: Forensics,
    quarantine_id: Option<String>,
) -> Incident {
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
                })
            })
            .collect()
    };
    Incident {
        id: id.to_owned(),
        time: crate::stamps::now_in_seconds(),
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
        client_ip: client.map(|ip| ip.to_string()),
        quarantine_id,
        evidence,
    }
}
