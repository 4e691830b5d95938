//! `sluice-scan check` warnings (SPEC §4): valid but probably not what the
//! administrator meant.

use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

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
    out.extend(old_fingerprint_files(config));
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
    let mut secrets: Vec<(String, &std::path::Path)> = Vec::new();
    if let Some(tls) = &config.proxy.tls {
        secrets.push(("proxy.tls.key".into(), &tls.key));
    }
    for e in &config.entity {
        if let sluice_config::EntityKind::Edm { salt_file, .. } = &e.kind {
            secrets.push((format!("entity {:?}.salt_file", e.name), salt_file));
        }
    }
    if let Some(f) = config
        .upstream
        .as_ref()
        .and_then(|u| u.password_file.as_deref())
    {
        secrets.push(("upstream.password_file".into(), f));
    }
    if let Some(f) = config.api.as_ref().and_then(|a| a.token_file.as_deref()) {
        secrets.push(("api.token_file".into(), f));
    }
    if let Some(tls) = config.api.as_ref().and_then(|a| a.tls.as_ref()) {
        secrets.push(("api.tls.key".into(), &tls.key));
    }
    if let Some(f) = config
        .notify
        .as_ref()
        .and_then(|n| n.webhook_secret_file.as_deref())
    {
        secrets.push(("notify.webhook_secret_file".into(), f));
    }
    let account = service_account();
    let mut out = Vec::new();
    for (key, path) in secrets {
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o004 != 0 {
            out.push(Lint {
                path: key.clone(),
                message: format!(
                    "{} is readable by anyone (mode {:04o}); a secret should be root:sluice 0640",
                    path.display(),
                    mode & 0o7777
                ),
            });
        }
        if let Some(account) = &account {
            if !account.can_read(path) {
                out.push(Lint {
                    path: key.clone(),
                    message: format!(
                        "the service user {} cannot read {} (owner {}:{} mode {:04o}); a secret should be root:{} 0640",
                        account.name,
                        path.display(),
                        owner_name(meta.uid(), meta.gid()).0,
                        owner_name(meta.uid(), meta.gid()).1,
                        mode & 0o7777,
                        account.name
                    ),
                });
            }
        }
    }
    out
}

/// The account the service runs as, when `check` runs as root: the
/// package's `sluice` user (`packaging/sluice-proxy.service`, `User=`).
/// Root reads every file, so without this a secret only root can read
/// would pass `check` and stop the service at start.
fn service_account() -> Option<Account> {
    use nix::unistd::{getgrouplist, Uid, User};
    if !Uid::effective().is_root() {
        return None;
    }
    let user = User::from_name(SERVICE_USER).ok().flatten()?;
    let name = std::ffi::CString::new(SERVICE_USER).ok()?;
    let groups = getgrouplist(&name, user.gid)
        .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_else(|_| vec![user.gid.as_raw()]);
    Some(Account {
        name: SERVICE_USER,
        uid: user.uid.as_raw(),
        groups,
    })
}

/// A file's owner and group by name (the number when there is none).
fn owner_name(uid: u32, gid: u32) -> (String, String) {
    use nix::unistd::{Gid, Group, Uid, User};
    let user = User::from_uid(Uid::from_raw(uid)).ok().flatten();
    let group = Group::from_gid(Gid::from_raw(gid)).ok().flatten();
    (
        user.map_or_else(|| uid.to_string(), |u| u.name),
        group.map_or_else(|| gid.to_string(), |g| g.name),
    )
}

/// The user the Debian package creates and the unit runs as.
const SERVICE_USER: &str = "sluice";

/// A user and its groups, to judge permissions as it would meet them.
struct Account {
    name: &'static str,
    uid: u32,
    groups: Vec<u32>,
}

impl Account {
    /// Whether the account may read `path`: search permission on every
    /// folder above it and read permission on the file (owner, group or
    /// other bits, as the kernel picks them; no ACLs).
    fn can_read(&self, path: &std::path::Path) -> bool {
        let Ok(path) = path.canonicalize() else {
            return false;
        };
        let allowed = |p: &std::path::Path, bit: u32| {
            std::fs::metadata(p).is_ok_and(|m| {
                permits(
                    m.permissions().mode(),
                    m.uid(),
                    m.gid(),
                    self.uid,
                    &self.groups,
                    bit,
                )
            })
        };
        path.ancestors().skip(1).all(|dir| allowed(dir, 0o1)) && allowed(&path, 0o4)
    }
}

/// Whether `bit` (4 read, 2 write, 1 execute/search) is granted to user
/// `uid` in `groups` on a file of `mode` owned by `owner`:`group`.
fn permits(mode: u32, owner: u32, group: u32, uid: u32, groups: &[u32], bit: u32) -> bool {
    if uid == 0 {
        return true;
    }
    let class = if uid == owner {
        mode >> 6
    } else if groups.contains(&group) {
        mode >> 3
    } else {
        mode
    };
    class & bit != 0
}

/// Fingerprint files of an earlier version: their documents match by
/// whole-document similarity only (SPEC §3.5).
fn old_fingerprint_files(config: &sluice_config::Config) -> Vec<Lint> {
    let mut out = Vec::new();
    for e in &config.entity {
        let EntityKind::Fingerprint {
            path,
            min_passage_words,
            ..
        } = &e.kind
        else {
            continue;
        };
        let set = std::fs::read_to_string(path)
            .ok()
            .and_then(|json| sluice_dlp::FingerprintSet::from_json(&json).ok());
        if *min_passage_words > 0
            && set.is_some_and(|s| s.documents.iter().any(|d| !d.has_positions()))
        {
            out.push(Lint {
                path: format!("entity {:?}.path", e.name),
                message: format!(
                    "{} was built by an earlier version: its documents match by whole-document similarity only, not by passage; rebuild it with `sluice-scan fingerprint`",
                    path.display()
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::permits;

    #[test]
    fn permissions_as_the_kernel_picks_them() {
        let sluice = (998, [998u32]);
        // root:sluice 0640: the group may read.
        assert!(permits(0o640, 0, 998, sluice.0, &sluice.1, 4));
        // root:root 0600: the service user may not.
        assert!(!permits(0o600, 0, 0, sluice.0, &sluice.1, 4));
        // The owner's bits decide for the owner, even when others may read.
        assert!(!permits(0o044, 998, 998, sluice.0, &sluice.1, 4));
        // A folder without search permission for others.
        assert!(!permits(0o750, 0, 0, sluice.0, &sluice.1, 1));
        assert!(permits(0o755, 0, 0, sluice.0, &sluice.1, 1));
        assert!(permits(0o000, 5, 5, 0, &[0], 4), "root reads everything");
    }
}
