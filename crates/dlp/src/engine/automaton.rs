//! The dictionary automatons: every term of every dictionary entity in
//! (at most) two Aho-Corasick automatons, searched in parallel chunks on
//! long texts.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::windows::is_word_char;
use crate::Error;

/// A dictionary pattern in an automaton.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pattern {
    pub(super) entity: usize,
    pub(super) term: usize,
    /// No word boundary needed before / after (CJK, Thai, ... edges).
    pub(super) free_start: bool,
    pub(super) free_end: bool,
}

#[derive(Debug)]
pub(super) struct Automaton {
    pub(super) ac: AhoCorasick,
    pub(super) patterns: Vec<Pattern>,
    /// For each pattern: every pattern (itself included) whose text equals
    /// it or is a proper prefix of it. A leftmost-longest match stands for
    /// all matches starting at the same position.
    pub(super) same_start: Vec<Vec<u32>>,
    /// Byte length of each pattern.
    pub(super) lengths: Vec<usize>,
    /// The longest pattern's length.
    pub(super) max_len: usize,
}

/// Cores available, read once: `available_parallelism` reads cgroup files
/// on every call.
pub(super) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Texts at least this long are searched in parallel chunks: half a
/// window, so the windows of a huge text (a little under 4 MiB once
/// whitespace is collapsed) are.
pub(super) const PARALLEL_MIN_BYTES: usize = 2 << 20;

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
    pub(super) fn find_all(&self, haystack: &str, threads: usize) -> Vec<(usize, u32)> {
        if haystack.len() < PARALLEL_MIN_BYTES {
            return self.find_range(haystack, 0, haystack.len());
        }
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
    pub(super) fn find_range(&self, haystack: &str, from: usize, to: usize) -> Vec<(usize, u32)> {
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

/// Patterns up to which the term automaton is a DFA.
pub(super) const DFA_MAX_PATTERNS: usize = 5_000;

pub(super) fn build_automaton(
    patterns: Vec<(String, Pattern)>,
) -> Result<Option<Automaton>, Error> {
    build_automaton_of_kind(patterns, true)
}

/// [`build_automaton`], without the full DFA when `dfa` is false: an
/// automaton searched over short texts only (identifier keywords, around
/// matches) is not worth a DFA's build time at every start.
pub(super) fn build_automaton_of_kind(
    patterns: Vec<(String, Pattern)>,
    dfa: bool,
) -> Result<Option<Automaton>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    // A full DFA is the fastest search, but its memory grows with
    // patterns × alphabet: past a few thousand terms the contiguous NFA keeps
    // a 100,000-term engine small.
    let kind = if !dfa {
        Some(AhoCorasickKind::ContiguousNFA)
    } else if patterns.len() <= DFA_MAX_PATTERNS {
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
        let chunked = automaton.find_all(&text, 4);
        assert_eq!(one.len(), chunked.len());
        assert_eq!(one, chunked);
        assert_eq!(
            one.len() % 4,
            0,
            "account manager, manager, 顧客, manager per unit"
        );
    }
}
