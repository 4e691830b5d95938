//! Definitions of entities, rules and profiles (SPEC §2, §4), as plain data.

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::{Confidence, Dictionary, EdmIndex, FingerprintSet, Identifier};

/// What an entity matches.
#[derive(Debug, Clone)]
#[non_exhaustive]
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
        /// A passage of at least this many words also matches its
        /// document (SPEC §3.5; 0: passages are not looked for).
        min_passage_words: u32,
    },
    /// Rows of a table indexed for exact data match (SPEC §3.6).
    Edm {
        /// The index, shared: it may be large, and several engines (one
        /// before a reload, one after) may use it.
        index: Arc<EdmIndex>,
        /// What makes a row.
        settings: EdmSettings,
    },
}

/// What makes a row of an EDM table match (SPEC §2 `[[entity]]`, §3.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdmSettings {
    /// Distinct columns of one row that must be found together (≥ 1).
    pub min_columns: u32,
    /// A column that must be among them.
    pub primary: Option<String>,
    /// A value in more rows than this never counts.
    pub max_value_rows: u64,
}

impl Default for EdmSettings {
    /// Two columns, no primary one, values in at most 10 rows.
    fn default() -> Self {
        EdmSettings {
            min_columns: 2,
            primary: None,
            max_value_rows: 10,
        }
    }
}

/// A named thing to look for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EntityDefinition {
    /// Unique name, referred to by rules.
    pub name: String,
    /// What it matches.
    pub kind: EntityKind,
    /// Identifier entities: keywords added to the type's built-in ones
    /// (SPEC §3.3).
    pub keywords: Vec<String>,
    /// Identifier entities: values that never match (test cards, the
    /// company's own VAT number), written any way the type is written.
    pub exclude: Vec<String>,
}

impl EntityDefinition {
    /// An entity of any kind.
    pub fn new(name: impl Into<String>, kind: EntityKind) -> Self {
        EntityDefinition {
            name: name.into(),
            kind,
            keywords: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// A keyword dictionary matched Unicode case-insensitively.
    pub fn dictionary(name: impl Into<String>, dictionary: Dictionary) -> Self {
        Self::new(
            name,
            EntityKind::Dictionary {
                dictionary,
                case_sensitive: false,
            },
        )
    }

    /// A built-in validated identifier.
    pub fn identifier(name: impl Into<String>, identifier: Identifier) -> Self {
        Self::new(name, EntityKind::Identifier(identifier))
    }

    /// A case-insensitive regex on normalized text.
    pub fn regex(name: impl Into<String>, pattern: impl Into<String>) -> Self {
        Self::new(
            name,
            EntityKind::Regex {
                pattern: pattern.into(),
                case_sensitive: false,
            },
        )
    }

    /// Fingerprinted documents matching at `similarity` percent, or by a
    /// passage of 50 words or more.
    pub fn fingerprint(
        name: impl Into<String>,
        documents: FingerprintSet,
        similarity: u32,
    ) -> Self {
        Self::new(
            name,
            EntityKind::Fingerprint {
                documents,
                similarity,
                min_passage_words: 50,
            },
        )
    }

    /// Rows of an EDM table.
    pub fn edm(name: impl Into<String>, index: Arc<EdmIndex>, settings: EdmSettings) -> Self {
        Self::new(name, EntityKind::Edm { index, settings })
    }

    /// The same identifier entity with `keywords` added to its type's.
    pub fn with_keywords<S: Into<String>>(mut self, keywords: impl IntoIterator<Item = S>) -> Self {
        self.keywords.extend(keywords.into_iter().map(Into::into));
        self
    }

    /// The same identifier entity, never matching the values `exclude`.
    pub fn with_exclude<S: Into<String>>(mut self, exclude: impl IntoIterator<Item = S>) -> Self {
        self.exclude.extend(exclude.into_iter().map(Into::into));
        self
    }

    /// The same entity matching case exactly (dictionaries and regexes;
    /// other kinds are unchanged).
    pub fn case_sensitive(mut self) -> Self {
        match &mut self.kind {
            EntityKind::Dictionary { case_sensitive, .. }
            | EntityKind::Regex { case_sensitive, .. } => *case_sensitive = true,
            EntityKind::Identifier(_) | EntityKind::Fingerprint { .. } | EntityKind::Edm { .. } => {
            }
        }
        self
    }
}

/// Compiles a regex entity's pattern as the engine does; the error is the
/// regex crate's explanation.
pub(crate) fn compile_regex(pattern: &str, case_sensitive: bool) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .build()
        .map_err(|e| e.to_string())
}

/// Whether `pattern` compiles as a regex entity's pattern; the error is
/// the regex crate's explanation (several lines).
///
/// ```
/// assert!(sluice_dlp::check_regex("PRJ-[0-9]{4}").is_ok());
/// assert!(sluice_dlp::check_regex("PRJ-[0-9").is_err());
/// ```
pub fn check_regex(pattern: &str) -> Result<(), String> {
    compile_regex(pattern, true).map(|_| ())
}

/// How a rule counts its matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CountMode {
    /// Distinct normalized values across all the rule's entities.
    #[default]
    Unique,
    /// Matches, with only the best branch of a multipart/alternative.
    Total,
    /// Sum of the weights of distinct values (identifiers and documents weigh 1).
    Score,
}

/// Severity levels, ordered. Exhaustive on purpose: SPEC §4 has exactly
/// these four, and thresholds, incidents and queries name each.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Lowest.
    #[default]
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
        f.pad(self.name())
    }
}

/// Count thresholds per severity level; any subset may be set.
///
/// Invariant (checked when an engine is built, see
/// [`Thresholds::problems`]): at least one is set, and the set thresholds
/// are positive and strictly rise with the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

    /// Every way these thresholds break the invariant, each with the level
    /// it is about (`None`: the whole set). Empty when they are valid.
    ///
    /// ```
    /// use sluice_dlp::{Severity, Thresholds};
    /// let t = Thresholds { low: Some(2), medium: Some(2), ..Thresholds::default() };
    /// assert_eq!(t.problems(), [(Some(Severity::Medium),
    ///     "thresholds must rise with the level: medium = 2 is not above low = 2".to_string())]);
    /// ```
    pub fn problems(&self) -> Vec<(Option<Severity>, String)> {
        let mut problems = Vec::new();
        let mut previous: Option<(Severity, u64)> = None;
        for level in Severity::ALL {
            let Some(v) = self.get(level) else { continue };
            if v == 0 {
                problems.push((
                    Some(level),
                    "expected a count of at least 1, found 0".to_owned(),
                ));
            } else if let Some((pl, pv)) = previous {
                if v <= pv {
                    problems.push((
                        Some(level),
                        format!(
                            "thresholds must rise with the level: {level} = {v} is not above {pl} = {pv}"
                        ),
                    ));
                }
            }
            previous = Some((level, v));
        }
        if previous.is_none() {
            problems.push((
                None,
                "set at least one of low, medium, high, critical".to_owned(),
            ));
        }
        problems
    }
}

/// Which parts of a message a rule looks at. Exhaustive: SPEC §4's three
/// scopes cover every part of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[non_exhaustive]
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
    /// Identifier matches below this confidence are not counted, nor seen
    /// by `require`; `None`: `medium` (SPEC §3.3). Setting it on a rule
    /// without identifier entities is an error.
    pub min_confidence: Option<Confidence>,
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
            min_confidence: None,
        }
    }
}

/// A named set of rules.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProfileDefinition {
    /// Unique name.
    pub name: String,
    /// Rule names.
    pub rules: Vec<String>,
}

impl ProfileDefinition {
    /// A profile of `rules`.
    pub fn new(name: impl Into<String>, rules: &[&str]) -> Self {
        ProfileDefinition {
            name: name.into(),
            rules: rules.iter().map(|r| r.to_string()).collect(),
        }
    }
}

/// Everything an [`crate::Engine`] is built from.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Definitions {
    /// Entities.
    pub entities: Vec<EntityDefinition>,
    /// Rules.
    pub rules: Vec<RuleDefinition>,
    /// Profiles.
    pub profiles: Vec<ProfileDefinition>,
}

impl Definitions {
    /// Entities, rules and profiles.
    pub fn new(
        entities: Vec<EntityDefinition>,
        rules: Vec<RuleDefinition>,
        profiles: Vec<ProfileDefinition>,
    ) -> Self {
        Definitions {
            entities,
            rules,
            profiles,
        }
    }
}
