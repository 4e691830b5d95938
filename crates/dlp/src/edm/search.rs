//! Finding a table's rows in a text: cells first, then rows of them.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::words::{kept, needed_words, NeededWord, TextWord, Word};
use super::{is_digit_separator, EdmIndex, Keys, MAX_CELL_WORDS};
use crate::fingerprint::{cheap_word_hash, for_each_word};
use crate::huge_pages::AtomicSlots;

/// How close the cells of one row must be: all within this many
/// characters (SPEC §3.6).
pub(crate) const ROW_WINDOW_CHARS: usize = 300;
/// Digit groups joined into one digit form at most (a card written in
/// fours is four, a phone number up to five).
const MAX_DIGIT_GROUPS: usize = 8;
/// Candidate cells one window of text may yield: a text of nothing but
/// table values must not grow a list without end, yet a 4 MiB window of
/// an exported table (about 8 bytes a cell) holds some 500,000 cells, all
/// of which should be found.
const MAX_CELLS: usize = 600_000;

/// A text's span (bytes of the lowercased text searched) that is a cell
/// of the table: the entries holding it.
#[derive(Debug, Clone)]
pub(crate) struct CellHit {
    pub(crate) span: Range<usize>,
    pub(crate) entries: Range<usize>,
}

/// A row of the table found: enough of its columns close together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowHit {
    /// From 1.
    pub(crate) row: u32,
    /// Bit `c` for column `c` found.
    pub(crate) columns: u64,
    /// From the first cell's start to the last one's end.
    pub(crate) span: Range<usize>,
    /// The cells that made it, in text order.
    pub(crate) cells: Vec<Range<usize>>,
    /// The last of the row's cell occurrences it took, in the order rows
    /// are assembled in (by start, longer first, by column): its span and
    /// column. A text searched window by window passes it on, so that
    /// the next window does not make the row again of cells this row
    /// took ([`find_rows`]'s `taken`).
    pub(crate) last: (Range<usize>, usize),
}

/// What a row needs, from the entity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowRule {
    pub(crate) min_columns: u32,
    pub(crate) primary: Option<usize>,
    pub(crate) max_value_rows: u64,
}

/// The cells of `lower` (normalized, lowercased text) and the rows they
/// make. Cells are every span whose form is in the index, however many
/// rows hold it (they are masked in evidence); rows only count values in
/// at most `rule.max_value_rows` rows.
///
/// `words` are `lower`'s words, as the engine split them. `taken` says
/// which occurrences of a row's cells (its row, span and column) a row
/// found in an earlier window of the text took already: they make no row
/// again.
pub(crate) fn find_rows(
    index: &EdmIndex,
    lower: &str,
    words: &[TextWord],
    rule: RowRule,
    taken: &dyn Fn(u32, &Range<usize>, usize) -> bool,
) -> (Vec<CellHit>, Vec<RowHit>) {
    let mut needed = kept::needed();
    let count = needed_words(index.verdicts().slots(), lower, words, &mut needed);
    let cells = find_cells(index, lower, &mut needed[..count]);
    kept::give_back_needed(needed);
    let rows = assemble_rows(index, lower, &cells, rule, taken);
    (cells, rows)
}

/// Word verdicts remembered: 1 MiB, half a core's L2 cache, for mail
/// whose vocabulary is tens of thousands of words (the scan benchmark's
/// is 64,000) and more. A verdict not remembered costs a cache miss into
/// the word filter, and for a word some cell has another into the form
/// filter; 64 KiB missed a quarter of the words, and with one table for
/// all threads 1 MiB scans faster than 256 KiB or 512 KiB (2 and 4 MiB
/// no faster; `docs/performance.md`).
const VERDICTS: usize = 1 << 18;

/// The slots of [`Verdicts`].
pub(crate) type VerdictSlots = [AtomicU32; VERDICTS];

/// Recent words' filter verdicts, one table per loaded index shared by
/// every scanning thread. A message's words are mostly the same few
/// thousand, and the filters of a large table are megabytes of random
/// probes: without the verdicts, the probes' cache misses were most of
/// the cost of EDM on ordinary mail. Shared rather than per thread, each
/// word's first probe is paid once by the process, not once by each
/// thread (most of the verdicts not found are a thread's first sight of
/// a word: `docs/performance.md`).
///
/// A slot (chosen by the top 18 bits of the word's cheap hash) holds the
/// hash's low 32 bits with bit 2 set and the lowest two replaced by the
/// verdict's [`VERDICT_BITS`]; two words alike in those 18 + 29 bits
/// would share a verdict, one chance in 2^47 per pair. Bit 2 keeps every tag
/// apart from an empty slot (0). A slot is one atomic word, written
/// whole: a thread reads either the old verdict or the new one, each
/// with its own tag, so a race costs at most a probe again.
pub(crate) struct Verdicts(AtomicSlots);

impl Verdicts {
    pub(crate) fn new() -> Verdicts {
        Verdicts(AtomicSlots::zeroed(VERDICTS))
    }

    /// The slots, as an array: a slot chosen by a hash's top bits
    /// needs no bounds check.
    pub(crate) fn slots(&self) -> &VerdictSlots {
        self.0.get().try_into().expect("VERDICTS slots")
    }
}

/// Words whose filter probes are issued together: the probes that miss
/// the cache then wait for memory side by side rather than one by one.
/// (64 rather than 32: more probes in flight, the first of them started
/// longer before it is read; `docs/performance.md`.)
const BATCH: usize = 64;

fn find_cells(index: &EdmIndex, lower: &str, words: &mut [NeededWord]) -> Vec<CellHit> {
    let mut candidates = Vec::new();
    judge_words(index, index.verdicts().slots(), words, &mut candidates);
    follow_sequences(index, lower, words, candidates)
}

/// The slot of a word's remembered verdict: the top bits of its cheap
/// hash.
#[inline(always)]
pub(super) fn verdict_slot(cheap: u64) -> usize {
    (cheap >> (64 - VERDICTS.trailing_zeros())) as usize
}

/// A remembered verdict's bits: some cell has the word (the word
/// filter), and the word alone may be a cell (the form filter). The rest
/// of the slot is the word's tag ([`verdict_tag`]).
const IN_A_CELL: u32 = 1;
const ALONE: u32 = 2;
const VERDICT_BITS: u32 = IN_A_CELL | ALONE;

/// The part of a slot that tells whose verdict it holds: never 0, the
/// value of a slot not written yet.
#[inline(always)]
fn verdict_tag(cheap: u64) -> u32 {
    (cheap as u32 | 4) & !VERDICT_BITS
}

/// Whether the search may need the word of cheap hash `cheap`, by its
/// verdict remembered in `verdicts` (an index's [`Verdicts`]): unless it
/// is remembered as no cell's word.
#[inline(always)]
pub(crate) fn may_need_word(verdicts: &VerdictSlots, cheap: u64) -> bool {
    let verdict = verdicts[verdict_slot(cheap)].load(Relaxed);
    verdict & !VERDICT_BITS != verdict_tag(cheap) || verdict & IN_A_CELL != 0
}

/// Replaces each word's cheap hash by its key when some cell may have
/// the word, else by 0 (never a key), and adds to `candidates` each word
/// that may be a cell by itself. Both answers are remembered: most words
/// of a table are never a cell alone (a first name, a surname, an
/// e-mail's domain), and asking the form filter about each again cost a
/// cache miss a word.
fn judge_words(
    index: &EdmIndex,
    verdicts: &VerdictSlots,
    words: &mut [NeededWord],
    candidates: &mut Vec<Range<usize>>,
) {
    let keys = index.keys();
    // The words of a batch not remembered: their slot and verdict tag.
    let mut pending = [(0usize, 0u32); BATCH];
    for start in (0..words.len()).step_by(BATCH) {
        let batch_end = (start + BATCH).min(words.len());
        // Remembered words are settled at once; the others get their key
        // and a probe started, all before any probe is read.
        let mut unknown = 0u64;
        for at in start..batch_end {
            // The verdict of the word a batch ahead, fetched meanwhile:
            // 1 MiB of verdicts shares the caches with the mail and
            // the filters, and a verdict read was the loop's longest wait.
            if let Some(&NeededWord { key: ahead, .. }) = words.get(at + BATCH) {
                super::prefetch(&verdicts[verdict_slot(ahead)]);
            }
            let i = at - start;
            let NeededWord {
                word, key: cheap, ..
            } = &mut words[at];
            let slot = verdict_slot(*cheap);
            let tag = verdict_tag(*cheap);
            let verdict = verdicts[slot].load(Relaxed);
            if verdict & !VERDICT_BITS == tag {
                // The key, or 0 when no cell has the word, without a
                // branch: one word in seven has a key, at random, and the
                // branch was mispredicted often enough to cost more than
                // the key's few multiplications.
                *cheap = keys.word(*cheap) & u64::from(verdict & IN_A_CELL).wrapping_neg();
                if verdict & ALONE != 0 && candidates.len() < MAX_CELLS {
                    candidates.push(word.range());
                }
            } else {
                let key = keys.word(*cheap);
                // Both probes the word may need start now: the form
                // filter's is only read for a word some cell has, but
                // started after the word filter's answer it was a second
                // cache miss in a row.
                index.prefetch_word(key);
                index.prefetch_form(Keys::fold(keys.start(), key));
                pending[i] = (slot, tag);
                unknown |= 1 << i;
                *cheap = key;
            }
        }
        while unknown != 0 {
            let i = unknown.trailing_zeros() as usize;
            unknown &= unknown - 1;
            let NeededWord { word, key, .. } = &mut words[start + i];
            let mut verdict = 0;
            if index.may_have_word(*key) {
                verdict |= IN_A_CELL;
                if index.may_hold(Keys::fold(keys.start(), *key)) {
                    verdict |= ALONE;
                    if candidates.len() < MAX_CELLS {
                        candidates.push(word.range());
                    }
                }
            } else {
                *key = 0;
            }
            let (slot, tag) = pending[i];
            verdicts[slot].store(tag | verdict, Relaxed);
        }
    }
}

/// The spans worth an HMAC: word sequences up to the table's longest
/// cell whose words some cell has and whose form may be in the index,
/// and digit groups run together; then the cells among them.
fn follow_sequences(
    index: &EdmIndex,
    lower: &str,
    found: &[NeededWord],
    mut candidates: Vec<Range<usize>>,
) -> Vec<CellHit> {
    let keys = index.keys();
    let longest = index.max_words().clamp(1, MAX_CELL_WORDS);
    // The sequences still open: they started at one of the last `longest`
    // words and every word since is some cell's. Ring slots by word count.
    let mut sequences = [0u64; SEQUENCE_RING];
    let mut words = [Word::default(); SEQUENCE_RING];
    let mut open = 0usize;
    let mut seen = 0usize;
    // The digit groups just before, joined by separators only.
    let mut groups: [Word; MAX_DIGIT_GROUPS] = [Word::default(); MAX_DIGIT_GROUPS];
    let mut group_count = 0usize;
    // Each open sequence's filter hash, with its span.
    let mut probes: Vec<(u64, Range<usize>)> = Vec::new();
    let bytes = lower.as_bytes();
    for &NeededWord {
        word,
        key,
        after_gap,
    } in found
    {
        // Words left out of the list were no cell's: like a word of key 0
        // that is not digits, they ended every sequence and digit group.
        if after_gap {
            open = 0;
            group_count = 0;
        }
        // Digit groups: a run of digit-only words with short separator-only
        // gaps between them is also tried as its digits alone.
        // Most words start with a letter: one byte settles them.
        let digits = bytes[word.start()].is_ascii_digit()
            && bytes[word.range()].iter().all(u8::is_ascii_digit);
        if digits {
            let joined = group_count > 0 && {
                let gap = &bytes[groups[group_count - 1].end()..word.start()];
                gap.len() <= 3 && gap.iter().all(|&b| is_digit_separator(b))
            };
            if !joined {
                group_count = 0;
            }
            if group_count == MAX_DIGIT_GROUPS {
                groups.copy_within(1.., 0);
                group_count -= 1;
            }
            groups[group_count] = word;
            group_count += 1;
            if group_count > 1 {
                digit_candidates(index, bytes, &groups[..group_count], &mut candidates);
            }
        } else {
            group_count = 0;
        }
        if key == 0 {
            open = 0;
            continue;
        }
        let slot = seen % SEQUENCE_RING;
        seen += 1;
        sequences[slot] = keys.start();
        words[slot] = word;
        open = (open + 1).min(longest);
        // The word alone was judged with its verdict (judge_words).
        sequences[slot] = Keys::fold(sequences[slot], key);
        for back in 1..open {
            let s = (slot + SEQUENCE_RING - back) % SEQUENCE_RING;
            sequences[s] = Keys::fold(sequences[s], key);
            probes.push((sequences[s], words[s].start()..word.end()));
        }
        // A text of nothing but table words must not pile up probes.
        if probes.len() >= PROBES_HELD {
            probe_forms(index, &mut probes, &mut candidates);
        }
    }
    probe_forms(index, &mut probes, &mut candidates);
    let mut cells = Vec::new();
    let mut form = String::new();
    for span in candidates {
        form.clear();
        for_each_word(&lower[span.clone()], |w, _| {
            if !form.is_empty() {
                form.push(' ');
            }
            form.push_str(std::str::from_utf8(w).expect("words are cut at char boundaries"));
        });
        verify(index, &form, span, &mut cells);
    }
    cells.sort_by_key(|c| (c.span.start, c.span.end));
    cells.dedup_by(|a, b| a.span == b.span);
    cells
}

/// Slots of the ring of open sequences: at least a cell's most words, a
/// power of two so that `% SEQUENCE_RING` is a mask.
const SEQUENCE_RING: usize = MAX_CELL_WORDS.next_power_of_two();

/// Form filter probes held before they are made.
const PROBES_HELD: usize = 16 * BATCH;

/// Makes the held form filter probes, a batch at a time (see [`BATCH`]),
/// keeping the spans that pass as candidates.
fn probe_forms(
    index: &EdmIndex,
    probes: &mut Vec<(u64, Range<usize>)>,
    candidates: &mut Vec<Range<usize>>,
) {
    for batch in probes.chunks(BATCH) {
        for (sequence, _) in batch {
            index.prefetch_form(*sequence);
        }
        for (sequence, span) in batch {
            if index.may_hold(*sequence) && candidates.len() < MAX_CELLS {
                candidates.push(span.clone());
            }
        }
    }
    probes.clear();
}

/// The digit forms ending at the last of `groups` (two groups or more).
#[cold]
fn digit_candidates(
    index: &EdmIndex,
    bytes: &[u8],
    groups: &[Word],
    candidates: &mut Vec<Range<usize>>,
) {
    let keys = index.keys();
    let last = groups[groups.len() - 1];
    let mut digits: Vec<u8> = Vec::with_capacity(64);
    for first in (0..groups.len() - 1).rev() {
        digits.clear();
        for g in &groups[first..] {
            digits.extend_from_slice(&bytes[g.range()]);
        }
        let word = keys.word(cheap_word_hash(&digits));
        if index.may_have_word(word)
            && index.may_hold(Keys::fold(keys.start(), word))
            && candidates.len() < MAX_CELLS
        {
            candidates.push(groups[first].start()..last.end());
        }
    }
}

/// Looks `form` up (with its digits alone when the span is digit groups)
/// and records the span as a cell when the index has it.
#[cold]
fn verify(index: &EdmIndex, form: &str, span: Range<usize>, cells: &mut Vec<CellHit>) {
    let keys = index.keys();
    let mut entries = index.lookup(keys.hash(form.as_bytes()));
    if entries.is_empty()
        && form.contains(' ')
        && form.bytes().all(|b| b.is_ascii_digit() || b == b' ')
    {
        let digits: String = form.chars().filter(char::is_ascii_digit).collect();
        entries = index.lookup(keys.hash(digits.as_bytes()));
    }
    if !entries.is_empty() {
        cells.push(CellHit { span, entries });
    }
}

/// One cell of one row at one place.
#[derive(Debug, Clone)]
struct Occurrence {
    row: u32,
    column: usize,
    span: Range<usize>,
}

/// Rows with `rule.min_columns` distinct columns (with the primary one,
/// when set) whose cells lie within [`ROW_WINDOW_CHARS`] characters. Cells
/// of one row that overlap in the text count once (a full name and the
/// surname inside it are one mention), the longer one kept.
fn assemble_rows(
    index: &EdmIndex,
    lower: &str,
    cells: &[CellHit],
    rule: RowRule,
    taken: &dyn Fn(u32, &Range<usize>, usize) -> bool,
) -> Vec<RowHit> {
    let mut occurrences: Vec<Occurrence> = Vec::new();
    for cell in cells {
        if cell.entries.len() as u64 > rule.max_value_rows {
            continue;
        }
        for i in cell.entries.clone() {
            let (row, column) = index.entry(i);
            if taken(row, &cell.span, column) {
                continue;
            }
            occurrences.push(Occurrence {
                row,
                column,
                span: cell.span.clone(),
            });
        }
    }
    occurrences.sort_by(|a, b| {
        (a.row, a.span.start, std::cmp::Reverse(a.span.end), a.column).cmp(&(
            b.row,
            b.span.start,
            std::cmp::Reverse(b.span.end),
            b.column,
        ))
    });
    let ascii = lower.is_ascii();
    let chars = |r: Range<usize>| {
        if ascii {
            r.len()
        } else {
            lower[r].chars().count()
        }
    };
    let mut rows = Vec::new();
    for group in occurrences.chunk_by(|a, b| a.row == b.row) {
        let mut i = 0;
        while i < group.len() {
            let first = &group[i];
            let mut columns = 0u64;
            let mut cells: Vec<Range<usize>> = Vec::new();
            let mut j = i;
            while j < group.len()
                && chars(first.span.start..group[j].span.end.max(first.span.start))
                    <= ROW_WINDOW_CHARS
            {
                let o = &group[j];
                let overlaps = cells.last().is_some_and(|c| o.span.start < c.end);
                if !overlaps {
                    columns |= 1 << o.column;
                    cells.push(o.span.clone());
                }
                j += 1;
            }
            let enough = columns.count_ones() >= rule.min_columns
                && rule.primary.is_none_or(|p| columns & (1 << p) != 0);
            if enough {
                let last = &group[j - 1];
                rows.push(RowHit {
                    row: first.row,
                    columns,
                    span: first.span.start
                        ..cells.iter().map(|c| c.end).max().unwrap_or(first.span.end),
                    cells,
                    last: (last.span.clone(), last.column),
                });
                i = j;
            } else {
                i += 1;
            }
        }
    }
    rows.sort_by_key(|r| (r.span.start, r.span.end, r.row));
    rows
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::edm::build_from_csv;

    const SALT: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// The words of `lower`, as the engine gives them.
    pub(crate) fn words_of(lower: &str) -> Vec<TextWord> {
        let base = lower.as_ptr() as usize;
        let mut words = Vec::new();
        for_each_word(lower, |w: &[u8], cheap| {
            let start = w.as_ptr() as usize - base;
            words.push((Word::in_listed_text(start, start + w.len()), cheap));
        });
        words
    }

    pub(crate) fn index(table: &str) -> EdmIndex {
        let mut out = Vec::new();
        build_from_csv(table.as_bytes(), SALT, &[], 10, &mut out).unwrap();
        EdmIndex::from_bytes(out, SALT).unwrap()
    }

    fn rows(index: &EdmIndex, text: &str, min_columns: u32) -> Vec<(u32, u32)> {
        let lower = crate::normalize::Normalized::new(text).lower().to_owned();
        let rule = RowRule {
            min_columns,
            primary: None,
            max_value_rows: 10,
        };
        find_rows(index, &lower, &words_of(&lower), rule, &|_, _, _| false)
            .1
            .iter()
            .map(|r| (r.row, r.columns.count_ones()))
            .collect()
    }

    const TABLE: &str = "name,email,phone,account\n\
        Anne O'Brien,anne.obrien@example.org,+1 (555) 010-4477,ACC-77120934\n\
        Björn Müller,bjorn@example.de,030 1234 5678,ACC-99120001\n\
        Chen Wei,chen.wei@example.cn,555-010-9999,ACC-10000001\n";

    #[test]
    fn rows_are_found_in_any_spelling_and_lone_cells_are_not() {
        let idx = index(TABLE);
        assert_eq!(
            rows(&idx, "Call ANNE o'brien at 15550104477 today", 2),
            [(1, 2)]
        );
        assert_eq!(
            rows(
                &idx,
                "björn MÜLLER\n> phone: 030-1234-5678, acct acc 99120001",
                2
            ),
            [(2, 3)]
        );
        assert_eq!(rows(&idx, "Anne O'Brien wrote to us.", 2), []);
        // Cells of different rows make no row.
        assert_eq!(
            rows(&idx, "Anne O'Brien, 555-010-9999, ACC-99120001", 2),
            []
        );
        // Too far apart.
        let far = format!("Anne O'Brien {} ACC-77120934", "word ".repeat(70));
        assert_eq!(rows(&idx, &far, 2), []);
        assert_eq!(rows(&idx, "Chen Wei chen.wei@example.cn", 2), [(3, 2)]);
    }

    /// The cells (spans) and rows `find_rows` reports for `lower`.
    fn cells_and_rows(index: &EdmIndex, lower: &str) -> (Vec<Range<usize>>, Vec<RowHit>) {
        let rule = RowRule {
            min_columns: 2,
            primary: None,
            max_value_rows: 10,
        };
        let (cells, rows) = find_rows(index, lower, &words_of(lower), rule, &|_, _, _| false);
        (cells.into_iter().map(|c| c.span).collect(), rows)
    }

    #[test]
    fn remembered_verdicts_change_no_answer() {
        // "obrien" is a cell alone (the last column) and part of a longer
        // one; "anne" only part of one; "london" a cell of many rows.
        let idx = index("full,last,city\nAnne Marie Obrien,Obrien,London\nChen Wei,Wei,London\n");
        let texts = [
            "Dear Anne Marie Obrien, the the report for Mrs Obrien is late",
            "anne and marie went to london; call 555 0100 then the obrien file",
            "wei chen wei, Chen Wei of London, the the the end",
        ];
        for text in texts {
            let lower = crate::normalize::Normalized::new(text).lower().to_owned();
            // First seen: every verdict is worked out; then remembered.
            let first = cells_and_rows(&idx, &lower);
            let remembered = cells_and_rows(&idx, &lower);
            assert_eq!(first, remembered, "{text}");
        }
        let lower = "mrs obrien and anne";
        let (cells, _) = cells_and_rows(&idx, lower);
        assert_eq!(
            cells,
            vec![Range { start: 4, end: 10 }],
            "obrien alone is a cell, anne is not"
        );
    }

    #[test]
    fn no_word_takes_the_verdict_of_a_slot_never_written() {
        for cheap in [0, 1, 2, 3, 4, 0xFFFF_FFFF_0000_0000, u64::MAX] {
            let tag = verdict_tag(cheap);
            assert_ne!(tag, 0, "{cheap:#x}");
            assert_eq!(tag & VERDICT_BITS, 0, "{cheap:#x}");
        }
    }

    #[test]
    fn threads_sharing_the_verdicts_get_the_answers_of_one_thread() {
        let idx = index("full,last,city\nAnne Marie Obrien,Obrien,London\nChen Wei,Wei,London\n");
        let texts: Vec<String> = (0..40)
            .map(|i| {
                let text = format!(
                    "note {i}: Dear Anne Marie Obrien of London, word{i} and Chen Wei, \
                     Mrs Obrien, wei chen {} the end",
                    "filler ".repeat(i % 7)
                );
                crate::normalize::Normalized::new(&text).lower().to_owned()
            })
            .collect();
        let alone: Vec<_> = texts.iter().map(|t| cells_and_rows(&idx, t)).collect();
        let fresh = index("full,last,city\nAnne Marie Obrien,Obrien,London\nChen Wei,Wei,London\n");
        std::thread::scope(|scope| {
            let runs: Vec<_> = (0..4)
                .map(|k| {
                    let (fresh, texts) = (&fresh, &texts);
                    scope.spawn(move || {
                        // Each thread walks the texts from its own start,
                        // so that first sightings interleave.
                        let mut got = vec![None; texts.len()];
                        for n in 0..texts.len() {
                            let at = (n + k * 11) % texts.len();
                            got[at] = Some(cells_and_rows(fresh, &texts[at]));
                        }
                        got
                    })
                })
                .collect();
            for run in runs {
                let got: Vec<_> = run
                    .join()
                    .unwrap()
                    .into_iter()
                    .map(Option::unwrap)
                    .collect();
                assert_eq!(got, alone);
            }
        });
    }

    #[test]
    fn a_name_inside_a_longer_cell_of_the_same_row_is_one_mention() {
        let idx = index("full,last\nAnne Marie Obrien,Obrien\n");
        assert_eq!(rows(&idx, "Dear Anne Marie Obrien,", 2), []);
        assert_eq!(
            rows(&idx, "Dear Anne Marie Obrien, Mrs Obrien", 2),
            [(1, 2)]
        );
    }

    #[test]
    fn values_in_many_rows_do_not_count() {
        let mut table = String::from("name,city\n");
        for i in 0..20 {
            table.push_str(&format!("Person{i} Example,London\n"));
        }
        let idx = index(&table);
        assert_eq!(rows(&idx, "Person3 Example lives in London", 2), []);
    }
}
