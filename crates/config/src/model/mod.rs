//! The model of `sluice.toml` (SPEC §2): one type per table, every
//! choice an enum, every value in its unit. A [`Config`] from
//! [`Config::load`] has been validated whole ([`crate::validate`]).

use std::path::PathBuf;

use serde::Deserialize;

mod detection;
mod service;

pub use detection::{Action, EntityConfig, EntityKind, PolicyConfig, ProfileConfig, RuleConfig};
pub(crate) use service::MIN_EXTRACTOR_MEMORY;
pub use service::{
    ApiConfig, ApiTls, ApiToken, ConsoleConfig, Forensics, LimitsConfig, LogFormat, MilterConfig,
    NamedToken, NotifyConfig, OneOrMany, ProxyConfig, ProxyTls, Starttls, StoreConfig,
    UpstreamConfig,
};

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
    /// `[milter]`.
    pub milter: Option<MilterConfig>,
    /// `[store]`.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[api]`.
    pub api: Option<ApiConfig>,
    /// `[console]`.
    pub console: Option<ConsoleConfig>,
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
    /// The effective mode of policy `p` (global monitor wins).
    pub fn policy_mode(&self, p: &PolicyConfig) -> Mode {
        if self.proxy.mode == Mode::Monitor {
            Mode::Monitor
        } else {
            p.mode
        }
    }
}
