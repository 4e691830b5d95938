//! `sluice.toml` (SPEC §2) as Rust types: the typed model of every table,
//! loading with every error at its key path, and validation — the one
//! place that decides whether a configuration is good.
//!
//! The scanner (`sluice-scan check`), the proxy at start and on reload,
//! and embedders all call [`Config::load`], so they cannot disagree about
//! a file. Loading is two steps: [`Config::parse`] turns TOML into the
//! model (serde, with positions; `load.rs`), then [`Config::validate`]
//! checks cross references, values that depend on each other and the
//! files the proxy reads (`validate.rs`, one function per table). Matching
//! and decisions live in `sluice-policy`; this crate only says what the
//! file means.
//!
//! ```
//! use sluice_config::{Action, Config, EntityKind};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("terms.csv"), "Customer\nAccount Manager\n").unwrap();
//! std::fs::write(dir.path().join("sluice.toml"), r#"
//! [[entity]]
//! name = "customer-terms"
//! type = "dictionary"
//! path = "terms.csv"
//!
//! [[rule]]
//! name = "Customer entitlement"
//! entities = ["customer-terms"]
//!
//! [[profile]]
//! name = "Customer data"
//! rules = ["Customer entitlement"]
//!
//! [[policy]]
//! name = "Hold"
//! profiles = ["Customer data"]
//! action = "quarantine"
//! "#).unwrap();
//!
//! let config = Config::load(&dir.path().join("sluice.toml")).unwrap();
//! assert!(matches!(&config.entity[0].kind, EntityKind::Dictionary { path, .. } if path.ends_with("terms.csv")));
//! assert_eq!(config.policy[0].action, Action::Quarantine);
//!
//! std::fs::write(dir.path().join("bad.toml"), "[[entity]]\nname = \"c\"\ntype = \"credit-card\"\npattern = \"x\"\n").unwrap();
//! let errors = Config::load(&dir.path().join("bad.toml")).unwrap_err();
//! assert_eq!(errors.0[0].path, "entity \"c\".pattern");
//! ```
#![deny(missing_docs)]

mod error;
mod load;
mod model;
mod pattern;
mod units;
mod validate;

pub use error::{ConfigError, ConfigErrors};
pub use model::{
    Action, ApiConfig, ApiTls, ApiToken, Config, ConsoleConfig, EntityConfig, EntityKind,
    Forensics, LimitsConfig, LogFormat, MilterConfig, Mode, NamedToken, NotifyConfig, OneOrMany,
    PolicyConfig, ProfileConfig, ProxyConfig, ProxyTls, RuleConfig, Starttls, StoreConfig,
    UpstreamConfig,
};
pub use pattern::{AddressPattern, Constraint};
pub use units::{check_header_line, parse_duration, Cidr, Size};
