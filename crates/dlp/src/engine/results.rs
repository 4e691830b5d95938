//! What a scan returns.

use std::ops::Range;

use crate::rule::{Section, Severity, Thresholds};
use crate::{Confidence, Identifier};

/// One text to scan, with what the engine needs to know about where it is.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// The decoded text.
    pub text: &'a str,
    /// Which scope section it belongs to.
    pub section: Section,
    /// Set when the text is one branch of a `multipart/alternative`: texts
    /// with the same `group` are renderings of one content.
    pub alternative: Option<(&'a str, usize)>,
}

impl<'a> Segment<'a> {
    /// A body text outside any alternative.
    pub fn body(text: &'a str) -> Self {
        Segment {
            text,
            section: Section::Body,
            alternative: None,
        }
    }
}

/// One match, as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The entity that matched.
    pub entity: String,
    /// Index of the segment (in the slice given to [`Engine::scan`](crate::Engine::scan)).
    pub segment: usize,
    /// Byte range of the match in the segment's original text.
    pub span: Range<usize>,
    /// The original text of the match.
    pub text: String,
    /// The normalized value counted for `unique` (the dictionary term, the
    /// card's digits, the document name, ...).
    pub value: String,
    /// For fingerprint matches: the document's similarity in percent
    /// (even when it matched by a passage only).
    pub similarity: Option<u32>,
    /// For fingerprint matches by a passage: the longest passage's length
    /// in words (`None` for a match by similarity alone).
    pub passage_words: Option<u32>,
    /// For identifier matches: the type and the confidence.
    pub identifier: Option<(Identifier, Confidence)>,
    /// For EDM matches: the row and the columns found. The match's `text`
    /// then has every cell masked, and `value` is `"row N"`.
    pub row: Option<TableRow>,
}

/// A row of an EDM table found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    /// The row's number in the table, from 1.
    pub row: u64,
    /// The columns found, in the index's order.
    pub columns: Vec<String>,
}

/// The outcome of one rule on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResult {
    /// The rule's name.
    pub rule: String,
    /// The count (per the rule's [`CountMode`](crate::CountMode)).
    pub count: u64,
    /// The level reached; `None` below the lowest threshold.
    pub severity: Option<Severity>,
    /// The thresholds in force (the default ones filled in).
    pub thresholds: Thresholds,
    /// The counted matches kept as evidence, in segment and position
    /// order: all of them up to [`MAX_EVIDENCE`]; past it, the first
    /// occurrence of each distinct value first, then the earliest others
    /// (`count` always covers every match).
    pub matches: Vec<Match>,
}

/// Most matches a [`RuleResult`] keeps as evidence. A CRM export with a
/// dictionary term on each of 600,000 lines must not become 600,000
/// evidence records (and hundreds of megabytes) in a proxy's memory.
pub const MAX_EVIDENCE: usize = 1000;

/// The outcome of a scan: one result per rule, in definition order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanResult {
    /// Results of every rule, matched or not.
    pub rules: Vec<RuleResult>,
    /// Every span of a segment's original text that is a cell of an EDM
    /// table (segment, byte range), in text order, whether or not it made
    /// a row: SPEC §8 wants each masked wherever message text is shown
    /// ([`crate::mask_spans`]). At most 600,000 per 4 MiB of text.
    pub cells: Vec<(usize, Range<usize>)>,
}

impl ScanResult {
    /// The result of rule `name`.
    pub fn rule(&self, name: &str) -> Option<&RuleResult> {
        self.rules.iter().find(|r| r.rule == name)
    }

    /// Rules that reached their lowest threshold.
    pub fn matched(&self) -> impl Iterator<Item = &RuleResult> {
        self.rules.iter().filter(|r| r.severity.is_some())
    }
}
