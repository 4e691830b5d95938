//! Definitions compiled: entities into matchers and search tables, rules
//! and profiles into indices, every cross reference checked.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::automaton::Pattern;
use super::keywords::{entity_owner, type_owner};
use super::windows::{section_index, spaceless_script};
use super::{Entity, Matcher, Rule};
use crate::edm::RowRule;
use crate::fingerprint::KgramFilter;
use crate::rule::{
    compile_regex, EntityDefinition, EntityKind, ProfileDefinition, RuleDefinition, Thresholds,
};
use crate::{Confidence, Error, Identifier};

/// The entities' matchers, and the tables every scan searches: the
/// dictionary patterns of the two automatons, the identifier types with
/// their entities, the fingerprint index and filter.
pub(super) struct CompiledEntities {
    pub(super) entities: Vec<Entity>,
    pub(super) insensitive_patterns: Vec<(String, Pattern)>,
    pub(super) sensitive_patterns: Vec<(String, Pattern)>,
    pub(super) identifiers: Vec<(Identifier, Vec<usize>)>,
    /// Keywords of the identifier types in use and of the entities.
    pub(super) keyword_owners: Vec<(usize, Vec<String>)>,
    /// The fingerprint entities, by index.
    pub(super) fingerprint_entities: Vec<usize>,
    pub(super) fingerprint_filter: Option<KgramFilter>,
}

/// Compiles entity definitions (names must be unique). Fingerprint sets
/// are moved out of them, not copied: 10,000 documents are megabytes.
pub(super) fn entities(definitions: &mut [EntityDefinition]) -> Result<CompiledEntities, Error> {
    let mut names = HashSet::new();
    for e in definitions.iter() {
        if !names.insert(e.name.as_str()) {
            return Err(Error::Duplicate {
                kind: "entity",
                name: e.name.clone(),
            });
        }
    }
    let mut entities = Vec::with_capacity(definitions.len());
    let mut insensitive_patterns: Vec<(String, Pattern)> = Vec::new();
    let mut sensitive_patterns: Vec<(String, Pattern)> = Vec::new();
    let mut identifiers: Vec<(Identifier, Vec<usize>)> = Vec::new();
    let mut keyword_owners: Vec<(usize, Vec<String>)> = Vec::new();
    let mut fingerprint_entities: Vec<usize> = Vec::new();
    let mut fingerprint_filter: Option<Vec<u64>> = None;
    // One document without a filter (a version 1 file) disables it.
    let mut filterable = true;
    for (i, def) in definitions.iter_mut().enumerate() {
        let identifier = matches!(def.kind, EntityKind::Identifier(_));
        let plain = def.keywords.is_empty() && def.exclude.is_empty();
        if !identifier && !plain {
            return Err(Error::Entity {
                entity: def.name.clone(),
                message: "keywords and exclude apply to built-in identifier types only".into(),
            });
        }
        let matcher = match &mut def.kind {
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
                let id = *id;
                match identifiers.iter_mut().find(|(x, _)| *x == id) {
                    Some((_, users)) => users.push(i),
                    None => {
                        identifiers.push((id, vec![i]));
                        keyword_owners.push((
                            type_owner(id),
                            id.keywords().iter().map(|k| k.to_string()).collect(),
                        ));
                    }
                }
                if !def.keywords.is_empty() {
                    keyword_owners.push((entity_owner(i), def.keywords.clone()));
                }
                Matcher::Identifier {
                    exclude: excluded_values(def, id)?,
                }
            }
            EntityKind::Regex {
                pattern,
                case_sensitive,
            } => {
                let re =
                    compile_regex(pattern, *case_sensitive).map_err(|message| Error::Regex {
                        entity: def.name.clone(),
                        message,
                    })?;
                Matcher::Regex(re, *case_sensitive)
            }
            EntityKind::Fingerprint {
                documents,
                similarity,
                min_passage_words,
            } => {
                fingerprint_entities.push(i);
                filterable &= documents
                    .documents
                    .iter()
                    .all(|d| d.hashes.is_empty() || !d.filter.is_empty());
                // The engine's filter holds every document's cheap hashes:
                // the documents' own copies are freed (a large library's
                // are tens of megabytes a proxy would carry for nothing).
                fingerprint_filter.get_or_insert_with(Vec::new).extend(
                    documents
                        .documents
                        .iter_mut()
                        .flat_map(|d| std::mem::take(&mut d.filter)),
                );
                let documents = std::mem::take(documents);
                Matcher::Fingerprint(
                    super::Postings::new(&documents),
                    documents,
                    *similarity,
                    *min_passage_words,
                )
            }
            EntityKind::Edm { index, settings } => {
                let (index, settings) = (index.clone(), settings.clone());
                Matcher::Edm(index.clone(), row_rule(def, &index, &settings)?)
            }
        };
        entities.push(Entity {
            name: def.name.clone(),
            matcher,
        });
    }

    Ok(CompiledEntities {
        entities,
        insensitive_patterns,
        sensitive_patterns,
        identifiers,
        keyword_owners,
        fingerprint_entities,
        fingerprint_filter: fingerprint_filter
            .filter(|_| filterable)
            .map(KgramFilter::new),
    })
}

/// An EDM entity's settings checked against its index: `min_columns`
/// within the index's columns, `primary` one of them.
fn row_rule(
    def: &EntityDefinition,
    index: &crate::EdmIndex,
    settings: &crate::EdmSettings,
) -> Result<RowRule, Error> {
    let bad = |message: String| Error::Entity {
        entity: def.name.clone(),
        message,
    };
    let columns = index.columns();
    if settings.min_columns == 0 || settings.min_columns as usize > columns.len() {
        return Err(bad(format!(
            "min_columns = {} but the index has {} columns ({})",
            settings.min_columns,
            columns.len(),
            columns.join(", ")
        )));
    }
    if !(1..=crate::edm::MAX_VALUE_ROWS).contains(&settings.max_value_rows) {
        return Err(bad(format!(
            "max_value_rows = {}; expected 1 to {}",
            settings.max_value_rows,
            crate::edm::MAX_VALUE_ROWS
        )));
    }
    let primary = match &settings.primary {
        None => None,
        Some(p) => Some(columns.iter().position(|c| c == p).ok_or_else(|| {
            bad(format!(
                "primary = {p:?} is not a column of the index ({})",
                columns.join(", ")
            ))
        })?),
    };
    Ok(RowRule {
        min_columns: settings.min_columns,
        primary,
        max_value_rows: settings.max_value_rows,
    })
}

/// The normalized values an identifier entity's `exclude` lists: each
/// must be one valid value of the type, as it would be found in text.
fn excluded_values(def: &EntityDefinition, id: Identifier) -> Result<HashSet<String>, Error> {
    def.exclude
        .iter()
        .map(|written| {
            id.normalize(written).ok_or_else(|| Error::Entity {
                entity: def.name.clone(),
                message: format!("exclude {written:?} is not one valid {} value", id.name()),
            })
        })
        .collect()
}

/// Compiles rule definitions over compiled `entities` (names unique,
/// entities known, thresholds valid or the default filled in).
pub(super) fn rules(
    definitions: &[RuleDefinition],
    entities: &[Entity],
) -> Result<Vec<Rule>, Error> {
    let entity_index: HashMap<&str, usize> = entities
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();
    let mut rule_names = HashSet::new();
    let mut rules = Vec::with_capacity(definitions.len());
    for def in definitions {
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
                low: Some(default_low(&rule_entities, entities)),
                ..Thresholds::default()
            },
        };
        let counts_identifiers = rule_entities
            .iter()
            .chain(&require)
            .any(|&e| matches!(entities[e].matcher, Matcher::Identifier { .. }));
        if def.min_confidence.is_some() && !counts_identifiers {
            return Err(Error::Confidence {
                rule: def.name.clone(),
            });
        }
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
            min_confidence: def.min_confidence.unwrap_or(Confidence::Medium),
        });
    }

    Ok(rules)
}

/// Compiles profile definitions over compiled `rules`.
pub(super) fn profiles(
    definitions: &[ProfileDefinition],
    rules: &[Rule],
) -> Result<Vec<(String, Vec<usize>)>, Error> {
    let mut profiles = Vec::new();
    let mut profile_names = HashSet::new();
    for p in definitions {
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

    Ok(profiles)
}

/// `ceil(n/2)` with `n` the distinct terms across the rule's dictionary
/// entities, or 1 for a rule without dictionaries (SPEC §4).
pub(super) fn default_low(rule_entities: &[usize], entities: &[Entity]) -> u64 {
    distinct_dictionary_terms(rule_entities, entities).map_or(1, |n| n.div_ceil(2).max(1))
}

/// The `n` of the default threshold: distinct terms across the
/// dictionary entities among `rule_entities`; `None` without dictionaries.
pub(super) fn distinct_dictionary_terms(
    rule_entities: &[usize],
    entities: &[Entity],
) -> Option<u64> {
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
