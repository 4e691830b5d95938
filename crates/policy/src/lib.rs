//! Sluice's policy layer: [`Inspector::inspect`], the one function that
//! turns an envelope and a message into a [`Decision`], and [`plan`], the
//! one function that turns a decision into what happens.
//!
//! The scanner and the proxy both call `inspect`, so they can never
//! disagree about a message: extraction (`sluice-mime`), matching and
//! counting (`sluice-dlp`) and the policies (SPEC §5: the first triggered
//! policy in enforce mode decides; monitor-mode policies are recorded and
//! evaluation goes on) all happen here. The proxy (and the milter) then
//! only execute the [`Plan`]. What the configuration file means is
//! `sluice-config`'s business.
//!
//! Masked excerpts around matches are the one costly part of a decision
//! nobody may read: an [`Inspector`] cuts them for every match, for the
//! triggered policies' rules only (what incidents keep), or not at all
//! ([`Excerpts`]); decisions are otherwise the same.
//!
//! ```
//! use sluice_config::Config;
//! use sluice_policy::{plan, Disposition, Envelope, Inspector};
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
//! assert_eq!(d.policy(), Some("Customer email Hold"));
//! let p = plan(&d);
//! assert_eq!(p.disposition, Disposition::Relay { header: Some("X-Sluice-Hold: customer-entitlement".into()) });
//! assert_eq!(p.incidents.len(), 1);
//! ```
#![deny(missing_docs)]

mod compile;
mod decision;
mod evidence;
mod inspector;
mod lint;
mod plan;

pub use decision::{Decision, Envelope, Evidence, RuleOutcome, Triggered};
pub use evidence::{excerpt, masked_text, segments};
pub use inspector::{Excerpts, Inspector};
pub use lint::{lints, Lint};
pub use plan::{plan, Disposition, IncidentPlan, Plan};
