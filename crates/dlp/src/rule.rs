//! Definitions of entities, rules and profiles (SPEC §2, §4), as plain data.

use serde::Serialize;

use crate::{Dictionary, FingerprintSet, Identifier};

/// What an entity matches.
#[derive(Debug, Clone)]
pub enum EntityKind {
    /// Terms of a keyword dictionary, at word boundaries.
    Dictionary {
        /// The terms.
        dictionary: Dictionary,
        /// Match case exactly (default: Unicode case-insensitive).
        case_sensitive: bool,
    },
    /// A built-in validated identifier.
    Identifier(Identifier),
    /// A Rust `regex` pattern on normalized text.
    Regex {
        /// The pattern, used as written.
        pattern: String,
        /// Match case exactly (default: case-insensitive).
        case_sensitive: bool,
    },
    /// Fingerprinted documents.
    Fingerprint {
        /// The documents' fingerprints.
        documents: FingerprintSet,
        /// Minimum similarity, in percent, for a document to match.
        similarity: u32,
    },
}

/// A named thing to look for.
#[derive(Debug, Clone)]
pub struct EntityDefinition {
    /// Unique name, referred to by rules.
    pub name: String,
    /// What it matches.
    pub kind: EntityKind,
}

/// How a rule counts its matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CountMode {
    /// Distinct normalized values across all the rule's entities.
    #[default]
    Unique,
    /// Matches, with only the best branch of a multipart/alternative.
    Total,
    /// Sum of the weights of distinct values (identifiers and documents weigh 1).
    Score,
}

/// Severity levels, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Lowest.
    Low,
    /// Second.
    Medium,
    /// Third.
    High,
    /// Highest.
    Critical,
}

impl Severity {
    /// All levels, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The configuration name (`"low"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Count thresholds per severity level; any subset may be set.
///
/// Invariant (checked when an engine is built): the set thresholds are
/// positive and strictly rise with the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Thresholds {
    /// Count for `low`.
    pub low: Option<u64>,
    /// Count for `medium`.
    pub medium: Option<u64>,
    /// Count for `high`.
    pub high: Option<u64>,
    /// Count for `critical`.
    pub critical: Option<u64>,
}

impl Thresholds {
    /// The threshold of `level`.
    pub fn get(&self, level: Severity) -> Option<u64> {
        match level {
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }

    /// The highest level whose threshold is at most `count`; `None` below
    /// the lowest threshold.
    ///
    /// ```
    /// use sluice_dlp::{Severity, Thresholds};
    /// let t = Thresholds { low: Some(2), high: Some(4), ..Thresholds::default() };
    /// assert_eq!(t.severity(1), None);
    /// assert_eq!(t.severity(3), Some(Severity::Low));
    /// assert_eq!(t.severity(9), Some(Severity::High));
    /// ```
    pub fn severity(&self, count: u64) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .rev()
            .find(|&l| self.get(l).is_some_and(|t| t <= count))
    }

    /// The lowest set threshold.
    pub fn lowest(&self) -> Option<u64> {
        Severity::ALL.into_iter().find_map(|l| self.get(l))
    }
}

/// Which parts of a message a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// The message's Subject.
    Subject,
    /// The message's own text and HTML parts.
    Body,
    /// File names, attachments, archives, attached and forwarded messages.
    Attachments,
}

/// A rule: entities counted together, with severity thresholds.
#[derive(Debug, Clone)]
pub struct RuleDefinition {
    /// Unique name.
    pub name: String,
    /// Entities whose matches are counted together.
    pub entities: Vec<String>,
    /// How to count.
    pub count: CountMode,
    /// Sections looked at (all three when empty).
    pub scope: Vec<Section>,
    /// Thresholds; `None` means the default: `low = ceil(n/2)` with `n` the
    /// distinct terms of the rule's dictionaries, or `low = 1` without
    /// dictionaries.
    pub severity: Option<Thresholds>,
    /// Entities that must each match at least once (not counted).
    pub require: Vec<String>,
    /// Counted matches need a `require` match within this many normalized
    /// characters in the same part.
    pub proximity: Option<usize>,
}

impl RuleDefinition {
    /// A rule over `entities` with unique counting, every section and the
    /// default thresholds.
    pub fn new(name: impl Into<String>, entities: &[&str]) -> Self {
        RuleDefinition {
            name: name.into(),
            entities: entities.iter().map(|e| e.to_string()).collect(),
            count: CountMode::Unique,
            scope: Vec::new(),
            severity: None,
            require: Vec::new(),
            proximity: None,
        }
    }
}

/// A named set of rules.
#[derive(Debug, Clone)]
pub struct ProfileDefinition {
    /// Unique name.
    pub name: String,
    /// Rule names.
    pub rules: Vec<String>,
}

/// Everything an [`crate::Engine`] is built from.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    /// Entities.
    pub entities: Vec<EntityDefinition>,
    /// Rules.
    pub rules: Vec<RuleDefinition>,
    /// Profiles.
    pub profiles: Vec<ProfileDefinition>,
}
