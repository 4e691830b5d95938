//! Reading `sluice.toml`: TOML to the model with every error at its key
//! path.
//!
//! Serde (with `deny_unknown_fields` on every table) turns the TOML into
//! the model, and `serde_path_to_error` says where a value is wrong; the
//! path is then rewritten with the names of array entries (`rule
//! "Cards".severity.medium` rather than `rule[2]...`). Serde stops at the
//! first error, so the offending key is taken out and the rest read again
//! until it reads, and every error is listed. Then [`crate::validate`]
//! checks what serde cannot.

use std::path::{Path, PathBuf};

use crate::{Config, ConfigError, ConfigErrors};

/// Problems of one table found while converting it to its typed model,
/// each at one of its keys. Carried through serde as the error's text
/// (`@key message` lines), which [`Config::parse`] turns back into key
/// paths.
#[derive(Debug, Default)]
pub(crate) struct KeyProblems(Vec<(&'static str, String)>);

impl KeyProblems {
    pub(crate) fn push(&mut self, key: &'static str, message: String) {
        self.0.push((key, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for KeyProblems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (key, message)) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "@{key} {message}")?;
        }
        Ok(())
    }
}

/// The errors one serde error stands for: a [`KeyProblems`] text becomes
/// one error per key, under the table's path; anything else is one error.
fn errors_at(
    file: &str,
    path: String,
    message: &str,
    described: impl FnOnce() -> String,
) -> Vec<ConfigError> {
    if !message.starts_with('@') {
        return vec![ConfigError {
            file: file.to_owned(),
            path,
            message: described(),
        }];
    }
    message
        .lines()
        .filter_map(|l| l.strip_prefix('@')?.split_once(' '))
        .map(|(key, m)| ConfigError {
            file: file.to_owned(),
            path: format!("{path}.{key}"),
            message: m.to_owned(),
        })
        .collect()
}

impl Config {
    /// Reads and checks `path`; every problem is reported.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: file.clone(),
                path: String::new(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        let mut config = Config::parse(&text, &file)?;
        config.file = path.to_path_buf();
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.resolve_paths(&base);
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text (no path resolution, no validation).
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigErrors> {
        let err = |path: String, message: String| {
            ConfigErrors(vec![ConfigError {
                file: file.to_owned(),
                path,
                message,
            }])
        };
        let describe = |e: &toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            match line {
                Some(l) => format!("{} (line {l})", one_line(e.message())),
                None => one_line(e.message()),
            }
        };
        let raw: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(String::new(), describe(&e)))?;
        let de =
            toml::de::Deserializer::parse(text).map_err(|e| err(String::new(), describe(&e)))?;
        let first = match serde_path_to_error::deserialize(de) {
            Ok(config) => return Ok(config),
            Err(e) => e,
        };
        let mut errors = errors_at(
            file,
            named_path(first.path(), &raw),
            first.inner().message(),
            || describe(first.inner()),
        );
        // serde stops at the first error; every one is wanted. Take the
        // offending key out and try again, until the rest deserializes or
        // an error cannot be taken out (a missing key). Later errors come
        // from the parsed table, which has no line numbers.
        let mut table = raw.clone();
        let mut at = first.path().clone();
        for _ in 0..MAX_ERRORS {
            if !remove_at(&mut table, &at) {
                break;
            }
            match serde_path_to_error::deserialize::<_, Config>(toml::Value::Table(table.clone())) {
                Ok(_) => break,
                Err(e) => {
                    let path = named_path(e.path(), &raw);
                    if errors.iter().any(|known| known.path.starts_with(&path)) {
                        break;
                    }
                    errors.extend(errors_at(file, path, e.inner().message(), || {
                        one_line(e.inner().message())
                    }));
                    at = e.path().clone();
                }
            }
        }
        Err(ConfigErrors(errors))
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for e in &mut self.entity {
            for p in e.kind.paths_mut() {
                fix(p);
            }
        }
        if let Some(tls) = self.proxy.tls.as_mut() {
            fix(&mut tls.cert);
            fix(&mut tls.key);
            if let Some(ca) = tls.client_ca.as_mut() {
                fix(ca);
            }
        }
        if let Some(u) = self.upstream.as_mut() {
            for p in [u.password_file.as_mut(), u.maildir.as_mut()]
                .into_iter()
                .flatten()
            {
                fix(p);
            }
        }
        fix(&mut self.store.path);
        if let Some(a) = self.api.as_mut() {
            if let Some(p) = a.token_file.as_mut() {
                fix(p);
            }
            if let Some(tls) = a.tls.as_mut() {
                fix(&mut tls.cert);
                fix(&mut tls.key);
            }
            for t in &mut a.tokens {
                if let crate::ApiToken::Named(named) = t {
                    if let Some(p) = named.token_file.as_mut() {
                        fix(p);
                    }
                }
            }
        }
        if let Some(c) = self.console.as_mut() {
            fix(&mut c.users_file);
            fix(&mut c.secret_file);
        }
        if let Some(n) = self.notify.as_mut() {
            for p in [n.template.as_mut(), n.webhook_secret_file.as_mut()]
                .into_iter()
                .flatten()
            {
                fix(p);
            }
        }
    }
}

/// Error texts from toml and regex span several lines; a config error is
/// one line.
pub(crate) fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '|' || c == '^' || c.is_whitespace()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Syntax and type errors reported from one file at most.
const MAX_ERRORS: usize = 50;

/// Removes the value at `path` from `table`; false when there is none (the
/// error is about something missing, not something present).
fn remove_at(table: &mut toml::Table, path: &serde_path_to_error::Path) -> bool {
    let segments: Vec<&serde_path_to_error::Segment> = path.iter().collect();
    let mut root = toml::Value::Table(std::mem::take(table));
    let removed = remove_in(&mut root, &segments);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    removed
}

/// [`remove_at`] one level down. Paths follow the config's own types, a
/// handful of levels deep, so the recursion is shallow whatever the input.
fn remove_in(node: &mut toml::Value, segments: &[&serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    match (segments, node) {
        ([Segment::Map { key }], toml::Value::Table(t)) => t.remove(key.as_str()).is_some(),
        ([Segment::Seq { index }], toml::Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        ([Segment::Map { key }, rest @ ..], toml::Value::Table(t)) if !rest.is_empty() => t
            .get_mut(key.as_str())
            .is_some_and(|child| remove_in(child, rest)),
        ([Segment::Seq { index }, rest @ ..], toml::Value::Array(a)) if !rest.is_empty() => a
            .get_mut(*index)
            .is_some_and(|child| remove_in(child, rest)),
        _ => false,
    }
}

/// `rule[2].severity.medium` → `rule "Cards".severity.medium`.
fn named_path(path: &serde_path_to_error::Path, raw: &toml::Table) -> String {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < segments.len() {
        match segments[i] {
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
                if let Some(Segment::Seq { index }) = segments.get(i + 1) {
                    let name = raw
                        .get(key.as_str())
                        .and_then(|v| v.as_array())
                        .and_then(|a| a.get(*index))
                        .and_then(|t| t.get("name"))
                        .and_then(|n| n.as_str());
                    match name {
                        Some(n) => out.push_str(&format!(" {n:?}")),
                        None => out.push_str(&format!("[{}]", index + 1)),
                    }
                    i += 1;
                }
            }
            Segment::Seq { index } => out.push_str(&format!("[{}]", index + 1)),
            Segment::Enum { variant } => out.push_str(&format!(".{variant}")),
            Segment::Unknown => {}
        }
        i += 1;
    }
    if out.is_empty() {
        "(top level)".into()
    } else {
        out
    }
}
