//! One scan: each segment window by window, every matcher, hits placed
//! back in the original text and fed to the rules' tallies.

use std::ops::Range;
use std::sync::Arc;

use super::automaton::PARALLEL_MIN_BYTES;
use super::keywords::{entity_owner, type_owner};
use super::repeats::{RepeatedTexts, WindowFound};
use super::tally::Tally;
use super::windows::{char_count, char_positions, section_index, windows};
use super::{Engine, Matcher, Rule, ScanResult, Segment};
use crate::edm::{find_rows, kept, TextWord, Word};
use crate::fingerprint::{for_each_kgram_and_word, for_each_word, OnWord};
use crate::normalize::{lower_str, Normalized};
use crate::{Confidence, Identifier, IdentifierMatch};

/// The k-grams a message must share with a document before its passages
/// are looked for.
const PASSAGE_MIN_SHARED: usize = 4;

/// A match, before rules filter and count.
#[derive(Debug, Clone)]
pub(super) struct Hit {
    pub(super) entity: usize,
    pub(super) segment: usize,
    /// Byte range in the segment's original text (in the window's
    /// normalized text until the window's hits are placed).
    pub(super) span: Range<usize>,
    /// Character range in the segment's normalized text, for proximity
    /// (`0..0` when no rule measures it).
    pub(super) chars: Range<usize>,
    pub(super) value: Arc<str>,
    pub(super) weight: u32,
    pub(super) similarity: Option<u32>,
    /// For fingerprint matches: the longest passage's length in words.
    pub(super) passage_words: Option<u32>,
    /// For identifier matches: the type and the confidence (keywords
    /// counted).
    pub(super) identifier: Option<(Identifier, Confidence)>,
    /// For EDM matches: the row (boxed: rare, and hits are moved a lot).
    pub(super) row: Option<Box<RowFound>>,
}

/// A row of an EDM table found: its number, the columns found (bit `c`
/// for column `c`) and the cells' spans (like the hit's span: normalized
/// until placed, then original).
#[derive(Debug, Clone)]
pub(super) struct RowFound {
    pub(super) row: u32,
    pub(super) columns: u64,
    pub(super) cells: Vec<Range<usize>>,
}

impl Hit {
    /// A text match, its span still in the window's normalized text (see
    /// [`Engine::place`]).
    pub(super) fn found(
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
            passage_words: None,
            identifier: None,
            row: None,
        }
    }
}

/// A window being searched: its segment, its normalized text, where the
/// matches it owns end, and where it starts in the whole segment's
/// normalized text.
pub(super) struct Searched<'a> {
    pub(super) segment: usize,
    pub(super) norm: &'a Normalized,
    /// Matches starting at or after this byte of `norm.text` belong to
    /// the next window.
    pub(super) owned: usize,
    /// Bytes of the segment's normalized text before the window.
    pub(super) at_byte: usize,
}

/// Where each search goes on in the next window of a segment.
pub(super) struct Resume {
    /// Per identifier search (index in `Engine::searches`).
    pub(super) identifiers: Vec<usize>,
    /// Per entity (only regex entities use theirs).
    pub(super) regexes: Vec<usize>,
    /// Per EDM entity and row: the last occurrence of the row's cells a
    /// reported row took ([`RowTaken`]), so that the next window, which
    /// reads the same text past the cut, does not make that row again of
    /// cells it took.
    pub(super) rows: std::collections::HashMap<(usize, u32), RowTaken>,
}

/// Where an occurrence of a row's cell is in a segment, in the order rows
/// are assembled in: its start and end in the segment's normalized text
/// (longer first) and its column.
pub(super) type RowTaken = (usize, std::cmp::Reverse<usize>, usize);

impl Engine {
    /// Scans `segments`, each a window of at most `window_bytes` at a
    /// time. With `reuse`, a segment whose text repeats an earlier one's
    /// takes that one's matches rather than being searched again
    /// ([`RepeatedTexts`]); tests turn it off to compare.
    pub(super) fn scan_in_windows(
        &self,
        segments: &[Segment],
        window_bytes: usize,
        reuse: bool,
    ) -> ScanResult {
        let mut tallies: Vec<Tally> = self
            .rules
            .iter()
            .map(|rule| Tally::new(rule, segments.len()))
            .collect();
        // Per segment: the k-grams some document has, with where they
        // start (the index of their first word in the segment).
        let mut kgrams: Vec<Vec<(u32, u64)>> = Vec::new();
        let mut cells: Vec<(usize, Range<usize>)> = Vec::new();
        // Where each identifier type's and each regex entity's search goes
        // on, in normalized bytes of the whole segment: a match that runs
        // past a window's cut is not searched into again.
        let mut resume = Resume {
            identifiers: vec![0; self.searches.len()],
            regexes: vec![0; self.entities.len()],
            rows: std::collections::HashMap::new(),
        };
        let mut repeats = RepeatedTexts::new(reuse, self.edges_free);
        for (si, segment) in segments.iter().enumerate() {
            let section = section_index(segment.section);
            let mut found_kgrams = Vec::new();
            resume.identifiers.fill(0);
            resume.regexes.fill(0);
            resume.rows.clear();
            // The normalized position of the window's start in the whole
            // segment's normalized text: bytes, characters.
            let (mut at_byte, mut at_char) = (0, 0);
            // Words of the segment before the window (those each earlier
            // window owned), so k-grams have one place in the segment.
            let mut at_word = 0usize;
            for w in windows(segment.text, window_bytes, self.overlap) {
                let original = &segment.text[w.start..w.end];
                let norm = Normalized::new(original);
                let last_window = w.cut == w.end;
                let owned = if last_window {
                    norm.text.len()
                } else {
                    norm.text_position_of_original(w.cut - w.start)
                };
                let at = Searched {
                    segment: si,
                    norm: &norm,
                    owned,
                    at_byte,
                };
                // Only a segment searched in one window is compared with
                // earlier ones: its search has no state from a window
                // before.
                let whole = w.start == 0 && last_window;
                let found = match repeats.find(whole, &norm.text, si) {
                    Some(found) => found,
                    None => {
                        let found = self.search_window(&at, &mut resume, last_window);
                        if whole && si + 1 < segments.len() {
                            repeats.remember(&norm.text, &found);
                        }
                        found
                    }
                };
                let mut hits = found.hits;
                found_kgrams.extend(
                    found
                        .kgrams
                        .into_iter()
                        .map(|(word, h)| ((at_word + word as usize) as u32, h)),
                );
                cells.extend(found.cells.into_iter().map(|c| {
                    let span = norm.original_span(original, c);
                    (si, w.start + span.start..w.start + span.end)
                }));
                at_word += found.owned_words;
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
            // By place: a k-gram of the overlap was found by two windows.
            found_kgrams.sort_unstable();
            found_kgrams.dedup();
            kgrams.push(found_kgrams);
        }
        let rules = self.finish_rules(segments, tallies, &kgrams);
        ScanResult { rules, cells }
    }

    /// Each rule's result: its tally with the fingerprint matches of the
    /// segments' k-grams in its scope.
    fn finish_rules(
        &self,
        segments: &[Segment],
        tallies: Vec<Tally>,
        kgrams: &[Vec<(u32, u64)>],
    ) -> Vec<super::RuleResult> {
        self.rules
            .iter()
            .zip(tallies)
            .map(|(rule, tally)| {
                let in_scope = |si: usize| rule.scope[section_index(segments[si].section)];
                let fingerprints = self.fingerprint_hits(rule, kgrams, &in_scope);
                tally.finish(self, rule, segments, fingerprints)
            })
            .collect()
    }

    /// Every matcher over one window: what it finds, not yet placed in
    /// the original text.
    fn search_window(&self, at: &Searched, resume: &mut Resume, last_window: bool) -> WindowFound {
        let norm = at.norm;
        let mut hits = Vec::new();
        if norm.text.len() >= PARALLEL_MIN_BYTES && self.threads > 1 {
            // A long window: the dictionary search on a thread of its own
            // meanwhile, so the cores stay busy while either part waits
            // for its slowest chunk or search.
            let mut dictionary = Vec::new();
            std::thread::scope(|scope| {
                scope.spawn(|| self.dictionary_hits(at, &mut dictionary));
                self.identifier_hits(at, resume, &mut hits);
                self.regex_hits(at, resume, &mut hits);
            });
            // Dictionary hits first, as a sequential search puts them.
            dictionary.append(&mut hits);
            hits = dictionary;
        } else {
            self.dictionary_hits(at, &mut hits);
            self.identifier_hits(at, resume, &mut hits);
            self.regex_hits(at, resume, &mut hits);
        }
        // The words of the window, for exact data match: split once, with
        // the fingerprints' k-grams when there are both.
        let lower = norm.lower();
        let mut add_word = WindowWords {
            base: lower.as_ptr() as usize,
            norm,
            owned: (!last_window).then_some(at.owned),
            owned_words: 0,
            words: (self.edm_tables > 0)
                .then(|| kept::words(lower.len()))
                .flatten(),
        };
        let mut kgrams = Vec::new();
        if !self.fingerprint_entities.is_empty() {
            // Only the k-grams some document has are kept. A k-gram
            // starting in the overlap is found again by the next window,
            // at the same place: the segment's list drops duplicates.
            let filter = self.fingerprint_filter.as_ref();
            let kgram = |h, _, word: usize| {
                if self.some_document_has(h) {
                    kgrams.push((word as u32, h));
                }
            };
            if self.edm_tables == 0 && last_window {
                // Nothing to do with each word: a closure that does
                // nothing is inlined away (as a call per word, add_word
                // was a tenth of the scan's instructions).
                for_each_kgram_and_word(lower, filter, kgram, |_: &[u8], _| {});
            } else if let (true, Some(words)) = (last_window, add_word.words.as_mut()) {
                // The last window (most messages' only one) owns every
                // word: the word step only lists it.
                let mut list = ListWords {
                    base: add_word.base,
                    words,
                };
                for_each_kgram_and_word(lower, filter, kgram, &mut list);
            } else {
                for_each_kgram_and_word(lower, filter, kgram, &mut add_word);
            }
        } else if self.edm_tables > 0 {
            for_each_word(lower, &mut add_word);
        }
        let mut cells = Vec::new();
        if let Some(words) = add_word.words {
            self.edm_hits(at, &words, &mut resume.rows, &mut hits, &mut cells);
            kept::give_back_words(words);
        }
        WindowFound {
            hits,
            kgrams,
            cells,
            owned_words: add_word.owned_words,
        }
    }

    /// Rows of EDM tables the window owns, and every cell it owns (for
    /// masking), in the window's normalized text. `taken` has what the
    /// rows of the segment's earlier windows took, and gets this window's.
    pub(super) fn edm_hits(
        &self,
        at: &Searched,
        words: &[TextWord],
        taken: &mut std::collections::HashMap<(usize, u32), RowTaken>,
        hits: &mut Vec<Hit>,
        cells: &mut Vec<Range<usize>>,
    ) {
        let norm = at.norm;
        let to_text = |r: &Range<usize>| {
            norm.text_position_of_lower(r.start)..norm.text_position_of_lower(r.end)
        };
        // An occurrence's place in the segment, to compare with what
        // earlier windows took.
        let in_segment = |span: &Range<usize>, column: usize| -> RowTaken {
            let span = to_text(span);
            (
                at.at_byte + span.start,
                std::cmp::Reverse(at.at_byte + span.end),
                column,
            )
        };
        for (entity, e) in self.entities.iter().enumerate() {
            let Matcher::Edm(index, rule) = &e.matcher else {
                continue;
            };
            let was_taken = |row: u32, span: &Range<usize>, column: usize| {
                taken
                    .get(&(entity, row))
                    .is_some_and(|&last| in_segment(span, column) <= last)
            };
            let (found, rows) = find_rows(index, norm.lower(), words, *rule, &was_taken);
            cells.extend(
                found
                    .iter()
                    .map(|c| to_text(&c.span))
                    .filter(|s| s.start < at.owned),
            );
            for r in rows {
                let span = to_text(&r.span);
                if span.start >= at.owned {
                    continue;
                }
                taken.insert((entity, r.row), in_segment(&r.last.0, r.last.1));
                let value: Arc<str> = Arc::from(format!("row {}", r.row));
                let mut hit = Hit::found(entity, at, span, value, 1);
                hit.row = Some(Box::new(RowFound {
                    row: r.row,
                    columns: r.columns,
                    cells: r.cells.iter().map(to_text).collect(),
                }));
                hits.push(hit);
            }
        }
    }

    /// All dictionary matches the window owns, overlapping ones included
    /// (see [`Automaton::find_all`]).
    pub(super) fn dictionary_hits(&self, at: &Searched, hits: &mut Vec<Hit>) {
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
            for (start, id) in automaton.find_all(haystack, self.threads) {
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

    /// Identifiers whose pattern match the window owns, each search
    /// going on from where it stopped in the previous window; each match's
    /// confidence raised by a keyword near it, per entity.
    pub(super) fn identifier_hits(&self, at: &Searched, resume: &mut Resume, hits: &mut Vec<Hit>) {
        let text = at.norm.text.as_str();
        // Where the text's numbers are, found once for every search that
        // reads them.
        let digits = crate::identifier::Digits::new(text.as_bytes());
        let search = |i: usize| {
            self.searches[i].find_within_digits(
                text,
                &digits,
                resume.identifiers[i].saturating_sub(at.at_byte),
                at.owned,
            )
        };
        // Each search is an independent pass over the text: on a large
        // text they run on all cores.
        let results: Vec<(Vec<IdentifierMatch>, usize)> =
            if text.len() >= PARALLEL_MIN_BYTES && self.searches.len() > 1 && self.threads > 1 {
                std::thread::scope(|scope| {
                    let workers: Vec<_> = (0..self.searches.len())
                        .map(|i| scope.spawn(move || search(i)))
                        .collect();
                    workers
                        .into_iter()
                        .map(|w| w.join().expect("identifier thread panicked"))
                        .collect()
                })
            } else {
                (0..self.searches.len()).map(search).collect()
            };
        // Keywords are looked for only around the matches that could use
        // one.
        let judged: Vec<std::ops::Range<usize>> = results
            .iter()
            .flat_map(|(matches, _)| matches)
            .filter(|m| m.confidence < Confidence::High)
            .map(|m| m.span.clone())
            .collect();
        let keywords = match &self.keywords {
            Some(k) if !judged.is_empty() => Some(k.find_near(text, &judged)),
            _ => None,
        };
        for (i, (matches, next)) in results.into_iter().enumerate() {
            resume.identifiers[i] = at.at_byte + next;
            for m in matches {
                let value: Arc<str> = Arc::from(m.value.as_str());
                for &entity in &self.identifier_users[m.identifier as usize] {
                    let Matcher::Identifier { exclude } = &self.entities[entity].matcher else {
                        unreachable!("identifier entity")
                    };
                    if exclude.contains(&m.value) {
                        continue;
                    }
                    let near = |found: &super::keywords::Found| {
                        found.near(type_owner(m.identifier), &m.span, text)
                            || found.near(entity_owner(entity), &m.span, text)
                    };
                    let confidence = match &keywords {
                        Some(found) if m.confidence < Confidence::High && near(found) => {
                            Confidence::High
                        }
                        _ => m.confidence,
                    };
                    let mut hit = Hit::found(entity, at, m.span.clone(), value.clone(), 1);
                    hit.identifier = Some((m.identifier, confidence));
                    hits.push(hit);
                }
            }
        }
    }

    /// Matches of regex entities the window owns (empty ones are not
    /// matches), each searched from where the previous window stopped.
    pub(super) fn regex_hits(&self, at: &Searched, resume: &mut Resume, hits: &mut Vec<Hit>) {
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
    pub(super) fn place(
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
        let placed = |span: &Range<usize>| {
            let s = norm.original_span(original, span.clone());
            window_start + s.start..window_start + s.end
        };
        for h in hits.iter_mut() {
            h.span = placed(&h.span);
            if let Some(row) = &mut h.row {
                for c in &mut row.cells {
                    *c = placed(c);
                }
            }
        }
        hits.sort_by_key(|h| (h.span.start, h.span.end));
    }

    /// Whether a document of some fingerprint entity has the k-gram of
    /// hash `h`. Asked of the entities' postings, which the message's
    /// matches are then looked up in again: a separate list of every hash
    /// was a second cache miss for each, and tens of megabytes.
    fn some_document_has(&self, h: u64) -> bool {
        self.fingerprint_entities.iter().any(|&e| {
            matches!(&self.entities[e].matcher, Matcher::Fingerprint(postings, ..) if postings.contains(h))
        })
    }

    /// Documents of the rule's fingerprint entities similar enough to the
    /// rule's in-scope text, or with a passage in one of its in-scope
    /// segments; each is attributed to the segment of its longest passage,
    /// else to the segment holding most of its hashes.
    pub(super) fn fingerprint_hits(
        &self,
        rule: &Rule,
        kgrams: &[Vec<(u32, u64)>],
        in_scope: &dyn Fn(usize) -> bool,
    ) -> Vec<Hit> {
        let mut out = Vec::new();
        for &entity in &rule.entities {
            let Matcher::Fingerprint(postings, set, threshold, min_passage) =
                &self.entities[entity].matcher
            else {
                continue;
            };
            let mut message: Vec<u64> = kgrams
                .iter()
                .enumerate()
                .filter(|(si, _)| in_scope(*si))
                .flat_map(|(_, h)| h.iter().map(|&(_, hash)| hash))
                .collect();
            message.sort_unstable();
            message.dedup();
            // The documents sharing a hash with the message, and how many.
            let mut shared: std::collections::BTreeMap<usize, usize> = Default::default();
            for &h in &message {
                for d in postings.documents(h) {
                    *shared.entry(d).or_default() += 1;
                }
            }
            for (&d, &count) in &shared {
                let similarity = postings.share(d, count);
                let similar = similarity >= *threshold && similarity > 0;
                // A passage needs a few of the document's k-grams: the
                // document itself is read only when it may have one.
                if !similar && count < PASSAGE_MIN_SHARED {
                    continue;
                }
                let doc = &set.documents[d];
                let passage = kgrams
                    .iter()
                    .enumerate()
                    .filter(|(si, _)| in_scope(*si) && count >= PASSAGE_MIN_SHARED)
                    .filter_map(|(si, grams)| {
                        doc.longest_passage(grams, *min_passage)
                            .map(|(_, words)| (si, words))
                    })
                    .max_by_key(|&(_, words)| words);
                if !similar && passage.is_none() {
                    continue;
                }
                let best = passage.map(|(si, _)| si).unwrap_or_else(|| {
                    kgrams
                        .iter()
                        .enumerate()
                        .filter(|(si, _)| in_scope(*si))
                        .max_by_key(|(_, hs)| {
                            hs.iter()
                                .filter(|(_, h)| doc.hashes.binary_search(h).is_ok())
                                .count()
                        })
                        .map_or(0, |(si, _)| si)
                });
                out.push(Hit {
                    entity,
                    segment: best,
                    span: 0..0,
                    chars: 0..0,
                    value: Arc::from(doc.name.as_str()),
                    weight: 1,
                    similarity: Some(similarity),
                    passage_words: passage.map(|(_, words)| words),
                    identifier: None,
                    row: None,
                });
            }
        }
        out
    }
}

/// What a window's word split does with each word when it is not the
/// segment's last window or exact data match needs the words: counts the
/// words the window owns, and lists every word with its cheap hash. A
/// struct whose step is inlined into the split: as a closure it was a call
/// per word, and most of what exact data match added to the word loop.
struct WindowWords<'n> {
    /// Where the window's lowercased text starts in memory.
    base: usize,
    norm: &'n Normalized,
    /// Where the part of the text this window owns ends, in its normalized
    /// text (none for the last window, which owns the rest).
    owned: Option<usize>,
    /// Words starting in the part the window owns.
    owned_words: usize,
    /// Exact data match's word list, when some table needs it.
    words: Option<Vec<TextWord>>,
}

/// [`WindowWords`] for the last window, whose words are all its own: it
/// only lists them for exact data match.
struct ListWords<'l> {
    base: usize,
    words: &'l mut Vec<TextWord>,
}

impl<'a> OnWord<'a> for &mut ListWords<'_> {
    #[inline(always)]
    fn on_word(&mut self, w: &'a [u8], cheap: u64) {
        let start = w.as_ptr() as usize - self.base;
        self.words
            .push((Word::in_listed_text(start, start + w.len()), cheap));
    }
}

impl<'a> OnWord<'a> for &mut WindowWords<'_> {
    #[inline(always)]
    fn on_word(&mut self, w: &'a [u8], cheap: u64) {
        let start = w.as_ptr() as usize - self.base;
        if let Some(owned) = self.owned {
            if self.norm.text_position_of_lower(start) < owned {
                self.owned_words += 1;
            }
        }
        if let Some(words) = &mut self.words {
            words.push((Word::in_listed_text(start, start + w.len()), cheap));
        }
    }
}
