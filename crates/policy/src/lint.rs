//! `sluice-scan check` warnings (SPEC §4): valid but probably not what the
//! administrator meant.

use std::collections::HashSet;

use sluice_config::{EntityKind, PolicyConfig};
use sluice_dlp::{Confidence, CountMode};

use crate::Inspector;

/// One warning, with the key path it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    /// Key path.
    pub path: String,
    /// What is odd and what to do.
    pub message: String,
}

impl std::fmt::Display for Lint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The warnings for a loaded configuration.
pub fn lints(inspector: &Inspector) -> Vec<Lint> {
    let config = inspector.config();
    let mut out = Vec::new();
    let dictionaries: HashSet<&str> = config
        .entity
        .iter()
        .filter(|e| matches!(e.kind, EntityKind::Dictionary { .. }))
        .map(|e| e.name.as_str())
        .collect();
    for r in &config.rule {
        let at = format!("rule {:?}", r.name);
        let has_dictionary = r.entities.iter().any(|e| dictionaries.contains(e.as_str()));
        if has_dictionary && r.count == CountMode::Total {
            out.push(Lint {
                path: format!("{at}.count"),
                message: "a dictionary rule counting \"total\" lets one repeated term reach any threshold; \"unique\" counts distinct terms".into(),
            });
        }
        if let (true, Some(low)) = (has_dictionary, r.severity.and_then(|s| s.low)) {
            // The engine's own n, from the dictionaries it compiled.
            let n = inspector.engine().dictionary_terms(&r.name).unwrap_or(0);
            let advised = n.div_ceil(2).max(1);
            if low < advised {
                out.push(Lint {
                    path: format!("{at}.severity.low"),
                    message: format!("low = {low} is below ceil(n/2) = {advised} for the n = {n} distinct terms of its dictionaries; advised: low = {advised}"),
                });
            }
        }
    }
    out.extend(confidence_reach(config));
    out.extend(exposed_secrets(config));
    for (i, p) in config.policy.iter().enumerate() {
        let at = format!("policy {:?}", p.name);
        let empty: Vec<&str> = p
            .profiles
            .iter()
            .filter(|name| {
                config
                    .profile
                    .iter()
                    .find(|pr| &&pr.name == name)
                    .is_some_and(|pr| pr.rules.is_empty())
            })
            .map(String::as_str)
            .collect();
        if !empty.is_empty() && empty.len() == p.profiles.len() && !p.unscannable {
            out.push(Lint {
                path: format!("{at}.profiles"),
                message: format!("can never trigger: profile(s) {empty:?} have no rules"),
            });
        }
        if let Some(earlier) = config.policy[..i].iter().find(|e| shadows(e, p)) {
            out.push(Lint {
                path: at.clone(),
                message: format!("can never trigger: earlier policy {:?} has the same from/to, its profiles include all of these, a min_severity no higher and unscannable no narrower", earlier.name),
            });
        }
    }
    out
}

/// SPEC §4: an earlier policy with equal from/to, a superset of the
/// profiles, a min_severity no higher and unscannable no narrower.
fn shadows(earlier: &PolicyConfig, later: &PolicyConfig) -> bool {
    earlier.from == later.from
        && earlier.to == later.to
        && later.profiles.iter().all(|p| earlier.profiles.contains(p))
        && earlier.min_severity <= later.min_severity
        && (earlier.unscannable || !later.unscannable)
}

/// Secret files anyone on the machine can read (the service needs them
/// readable by its own group only: `root:sluice 0640`).
/// Rules whose identifier entities can count nothing at the rule's
/// `min_confidence` without a keyword near (SPEC §3.3): said, so that an
/// administrator who lists `nl-bsn` knows a bare number is not enough.
fn confidence_reach(config: &sluice_config::Config) -> Vec<Lint> {
    let mut out = Vec::new();
    for r in &config.rule {
        let min = r.min_confidence.unwrap_or(Confidence::Medium);
        let mut weak = Vec::new();
        let mut counted_without_keywords = false;
        for name in &r.entities {
            let Some(e) = config.entity.iter().find(|e| &e.name == name) else {
                continue;
            };
            let EntityKind::Identifier {
                identifier,
                keywords,
                ..
            } = &e.kind
            else {
                counted_without_keywords = true;
                continue;
            };
            if identifier.confidence() >= min {
                counted_without_keywords = true;
            } else if identifier.keywords().is_empty() && keywords.is_empty() {
                out.push(Lint {
                    path: format!("rule {:?}.min_confidence", r.name),
                    message: format!(
                        "entity {name:?} ({}) can count nothing: its matches are {} without a keyword, and it has none",
                        identifier.name(),
                        identifier.confidence()
                    ),
                });
            } else {
                weak.push(format!("{name:?} ({})", identifier.name()));
            }
        }
        if !weak.is_empty() && !counted_without_keywords {
            out.push(Lint {
                path: format!("rule {:?}.min_confidence", r.name),
                message: format!(
                    "counts nothing without a keyword near: {} match at low confidence alone, below {min}; add keywords or set min_confidence = \"low\"",
                    weak.join(", ")
                ),
            });
        }
    }
    out
}

fn exposed_secrets(config: &sluice_config::Config) -> Vec<Lint> {
    use std::os::unix::fs::PermissionsExt;
    let mut secrets: Vec<(&str, &std::path::Path)> = Vec::new();
    if let Some(tls) = &config.proxy.tls {
        secrets.push(("proxy.tls.key", &tls.key));
    }
    if let Some(f) = config
        .upstream
        .as_ref()
        .and_then(|u| u.password_file.as_deref())
    {
        secrets.push(("upstream.password_file", f));
    }
    if let Some(f) = config.api.as_ref().and_then(|a| a.token_file.as_deref()) {
        secrets.push(("api.token_file", f));
    }
    if let Some(f) = config
        .notify
        .as_ref()
        .and_then(|n| n.webhook_secret_file.as_deref())
    {
        secrets.push(("notify.webhook_secret_file", f));
    }
    secrets
        .into_iter()
        .filter_map(|(key, path)| {
            let mode = std::fs::metadata(path).ok()?.permissions().mode();
            (mode & 0o004 != 0).then(|| Lint {
                path: key.to_owned(),
                message: format!(
                    "{} is readable by anyone (mode {:04o}); a secret should be root:sluice 0640",
                    path.display(),
                    mode & 0o7777
                ),
            })
        })
        .collect()
}
