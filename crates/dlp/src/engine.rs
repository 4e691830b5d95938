//! The engine: definitions compiled once, scanned many times.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder};

use crate::fingerprint::{for_each_kgram, BuildWordHasher, KgramFilter};
use crate::normalize::{is_format, lower_str, Normalized};
use crate::rule::{CountMode, Definitions, EntityKind, Section, Severity, Thresholds};
use crate::{Error, FingerprintSet, Identifier};

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
    /// Index of the segment (in the slice given to [`Engine::scan`]).
    pub segment: usize,
    /// Byte range of the match in the segment's original text.
    pub span: Range<usize>,
    /// The original text of the match.
    pub text: String,
    /// The normalized value counted for `unique` (the dictionary term, the
    /// card's digits, the document name, ...).
    pub value: String,
    /// For fingerprint matches: the document's similarity in percent.
    pub similarity: Option<u32>,
}

/// The outcome of one rule on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResult {
    /// The rule's name.
    pub rule: String,
    /// The count (per the rule's [`CountMode`]).
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

#[derive(Debug)]
enum Matcher {
    Dictionary {
        terms: Vec<(Arc<str>, u32)>,
    },
    /// Runs through `Engine::identifiers`, shared by entities of one type.
    Identifier,
    Regex(Regex, bool),
    Fingerprint(FingerprintSet, u32),
}

#[derive(Debug)]
struct Entity {
    name: String,
    matcher: Matcher,
}

#[derive(Debug)]
struct Rule {
    name: String,
    entities: Vec<usize>,
    count: CountMode,
    scope: [bool; 3],
    thresholds: Thresholds,
    require: Vec<usize>,
    proximity: Option<usize>,
}

/// A dictionary pattern in an automaton.
#[derive(Debug, Clone, Copy)]
struct Pattern {
    entity: usize,
    term: usize,
    /// No word boundary needed before / after (CJK, Thai, ... edges).
    free_start: bool,
    free_end: bool,
}

#[derive(Debug)]
struct Automaton {
    ac: AhoCorasick,
    patterns: Vec<Pattern>,
    /// For each pattern: every pattern (itself included) whose text equals
    /// it or is a proper prefix of it. A leftmost-longest match stands for
    /// all matches starting at the same position.
    same_start: Vec<Vec<u32>>,
    /// Byte length of each pattern.
    lengths: Vec<usize>,
    /// The longest pattern's length.
    max_len: usize,
}

/// A compiled set of entities, rules and profiles.
///
/// Built once; immutable, `Send + Sync`, shared across threads without
/// locks. All dictionary terms of all entities live in (at most) two
/// Aho-Corasick automatons — case-insensitive and case-sensitive — each run
/// once per segment; each built-in identifier type runs once per segment
/// however many entities use it.
#[derive(Debug)]
pub struct Engine {
    entities: Vec<Entity>,
    rules: Vec<Rule>,
    profiles: Vec<(String, Vec<usize>)>,
    insensitive: Option<Automaton>,
    sensitive: Option<Automaton>,
    identifiers: Vec<(Identifier, Vec<usize>)>,
    /// Every hash of every fingerprinted document (`None` without
    /// fingerprint entities): a message's k-grams are checked against it.
    fingerprint_index: Option<HashSet<u64, BuildWordHasher>>,
    /// The documents' cheap k-gram hashes, when every fingerprint file has
    /// them (version 2): k-grams outside it are never SHA-hashed.
    fingerprint_filter: Option<KgramFilter>,
    /// How far a window's text runs past its cut: [`WINDOW_OVERLAP`], or
    /// more for a dictionary with longer terms (NFKC may shrink a text's
    /// characters to a third).
    overlap: usize,
    /// Whether a rule measures proximity (hits need character positions).
    proximity: bool,
}

/// A match, before rules filter and count.
#[derive(Debug, Clone)]
struct Hit {
    entity: usize,
    segment: usize,
    /// Byte range in the segment's original text (in the window's
    /// normalized text until the window's hits are placed).
    span: Range<usize>,
    /// Character range in the segment's normalized text, for proximity
    /// (`0..0` when no rule measures it).
    chars: Range<usize>,
    value: Arc<str>,
    weight: u32,
    similarity: Option<u32>,
}

impl Hit {
    /// A text match, its span still in the window's normalized text (see
    /// [`Engine::place`]).
    fn found(
        entity: usize,
        at: &Searched,
        span: Range<usize>,
        value: Arc<str>,
        weight: u32,
    ) -> Hit {
        Hit {
            entity,
            segment: at.segment,
            span,
            chars: 0..0,
            value,
            weight,
            similarity: None,
        }
    }
}

/// A window being searched: its segment, its normalized text, where the
/// matches it owns end, and where it starts in the whole segment's
/// normalized text.
struct Searched<'a> {
    segment: usize,
    norm: &'a Normalized,
    /// Matches starting at or after this byte of `norm.text` belong to
    /// the next window.
    owned: usize,
    /// Bytes of the segment's normalized text before the window.
    at_byte: usize,
}

/// Where each search goes on in the next window of a segment.
struct Resume {
    /// Per identifier type (index in `Engine::identifiers`).
    identifiers: Vec<usize>,
    /// Per entity (only regex entities use theirs).
    regexes: Vec<usize>,
}

/// What one rule has counted so far, fed hits in text order.
///
/// Invariant: hits arrive sorted by (segment, start, end), so a match
/// that two of the rule's entities found is the hit just counted.
struct Tally {
    /// Every distinct value counted, with its highest weight.
    values: HashMap<Arc<str>, u32>,
    /// Hits counted, per segment.
    per_segment: Vec<u64>,
    /// Hits counted.
    counted: u64,
    /// The last hit counted: (segment, span, value).
    last: Option<(usize, Range<usize>, Arc<str>)>,
    /// The first [`MAX_EVIDENCE`] hits counted, with their order.
    earliest: Vec<(u64, Hit)>,
    /// The first hit of each of the first [`MAX_EVIDENCE`] distinct values.
    first_of_value: Vec<(u64, Hit)>,
    /// Whether each `require` entity was found in scope.
    present: Vec<bool>,
    /// For a rule with `proximity`: the hits waiting for a required one
    /// near them.
    near: Option<Near>,
}

/// Proximity, decided as hits arrive: a hit counts when a required hit of
/// its segment is within `limit` characters. It waits until every hit that
/// could be that near has been seen, so only the hits and required hits
/// within `limit` characters of the search's progress are held.
struct Near {
    limit: usize,
    /// The segment's required hits by start: (start, the largest end of
    /// this and every earlier one). Leading ones too far behind to matter
    /// are dropped, which the running largest end survives.
    required: VecDeque<(usize, usize)>,
    /// Hits of the segment not decided yet, in text order. (Every hit is
    /// decided by the end of its segment, and the required hits cleared.)
    waiting: VecDeque<Hit>,
    /// Per segment: the first required hit's start (for fingerprint
    /// documents, which stand at the segment's start).
    first_required: Vec<Option<usize>>,
}

impl Near {
    /// Whether a required hit seen so far is within the limit of `h`: one
    /// starting before `h` ends (plus the limit) and ending after `h`
    /// starts (minus the limit).
    fn near(&self, h: &Range<usize>) -> bool {
        let i = self
            .required
            .partition_point(|&(start, _)| start <= h.end.saturating_add(self.limit));
        i > 0 && self.required[i - 1].1.saturating_add(self.limit) >= h.start
    }
}

impl Tally {
    fn new(rule: &Rule, segments: usize) -> Tally {
        let proximity = rule.proximity.is_some() && !rule.require.is_empty();
        Tally {
            values: HashMap::new(),
            per_segment: vec![0; segments],
            counted: 0,
            last: None,
            earliest: Vec::new(),
            first_of_value: Vec::new(),
            present: vec![false; rule.require.len()],
            near: proximity.then(|| Near {
                limit: rule.proximity.unwrap_or(0),
                required: VecDeque::new(),
                waiting: VecDeque::new(),
                first_required: vec![None; segments],
            }),
        }
    }

    /// Takes the hits of one window of an in-scope segment, in text
    /// order; `next` is where the next window's hits start, in characters
    /// of the segment's normalized text (`usize::MAX` after the last).
    fn add(&mut self, rule: &Rule, hits: &[Hit], next: usize) {
        for h in hits {
            if let Some(i) = rule.require.iter().position(|&r| r == h.entity) {
                self.present[i] = true;
                if let Some(near) = &mut self.near {
                    let before = near.required.back().map_or(0, |&(_, end)| end);
                    near.required
                        .push_back((h.chars.start, before.max(h.chars.end)));
                    near.first_required[h.segment].get_or_insert(h.chars.start);
                }
            }
            if rule.entities.contains(&h.entity) {
                match &mut self.near {
                    Some(near) => near.waiting.push_back(h.clone()),
                    None => self.count(h),
                }
            }
        }
        let Some(mut near) = self.near.take() else {
            return;
        };
        // Hits whose limit reaches no further than where the next window
        // starts are decided: no later required hit can be near them.
        while let Some(h) = near.waiting.front() {
            if h.chars.end.saturating_add(near.limit) >= next {
                break;
            }
            let h = near.waiting.pop_front().expect("front exists");
            if near.near(&h.chars) {
                self.count(&h);
            }
        }
        // Required hits that end too far behind every hit still to decide.
        let frontier = near
            .waiting
            .front()
            .map_or(next, |h| h.chars.start.min(next));
        while near
            .required
            .front()
            .is_some_and(|&(_, end)| end.saturating_add(near.limit) < frontier)
        {
            near.required.pop_front();
        }
        if next == usize::MAX {
            near.required.clear();
        }
        self.near = Some(near);
    }

    fn count(&mut self, h: &Hit) {
        // The same text matched by two of the rule's entities is one match.
        if let Some((segment, span, value)) = &self.last {
            if *segment == h.segment && *span == h.span && *value == h.value {
                return;
            }
        }
        self.last = Some((h.segment, h.span.clone(), h.value.clone()));
        let seq = self.counted;
        self.counted += 1;
        self.per_segment[h.segment] += 1;
        match self.values.entry(h.value.clone()) {
            Entry::Vacant(e) => {
                e.insert(h.weight);
                if self.first_of_value.len() < MAX_EVIDENCE {
                    self.first_of_value.push((seq, h.clone()));
                }
            }
            Entry::Occupied(mut e) => {
                let w = e.get_mut();
                *w = (*w).max(h.weight);
            }
        }
        if self.earliest.len() < MAX_EVIDENCE {
            self.earliest.push((seq, h.clone()));
        }
    }

    /// The rule's result, with the fingerprint documents found in the
    /// whole message.
    fn finish(
        mut self,
        engine: &Engine,
        rule: &Rule,
        segments: &[Segment],
        fingerprints: Vec<Hit>,
    ) -> RuleResult {
        let all_present = self.present.iter().all(|&p| p);
        for h in &fingerprints {
            // A document stands at its segment's start.
            let near = self.near.as_ref().is_none_or(|near| {
                near.first_required[h.segment].is_some_and(|start| start <= near.limit)
            });
            if near {
                self.count(h);
            }
        }
        let result = |count, matches| RuleResult {
            rule: rule.name.clone(),
            count,
            severity: if count == 0 {
                None
            } else {
                rule.thresholds.severity(count)
            },
            thresholds: rule.thresholds,
            matches,
        };
        if !all_present {
            return result(0, Vec::new());
        }
        let count = match rule.count {
            CountMode::Unique => self.values.len() as u64,
            CountMode::Score => self.values.values().map(|&w| w as u64).sum(),
            CountMode::Total => total_with_alternatives(&self.per_segment, segments),
        };
        // Past the cap: the first occurrence of each distinct value first,
        // then the earliest others. The first MAX_EVIDENCE hits hold enough
        // of those others whatever the distinct ones took.
        let mut evidence = if self.counted as usize <= MAX_EVIDENCE {
            self.earliest
        } else {
            let mut chosen = self.first_of_value;
            let taken: HashSet<u64> = chosen.iter().map(|(seq, _)| *seq).collect();
            let room = MAX_EVIDENCE - chosen.len();
            chosen.extend(
                self.earliest
                    .into_iter()
                    .filter(|(seq, _)| !taken.contains(seq))
                    .take(room),
            );
            chosen.sort_by_key(|(seq, _)| *seq);
            chosen
        };
        // Fingerprint documents were counted last; evidence is in text order.
        evidence.sort_by_key(|(_, h)| (h.segment, h.span.start, h.span.end));
        let matches = evidence
            .into_iter()
            .map(|(_, h)| Match {
                entity: engine.entities[h.entity].name.clone(),
                segment: h.segment,
                text: segments[h.segment].text[h.span.clone()].to_owned(),
                span: h.span,
                value: h.value.to_string(),
                similarity: h.similarity,
            })
            .collect();
        result(count, matches)
    }
}

/// Segments longer than this are searched in windows of about this size
/// (see [`Window`]), so a huge attachment's normalized and lowercased
/// copies and its matches exist a window at a time: a 36 MB CSV export
/// held three more times over, with a record per line, was most of what a
/// 50 MB message cost the proxy. A window this large is still searched on
/// all cores.
const WINDOW_BYTES: usize = PARALLEL_MIN_BYTES;

/// Characters (whitespace and format characters not counted) a window's
/// text runs on past its cut, at least: longer than any match the engine
/// looks for, built-in identifiers included. A custom regex match longer
/// than this that crosses a cut may be found differently.
const WINDOW_OVERLAP: usize = 4096;

/// A part of a long segment, searched on its own.
///
/// `start..end` of the original text is normalized and searched, and the
/// matches starting before `cut` are the window's (the next window starts
/// at `cut`). Cuts are at the start of a whitespace run, so no word is
/// split and a window's normalized text is exactly that part of the whole
/// text's. `end` is at least the engine's overlap past the cut, and
/// [`K`](crate::fingerprint::K) words (a k-gram starting before the cut
/// ends in the window), also at the start of a whitespace run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    start: usize,
    cut: usize,
    end: usize,
}

/// Windows of about `size` bytes covering `text` (one for a shorter text,
/// or one for the rest of a text with no whitespace to cut at).
fn windows(text: &str, size: usize, overlap: usize) -> impl Iterator<Item = Window> + '_ {
    let mut next = Some(0);
    std::iter::from_fn(move || {
        let start = next?;
        let cut = (text.len() - start > size)
            .then(|| run_start(text, start + size))
            .flatten();
        next = cut;
        Some(match cut {
            Some(cut) => Window {
                start,
                cut,
                end: overlap_end(text, cut, overlap),
            },
            None => Window {
                start,
                cut: text.len(),
                end: text.len(),
            },
        })
    })
}

/// The first start of a whitespace run at or after `from`.
fn run_start(text: &str, mut from: usize) -> Option<usize> {
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let mut after_space = text[..from]
        .chars()
        .next_back()
        .is_none_or(char::is_whitespace);
    for (i, c) in text[from..].char_indices() {
        let space = c.is_whitespace();
        if space && !after_space {
            return Some(from + i);
        }
        after_space = space;
    }
    None
}

/// Where a window cut at `cut` ends: the first start of a whitespace run
/// after `overlap` characters that are not whitespace or format characters
/// and [`K`](crate::fingerprint::K) words with a letter or digit.
fn overlap_end(text: &str, cut: usize, overlap: usize) -> usize {
    let (mut content, mut words) = (0, 0);
    let (mut after_space, mut counted_word) = (false, false);
    for (i, c) in text[cut..].char_indices() {
        let space = c.is_whitespace();
        if space {
            if !after_space && content >= overlap && words >= crate::fingerprint::K {
                return cut + i;
            }
            counted_word = false;
        } else if !is_format(c) {
            content += 1;
            if !counted_word && c.is_alphanumeric() {
                words += 1;
                counted_word = true;
            }
        }
        after_space = space;
    }
    text.len()
}

/// Characters in UTF-8 `bytes` (bytes that are not continuation bytes).
fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

/// The character position of each byte position in `positions`, in order.
fn char_positions(text: &[u8], positions: &[usize]) -> Vec<usize> {
    if text.is_ascii() {
        return positions.to_vec();
    }
    let mut order: Vec<usize> = (0..positions.len()).collect();
    order.sort_unstable_by_key(|&i| positions[i]);
    let mut out = vec![0; positions.len()];
    let (mut byte, mut chars) = (0, 0);
    for i in order {
        let p = positions[i].min(text.len());
        chars += char_count(&text[byte..p]);
        byte = p;
        out[i] = chars;
    }
    out
}

fn section_index(s: Section) -> usize {
    match s {
        Section::Subject => 0,
        Section::Body => 1,
        Section::Attachments => 2,
    }
}

/// Scripts written without spaces between words: a term edge in one of
/// them needs no word boundary.
fn spaceless_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF            // Thai, Lao
        | 0x1000..=0x109F          // Myanmar
        | 0x1780..=0x17FF | 0x19E0..=0x19FF // Khmer
        | 0x2E80..=0x2FDF | 0x3005 | 0x3007 | 0x3021..=0x3029 | 0x3038..=0x303B // Han
        | 0x3040..=0x30FF | 0x31F0..=0x31FF // Hiragana, Katakana
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF // Han
        | 0xA9E0..=0xA9FF | 0xAA60..=0xAA7F // Myanmar
        | 0xFF66..=0xFF9F          // halfwidth Katakana
        | 0x20000..=0x3134F) // Han
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Cores available, read once: `available_parallelism` reads cgroup files
/// on every call.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Texts at least this long are searched in parallel chunks.
const PARALLEL_MIN_BYTES: usize = 4 << 20;

impl Automaton {
    /// Every match at a word boundary, overlapping ones included, as
    /// (start, pattern id), in order.
    ///
    /// Overlapping search visits every automaton state at every byte and
    /// is several times slower than a leftmost-longest search, so the
    /// search is leftmost-longest, restarted one character after each
    /// match start; the shorter terms starting at the same position are the
    /// match's precomputed prefixes. Together that is every match at every
    /// position, as an overlapping search would report. Large texts are
    /// split into chunks searched on all cores (a chunk's search runs on
    /// past its end by the longest term, so no match across the cut is lost).
    fn find_all(&self, haystack: &str) -> Vec<(usize, u32)> {
        if haystack.len() < PARALLEL_MIN_BYTES {
            return self.find_range(haystack, 0, haystack.len());
        }
        let threads = cores();
        if threads == 1 {
            return self.find_range(haystack, 0, haystack.len());
        }
        let step = haystack.len().div_ceil(threads);
        let mut cuts = vec![0];
        for k in 1..threads {
            let mut at = (k * step).min(haystack.len());
            while !haystack.is_char_boundary(at) {
                at += 1;
            }
            cuts.push(at);
        }
        cuts.push(haystack.len());
        std::thread::scope(|scope| {
            let workers: Vec<_> = cuts
                .windows(2)
                .map(|w| {
                    let (from, to) = (w[0], w[1]);
                    scope.spawn(move || self.find_range(haystack, from, to))
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|h| h.join().expect("search thread panicked"))
                .collect()
        })
    }

    /// Matches starting in `from..to`.
    fn find_range(&self, haystack: &str, from: usize, to: usize) -> Vec<(usize, u32)> {
        let bytes = haystack.as_bytes();
        let limit = (to + self.max_len).min(haystack.len());
        let mut out = Vec::new();
        let mut pos = from;
        while pos < to {
            let input = aho_corasick::Input::new(haystack).range(pos..limit);
            let Some(m) = self.ac.find(input) else { break };
            let s = m.start();
            if s >= to {
                break;
            }
            for &id in &self.same_start[m.pattern().as_usize()] {
                let p = self.patterns[id as usize];
                let e = s + self.lengths[id as usize];
                if !p.free_start && s > 0 {
                    let before = if bytes[s - 1].is_ascii() {
                        bytes[s - 1] as char
                    } else {
                        haystack[..s].chars().next_back().unwrap_or(' ')
                    };
                    if is_word_char(before) {
                        continue;
                    }
                }
                if !p.free_end && e < bytes.len() {
                    let after = if bytes[e].is_ascii() {
                        bytes[e] as char
                    } else {
                        haystack[e..].chars().next().unwrap_or(' ')
                    };
                    if is_word_char(after) {
                        continue;
                    }
                }
                out.push((s, id));
            }
            // Next character: matches always start on one (terms are whole
            // UTF-8 characters).
            pos = s + haystack[s..].chars().next().map_or(1, char::len_utf8);
        }
        out
    }
}

impl Engine {
    /// Compiles `definitions`, checking every cross-reference.
    ///
    /// Errors name the entity, rule or profile at fault: duplicate names,
    /// unknown entities or rules, invalid regexes, thresholds that are not
    /// positive or do not rise with the level.
    pub fn new(definitions: Definitions) -> Result<Engine, Error> {
        let mut names = HashSet::new();
        for e in &definitions.entities {
            if !names.insert(e.name.as_str()) {
                return Err(Error::Duplicate {
                    kind: "entity",
                    name: e.name.clone(),
                });
            }
        }
        let entity_index: HashMap<&str, usize> = definitions
            .entities
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.as_str(), i))
            .collect();

        let mut entities = Vec::with_capacity(definitions.entities.len());
        let mut insensitive_patterns: Vec<(String, Pattern)> = Vec::new();
        let mut sensitive_patterns: Vec<(String, Pattern)> = Vec::new();
        let mut identifiers: Vec<(Identifier, Vec<usize>)> = Vec::new();
        let mut fingerprint_index: Option<HashSet<u64, BuildWordHasher>> = None;
        let mut fingerprint_filter: Option<HashSet<u64, BuildWordHasher>> = None;
        // One document without a filter (a version 1 file) disables it.
        let mut filterable = true;
        for (i, def) in definitions.entities.iter().enumerate() {
            let matcher = match &def.kind {
                EntityKind::Dictionary {
                    dictionary,
                    case_sensitive,
                } => {
                    let terms = dictionary.distinct(*case_sensitive);
                    let target = if *case_sensitive {
                        &mut sensitive_patterns
                    } else {
                        &mut insensitive_patterns
                    };
                    for (t, term) in terms.iter().enumerate() {
                        let free_start = term.text.chars().next().is_some_and(spaceless_script);
                        let free_end = term.text.chars().next_back().is_some_and(spaceless_script);
                        target.push((
                            term.text.clone(),
                            Pattern {
                                entity: i,
                                term: t,
                                free_start,
                                free_end,
                            },
                        ));
                    }
                    Matcher::Dictionary {
                        terms: terms
                            .into_iter()
                            .map(|t| (Arc::from(t.text.as_str()), t.weight))
                            .collect(),
                    }
                }
                EntityKind::Identifier(id) => {
                    match identifiers.iter_mut().find(|(x, _)| x == id) {
                        Some((_, users)) => users.push(i),
                        None => identifiers.push((*id, vec![i])),
                    }
                    Matcher::Identifier
                }
                EntityKind::Regex {
                    pattern,
                    case_sensitive,
                } => {
                    let re = RegexBuilder::new(pattern)
                        .case_insensitive(!case_sensitive)
                        .build()
                        .map_err(|e| Error::Regex {
                            entity: def.name.clone(),
                            message: e.to_string(),
                        })?;
                    Matcher::Regex(re, *case_sensitive)
                }
                EntityKind::Fingerprint {
                    documents,
                    similarity,
                } => {
                    fingerprint_index
                        .get_or_insert_with(HashSet::default)
                        .extend(
                            documents
                                .documents
                                .iter()
                                .flat_map(|d| d.hashes.iter().copied()),
                        );
                    filterable &= documents
                        .documents
                        .iter()
                        .all(|d| d.hashes.is_empty() || !d.filter.is_empty());
                    fingerprint_filter
                        .get_or_insert_with(HashSet::default)
                        .extend(
                            documents
                                .documents
                                .iter()
                                .flat_map(|d| d.filter.iter().copied()),
                        );
                    Matcher::Fingerprint(documents.clone(), *similarity)
                }
            };
            entities.push(Entity {
                name: def.name.clone(),
                matcher,
            });
        }

        let mut rule_names = HashSet::new();
        let mut rules = Vec::with_capacity(definitions.rules.len());
        for def in &definitions.rules {
            if !rule_names.insert(def.name.as_str()) {
                return Err(Error::Duplicate {
                    kind: "rule",
                    name: def.name.clone(),
                });
            }
            let resolve = |names: &[String]| -> Result<Vec<usize>, Error> {
                names
                    .iter()
                    .map(|n| {
                        entity_index
                            .get(n.as_str())
                            .copied()
                            .ok_or_else(|| Error::UnknownEntity {
                                rule: def.name.clone(),
                                entity: n.clone(),
                            })
                    })
                    .collect()
            };
            let rule_entities = resolve(&def.entities)?;
            if rule_entities.is_empty() {
                return Err(Error::Threshold {
                    rule: def.name.clone(),
                    message: "a rule needs at least one entity".into(),
                });
            }
            let require = resolve(&def.require)?;
            let thresholds = match def.severity {
                Some(t) => {
                    check_thresholds(&def.name, &t)?;
                    t
                }
                None => Thresholds {
                    low: Some(default_low(&rule_entities, &entities)),
                    ..Thresholds::default()
                },
            };
            let mut scope = [def.scope.is_empty(); 3];
            for s in &def.scope {
                scope[section_index(*s)] = true;
            }
            rules.push(Rule {
                name: def.name.clone(),
                entities: rule_entities,
                count: def.count,
                scope,
                thresholds,
                require,
                proximity: def.proximity,
            });
        }

        let mut profiles = Vec::new();
        let mut profile_names = HashSet::new();
        for p in &definitions.profiles {
            if !profile_names.insert(p.name.as_str()) {
                return Err(Error::Duplicate {
                    kind: "profile",
                    name: p.name.clone(),
                });
            }
            let indices = p
                .rules
                .iter()
                .map(|r| {
                    rules
                        .iter()
                        .position(|x| &x.name == r)
                        .ok_or_else(|| Error::UnknownRule {
                            profile: p.name.clone(),
                            rule: r.clone(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            profiles.push((p.name.clone(), indices));
        }

        let insensitive = build_automaton(insensitive_patterns)?;
        let sensitive = build_automaton(sensitive_patterns)?;
        let longest_term = [&insensitive, &sensitive]
            .into_iter()
            .flatten()
            .map(|a| a.max_len)
            .max()
            .unwrap_or(0);
        Ok(Engine {
            overlap: WINDOW_OVERLAP.max(3 * longest_term + 64),
            proximity: rules
                .iter()
                .any(|r| r.proximity.is_some() && !r.require.is_empty()),
            entities,
            rules,
            profiles,
            insensitive,
            sensitive,
            identifiers,
            fingerprint_index,
            fingerprint_filter: fingerprint_filter
                .filter(|_| filterable)
                .map(KgramFilter::new),
        })
    }

    /// Rule names of profile `name`, in profile order.
    pub fn profile(&self, name: &str) -> Option<Vec<&str>> {
        self.profiles
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, rules)| rules.iter().map(|&i| self.rules[i].name.as_str()).collect())
    }

    /// Profile names, in definition order.
    pub fn profiles(&self) -> impl Iterator<Item = &str> {
        self.profiles.iter().map(|(n, _)| n.as_str())
    }

    /// The thresholds a rule uses (the default ones filled in).
    pub fn thresholds(&self, rule: &str) -> Option<Thresholds> {
        self.rules
            .iter()
            .find(|r| r.name == rule)
            .map(|r| r.thresholds)
    }

    /// Scans one plain text as a message body.
    pub fn scan_str(&self, text: &str) -> ScanResult {
        self.scan(&[Segment::body(text)])
    }

    /// Scans the texts of one message. Counting is over all segments in
    /// each rule's scope.
    ///
    /// A text longer than 4 MiB is searched a window at a time (see the
    /// crate doc): its normalized and lowercased copies and its matches
    /// exist one window at a time, and each rule keeps only its counts,
    /// its distinct values and its evidence.
    pub fn scan(&self, segments: &[Segment]) -> ScanResult {
        self.scan_in_windows(segments, WINDOW_BYTES)
    }

    fn scan_in_windows(&self, segments: &[Segment], window_bytes: usize) -> ScanResult {
        let mut tallies: Vec<Tally> = self
            .rules
            .iter()
            .map(|rule| Tally::new(rule, segments.len()))
            .collect();
        let mut kgrams: Vec<Vec<u64>> = Vec::new();
        // Where each identifier type's and each regex entity's search goes
        // on, in normalized bytes of the whole segment: a match that runs
        // past a window's cut is not searched into again.
        let mut resume = Resume {
            identifiers: vec![0; self.identifiers.len()],
            regexes: vec![0; self.entities.len()],
        };
        for (si, segment) in segments.iter().enumerate() {
            let section = section_index(segment.section);
            let mut found_kgrams = Vec::new();
            resume.identifiers.fill(0);
            resume.regexes.fill(0);
            // The normalized position of the window's start in the whole
            // segment's normalized text: bytes, characters.
            let (mut at_byte, mut at_char) = (0, 0);
            for w in windows(segment.text, window_bytes, self.overlap) {
                let original = &segment.text[w.start..w.end];
                let norm = Normalized::new(original);
                let owned = if w.cut == w.end {
                    norm.text.len()
                } else {
                    norm.text_position_of_original(w.cut - w.start)
                };
                let mut hits = Vec::new();
                let at = Searched {
                    segment: si,
                    norm: &norm,
                    owned,
                    at_byte,
                };
                self.dictionary_hits(&at, &mut hits);
                self.identifier_hits(&at, &mut resume, &mut hits);
                self.regex_hits(&at, &mut resume, &mut hits);
                if let Some(index) = &self.fingerprint_index {
                    // Only the k-grams some document has are kept. A k-gram
                    // starting in the overlap is found again by the next
                    // window: duplicates go below.
                    for_each_kgram(norm.lower(), self.fingerprint_filter.as_ref(), |h, _| {
                        if index.contains(&h) {
                            found_kgrams.push(h);
                        }
                    });
                }
                self.place(&norm, original, w.start, at_char, &mut hits);
                if self.proximity {
                    at_char += char_count(&norm.text.as_bytes()[..owned]);
                }
                at_byte += owned;
                let next = if w.cut == segment.text.len() {
                    usize::MAX
                } else {
                    at_char
                };
                for (rule, tally) in self.rules.iter().zip(&mut tallies) {
                    if rule.scope[section] {
                        tally.add(rule, &hits, next);
                    }
                }
            }
            found_kgrams.sort_unstable();
            found_kgrams.dedup();
            kgrams.push(found_kgrams);
        }
        let rules = self
            .rules
            .iter()
            .zip(tallies)
            .map(|(rule, tally)| {
                let in_scope = |si: usize| rule.scope[section_index(segments[si].section)];
                let fingerprints = self.fingerprint_hits(rule, &kgrams, &in_scope);
                tally.finish(self, rule, segments, fingerprints)
            })
            .collect();
        ScanResult { rules }
    }

    /// All dictionary matches the window owns, overlapping ones included
    /// (see [`Automaton::find_all`]).
    fn dictionary_hits(&self, at: &Searched, hits: &mut Vec<Hit>) {
        let norm = at.norm;
        let runs = [
            (self.insensitive.as_ref(), true),
            (self.sensitive.as_ref(), false),
        ];
        for (automaton, insensitive) in runs {
            let Some(automaton) = automaton else { continue };
            let haystack = if insensitive {
                norm.lower()
            } else {
                &norm.text
            };
            for (start, id) in automaton.find_all(haystack) {
                let p = automaton.patterns[id as usize];
                let end = start + automaton.lengths[id as usize];
                let span = if insensitive {
                    norm.text_position_of_lower(start)..norm.text_position_of_lower(end)
                } else {
                    start..end
                };
                if span.start >= at.owned {
                    continue;
                }
                let Matcher::Dictionary { terms } = &self.entities[p.entity].matcher else {
                    unreachable!("dictionary pattern")
                };
                let (value, weight) = &terms[p.term];
                hits.push(Hit::found(p.entity, at, span, value.clone(), *weight));
            }
        }
    }

    /// Identifiers whose pattern match the window owns, each type searched
    /// from where its search of the previous window stopped.
    fn identifier_hits(&self, at: &Searched, resume: &mut Resume, hits: &mut Vec<Hit>) {
        let text = at.norm.text.as_str();
        let search = |i: usize| {
            let (id, _) = &self.identifiers[i];
            id.find_within(
                text,
                resume.identifiers[i].saturating_sub(at.at_byte),
                at.owned,
            )
        };
        // Each identifier type is an independent pass over the text: on a
        // large text they run on all cores.
        let results: Vec<(Vec<crate::IdentifierMatch>, usize)> =
            if text.len() >= PARALLEL_MIN_BYTES && self.identifiers.len() > 1 {
                std::thread::scope(|scope| {
                    let workers: Vec<_> = (0..self.identifiers.len())
                        .map(|i| scope.spawn(move || search(i)))
                        .collect();
                    workers
                        .into_iter()
                        .map(|w| w.join().expect("identifier thread panicked"))
                        .collect()
                })
            } else {
                (0..self.identifiers.len()).map(search).collect()
            };
        for (i, (matches, next)) in results.into_iter().enumerate() {
            resume.identifiers[i] = at.at_byte + next;
            for m in matches {
                let value: Arc<str> = Arc::from(m.value.as_str());
                for &entity in &self.identifiers[i].1 {
                    hits.push(Hit::found(entity, at, m.span.clone(), value.clone(), 1));
                }
            }
        }
    }

    /// Matches of regex entities the window owns (empty ones are not
    /// matches), each searched from where the previous window stopped.
    fn regex_hits(&self, at: &Searched, resume: &mut Resume, hits: &mut Vec<Hit>) {
        let text = at.norm.text.as_str();
        for (entity, e) in self.entities.iter().enumerate() {
            let Matcher::Regex(re, case_sensitive) = &e.matcher else {
                continue;
            };
            let mut next = resume.regexes[entity].saturating_sub(at.at_byte);
            while next <= text.len() {
                let Some(m) = re.find_at(text, next) else {
                    break;
                };
                if m.start() >= at.owned {
                    break;
                }
                if m.is_empty() {
                    // As `find_iter` does: go on one character later.
                    next = m.end() + text[m.end()..].chars().next().map_or(1, char::len_utf8);
                    continue;
                }
                next = m.end();
                let value = if *case_sensitive {
                    m.as_str().to_owned()
                } else {
                    lower_str(m.as_str())
                };
                hits.push(Hit::found(entity, at, m.range(), value.into(), 1));
            }
            resume.regexes[entity] = at.at_byte + next;
        }
    }

    /// Places a window's hits: their spans from the window's normalized
    /// text to the segment's original text, their characters in the
    /// segment's normalized text when a rule measures proximity; then
    /// puts them in text order (stable: matches of one span stay in
    /// matcher order).
    fn place(
        &self,
        norm: &Normalized,
        original: &str,
        window_start: usize,
        at_char: usize,
        hits: &mut [Hit],
    ) {
        if self.proximity {
            let positions: Vec<usize> = hits
                .iter()
                .flat_map(|h| [h.span.start, h.span.end])
                .collect();
            let chars = char_positions(norm.text.as_bytes(), &positions);
            for (h, c) in hits.iter_mut().zip(chars.chunks_exact(2)) {
                h.chars = at_char + c[0]..at_char + c[1];
            }
        }
        for h in hits.iter_mut() {
            let span = norm.original_span(original, h.span.clone());
            h.span = window_start + span.start..window_start + span.end;
        }
        hits.sort_by_key(|h| (h.span.start, h.span.end));
    }

    /// Documents of the rule's fingerprint entities similar enough to the
    /// rule's in-scope text; each is attributed to the segment holding most
    /// of its hashes.
    fn fingerprint_hits(
        &self,
        rule: &Rule,
        kgrams: &[Vec<u64>],
        in_scope: &dyn Fn(usize) -> bool,
    ) -> Vec<Hit> {
        let mut out = Vec::new();
        for &entity in &rule.entities {
            let Matcher::Fingerprint(set, threshold) = &self.entities[entity].matcher else {
                continue;
            };
            let mut message: Vec<u64> = kgrams
                .iter()
                .enumerate()
                .filter(|(si, _)| in_scope(*si))
                .flat_map(|(_, h)| h.iter().copied())
                .collect();
            message.sort_unstable();
            message.dedup();
            for doc in &set.documents {
                let similarity = doc.similarity(&message);
                if similarity < *threshold || similarity == 0 {
                    continue;
                }
                let best = kgrams
                    .iter()
                    .enumerate()
                    .filter(|(si, _)| in_scope(*si))
                    .max_by_key(|(_, hs)| {
                        hs.iter()
                            .filter(|h| doc.hashes.binary_search(h).is_ok())
                            .count()
                    })
                    .map_or(0, |(si, _)| si);
                out.push(Hit {
                    entity,
                    segment: best,
                    span: 0..0,
                    chars: 0..0,
                    value: Arc::from(doc.name.as_str()),
                    weight: 1,
                    similarity: Some(similarity),
                });
            }
        }
        out
    }
}

/// Patterns up to which the term automaton is a DFA.
const DFA_MAX_PATTERNS: usize = 5_000;

fn build_automaton(patterns: Vec<(String, Pattern)>) -> Result<Option<Automaton>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    // A full DFA is the fastest search, but its memory grows with
    // patterns × alphabet: past a few thousand terms the contiguous NFA keeps
    // a 100,000-term engine small.
    let kind = if patterns.len() <= DFA_MAX_PATTERNS {
        Some(AhoCorasickKind::DFA)
    } else {
        None
    };
    let ac = AhoCorasick::builder()
        .kind(kind)
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns.iter().map(|(t, _)| t.as_str()))
        .map_err(|e| Error::Dictionary {
            line: 0,
            message: format!("cannot build the term automaton: {e}"),
        })?;
    let mut by_text: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, (t, _)) in patterns.iter().enumerate() {
        by_text.entry(t.as_str()).or_default().push(i as u32);
    }
    let same_start = patterns
        .iter()
        .map(|(t, _)| {
            let mut ids: Vec<u32> = t
                .char_indices()
                .map(|(i, _)| i)
                .skip(1)
                .chain(std::iter::once(t.len()))
                .filter_map(|end| by_text.get(&t[..end]))
                .flatten()
                .copied()
                .collect();
            ids.sort_unstable();
            ids
        })
        .collect();
    let lengths: Vec<usize> = patterns.iter().map(|(t, _)| t.len()).collect();
    let max_len = lengths.iter().copied().max().unwrap_or(0);
    Ok(Some(Automaton {
        ac,
        patterns: patterns.into_iter().map(|(_, p)| p).collect(),
        same_start,
        lengths,
        max_len,
    }))
}

/// `ceil(n/2)` with `n` the distinct terms across the rule's dictionary
/// entities, or 1 for a rule without dictionaries (SPEC §4).
fn default_low(rule_entities: &[usize], entities: &[Entity]) -> u64 {
    let mut terms: HashSet<&str> = HashSet::new();
    let mut has_dictionary = false;
    for &e in rule_entities {
        if let Matcher::Dictionary { terms: t } = &entities[e].matcher {
            has_dictionary = true;
            terms.extend(t.iter().map(|(s, _)| &**s));
        }
    }
    if !has_dictionary {
        return 1;
    }
    (terms.len() as u64).div_ceil(2).max(1)
}

fn check_thresholds(rule: &str, t: &Thresholds) -> Result<(), Error> {
    let mut previous: Option<(Severity, u64)> = None;
    for level in Severity::ALL {
        let Some(v) = t.get(level) else { continue };
        if v == 0 {
            return Err(Error::Threshold {
                rule: rule.into(),
                message: format!("{level} = 0: thresholds must be at least 1"),
            });
        }
        if let Some((pl, pv)) = previous {
            if v <= pv {
                return Err(Error::Threshold {
                    rule: rule.into(),
                    message: format!("{level} = {v} must be greater than {pl} = {pv}"),
                });
            }
        }
        previous = Some((level, v));
    }
    if previous.is_none() {
        return Err(Error::Threshold {
            rule: rule.into(),
            message: "no threshold set".into(),
        });
    }
    Ok(())
}

/// Matches counted (`per_segment`), where for each multipart/alternative
/// group only the branch with the most matches counts.
fn total_with_alternatives(per_segment: &[u64], segments: &[Segment]) -> u64 {
    let mut plain = 0u64;
    let mut branches: HashMap<(&str, usize), u64> = HashMap::new();
    for (n, segment) in per_segment.iter().zip(segments) {
        match segment.alternative {
            Some(key) => *branches.entry(key).or_insert(0) += n,
            None => plain += n,
        }
    }
    let mut best: HashMap<&str, u64> = HashMap::new();
    for ((group, _), n) in branches {
        let b = best.entry(group).or_insert(0);
        *b = (*b).max(n);
    }
    plain + best.values().sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_search_finds_what_one_pass_finds() {
        let pattern = |entity| Pattern {
            entity,
            term: 0,
            free_start: false,
            free_end: false,
        };
        let automaton = build_automaton(vec![
            ("account manager".into(), pattern(0)),
            ("manager".into(), pattern(1)),
            (
                "顧客".into(),
                Pattern {
                    free_start: true,
                    free_end: true,
                    ..pattern(2)
                },
            ),
        ])
        .unwrap()
        .unwrap();
        // Long enough for the parallel path; matches straddle every offset
        // around the cut points.
        let unit = "xx account manager 顧客 managers manager ";
        let text = unit.repeat(PARALLEL_MIN_BYTES / unit.len() + 1000);
        assert!(text.len() >= PARALLEL_MIN_BYTES);
        let one = automaton.find_range(&text, 0, text.len());
        let chunked = automaton.find_all(&text);
        assert_eq!(one.len(), chunked.len());
        assert_eq!(one, chunked);
        assert_eq!(
            one.len() % 4,
            0,
            "account manager, manager, 顧客, manager per unit"
        );
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;
    use crate::{
        fingerprint::tests::prose, Dictionary, DocumentFingerprint, EntityDefinition,
        RuleDefinition,
    };

    fn rule(name: &str, entities: &[&str], count: CountMode) -> RuleDefinition {
        let mut r = RuleDefinition::new(name, entities);
        r.count = count;
        r.severity = Some(Thresholds {
            low: Some(1),
            ..Thresholds::default()
        });
        r
    }

    /// Every kind of matcher, every count mode and proximity.
    fn engine(document: &str) -> Engine {
        let entity = |name: &str, kind| EntityDefinition {
            name: name.into(),
            kind,
        };
        let mut near = rule("near", &["terms", "codes"], CountMode::Total);
        near.require = vec!["emails".into()];
        near.proximity = Some(60);
        Engine::new(Definitions {
            entities: vec![
                entity(
                    "terms",
                    EntityKind::Dictionary {
                        dictionary: Dictionary::from_terms([
                            ("account manager", 1),
                            ("manager", 2),
                            ("file", 1),
                            ("顧客", 3),
                            ("revenue forecast", 2),
                        ]),
                        case_sensitive: false,
                    },
                ),
                entity(
                    "acronyms",
                    EntityKind::Dictionary {
                        dictionary: Dictionary::from_terms([("NDA", 1), ("CRM", 1)]),
                        case_sensitive: true,
                    },
                ),
                entity("cards", EntityKind::Identifier(Identifier::CreditCard)),
                entity("ibans", EntityKind::Identifier(Identifier::Iban)),
                entity("emails", EntityKind::Identifier(Identifier::EmailAddress)),
                entity(
                    "codes",
                    EntityKind::Regex {
                        // Spans whitespace, so a cut can fall inside a match.
                        pattern: r"order\s+[0-9]{2,5}(?:\s+[a-z]{3})?".into(),
                        case_sensitive: false,
                    },
                ),
                entity(
                    "board",
                    EntityKind::Fingerprint {
                        documents: FingerprintSet {
                            documents: vec![DocumentFingerprint::new("minutes", document)],
                        },
                        similarity: 1,
                    },
                ),
            ],
            rules: vec![
                rule("unique", &["terms", "acronyms", "codes"], CountMode::Unique),
                rule("total", &["terms", "acronyms", "cards"], CountMode::Total),
                rule("score", &["terms", "ibans", "emails"], CountMode::Score),
                rule("board", &["board", "terms"], CountMode::Unique),
                near,
            ],
            profiles: vec![],
        })
        .unwrap()
    }

    /// Text with every kind of match, and the things normalization
    /// changes (whitespace runs, NBSP, format characters, full-width and
    /// ligature letters, combining accents, CJK), in random order.
    fn text(seed: u64, pieces: usize) -> String {
        const PIECES: &[&str] = &[
            "Account Manager",
            "account\r\n   manager",
            "ACCOUNT\u{00A0}MAN\u{00AD}AGER",
            "managers",
            "Ｍａｎａｇｅｒ",
            "ﬁle",
            "caf\u{0065}\u{0301}",
            "顧客リスト",
            "NDA",
            "nda",
            "CRM,",
            "4111 1111 1111 1111",
            "card 5500-0000-0000-0004 12/29",
            "DE89 3704 0044 0532 0130 00",
            "alice@example.com",
            "Bob.Smith@Partner.org",
            "order 1234 abc",
            "order\n\n 99",
            "\u{200B}",
            "\t\t",
            "\n\n\n",
            "                                        ",
            "Revenue\nForecast",
            "the board approved revenue forecast for next quarter",
        ];
        let mut v = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut out = String::new();
        for i in 0..pieces {
            v ^= v << 13;
            v ^= v >> 7;
            v ^= v << 17;
            if v.is_multiple_of(5) {
                out.push_str(&prose(v, 1 + (v % 40) as usize));
            } else {
                out.push_str(PIECES[(v as usize / 7) % PIECES.len()]);
            }
            // Mostly spaces between pieces; sometimes none, so pieces
            // glue into longer words.
            out.push_str(match (v >> 20) % 6 {
                0 => "",
                1 => "\n",
                _ => " ",
            });
            if i % 97 == 0 {
                out.push_str(&" ".repeat((v % 9000) as usize));
            }
        }
        out
    }

    #[test]
    fn windows_cut_at_whitespace_runs_and_overlap() {
        let text = "aaaa bbbb  cccc\n\ndddd eeee ffff gggg hhhh iiii jjjj";
        let ws: Vec<Window> = windows(text, 8, 3).collect();
        assert_eq!(ws[0].start, 0);
        assert_eq!(ws.last().unwrap().cut, text.len());
        for pair in ws.windows(2) {
            assert_eq!(pair[0].cut, pair[1].start);
        }
        for w in &ws[..ws.len() - 1] {
            // A cut starts a whitespace run after a word.
            assert!(text[w.cut..].starts_with(char::is_whitespace));
            assert!(!text[..w.cut].ends_with(char::is_whitespace));
            // The overlap holds at least K words and ends where a run
            // starts, or runs to the end of the text.
            assert!(
                w.end == text.len()
                    || (text[w.cut..w.end].split_whitespace().count() >= crate::fingerprint::K
                        && text[w.end..].starts_with(' '))
            );
        }
        // Nothing to cut at: one window.
        assert_eq!(windows(&"x".repeat(100), 8, 3).count(), 1);
    }

    #[test]
    fn windowed_scans_find_what_one_pass_finds() {
        let document = prose(7, 400);
        let engine = engine(&document);
        for seed in 1..=6u64 {
            let mut body = text(seed, 3000);
            if seed % 2 == 0 {
                // An excerpt of the fingerprinted document, across cuts.
                body.push_str(&document[..document.len() / 2]);
                body.push_str(&text(seed + 100, 500));
            }
            let segments = [
                Segment::body(&body),
                Segment {
                    text: &body[body.len() / 3..],
                    section: Section::Attachments,
                    alternative: None,
                },
            ];
            let whole = engine.scan_in_windows(&segments, usize::MAX);
            assert!(whole.rules.iter().all(|r| r.count > 0), "{whole:?}");
            for window in [600, 5000, 64 << 10] {
                let windowed = engine.scan_in_windows(&segments, window);
                assert!(
                    windows(&body, window, engine.overlap).count() > 1,
                    "seed {seed}: more than one window of {window} bytes"
                );
                for (w, o) in windowed.rules.iter().zip(&whole.rules) {
                    assert_eq!(w, o, "seed {seed}, windows of {window} bytes");
                }
            }
        }
    }
}
