//! `sluice.toml` (SPEC §2): the model of every table, loading, and checks.
//!
//! Loading is two steps. Serde (with `deny_unknown_fields` on every table)
//! turns the TOML into these types, and `serde_path_to_error` says where a
//! value is wrong; the path is then rewritten with the names of array
//! entries (`rule "Cards".severity.medium` rather than `rule[2]...`).
//! Then [`Config::validate`] checks everything serde cannot — cross
//! references, duplicate names, rising thresholds, header lines — and
//! reports *every* problem, each with its key path.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sluice_dlp::{CountMode, Identifier, Section, Severity};

use crate::pattern::Constraint;
use crate::units::{check_header_line, duration, Cidr, Size};

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {path}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// Key path, e.g. `rule "Cards".severity.medium` (empty for syntax errors).
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// All problems found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Enforce or only record (SPEC §5 monitor mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Apply actions.
    #[default]
    Enforce,
    /// Record the would-be action, change nothing.
    Monitor,
}

/// `[proxy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// SMTP listen address.
    pub listen: String,
    /// Name in the greeting, `Received:` and `X-Sluice-Scanned:`.
    pub hostname: String,
    /// Networks allowed to connect.
    pub allowed_clients: Vec<Cidr>,
    /// Largest message accepted.
    pub max_message_size: Size,
    /// Recipients per transaction.
    pub max_recipients: u32,
    /// Concurrent connections.
    pub max_connections: u32,
    /// Idle time before `421 4.4.2`.
    #[serde(deserialize_with = "duration")]
    pub command_timeout: Duration,
    /// Whole-session deadline (`421 4.4.2` past it).
    #[serde(deserialize_with = "duration")]
    pub session_timeout: Duration,
    /// Connections from one address at once; 0 = no limit.
    pub max_connections_per_client: usize,
    /// Global enforce/monitor mode.
    pub mode: Mode,
    /// `text` or `json`.
    pub log_format: String,
    /// STARTTLS for clients.
    pub tls: Option<ProxyTls>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: "127.0.0.1:2525".into(),
            hostname: machine_hostname(),
            allowed_clients: vec![
                Cidr::parse("127.0.0.0/8").expect("valid"),
                Cidr::parse("::1/128").expect("valid"),
            ],
            max_message_size: Size(50 << 20),
            max_recipients: 1000,
            max_connections: 500,
            command_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(30 * 60),
            max_connections_per_client: 0,
            mode: Mode::Enforce,
            log_format: "text".into(),
            tls: None,
        }
    }
}

fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `[proxy.tls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyTls {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// MAIL before STARTTLS gets `530 5.7.0`.
    #[serde(default)]
    pub required: bool,
    /// CA bundle to verify client certificates.
    pub client_ca: Option<PathBuf>,
}

/// One address or a list tried in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several, in order.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The addresses in order.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `[upstream]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// `host:port`, or a list tried in order.
    pub address: Option<OneOrMany>,
    /// `off`, `opportunistic` or `required`.
    #[serde(default = "default_starttls")]
    pub starttls: String,
    /// Name verified with `required`.
    pub tls_name: Option<String>,
    /// AUTH user.
    pub username: Option<String>,
    /// File holding the AUTH password.
    pub password_file: Option<PathBuf>,
    /// Upstream timeout.
    #[serde(default = "default_upstream_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Deliver into this folder instead of relaying.
    pub maildir: Option<PathBuf>,
    /// AUTH in a session that is not encrypted (off by default: the
    /// password would cross the network in clear).
    #[serde(default)]
    pub allow_plaintext_auth: bool,
}

fn default_starttls() -> String {
    "opportunistic".into()
}

fn default_upstream_timeout() -> Duration {
    Duration::from_secs(120)
}

/// The smallest `max_extractor_memory` accepted.
const MIN_EXTRACTOR_MEMORY: u64 = 256 << 20;

/// `[limits]` (SPEC §3.1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Nesting depth.
    pub max_depth: usize,
    /// Expanded size of one part.
    pub max_part_bytes: Size,
    /// Expanded size of one message.
    pub max_expanded_bytes: Size,
    /// Entries per archive.
    pub max_archive_entries: usize,
    /// Parts per message.
    pub max_parts: usize,
    /// Scan time per message.
    #[serde(deserialize_with = "duration")]
    pub max_scan_time: Duration,
    /// Address space of one extraction worker process (SPEC §3.1).
    pub max_extractor_memory: Size,
    /// Extraction worker processes; 0 = one per core.
    pub extractor_workers: usize,
    /// Message bytes the proxy holds at once (SPEC §2).
    pub max_inflight_bytes: Size,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = sluice_mime::Limits::default();
        LimitsConfig {
            max_depth: l.max_depth,
            max_part_bytes: Size(l.max_part_bytes),
            max_expanded_bytes: Size(l.max_expanded_bytes),
            max_archive_entries: l.max_archive_entries,
            max_parts: l.max_parts,
            max_scan_time: l.max_scan_time,
            max_extractor_memory: Size(1 << 30),
            extractor_workers: 0,
            max_inflight_bytes: Size(2 << 30),
        }
    }
}

impl LimitsConfig {
    /// The extraction limits.
    pub fn to_limits(&self) -> sluice_mime::Limits {
        sluice_mime::Limits {
            max_depth: self.max_depth,
            max_part_bytes: self.max_part_bytes.0,
            max_expanded_bytes: self.max_expanded_bytes.0,
            max_archive_entries: self.max_archive_entries,
            max_parts: self.max_parts,
            max_scan_time: self.max_scan_time,
        }
    }

    /// Extraction workers that re-execute the running program, as
    /// `max_extractor_memory` and `extractor_workers` say. The program's
    /// `main` must call [`sluice_mime::worker::serve_if_worker`] first.
    pub fn workers(&self) -> std::io::Result<sluice_mime::worker::WorkerSettings> {
        sluice_mime::worker::WorkerSettings::this_program(
            self.extractor_workers,
            self.max_extractor_memory.0,
        )
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// SQLite file.
    pub path: PathBuf,
    /// `none`, `excerpts` or `full`.
    pub forensics: String,
    /// Age past which incidents and quarantined messages are pruned.
    #[serde(deserialize_with = "duration")]
    pub retention: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: "sluice-data/sluice.db".into(),
            forensics: "excerpts".into(),
            retention: Duration::from_secs(90 * 86_400),
        }
    }
}

/// `[api]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// HTTP listen address.
    #[serde(default = "default_api_listen")]
    pub listen: String,
    /// Accepted bearer tokens.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// File with one token a line.
    pub token_file: Option<PathBuf>,
}

fn default_api_listen() -> String {
    "127.0.0.1:8025".into()
}

/// `[notify]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// From address of sender notifications.
    pub from: Option<String>,
    /// Template overriding the built-in text.
    pub template: Option<PathBuf>,
    /// URL incidents are POSTed to.
    pub webhook: Option<String>,
    /// File with the HMAC key for `X-Sluice-Signature`.
    pub webhook_secret_file: Option<PathBuf>,
}

/// `[[entity]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityConfig {
    /// Unique name.
    pub name: String,
    /// `dictionary`, `regex`, `fingerprint`, or a built-in identifier.
    #[serde(rename = "type")]
    pub kind: String,
    /// Dictionary CSV or fingerprint file.
    pub path: Option<PathBuf>,
    /// Case-sensitive matching (dictionary, regex).
    pub case_sensitive: Option<bool>,
    /// Regex pattern.
    pub pattern: Option<String>,
    /// Fingerprint similarity in percent (default 30).
    pub similarity: Option<u32>,
}

/// `severity = { low = 2, ... }`.
#[derive(Debug, Clone, Copy, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SeverityConfig {
    /// Count for low.
    pub low: Option<u64>,
    /// Count for medium.
    pub medium: Option<u64>,
    /// Count for high.
    pub high: Option<u64>,
    /// Count for critical.
    pub critical: Option<u64>,
}

/// `[[rule]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique name.
    pub name: String,
    /// Entities counted together.
    pub entities: Vec<String>,
    /// `unique`, `total` or `score`.
    #[serde(default)]
    pub count: CountModeConfig,
    /// Sections (default: all).
    #[serde(default)]
    pub scope: Vec<SectionConfig>,
    /// Thresholds (default: low = ceil(n/2), or 1).
    pub severity: Option<SeverityConfig>,
    /// Entities that must match (not counted).
    #[serde(default)]
    pub require: Vec<String>,
    /// Characters within which a `require` match must be.
    pub proximity: Option<usize>,
}

/// `count = ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CountModeConfig {
    /// Distinct values.
    #[default]
    Unique,
    /// All matches.
    Total,
    /// Sum of weights.
    Score,
}

impl From<CountModeConfig> for CountMode {
    fn from(c: CountModeConfig) -> Self {
        match c {
            CountModeConfig::Unique => CountMode::Unique,
            CountModeConfig::Total => CountMode::Total,
            CountModeConfig::Score => CountMode::Score,
        }
    }
}

/// `scope = [...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SectionConfig {
    /// Subject.
    Subject,
    /// Body.
    Body,
    /// Attachments.
    Attachments,
}

impl From<SectionConfig> for Section {
    fn from(s: SectionConfig) -> Self {
        match s {
            SectionConfig::Subject => Section::Subject,
            SectionConfig::Body => Section::Body,
            SectionConfig::Attachments => Section::Attachments,
        }
    }
}

/// `[[profile]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// Unique name.
    pub name: String,
    /// Rule names.
    #[serde(default)]
    pub rules: Vec<String>,
}

/// A policy's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Relay unchanged, no incident.
    Allow,
    /// Relay unchanged, incident.
    Alert,
    /// Relay with a header added, incident.
    AddHeader,
    /// Reject with `550 5.7.1`, incident.
    Block,
    /// Hold durably, incident.
    Quarantine,
}

impl Action {
    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Alert => "alert",
            Action::AddHeader => "add-header",
            Action::Block => "block",
            Action::Quarantine => "quarantine",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `min_severity = ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityLevel {
    /// Low.
    #[default]
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl From<SeverityLevel> for Severity {
    fn from(s: SeverityLevel) -> Self {
        match s {
            SeverityLevel::Low => Severity::Low,
            SeverityLevel::Medium => Severity::Medium,
            SeverityLevel::High => Severity::High,
            SeverityLevel::Critical => Severity::Critical,
        }
    }
}

/// `[[policy]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Unique name.
    pub name: String,
    /// Profiles whose rules trigger the policy.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Lowest rule severity that triggers.
    #[serde(default)]
    pub min_severity: SeverityLevel,
    /// Sender constraint (absent: any).
    pub from: Option<Constraint>,
    /// Recipient constraint (absent: any).
    pub to: Option<Constraint>,
    /// What to do.
    pub action: Action,
    /// Header line for `add-header`.
    pub header: Option<String>,
    /// Reply text for `block`.
    #[serde(default = "default_reject_message")]
    pub reject_message: String,
    /// Notify the sender.
    #[serde(default)]
    pub notify_sender: bool,
    /// Also trigger on unscannable content.
    #[serde(default)]
    pub unscannable: bool,
    /// Enforce or monitor this policy.
    #[serde(default)]
    pub mode: Mode,
}

fn default_reject_message() -> String {
    "Message blocked by data-loss policy".into()
}

/// A whole `sluice.toml`, paths resolved against its folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[proxy]`.
    #[serde(default)]
    pub proxy: ProxyConfig,
    /// `[upstream]`.
    pub upstream: Option<UpstreamConfig>,
    /// `[limits]`.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[store]`.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[api]`.
    pub api: Option<ApiConfig>,
    /// `[notify]`.
    pub notify: Option<NotifyConfig>,
    /// `[[entity]]`.
    #[serde(default)]
    pub entity: Vec<EntityConfig>,
    /// `[[rule]]`.
    #[serde(default)]
    pub rule: Vec<RuleConfig>,
    /// `[[profile]]`.
    #[serde(default)]
    pub profile: Vec<ProfileConfig>,
    /// `[[policy]]`, in evaluation order.
    #[serde(default)]
    pub policy: Vec<PolicyConfig>,
    /// The file this was read from.
    #[serde(skip)]
    pub file: PathBuf,
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
        let unsupported = not_supported_yet(&raw);
        if !unsupported.is_empty() {
            return Err(ConfigErrors(
                unsupported
                    .into_iter()
                    .map(|path| ConfigError {
                        file: file.to_owned(),
                        path,
                        message: "not supported yet (SPEC §2 names it; this release does not \
                                  have the feature, so it is refused rather than ignored)"
                            .into(),
                    })
                    .collect(),
            ));
        }
        let de =
            toml::de::Deserializer::parse(text).map_err(|e| err(String::new(), describe(&e)))?;
        let first = match serde_path_to_error::deserialize(de) {
            Ok(config) => return Ok(config),
            Err(e) => e,
        };
        let mut errors = vec![ConfigError {
            file: file.to_owned(),
            path: named_path(first.path(), &raw),
            message: describe(first.inner()),
        }];
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
                    if errors.iter().any(|known| known.path == path) {
                        break;
                    }
                    errors.push(ConfigError {
                        file: file.to_owned(),
                        path,
                        message: one_line(e.inner().message()),
                    });
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
            if let Some(p) = e.path.as_mut() {
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

    /// What the proxy reads at start besides the policy files — TLS
    /// certificates and keys, secrets, token files, the notice template,
    /// the webhook URL, the store's folder — checked here so that `check`
    /// passes exactly when the proxy would start.
    fn proxy_file_problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut readable = |key: &str, path: &Path, pem: Option<&[&str]>| match std::fs::read(path)
        {
            Err(e) => problems.push((
                key.to_owned(),
                format!("cannot read {}: {e}", path.display()),
            )),
            Ok(bytes) => {
                if let Some(labels) = pem {
                    let text = String::from_utf8_lossy(&bytes);
                    if !labels
                        .iter()
                        .any(|l| text.contains(&format!("-----BEGIN {l}-----")))
                    {
                        problems.push((
                            key.to_owned(),
                            format!("{} holds no PEM {}", path.display(), labels[0]),
                        ));
                    }
                }
            }
        };
        const KEYS: &[&str] = &["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];
        if let Some(tls) = &self.proxy.tls {
            readable("proxy.tls.cert", &tls.cert, Some(&["CERTIFICATE"]));
            readable("proxy.tls.key", &tls.key, Some(KEYS));
            if let Some(ca) = &tls.client_ca {
                readable("proxy.tls.client_ca", ca, Some(&["CERTIFICATE"]));
            }
        }
        if let Some(u) = &self.upstream {
            if let Some(f) = &u.password_file {
                readable("upstream.password_file", f, None);
            }
        }
        if let Some(api) = &self.api {
            if let Some(f) = &api.token_file {
                readable("api.token_file", f, None);
            }
        }
        if let Some(n) = &self.notify {
            if let Some(f) = &n.template {
                readable("notify.template", f, None);
            }
            if let Some(f) = &n.webhook_secret_file {
                readable("notify.webhook_secret_file", f, None);
            }
            if let Some(url) = &n.webhook {
                let host = url
                    .strip_prefix("http://")
                    .or_else(|| url.strip_prefix("https://"))
                    .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
                if host.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace)) {
                    problems.push((
                        "notify.webhook".into(),
                        format!("expected an http:// or https:// URL with a host, found {url:?}"),
                    ));
                }
            }
        }
        // The store's file is created at start; its folder must exist or
        // be creatable under an existing one.
        let folder = self.store.path.parent().unwrap_or(Path::new("."));
        let existing = folder.ancestors().find(|a| a.exists());
        if existing.is_some_and(|a| !a.is_dir()) {
            problems.push((
                "store.path".into(),
                format!("{} is not inside a folder", self.store.path.display()),
            ));
        }
        problems
    }

    /// Cross-references and values serde cannot check; every problem.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let file = self.file.display().to_string();
        let mut errors = Vec::new();
        let mut push = |path: String, message: String| {
            errors.push(ConfigError {
                file: file.clone(),
                path,
                message,
            })
        };

        if self.proxy.listen.parse::<SocketAddr>().is_err() {
            push(
                "proxy.listen".into(),
                format!(
                    "expected an address such as \"127.0.0.1:2525\", found {:?}",
                    self.proxy.listen
                ),
            );
        }
        if !matches!(self.proxy.log_format.as_str(), "text" | "json") {
            push(
                "proxy.log_format".into(),
                format!(
                    "expected \"text\" or \"json\", found {:?}",
                    self.proxy.log_format
                ),
            );
        }
        if self.proxy.max_message_size.0 == 0 {
            push(
                "proxy.max_message_size".into(),
                "must be more than 0".into(),
            );
        }
        // A worker maps its own program, a 64 MiB extractor stack and its
        // allocator's arenas before it reads a byte: below this it could
        // not extract anything.
        if self.limits.max_extractor_memory.0 < MIN_EXTRACTOR_MEMORY {
            push(
                "limits.max_extractor_memory".into(),
                format!(
                    "must be at least 256MiB, found {} bytes",
                    self.limits.max_extractor_memory.0
                ),
            );
        }
        if self.limits.max_inflight_bytes.0 < self.proxy.max_message_size.0 {
            push(
                "limits.max_inflight_bytes".into(),
                format!(
                    "must be at least proxy.max_message_size ({} bytes), found {} bytes",
                    self.proxy.max_message_size.0, self.limits.max_inflight_bytes.0
                ),
            );
        }
        if let Some(u) = &self.upstream {
            match (&u.address, &u.maildir) {
                (None, None) => push("upstream".into(), "needs address or maildir".into()),
                (Some(_), Some(_)) => push(
                    "upstream".into(),
                    "address and maildir are exclusive".into(),
                ),
                _ => {}
            }
            if let Some(a) = &u.address {
                let list = a.to_vec();
                if list.is_empty() {
                    push(
                        "upstream.address".into(),
                        "needs at least one host:port".into(),
                    );
                }
                for addr in list {
                    let port_ok = addr.rsplit_once(':').is_some_and(|(h, p)| {
                        !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0)
                    });
                    if !port_ok {
                        push(
                            "upstream.address".into(),
                            format!("expected host:port, found {addr:?}"),
                        );
                    } else if u.starttls == "required"
                        && u.tls_name.is_none()
                        && addr.rsplit_once(':').is_some_and(|(h, _)| {
                            h.trim_matches(['[', ']'])
                                .parse::<std::net::IpAddr>()
                                .is_ok()
                        })
                    {
                        push("upstream.tls_name".into(), format!("needed with starttls = \"required\" when the address is an IP ({addr})"));
                    }
                }
            }
            if !matches!(u.starttls.as_str(), "off" | "opportunistic" | "required") {
                push(
                    "upstream.starttls".into(),
                    format!(
                        "expected \"off\", \"opportunistic\" or \"required\", found {:?}",
                        u.starttls
                    ),
                );
            }
            if u.username.is_some() != u.password_file.is_some() {
                push(
                    "upstream.username".into(),
                    "username and password_file go together".into(),
                );
            }
        }
        if !matches!(self.store.forensics.as_str(), "none" | "excerpts" | "full") {
            push(
                "store.forensics".into(),
                format!(
                    "expected \"none\", \"excerpts\" or \"full\", found {:?}",
                    self.store.forensics
                ),
            );
        }
        if let Some(a) = &self.api {
            if a.listen.parse::<SocketAddr>().is_err() {
                push(
                    "api.listen".into(),
                    format!(
                        "expected an address such as \"127.0.0.1:8025\", found {:?}",
                        a.listen
                    ),
                );
            }
            if a.tokens.is_empty() && a.token_file.is_none() {
                push("api".into(), "needs tokens or token_file".into());
            }
        }

        let mut entity_names = HashSet::new();
        for e in &self.entity {
            let at = format!("entity {:?}", e.name);
            if !entity_names.insert(e.name.as_str()) {
                push(format!("{at}.name"), "duplicate entity name".into());
            }
            let not_for = |key: &str, set: bool| {
                set.then(|| {
                    (
                        format!("{at}.{key}"),
                        format!("{key} does not apply to type = {:?}", e.kind),
                    )
                })
            };
            let mut extra = Vec::new();
            match e.kind.as_str() {
                "dictionary" => {
                    if e.path.is_none() {
                        push(
                            format!("{at}.path"),
                            "a dictionary needs path = \"file.csv\"".into(),
                        );
                    }
                    extra.extend(not_for("pattern", e.pattern.is_some()));
                    extra.extend(not_for("similarity", e.similarity.is_some()));
                }
                "regex" => {
                    match &e.pattern {
                        None => push(
                            format!("{at}.pattern"),
                            "a regex entity needs pattern".into(),
                        ),
                        Some(p) => {
                            if let Err(err) = regex_check(p) {
                                push(format!("{at}.pattern"), format!("invalid regex: {err}"));
                            }
                        }
                    }
                    extra.extend(not_for("path", e.path.is_some()));
                    extra.extend(not_for("similarity", e.similarity.is_some()));
                }
                "fingerprint" => {
                    if e.path.is_none() {
                        push(
                            format!("{at}.path"),
                            "a fingerprint entity needs path (built by `sluice-scan fingerprint`)"
                                .into(),
                        );
                    }
                    if let Some(s) = e.similarity {
                        if !(1..=100).contains(&s) {
                            push(
                                format!("{at}.similarity"),
                                format!("expected a percentage from 1 to 100, found {s}"),
                            );
                        }
                    }
                    extra.extend(not_for("pattern", e.pattern.is_some()));
                    extra.extend(not_for("case_sensitive", e.case_sensitive.is_some()));
                }
                other => {
                    if Identifier::from_name(other).is_none() {
                        let known: Vec<&str> = Identifier::ALL.iter().map(|i| i.name()).collect();
                        push(format!("{at}.type"), format!("unknown type {other:?}; expected dictionary, regex, fingerprint or one of {}", known.join(", ")));
                    }
                    extra.extend(not_for("path", e.path.is_some()));
                    extra.extend(not_for("pattern", e.pattern.is_some()));
                    extra.extend(not_for("similarity", e.similarity.is_some()));
                    extra.extend(not_for("case_sensitive", e.case_sensitive.is_some()));
                }
            }
            for (p, m) in extra {
                push(p, m);
            }
        }

        let mut rule_names = HashSet::new();
        for r in &self.rule {
            let at = format!("rule {:?}", r.name);
            if !rule_names.insert(r.name.as_str()) {
                push(format!("{at}.name"), "duplicate rule name".into());
            }
            if r.entities.is_empty() {
                push(format!("{at}.entities"), "needs at least one entity".into());
            }
            for (key, list) in [("entities", &r.entities), ("require", &r.require)] {
                for name in list {
                    if !entity_names.contains(name.as_str()) {
                        push(format!("{at}.{key}"), format!("no entity named {name:?}"));
                    }
                }
            }
            if r.proximity.is_some() && r.require.is_empty() {
                push(format!("{at}.proximity"), "proximity needs require".into());
            }
            if let Some(s) = &r.severity {
                let levels = [
                    ("low", s.low),
                    ("medium", s.medium),
                    ("high", s.high),
                    ("critical", s.critical),
                ];
                if levels.iter().all(|(_, v)| v.is_none()) {
                    push(
                        format!("{at}.severity"),
                        "set at least one of low, medium, high, critical".into(),
                    );
                }
                let mut previous: Option<(&str, u64)> = None;
                for (level, value) in levels {
                    let Some(v) = value else { continue };
                    if v == 0 {
                        push(
                            format!("{at}.severity.{level}"),
                            "expected a count of at least 1, found 0".into(),
                        );
                    } else if let Some((pl, pv)) = previous {
                        if v <= pv {
                            push(format!("{at}.severity.{level}"), format!("thresholds must rise with the level: {level} = {v} is not above {pl} = {pv}"));
                        }
                    }
                    previous = Some((level, v));
                }
            }
        }

        let mut profile_names = HashSet::new();
        for p in &self.profile {
            let at = format!("profile {:?}", p.name);
            if !profile_names.insert(p.name.as_str()) {
                push(format!("{at}.name"), "duplicate profile name".into());
            }
            for r in &p.rules {
                if !rule_names.contains(r.as_str()) {
                    push(format!("{at}.rules"), format!("no rule named {r:?}"));
                }
            }
        }

        let mut policy_names = HashSet::new();
        for p in &self.policy {
            let at = format!("policy {:?}", p.name);
            if !policy_names.insert(p.name.as_str()) {
                push(format!("{at}.name"), "duplicate policy name".into());
            }
            if p.profiles.is_empty() && !p.unscannable {
                push(
                    format!("{at}.profiles"),
                    "needs at least one profile (or unscannable = true)".into(),
                );
            }
            for pr in &p.profiles {
                if !profile_names.contains(pr.as_str()) {
                    push(format!("{at}.profiles"), format!("no profile named {pr:?}"));
                }
            }
            match (&p.action, &p.header) {
                (Action::AddHeader, None) => push(
                    format!("{at}.header"),
                    "action = \"add-header\" needs header = \"Name: value\"".into(),
                ),
                (Action::AddHeader, Some(h)) => {
                    if let Err(m) = check_header_line(h) {
                        push(format!("{at}.header"), m);
                    }
                }
                (_, Some(_)) => push(
                    format!("{at}.header"),
                    format!(
                        "header only applies to action = \"add-header\", not {:?}",
                        p.action.name()
                    ),
                ),
                _ => {}
            }
            if p.reject_message.contains(['\r', '\n']) {
                push(format!("{at}.reject_message"), "must be one line".into());
            }
        }
        for (path, message) in self.proxy_file_problems() {
            push(path, message);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The effective mode of policy `p` (global monitor wins).
    pub fn policy_mode(&self, p: &PolicyConfig) -> Mode {
        if self.proxy.mode == Mode::Monitor {
            Mode::Monitor
        } else {
            p.mode
        }
    }
}

fn regex_check(pattern: &str) -> Result<(), String> {
    // Compiled here only to report the error at its key path; the engine
    // compiles it again when it is built.
    sluice_dlp::Engine::new(sluice_dlp::Definitions {
        entities: vec![sluice_dlp::EntityDefinition {
            name: "check".into(),
            kind: sluice_dlp::EntityKind::Regex {
                pattern: pattern.into(),
                case_sensitive: true,
            },
        }],
        rules: vec![],
        profiles: vec![],
    })
    .map(|_| ())
    .map_err(|e| match e {
        sluice_dlp::Error::Regex { message, .. } => one_line(&message),
        other => other.to_string(),
    })
}

/// Error texts from toml and regex span several lines; a config error is
/// one line.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '|' || c == '^' || c.is_whitespace()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `rule[2].severity.medium` → `rule "Cards".severity.medium`.
/// Keys of SPEC §2 whose feature is not built yet, by table; `None`: the
/// whole table.
const NOT_SUPPORTED_YET: &[(&str, Option<&[&str]>)] = &[
    ("milter", None),
    ("console", None),
    ("proxy", Some(&["xforward_clients", "proxy_protocol"])),
    ("store", Some(&["audit_retention"])),
    ("api", Some(&["tls"])),
    ("notify", Some(&["console_url", "link_ttl"])),
    (
        "entity",
        Some(&[
            "keywords",
            "exclude",
            "exclude_path",
            "min_passage_words",
            "salt_file",
            "min_columns",
            "primary",
            "max_value_rows",
        ]),
    ),
    ("rule", Some(&["min_confidence"])),
];

/// Every key of [`NOT_SUPPORTED_YET`] present in `raw`, as key paths
/// (array entries by name): each is refused, none silently ignored.
fn not_supported_yet(raw: &toml::Table) -> Vec<String> {
    let mut found = Vec::new();
    for (table, keys) in NOT_SUPPORTED_YET {
        let Some(value) = raw.get(*table) else {
            continue;
        };
        let Some(keys) = keys else {
            found.push((*table).to_owned());
            continue;
        };
        let entries: Vec<(String, &toml::Table)> = match value {
            toml::Value::Table(t) => vec![((*table).to_owned(), t)],
            toml::Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let t = item.as_table()?;
                    let name = t
                        .get("name")
                        .and_then(|n| n.as_str())
                        .map_or_else(|| format!("{table}[{i}]"), |n| format!("{table} {n:?}"));
                    Some((name, t))
                })
                .collect(),
            _ => Vec::new(),
        };
        for (prefix, t) in entries {
            for key in *keys {
                if t.contains_key(*key) {
                    found.push(format!("{prefix}.{key}"));
                }
            }
        }
    }
    found
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
