//! The tables that say what to look for and what to do: `[[entity]]`,
//! `[[rule]]`, `[[profile]]`, `[[policy]]` (SPEC §2, §4, §5).

use std::path::PathBuf;

use serde::Deserialize;
use sluice_dlp::{Confidence, CountMode, Identifier, Section, Severity, Thresholds};

use crate::load::{one_line, KeyProblems};
use crate::pattern::Constraint;
use crate::Mode;

/// `[[entity]]`: a name and what it matches, one typed model per kind.
///
/// Invariant: only the keys of its kind were set in the file; each other
/// key is refused at its key path (`entity "c".pattern: pattern does not
/// apply to type = "credit-card"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "EntityTable")]
pub struct EntityConfig {
    /// Unique name.
    pub name: String,
    /// What it matches.
    pub kind: EntityKind,
}

/// What an entity matches, with the settings of that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityKind {
    /// `type = "dictionary"`: terms of a CSV file.
    Dictionary {
        /// The CSV file.
        path: PathBuf,
        /// Match case exactly.
        case_sensitive: bool,
    },
    /// `type = "regex"`.
    Regex {
        /// The pattern, which compiles.
        pattern: String,
        /// Match case exactly.
        case_sensitive: bool,
    },
    /// `type = "fingerprint"`: a file built by `sluice-scan fingerprint`.
    Fingerprint {
        /// The fingerprint file.
        path: PathBuf,
        /// Minimum similarity in percent, 1 to 100 (default 30).
        similarity: u32,
        /// A passage of this many words matches too (default 50; 0: off).
        min_passage_words: u32,
    },
    /// `type = "edm"`: rows of a table indexed by `sluice-scan edm`.
    Edm {
        /// The index file.
        path: PathBuf,
        /// The secret salt the index was built with.
        salt_file: PathBuf,
        /// Distinct columns of one row found together (default 2).
        min_columns: u32,
        /// A column that must be among them.
        primary: Option<String>,
        /// A value in more rows than this never counts (default 10).
        max_value_rows: u64,
    },
    /// `type = "<identifier>"`: a built-in validated identifier.
    Identifier {
        /// The type.
        identifier: Identifier,
        /// Keywords added to the type's own (SPEC §3.3).
        keywords: Vec<String>,
        /// Values that never match, each a valid value of the type.
        exclude: Vec<String>,
        /// A file of more such values, one a line (`#` starts a comment).
        exclude_path: Option<PathBuf>,
    },
}

impl EntityKind {
    /// The `type` as written in the file.
    pub fn type_name(&self) -> &'static str {
        match self {
            EntityKind::Dictionary { .. } => "dictionary",
            EntityKind::Regex { .. } => "regex",
            EntityKind::Fingerprint { .. } => "fingerprint",
            EntityKind::Edm { .. } => "edm",
            EntityKind::Identifier { identifier, .. } => identifier.name(),
        }
    }

    /// The file the entity reads, for the kinds that read one.
    pub fn path(&self) -> Option<&PathBuf> {
        match self {
            EntityKind::Dictionary { path, .. }
            | EntityKind::Fingerprint { path, .. }
            | EntityKind::Edm { path, .. } => Some(path),
            EntityKind::Identifier { exclude_path, .. } => exclude_path.as_ref(),
            EntityKind::Regex { .. } => None,
        }
    }

    /// Every file the entity reads, to resolve against the config's folder.
    pub(crate) fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        match self {
            EntityKind::Dictionary { path, .. } | EntityKind::Fingerprint { path, .. } => {
                vec![path]
            }
            EntityKind::Edm {
                path, salt_file, ..
            } => vec![path, salt_file],
            EntityKind::Identifier { exclude_path, .. } => exclude_path.iter_mut().collect(),
            EntityKind::Regex { .. } => Vec::new(),
        }
    }
}

/// An `[[entity]]` table as written: every key any kind has. Serde reads
/// it with positions (an internally tagged enum would buffer the table and
/// lose them); [`EntityConfig::try_from`] then keeps the keys of its kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityTable {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    path: Option<PathBuf>,
    case_sensitive: Option<bool>,
    pattern: Option<String>,
    similarity: Option<u32>,
    keywords: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    exclude_path: Option<PathBuf>,
    min_passage_words: Option<u32>,
    salt_file: Option<PathBuf>,
    min_columns: Option<u32>,
    primary: Option<String>,
    max_value_rows: Option<u64>,
}

impl TryFrom<EntityTable> for EntityConfig {
    type Error = KeyProblems;

    fn try_from(t: EntityTable) -> Result<Self, KeyProblems> {
        let mut problems = KeyProblems::default();
        let mut not_for = |key: &'static str, set: bool| {
            if set {
                problems.push(key, format!("{key} does not apply to type = {:?}", t.kind));
            }
        };
        let identifier = Identifier::from_name(&t.kind);
        if identifier.is_none() {
            not_for("keywords", t.keywords.is_some());
            not_for("exclude", t.exclude.is_some());
            not_for("exclude_path", t.exclude_path.is_some());
        }
        if t.kind != "fingerprint" {
            not_for("min_passage_words", t.min_passage_words.is_some());
        }
        if t.kind != "edm" {
            not_for("salt_file", t.salt_file.is_some());
            not_for("min_columns", t.min_columns.is_some());
            not_for("primary", t.primary.is_some());
            not_for("max_value_rows", t.max_value_rows.is_some());
        }
        let kind = match t.kind.as_str() {
            "edm" => {
                not_for("pattern", t.pattern.is_some());
                not_for("similarity", t.similarity.is_some());
                not_for("case_sensitive", t.case_sensitive.is_some());
                let min_columns = t.min_columns.unwrap_or(2);
                if !(1..=sluice_dlp::EDM_MAX_COLUMNS as u32).contains(&min_columns) {
                    problems.push(
                        "min_columns",
                        format!(
                            "expected 1 to {}, found {min_columns}",
                            sluice_dlp::EDM_MAX_COLUMNS
                        ),
                    );
                }
                let max_value_rows = t.max_value_rows.unwrap_or(10);
                // Each cell found stands for up to this many rows at scan
                // time: a bound on what a message of common values costs.
                if !(1..=sluice_dlp::EDM_MAX_VALUE_ROWS).contains(&max_value_rows) {
                    problems.push(
                        "max_value_rows",
                        format!(
                            "expected 1 to {}, found {max_value_rows}",
                            sluice_dlp::EDM_MAX_VALUE_ROWS
                        ),
                    );
                }
                if t.path.is_none() {
                    problems.push(
                        "path",
                        "an edm entity needs path (built by `sluice-scan edm`)".into(),
                    );
                }
                if t.salt_file.is_none() {
                    problems.push(
                        "salt_file",
                        "an edm entity needs salt_file, the salt its index was built with".into(),
                    );
                }
                match (t.path, t.salt_file) {
                    (Some(path), Some(salt_file)) => Some(EntityKind::Edm {
                        path,
                        salt_file,
                        min_columns,
                        primary: t.primary,
                        max_value_rows,
                    }),
                    _ => None,
                }
            }
            "dictionary" => {
                not_for("pattern", t.pattern.is_some());
                not_for("similarity", t.similarity.is_some());
                match t.path {
                    Some(path) => Some(EntityKind::Dictionary {
                        path,
                        case_sensitive: t.case_sensitive.unwrap_or(false),
                    }),
                    None => {
                        problems.push("path", "a dictionary needs path = \"file.csv\"".into());
                        None
                    }
                }
            }
            "regex" => {
                not_for("path", t.path.is_some());
                not_for("similarity", t.similarity.is_some());
                match t.pattern {
                    None => {
                        problems.push("pattern", "a regex entity needs pattern".into());
                        None
                    }
                    Some(pattern) => match sluice_dlp::check_regex(&pattern) {
                        Err(e) => {
                            problems.push("pattern", format!("invalid regex: {}", one_line(&e)));
                            None
                        }
                        Ok(()) => Some(EntityKind::Regex {
                            pattern,
                            case_sensitive: t.case_sensitive.unwrap_or(false),
                        }),
                    },
                }
            }
            "fingerprint" => {
                not_for("pattern", t.pattern.is_some());
                not_for("case_sensitive", t.case_sensitive.is_some());
                let similarity = t.similarity.unwrap_or(30);
                if !(1..=100).contains(&similarity) {
                    problems.push(
                        "similarity",
                        format!("expected a percentage from 1 to 100, found {similarity}"),
                    );
                }
                match t.path {
                    Some(path) => Some(EntityKind::Fingerprint {
                        path,
                        similarity,
                        min_passage_words: t.min_passage_words.unwrap_or(50),
                    }),
                    None => {
                        problems.push(
                            "path",
                            "a fingerprint entity needs path (built by `sluice-scan fingerprint`)"
                                .into(),
                        );
                        None
                    }
                }
            }
            other => {
                not_for("path", t.path.is_some());
                not_for("pattern", t.pattern.is_some());
                not_for("similarity", t.similarity.is_some());
                not_for("case_sensitive", t.case_sensitive.is_some());
                match identifier {
                    Some(id) => {
                        let exclude = t.exclude.unwrap_or_default();
                        for written in &exclude {
                            if id.normalize(written).is_none() {
                                problems.push(
                                    "exclude",
                                    format!("{written:?} is not one valid {other} value"),
                                );
                            }
                        }
                        Some(EntityKind::Identifier {
                            identifier: id,
                            keywords: t.keywords.unwrap_or_default(),
                            exclude,
                            exclude_path: t.exclude_path,
                        })
                    }
                    None => {
                        let known: Vec<&str> = Identifier::ALL.iter().map(|i| i.name()).collect();
                        problems.push(
                            "type",
                            format!(
                                "unknown type {other:?}; expected dictionary, regex, fingerprint, edm or one of {}",
                                known.join(", ")
                            ),
                        );
                        None
                    }
                }
            }
        };
        match kind {
            Some(kind) if problems.is_empty() => Ok(EntityConfig { name: t.name, kind }),
            _ => Err(problems),
        }
    }
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
    pub count: CountMode,
    /// Sections (default: all).
    #[serde(default)]
    pub scope: Vec<Section>,
    /// Thresholds (default: low = ceil(n/2), or 1).
    pub severity: Option<Thresholds>,
    /// Entities that must match (not counted).
    #[serde(default)]
    pub require: Vec<String>,
    /// Characters within which a `require` match must be.
    pub proximity: Option<usize>,
    /// Identifier matches below it are not counted (default `medium`).
    pub min_confidence: Option<Confidence>,
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
        f.pad(self.name())
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
    pub min_severity: Severity,
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
