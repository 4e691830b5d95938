//! Decisions as JSON Lines (SPEC §7) and as explained text for people.

use std::io::{self, Write};

use serde::Serialize;
use sluice_config::Action;
use sluice_mime::SkippedPart;
use sluice_policy::{Decision, Evidence, Inspector};

#[derive(Serialize)]
struct MatchOut<'a> {
    entity: &'a str,
    value: &'a str,
    location: &'a sluice_mime::Location,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    identifier: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<sluice_dlp::Confidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    similarity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    passage_words: Option<Option<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    row: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    columns: Option<&'a [String]>,
}

#[derive(Serialize)]
struct RuleOut<'a> {
    rule: &'a str,
    profile: &'a str,
    severity: &'a str,
    count: u64,
    matches: Vec<MatchOut<'a>>,
}

#[derive(Serialize)]
struct MonitoredOut<'a> {
    policy: &'a str,
    action: Action,
}

#[derive(Serialize)]
struct DecisionOut<'a> {
    path: &'a str,
    message_id: Option<&'a str>,
    subject: Option<&'a str>,
    from: Option<&'a str>,
    recipients: &'a [String],
    policy: Option<&'a str>,
    action: Option<Action>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    monitor: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    monitored: Vec<MonitoredOut<'a>>,
    rules: Vec<RuleOut<'a>>,
    unscannable: &'a [SkippedPart],
    unsupported: &'a [SkippedPart],
    error: Option<&'a str>,
}

/// One JSON line for a decision, or for a path that could not be read.
pub fn json_line(
    out: &mut impl Write,
    path: &str,
    decision: Result<&Decision, &str>,
) -> io::Result<()> {
    let value = match decision {
        Ok(d) => DecisionOut {
            path,
            message_id: d.message_id.as_deref(),
            subject: d.subject.as_deref(),
            from: Some(d.sender.as_str()),
            recipients: &d.recipients,
            policy: d.policy(),
            action: d.action(),
            monitor: d.is_monitor(),
            monitored: d
                .monitored
                .iter()
                .map(|t| MonitoredOut {
                    policy: &t.policy,
                    action: t.action,
                })
                .collect(),
            rules: d
                .rules
                .iter()
                .map(|r| RuleOut {
                    rule: &r.rule,
                    profile: &r.profile,
                    severity: r.severity.name(),
                    count: r.count,
                    matches: r
                        .matches
                        .iter()
                        .map(|m| MatchOut {
                            entity: &m.entity,
                            value: &m.value,
                            location: &m.location,
                            identifier: m.identifier.map(|i| i.name()),
                            confidence: m.confidence,
                            similarity: m.similarity,
                            passage_words: m.passage_words,
                            row: m.row,
                            columns: m.columns.as_deref(),
                        })
                        .collect(),
                })
                .collect(),
            unscannable: &d.unscannable,
            unsupported: &d.unsupported,
            error: None,
        },
        Err(e) => DecisionOut {
            path,
            message_id: None,
            subject: None,
            from: None,
            recipients: &[],
            policy: None,
            action: None,
            monitor: false,
            monitored: Vec::new(),
            rules: Vec::new(),
            unscannable: &[],
            unsupported: &[],
            error: Some(e),
        },
    };
    serde_json::to_writer(&mut *out, &value)?;
    writeln!(out)
}

/// The explained, human form of a decision.
pub fn human(
    out: &mut impl Write,
    path: &str,
    decision: Result<&Decision, &str>,
    inspector: &Inspector,
) -> io::Result<()> {
    writeln!(out, "== {path}")?;
    let d = match decision {
        Ok(d) => d,
        Err(e) => {
            writeln!(out, "  error: {e}")?;
            return writeln!(out);
        }
    };
    if let Some(s) = &d.subject {
        writeln!(out, "  subject: {s}")?;
    }
    let sender = if d.sender.is_empty() {
        "<>"
    } else {
        d.sender.as_str()
    };
    writeln!(
        out,
        "  from {sender} to {}",
        if d.recipients.is_empty() {
            "(no recipients)".to_owned()
        } else {
            d.recipients.join(", ")
        }
    )?;
    if inspector.uses_policies() {
        match &d.decided {
            Some(t) if t.is_monitor() => writeln!(
                out,
                "  DECISION: {} by policy {:?} (monitor mode: recorded, not applied)",
                t.action, t.policy
            )?,
            Some(t) => writeln!(out, "  DECISION: {} by policy {:?}", t.action, t.policy)?,
            None => writeln!(out, "  DECISION: no policy triggered (allow)")?,
        }
        for t in d
            .monitored
            .iter()
            .filter(|t| Some(*t) != d.decided.as_ref())
        {
            writeln!(
                out,
                "  MONITORED: {} by policy {:?} (recorded, not applied)",
                t.action, t.policy
            )?;
        }
        for line in &d.trace {
            writeln!(out, "    {line}")?;
        }
    }
    if d.rules.is_empty() {
        writeln!(out, "  no rule reached its lowest threshold")?;
    }
    for r in &d.rules {
        let t = r.thresholds;
        let levels: Vec<String> = [
            ("low", t.low),
            ("medium", t.medium),
            ("high", t.high),
            ("critical", t.critical),
        ]
        .iter()
        .filter_map(|(n, v)| v.map(|v| format!("{n} {v}")))
        .collect();
        writeln!(
            out,
            "  rule {:?} (profile {:?}): count {} -> {} (thresholds: {})",
            r.rule,
            r.profile,
            r.count,
            r.severity,
            levels.join(", ")
        )?;
        for m in &r.matches {
            write_match(out, m)?;
        }
    }
    for u in &d.unscannable {
        writeln!(out, "  UNSCANNABLE [{}]: {}", u.location, u.reason)?;
    }
    for u in &d.unsupported {
        writeln!(out, "  unsupported [{}]: {}", u.location, u.reason)?;
    }
    writeln!(out)
}

fn write_match(out: &mut impl Write, m: &Evidence) -> io::Result<()> {
    let similarity = match (m.similarity, m.passage_words.flatten()) {
        (Some(s), Some(words)) => format!(" ({s}% similar, a passage of {words} words)"),
        (Some(s), None) => format!(" ({s}% similar)"),
        _ => String::new(),
    };
    let similarity = match (m.identifier, m.confidence) {
        (Some(id), Some(c)) => format!("{similarity} ({}, {c} confidence)", id.name()),
        _ => similarity,
    };
    let similarity = match &m.columns {
        Some(columns) => format!("{similarity} (columns {})", columns.join(", ")),
        None => similarity,
    };
    writeln!(
        out,
        "    {} {:?}{similarity} at [{}]: {}",
        m.entity, m.value, m.location, m.excerpt
    )
}
