//! Sluice's policy layer: the configuration model of every `sluice.toml`
//! table, sender/recipient constraints, and [`Inspector::inspect`], the one
//! function that turns an envelope and a message into a [`Decision`].
//!
//! The scanner and the proxy both call `inspect`, so they can never
//! disagree about a message: extraction (`sluice-mime`), matching and
//! counting (`sluice-dlp`) and the policies (first triggered wins, monitor
//! mode recorded but not applied) all happen here.
//!
//! ```
//! use sluice_policy::{Config, Envelope, Inspector};
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
//! name = "Customer email Hold"
//! profiles = ["Customer data"]
//! to = { exclude = ["*@example.com"] }
//! action = "add-header"
//! header = "X-Sluice-Hold: customer-entitlement"
//! "#).unwrap();
//!
//! let inspector = Inspector::new(Config::load(&dir.path().join("sluice.toml")).unwrap()).unwrap();
//! let envelope = Envelope { sender: Some("alice@example.com".into()), recipients: Some(vec!["bob@partner.org".into()]) };
//! let d = inspector.inspect(&envelope, b"Subject: list\r\n\r\nThe Customer and the Account Manager.");
//! assert_eq!(d.policy.as_deref(), Some("Customer email Hold"));
//! assert_eq!(d.header.as_deref(), Some("X-Sluice-Hold: customer-entitlement"));
//! ```
#![deny(missing_docs)]

mod config;
mod decision;
mod lint;
mod pattern;
mod units;

pub use config::{
    Action, ApiConfig, Config, ConfigError, ConfigErrors, CountModeConfig, EntityConfig,
    LimitsConfig, Mode, NotifyConfig, OneOrMany, PolicyConfig, ProfileConfig, ProxyConfig,
    ProxyTls, RuleConfig, SectionConfig, SeverityConfig, SeverityLevel, StoreConfig,
    UpstreamConfig,
};
pub use decision::{
    addresses, excerpt, segments, Decision, Envelope, Evidence, Inspector, RuleOutcome,
};
pub use lint::{lints, Lint};
pub use pattern::{AddressPattern, Constraint};
pub use units::{check_header_line, parse_duration, Cidr, Size};
