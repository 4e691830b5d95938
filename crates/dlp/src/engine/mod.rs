//! The engine: definitions compiled once, scanned many times.
//!
//! `mod.rs` compiles [`Definitions`] into an [`Engine`]; `search.rs` runs
//! one scan (windows, automatons, identifiers, regexes, fingerprints),
//! `tally.rs` counts a rule's hits, `windows.rs` cuts long texts,
//! `automaton.rs` holds the dictionary automatons and `results.rs` what a
//! scan returns.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use regex::Regex;

use crate::fingerprint::{BuildWordHasher, KgramFilter};
use crate::rule::{compile_regex, CountMode, Definitions, EntityKind, Thresholds};
use crate::{Error, FingerprintSet, Identifier};

mod automaton;
mod results;
mod search;
mod tally;
#[cfg(test)]
mod window_tests;
mod windows;

use automaton::{build_automaton, Automaton, Pattern};
pub use results::{Match, RuleResult, ScanResult, Segment, MAX_EVIDENCE};
use windows::{section_index, spaceless_script, WINDOW_BYTES, WINDOW_OVERLAP};

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
    /// Threads one scan of a long text may use ([`Engine::with_threads`]).
    threads: usize,
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
                    let re = compile_regex(pattern, *case_sensitive).map_err(|message| {
                        Error::Regex {
                            entity: def.name.clone(),
                            message,
                        }
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
                    if let Some((level, message)) = t.problems().into_iter().next() {
                        let at = level.map_or(String::new(), |l| format!("{l}: "));
                        return Err(Error::Threshold {
                            rule: def.name.clone(),
                            message: format!("{at}{message}"),
                        });
                    }
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
            threads: automaton::cores(),
        })
    }

    /// The same engine, with `threads` threads for one scan of a long text
    /// (1: none besides the caller's; 0: one per core, the default).
    ///
    /// A text of 4 MiB or more is searched with scoped threads that end
    /// with the scan: the dictionary automatons in one chunk per thread,
    /// and (with more than 1) the identifier types each on a thread of its
    /// own. An embedder that scans many messages
    /// at once on its own pool of threads may prefer 1. The engine keeps no
    /// other threads; its only caches are per-thread word hashes for
    /// fingerprints (a few MiB at most per scanning thread).
    pub fn with_threads(mut self, threads: usize) -> Engine {
        self.threads = if threads == 0 {
            automaton::cores()
        } else {
            threads
        };
        self
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

    /// The `n` of a rule's default threshold `low = ceil(n/2)`: the
    /// distinct terms across its dictionary entities (SPEC §4). `None` for
    /// an unknown rule or one without dictionaries.
    pub fn dictionary_terms(&self, rule: &str) -> Option<u64> {
        let r = self.rules.iter().find(|r| r.name == rule)?;
        distinct_dictionary_terms(&r.entities, &self.entities)
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
}

/// `ceil(n/2)` with `n` the distinct terms across the rule's dictionary
/// entities, or 1 for a rule without dictionaries (SPEC §4).
fn default_low(rule_entities: &[usize], entities: &[Entity]) -> u64 {
    distinct_dictionary_terms(rule_entities, entities).map_or(1, |n| n.div_ceil(2).max(1))
}

/// The `n` of the default threshold: distinct terms across the
/// dictionary entities among `rule_entities`; `None` without dictionaries.
fn distinct_dictionary_terms(rule_entities: &[usize], entities: &[Entity]) -> Option<u64> {
    let mut terms: HashSet<&str> = HashSet::new();
    let mut has_dictionary = false;
    for &e in rule_entities {
        if let Matcher::Dictionary { terms: t } = &entities[e].matcher {
            has_dictionary = true;
            terms.extend(t.iter().map(|(s, _)| &**s));
        }
    }
    has_dictionary.then_some(terms.len() as u64)
}
