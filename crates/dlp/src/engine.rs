//! The engine: definitions compiled once, scanned many times.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder};

use crate::fingerprint::{for_each_kgram, BuildWordHasher, KgramFilter};
use crate::normalize::{lower_str, Normalized};
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
}

/// A hit in normalized coordinates, before rules filter and count.
#[derive(Debug, Clone)]
struct Hit {
    entity: usize,
    segment: usize,
    span: Range<usize>,
    value: Arc<str>,
    weight: u32,
    similarity: Option<u32>,
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
const PARALLEL_MIN_BYTES: usize = 8 << 20;

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

        Ok(Engine {
            entities,
            rules,
            profiles,
            insensitive: build_automaton(insensitive_patterns)?,
            sensitive: build_automaton(sensitive_patterns)?,
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
    pub fn scan(&self, segments: &[Segment]) -> ScanResult {
        let normalized: Vec<Normalized> =
            segments.iter().map(|s| Normalized::new(s.text)).collect();
        let mut hits: Vec<Hit> = Vec::new();
        let mut kgrams: Vec<Vec<u64>> = Vec::new();
        for (si, norm) in normalized.iter().enumerate() {
            self.dictionary_hits(si, norm, &mut hits);
            let text = norm.text.as_str();
            // Each identifier type is an independent pass over the text: on a
            // large text they run on all cores.
            let found: Vec<Vec<crate::IdentifierMatch>> =
                if text.len() >= PARALLEL_MIN_BYTES && self.identifiers.len() > 1 {
                    std::thread::scope(|scope| {
                        let workers: Vec<_> = self
                            .identifiers
                            .iter()
                            .map(|(id, _)| scope.spawn(move || id.find(text)))
                            .collect();
                        workers
                            .into_iter()
                            .map(|w| w.join().expect("identifier thread panicked"))
                            .collect()
                    })
                } else {
                    self.identifiers
                        .iter()
                        .map(|(id, _)| id.find(text))
                        .collect()
                };
            for ((_, users), matches) in self.identifiers.iter().zip(found) {
                for m in matches {
                    let value: Arc<str> = Arc::from(m.value.as_str());
                    for &entity in users {
                        hits.push(Hit {
                            entity,
                            segment: si,
                            span: m.span.clone(),
                            value: value.clone(),
                            weight: 1,
                            similarity: None,
                        });
                    }
                }
            }
            for (entity, e) in self.entities.iter().enumerate() {
                if let Matcher::Regex(re, case_sensitive) = &e.matcher {
                    for m in re.find_iter(&norm.text) {
                        if m.is_empty() {
                            continue;
                        }
                        let value = if *case_sensitive {
                            m.as_str().to_owned()
                        } else {
                            lower_str(m.as_str())
                        };
                        hits.push(Hit {
                            entity,
                            segment: si,
                            span: m.range(),
                            value: value.into(),
                            weight: 1,
                            similarity: None,
                        });
                    }
                }
            }
            if let Some(index) = &self.fingerprint_index {
                // Only the k-grams some document has are kept, per segment.
                let mut found = Vec::new();
                for_each_kgram(norm.lower(), self.fingerprint_filter.as_ref(), |h, _| {
                    if index.contains(&h) {
                        found.push(h);
                    }
                });
                found.sort_unstable();
                found.dedup();
                kgrams.push(found);
            }
        }
        let rules = self
            .rules
            .iter()
            .map(|rule| self.evaluate(rule, segments, &normalized, &hits, &kgrams))
            .collect();
        ScanResult { rules }
    }

    /// All dictionary matches, overlapping ones included.
    ///
    /// Overlapping search visits every automaton state at every byte and
    /// is several times slower than a leftmost-longest search, so the
    /// search is leftmost-longest, restarted one character after each
    /// match start; the shorter terms starting at the same position are the
    /// match's precomputed prefixes. Together that is every match at every
    /// position, as an overlapping search would report.
    fn dictionary_hits(&self, segment: usize, norm: &Normalized, hits: &mut Vec<Hit>) {
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
            let found = automaton.find_all(haystack);
            for (start, id) in found {
                let p = automaton.patterns[id as usize];
                let end = start + automaton.lengths[id as usize];
                let span = if insensitive {
                    norm.text_position_of_lower(start)..norm.text_position_of_lower(end)
                } else {
                    start..end
                };
                let Matcher::Dictionary { terms } = &self.entities[p.entity].matcher else {
                    unreachable!("dictionary pattern")
                };
                let (value, weight) = &terms[p.term];
                hits.push(Hit {
                    entity: p.entity,
                    segment,
                    span,
                    value: value.clone(),
                    weight: *weight,
                    similarity: None,
                });
            }
        }
    }

    fn evaluate(
        &self,
        rule: &Rule,
        segments: &[Segment],
        normalized: &[Normalized],
        hits: &[Hit],
        kgrams: &[Vec<u64>],
    ) -> RuleResult {
        let in_scope = |si: usize| rule.scope[section_index(segments[si].section)];
        let mut counted: Vec<&Hit> = hits
            .iter()
            .filter(|h| rule.entities.contains(&h.entity) && in_scope(h.segment))
            .collect();
        let fingerprint_hits = self.fingerprint_hits(rule, kgrams, &in_scope);
        counted.extend(fingerprint_hits.iter());

        if !rule.require.is_empty() {
            let required: Vec<&Hit> = hits
                .iter()
                .filter(|h| rule.require.contains(&h.entity) && in_scope(h.segment))
                .collect();
            let all_present = rule
                .require
                .iter()
                .all(|r| required.iter().any(|h| h.entity == *r));
            if !all_present {
                counted.clear();
            } else if let Some(limit) = rule.proximity {
                counted.retain(|h| {
                    required.iter().any(|r| {
                        r.segment == h.segment
                            && char_distance(&normalized[h.segment].text, &h.span, &r.span) <= limit
                    })
                });
            }
        }
        // The same text matched by two of the rule's entities is one match.
        counted.sort_by(|a, b| {
            (a.segment, a.span.start, a.span.end).cmp(&(b.segment, b.span.start, b.span.end))
        });
        counted.dedup_by(|a, b| a.segment == b.segment && a.span == b.span && a.value == b.value);

        let count = match rule.count {
            CountMode::Unique => counted
                .iter()
                .map(|h| &h.value)
                .collect::<HashSet<_>>()
                .len() as u64,
            CountMode::Score => {
                let mut weights: HashMap<&Arc<str>, u32> = HashMap::new();
                for h in &counted {
                    let w = weights.entry(&h.value).or_insert(0);
                    *w = (*w).max(h.weight);
                }
                weights.values().map(|&w| w as u64).sum()
            }
            CountMode::Total => total_with_alternatives(&counted, segments),
        };
        let severity = if count == 0 {
            None
        } else {
            rule.thresholds.severity(count)
        };
        let evidence: Vec<&Hit> = if counted.len() <= MAX_EVIDENCE {
            counted
        } else {
            let mut seen = HashSet::new();
            let mut keep = vec![false; counted.len()];
            let mut kept = 0;
            for (i, h) in counted.iter().enumerate() {
                if kept < MAX_EVIDENCE && seen.insert(&h.value) {
                    keep[i] = true;
                    kept += 1;
                }
            }
            for k in keep.iter_mut() {
                if kept < MAX_EVIDENCE && !*k {
                    *k = true;
                    kept += 1;
                }
            }
            counted
                .into_iter()
                .zip(keep)
                .filter_map(|(h, k)| k.then_some(h))
                .collect()
        };
        let matches = evidence
            .iter()
            .map(|h| {
                let original = segments[h.segment].text;
                let span = normalized[h.segment].original_span(original, h.span.clone());
                Match {
                    entity: self.entities[h.entity].name.clone(),
                    segment: h.segment,
                    text: original[span.clone()].to_owned(),
                    span,
                    value: h.value.to_string(),
                    similarity: h.similarity,
                }
            })
            .collect();
        RuleResult {
            rule: rule.name.clone(),
            count,
            severity,
            thresholds: rule.thresholds,
            matches,
        }
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

/// Characters between two spans of `text` (0 when they overlap).
fn char_distance(text: &str, a: &Range<usize>, b: &Range<usize>) -> usize {
    let (from, to) = if a.end <= b.start {
        (a.end, b.start)
    } else if b.end <= a.start {
        (b.end, a.start)
    } else {
        return 0;
    };
    text.get(from..to).map_or(to - from, |s| s.chars().count())
}

/// Matches counted, where for each multipart/alternative group only the
/// branch with the most matches counts.
fn total_with_alternatives(counted: &[&Hit], segments: &[Segment]) -> u64 {
    let mut plain = 0u64;
    let mut branches: HashMap<(&str, usize), u64> = HashMap::new();
    for h in counted {
        match segments[h.segment].alternative {
            Some(key) => *branches.entry(key).or_insert(0) += 1,
            None => plain += 1,
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
