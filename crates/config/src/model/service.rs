//! The tables that run the gateway: `[proxy]`, `[upstream]`, `[limits]`,
//! `[store]`, `[api]`, `[notify]`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::units::{duration, Cidr, Size};
use crate::Mode;

/// `[proxy] log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `key=value` lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// `[upstream] starttls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Starttls {
    /// Never; the session stays in clear.
    Off,
    /// When offered; a failed handshake is retried in clear.
    #[default]
    Opportunistic,
    /// Always, with the certificate verified against `tls_name` or the
    /// host; no session without it.
    Required,
}

/// `[store] forensics` (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forensics {
    /// No evidence kept.
    None,
    /// Masked excerpts around each match.
    #[default]
    Excerpts,
    /// Excerpts and the whole message.
    Full,
}

/// `[proxy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// SMTP listen address; `""` for none (a milter-only deployment).
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
    /// MTAs that may send XFORWARD (a Postfix before-queue proxy filter):
    /// incidents and logs then show the client they name.
    pub xforward_clients: Vec<Cidr>,
    /// Load balancers whose connections open with a PROXY v1/v2 header:
    /// the address in it is the client for everything.
    pub proxy_protocol: Vec<Cidr>,
    /// Global enforce/monitor mode.
    pub mode: Mode,
    /// Log line format.
    pub log_format: LogFormat,
    /// STARTTLS for clients.
    pub tls: Option<ProxyTls>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: "127.0.0.1:2525".into(),
            hostname: machine_hostname(),
            allowed_clients: loopback(),
            max_message_size: Size(50 << 20),
            max_recipients: 1000,
            max_connections: 500,
            command_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(30 * 60),
            max_connections_per_client: 0,
            xforward_clients: Vec::new(),
            proxy_protocol: Vec::new(),
            mode: Mode::Enforce,
            log_format: LogFormat::Text,
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
    /// STARTTLS towards the upstream.
    #[serde(default)]
    pub starttls: Starttls,
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

fn default_upstream_timeout() -> Duration {
    Duration::from_secs(120)
}

/// The smallest `max_extractor_memory` accepted.
pub(crate) const MIN_EXTRACTOR_MEMORY: u64 = 256 << 20;

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
    /// What an incident keeps of the message.
    pub forensics: Forensics,
    /// Age past which incidents and quarantined messages are pruned.
    #[serde(deserialize_with = "duration")]
    pub retention: Duration,
    /// Age past which audit entries are pruned (kept longer than what
    /// they are about: who let a message out stays known).
    #[serde(deserialize_with = "duration")]
    pub audit_retention: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: "sluice-data/sluice.db".into(),
            forensics: Forensics::Excerpts,
            retention: Duration::from_secs(90 * 86_400),
            audit_retention: Duration::from_secs(400 * 86_400),
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
    /// Accepted bearer tokens, bare or named.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
    /// File with one token a line.
    pub token_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<ApiTls>,
}

/// `[api] tls`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiTls {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

fn default_api_listen() -> String {
    "127.0.0.1:8025".into()
}

/// `[notify]`.
#[derive(Debug, Clone, Deserialize)]
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
    /// The console's address as senders reach it: notices for quarantined
    /// messages carry a signed release-request link under it (SPEC §9).
    pub console_url: Option<String>,
    /// How long a release-request link is valid.
    #[serde(default = "default_link_ttl", deserialize_with = "duration")]
    pub link_ttl: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            from: None,
            template: None,
            webhook: None,
            webhook_secret_file: None,
            console_url: None,
            link_ttl: default_link_ttl(),
        }
    }
}

fn default_link_ttl() -> Duration {
    Duration::from_secs(3 * 86_400)
}

/// `[console]` (SPEC §9): the reviewers' web console on the API listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Users and their argon2id hashes (`sluice-proxy user add`).
    #[serde(default = "default_users_file")]
    pub users_file: PathBuf,
    /// A session ends this long after sign-in.
    #[serde(default = "default_session_ttl", deserialize_with = "duration")]
    pub session_ttl: Duration,
    /// The key that signs sessions and release-request links.
    #[serde(default = "default_console_secret")]
    pub secret_file: PathBuf,
    /// Addresses told of new release requests.
    #[serde(default)]
    pub notify: Vec<String>,
}

fn default_users_file() -> PathBuf {
    "console.users".into()
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(8 * 3600)
}

fn default_console_secret() -> PathBuf {
    "console.secret".into()
}

/// `[milter]` (SPEC §6): the milter front end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilterConfig {
    /// `host:port`, or `unix:/path` for a unix socket.
    pub listen: String,
    /// TCP peers that may use the milter.
    #[serde(default = "loopback")]
    pub allowed_clients: Vec<Cidr>,
}

fn loopback() -> Vec<Cidr> {
    vec![
        Cidr::parse("127.0.0.0/8").expect("valid"),
        Cidr::parse("::1/128").expect("valid"),
    ]
}

/// One `[api] tokens` entry: a bare token (its actor is `token:#N`) or a
/// named one (`token:<name>` in logs and the audit trail), whose secret is
/// inline or in a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ApiToken {
    /// `"change-me"`.
    Bare(String),
    /// `{name = "soar", token_file = "soar.token"}`.
    Named(NamedToken),
}

/// A named API token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedToken {
    /// Who uses it (`token:<name>`).
    pub name: String,
    /// The token itself.
    pub token: Option<String>,
    /// A file holding it (first line).
    pub token_file: Option<PathBuf>,
}
