//! Counting one rule's hits: unique, total and score, scope,
//! alternatives, `require` and proximity, and the evidence kept.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use super::search::Hit;
use super::{Engine, Match, Matcher, Rule, RuleResult, Segment, TableRow, MAX_EVIDENCE};
use crate::rule::CountMode;

/// What one rule has counted so far, fed hits in text order.
///
/// Invariant: hits arrive sorted by (segment, start, end), so a match
/// that two of the rule's entities found is the hit just counted.
pub(super) struct Tally {
    /// Every distinct value counted, with its highest weight.
    pub(super) values: HashMap<Arc<str>, u32>,
    /// Hits counted, per segment.
    pub(super) per_segment: Vec<u64>,
    /// Hits counted.
    pub(super) counted: u64,
    /// The last hit counted: (segment, span, value).
    pub(super) last: Option<(usize, Range<usize>, Arc<str>)>,
    /// The first [`MAX_EVIDENCE`] hits counted, with their order.
    pub(super) earliest: Vec<(u64, Hit)>,
    /// The first hit of each of the first [`MAX_EVIDENCE`] distinct values.
    pub(super) first_of_value: Vec<(u64, Hit)>,
    /// Whether each `require` entity was found in scope.
    pub(super) present: Vec<bool>,
    /// For a rule with `proximity`: the hits waiting for a required one
    /// near them.
    pub(super) near: Option<Near>,
}

/// Proximity, decided as hits arrive: a hit counts when a required hit of
/// its segment is within `limit` characters. It waits until every hit that
/// could be that near has been seen, so only the hits and required hits
/// within `limit` characters of the search's progress are held.
pub(super) struct Near {
    pub(super) limit: usize,
    /// The segment's required hits by start: (start, the largest end of
    /// this and every earlier one). Leading ones too far behind to matter
    /// are dropped, which the running largest end survives.
    pub(super) required: VecDeque<(usize, usize)>,
    /// Hits of the segment not decided yet, in text order. (Every hit is
    /// decided by the end of its segment, and the required hits cleared.)
    pub(super) waiting: VecDeque<Hit>,
    /// Per segment: the first required hit's start (for fingerprint
    /// documents, which stand at the segment's start).
    pub(super) first_required: Vec<Option<usize>>,
}

impl Near {
    /// Whether a required hit seen so far is within the limit of `h`: one
    /// starting before `h` ends (plus the limit) and ending after `h`
    /// starts (minus the limit).
    pub(super) fn near(&self, h: &Range<usize>) -> bool {
        let i = self
            .required
            .partition_point(|&(start, _)| start <= h.end.saturating_add(self.limit));
        i > 0 && self.required[i - 1].1.saturating_add(self.limit) >= h.start
    }
}

impl Tally {
    pub(super) fn new(rule: &Rule, segments: usize) -> Tally {
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
    pub(super) fn add(&mut self, rule: &Rule, hits: &[Hit], next: usize) {
        for h in counted_identifiers(rule, hits) {
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

    pub(super) fn count(&mut self, h: &Hit) {
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
    pub(super) fn finish(
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
            .map(|(_, h)| {
                let original = &segments[h.segment].text[h.span.clone()];
                let (text, row) = match (&h.row, &engine.entities[h.entity].matcher) {
                    (Some(found), Matcher::Edm(index, _)) => {
                        let cells: Vec<Range<usize>> = found
                            .cells
                            .iter()
                            .map(|c| c.start - h.span.start..c.end - h.span.start)
                            .collect();
                        let columns = index
                            .columns()
                            .iter()
                            .enumerate()
                            .filter(|(c, _)| found.columns & (1 << c) != 0)
                            .map(|(_, name)| name.clone())
                            .collect();
                        let row = TableRow {
                            row: found.row.into(),
                            columns,
                        };
                        (crate::mask_spans(original, &cells), Some(row))
                    }
                    _ => (original.to_owned(), None),
                };
                Match {
                    entity: engine.entities[h.entity].name.clone(),
                    segment: h.segment,
                    text,
                    span: h.span,
                    value: h.value.to_string(),
                    similarity: h.similarity,
                    passage_words: h.passage_words,
                    identifier: h.identifier,
                    row,
                }
            })
            .collect();
        result(count, matches)
    }
}

/// The hits a rule sees: identifier matches below its `min_confidence`
/// left out, and of the identifier matches of its counted entities on one
/// span only the one of highest confidence (the first of equals), so a
/// span several types read counts once, as its likeliest type (SPEC
/// §3.3). Hits are in text order, so one span's hits are together.
fn counted_identifiers<'h>(rule: &'h Rule, hits: &'h [Hit]) -> impl Iterator<Item = &'h Hit> + 'h {
    let confidence = |h: &Hit| h.identifier.map(|(_, c)| c);
    let counted_identifier = |h: &Hit| h.identifier.is_some() && rule.entities.contains(&h.entity);
    hits.iter()
        .enumerate()
        .filter(move |&(i, h)| {
            if confidence(h).is_some_and(|c| c < rule.min_confidence) {
                return false;
            }
            if !counted_identifier(h) {
                return true;
            }
            let same_span = |o: &Hit| o.segment == h.segment && o.span == h.span;
            let rivals = |o: &&Hit| {
                counted_identifier(o) && confidence(o).is_some_and(|c| c >= rule.min_confidence)
            };
            let before = hits[..i]
                .iter()
                .rev()
                .take_while(|o| same_span(o))
                .filter(rivals);
            let after = hits[i + 1..]
                .iter()
                .take_while(|o| same_span(o))
                .filter(rivals);
            let mine = confidence(h);
            !before.into_iter().any(|o| confidence(o) >= mine)
                && !after.into_iter().any(|o| confidence(o) > mine)
        })
        .map(|(_, h)| h)
}

/// Matches counted (`per_segment`), where for each multipart/alternative
/// group only the branch with the most matches counts.
pub(super) fn total_with_alternatives(per_segment: &[u64], segments: &[Segment]) -> u64 {
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
