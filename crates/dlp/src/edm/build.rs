//! Building an index from a table (`sluice-scan edm`).

use std::io::{Read, Write};

use super::{
    filter_bits, CellForms, EdmError, Keys, CHECK_LABEL, ENTRY, HEADER, MAGIC, MAX_COLUMNS,
    MAX_ROWS, VERSION,
};

/// What building an index found, for the administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdmReport {
    /// Data rows read.
    pub rows: u64,
    /// The indexed columns.
    pub columns: Vec<String>,
    /// Hashes stored (cells and digit forms).
    pub entries: u64,
    /// Size of the index file in bytes.
    pub bytes: u64,
    /// Per indexed column: cells skipped for having more than
    /// [`super::MAX_CELL_WORDS`] words.
    pub long_cells: Vec<(String, u64)>,
    /// Columns with values in more rows than `max_value_rows`.
    pub repeated: Vec<RepeatedColumn>,
}

/// A column some of whose values repeat across many rows (cities,
/// "Ltd"): those values never count toward a row's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedColumn {
    /// The column.
    pub column: String,
    /// How many of its distinct values are in more than `max_value_rows` rows.
    pub values: u64,
    /// The most rows one of them is in.
    pub most_rows: u64,
}

/// Collects a table's rows; [`EdmBuilder::write`] writes the index.
///
/// Hashing is the cost of a build (an HMAC per form), so
/// [`EdmBuilder::add_rows`] spreads a batch of rows over threads. Memory
/// is what bounds a large build (SPEC: 10 million rows in 2 GB): entries
/// are kept in 12 bytes, in 256 partitions by their hash's top byte that
/// grow a quarter at a time (never doubling one huge vector) and are
/// sorted one by one; the two filters are set as rows come, at their
/// largest size, and folded down to the size the table needs at the end
/// (a Bloom filter of `2^k` bits probed at `h & (2^k - 1)` halves by
/// OR-ing its halves). A small table keeps its filter hashes in lists
/// instead and never allocates the large filters.
pub struct EdmBuilder {
    keys: Keys,
    columns: Vec<String>,
    /// Entries (hash, row << 6 | column as 12 little-endian bytes), one
    /// per form, by the hash's top byte.
    partitions: Vec<Vec<[u8; ENTRY]>>,
    /// The filter hashes of the forms and the words' keys so far, until
    /// there are [`LISTED`] of them; then the filters at
    /// [`BUILD_FILTER_LOG2`] bits (forms, words).
    filters: Filters,
    rows: u64,
    max_words: usize,
    long_cells: Vec<u64>,
    threads: usize,
}

/// The filters' size while building a large table (128 MiB each; 2 MiB
/// in unit tests, which fold them in a debug build).
const BUILD_FILTER_LOG2: u32 = if cfg!(test) { 24 } else { 30 };
/// Filter hashes listed before the large filters are allocated.
const LISTED: usize = 1 << 22;

enum Filters {
    Listed { forms: Vec<u64>, words: Vec<u64> },
    Large { forms: Vec<u8>, words: Vec<u8> },
}

impl Filters {
    fn add(&mut self, keys: &Keys, forms: &[u64], words: &[u64]) {
        if let Filters::Listed { forms: f, words: w } = self {
            if f.len() + w.len() + forms.len() + words.len() <= LISTED {
                f.extend_from_slice(forms);
                w.extend_from_slice(words);
                return;
            }
            let (f, w) = (std::mem::take(f), std::mem::take(w));
            *self = Filters::Large {
                forms: vec![0; 1 << (BUILD_FILTER_LOG2 - 3)],
                words: vec![0; 1 << (BUILD_FILTER_LOG2 - 3)],
            };
            self.add(keys, &f, &w);
        }
        let Filters::Large { forms: f, words: w } = self else {
            unreachable!("switched above")
        };
        let mask = (1u64 << BUILD_FILTER_LOG2) - 1;
        for &s in forms {
            for bit in filter_bits(keys.probe(s), mask) {
                set_bit(f, bit);
            }
        }
        for &word in words {
            set_bit(w, word & mask);
        }
    }

    /// The two filters at their final sizes: forms for `n` entries, words
    /// for the distinct words; with their sizes (log2 of bits).
    fn finish(self, keys: &Keys, n: u64) -> ((Vec<u8>, u32), (Vec<u8>, u32)) {
        let forms_log2 = filter_size_log2(n);
        match self {
            Filters::Listed { forms, mut words } => {
                words.sort_unstable();
                words.dedup();
                let words_log2 = filter_size_log2(words.len() as u64);
                let mut f = vec![0; 1 << (forms_log2 - 3)];
                let mask = (1u64 << forms_log2) - 1;
                for s in forms {
                    for bit in filter_bits(keys.probe(s), mask) {
                        set_bit(&mut f, bit);
                    }
                }
                let mut w = vec![0; 1 << (words_log2 - 3)];
                for word in words {
                    set_bit(&mut w, word & ((1u64 << words_log2) - 1));
                }
                ((f, forms_log2), (w, words_log2))
            }
            Filters::Large { forms, words } => {
                // Distinct words, estimated from the bits set (linear
                // counting).
                let m = (1u64 << BUILD_FILTER_LOG2) as f64;
                let ones: u64 = words.iter().map(|b| b.count_ones() as u64).sum();
                let distinct = -m * (1.0 - (ones as f64 / m).min(0.999_999)).ln();
                let words_log2 = filter_size_log2(distinct.ceil() as u64);
                (
                    (fold(forms, forms_log2), forms_log2),
                    (fold(words, words_log2), words_log2),
                )
            }
        }
    }
}

/// One thread's share of a batch.
#[derive(Default)]
struct Hashed {
    entries: Vec<(u64, u32)>,
    sequences: Vec<u64>,
    words: Vec<u64>,
    max_words: usize,
    long_cells: Vec<u64>,
}

fn set_bit(filter: &mut [u8], bit: u64) {
    filter[(bit >> 3) as usize] |= 1 << (bit & 7);
}

/// `filter` folded to `2^log2` bits (see [`EdmBuilder`]).
fn fold(mut filter: Vec<u8>, log2: u32) -> Vec<u8> {
    let size = 1usize << (log2 - 3);
    for at in (size..filter.len()).step_by(size) {
        let (low, high) = filter.split_at_mut(at);
        for (a, b) in low[..size].iter_mut().zip(&high[..size]) {
            *a |= *b;
        }
    }
    filter.truncate(size);
    filter.shrink_to_fit();
    filter
}

/// The filter size, as a power of two, for `n` items at 16 bits each.
fn filter_size_log2(n: u64) -> u32 {
    (64 - (n.max(1) * 16 - 1).leading_zeros()).clamp(16, BUILD_FILTER_LOG2)
}

impl EdmBuilder {
    /// A builder for a table of `columns` (1 to 64), keyed by `salt`.
    pub fn new(salt: &[u8], columns: Vec<String>) -> Result<EdmBuilder, EdmError> {
        if columns.is_empty() || columns.len() > MAX_COLUMNS {
            return Err(EdmError::Table(format!(
                "{} columns to index; an index has 1 to {MAX_COLUMNS}",
                columns.len()
            )));
        }
        Ok(EdmBuilder {
            keys: Keys::new(salt)?,
            long_cells: vec![0; columns.len()],
            columns,
            partitions: vec![Vec::new(); 256],
            filters: Filters::Listed {
                forms: Vec::new(),
                words: Vec::new(),
            },
            rows: 0,
            max_words: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    /// Adds rows (each one cell per column, in column order), numbered on
    /// from the rows added before.
    pub fn add_rows<R, S>(&mut self, rows: &[R]) -> Result<(), EdmError>
    where
        R: AsRef<[S]> + Sync,
        S: AsRef<str> + Sync,
    {
        if self.rows + rows.len() as u64 > MAX_ROWS {
            return Err(EdmError::Table(format!(
                "more than {MAX_ROWS} rows; split the table into several indexes"
            )));
        }
        for (i, row) in rows.iter().enumerate() {
            if row.as_ref().len() != self.columns.len() {
                return Err(EdmError::Table(format!(
                    "row {} has {} cells, expected {}",
                    self.rows + i as u64 + 1,
                    row.as_ref().len(),
                    self.columns.len()
                )));
            }
        }
        let first = self.rows + 1;
        let chunk = rows.len().div_ceil(self.threads).max(1);
        let keys = &self.keys;
        let columns = self.columns.len();
        let parts: Vec<Hashed> = std::thread::scope(|scope| {
            let workers: Vec<_> = rows
                .chunks(chunk)
                .enumerate()
                .map(|(c, rows)| {
                    scope.spawn(move || hash_rows(keys, columns, first + (c * chunk) as u64, rows))
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("hashing thread panicked"))
                .collect()
        });
        for p in parts {
            for (hash, packed) in p.entries {
                let partition = &mut self.partitions[(hash >> 56) as usize];
                if partition.len() == partition.capacity() {
                    partition.reserve_exact(partition.capacity() / 4 + 1024);
                }
                let mut entry = [0u8; ENTRY];
                entry[..8].copy_from_slice(&hash.to_le_bytes());
                entry[8..].copy_from_slice(&packed.to_le_bytes());
                partition.push(entry);
            }
            self.filters.add(&self.keys, &p.sequences, &p.words);
            self.max_words = self.max_words.max(p.max_words);
            for (total, n) in self.long_cells.iter_mut().zip(p.long_cells) {
                *total += n;
            }
        }
        self.rows += rows.len() as u64;
        Ok(())
    }

    /// Writes the index to `out` and says what it holds; values in more
    /// than `max_value_rows` rows are reported (they stay in the index,
    /// and the entity's own `max_value_rows` decides at scan time).
    pub fn write(self, max_value_rows: u64, out: &mut impl Write) -> std::io::Result<EdmReport> {
        let EdmBuilder {
            keys,
            columns,
            mut partitions,
            filters,
            rows,
            max_words,
            long_cells,
            ..
        } = self;
        let key = |e: &[u8; ENTRY]| {
            (
                u64::from_le_bytes(e[..8].try_into().expect("8 bytes")),
                u32::from_le_bytes(e[8..].try_into().expect("4 bytes")),
            )
        };
        for p in &mut partitions {
            p.sort_unstable_by_key(key);
        }
        let n: u64 = partitions.iter().map(|p| p.len() as u64).sum();
        if n > u32::MAX as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "more than 2^32 cells and forms; split the table",
            ));
        }
        let sorted = || partitions.iter().flatten().map(key);
        // About four entries a bucket; the directory stays under 64 MiB.
        let bucket_bits = if n < 16 {
            0
        } else {
            (63 - (n / 4).leading_zeros()).min(24)
        };
        // 16 bits a form and three probes: about 0.2% of a message's word
        // sequences pass and cost an HMAC. 16 bits a distinct word and one
        // probe: a word no cell has passes one time in sixteen or less.
        let ((filter, filter_log2), (words, words_log2)) = filters.finish(&keys, n);
        let names = serde_json::to_vec(&columns).expect("strings serialize");
        let mut header = Vec::with_capacity(HEADER + names.len() + 8);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&(columns.len() as u32).to_le_bytes());
        header.extend_from_slice(&rows.to_le_bytes());
        header.extend_from_slice(&n.to_le_bytes());
        header.extend_from_slice(&(max_words as u32).to_le_bytes());
        header.extend_from_slice(&bucket_bits.to_le_bytes());
        header.extend_from_slice(&filter_log2.to_le_bytes());
        header.extend_from_slice(&(names.len() as u32).to_le_bytes());
        let mut check = keys.mac.clone();
        hmac::Mac::update(&mut check, CHECK_LABEL);
        header.extend_from_slice(&hmac::Mac::finalize(check).into_bytes()[..16]);
        header.extend_from_slice(&words_log2.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&names);
        header.resize(header.len().next_multiple_of(8), 0);
        out.write_all(&header)?;
        // Where each bucket starts: the first entry whose top bits reach it.
        let mut directory = Vec::with_capacity(((1usize << bucket_bits) + 1) * 4);
        let mut bucket = 0u64;
        for (i, (hash, _)) in sorted().enumerate() {
            let top = if bucket_bits == 0 {
                0
            } else {
                hash >> (64 - bucket_bits)
            };
            while bucket <= top {
                directory.extend_from_slice(&(i as u32).to_le_bytes());
                bucket += 1;
            }
        }
        while bucket <= 1 << bucket_bits {
            directory.extend_from_slice(&(n as u32).to_le_bytes());
            bucket += 1;
        }
        out.write_all(&directory)?;
        out.write_all(&filter)?;
        out.write_all(&words)?;
        let filters = (filter.len() + words.len()) as u64;
        drop(filter);
        drop(words);
        for p in &partitions {
            out.write_all(p.as_flattened())?;
        }
        let bytes = (header.len() + directory.len()) as u64 + filters + n * ENTRY as u64;
        Ok(EdmReport {
            rows,
            entries: n,
            bytes,
            long_cells: columns
                .iter()
                .cloned()
                .zip(long_cells.iter().copied())
                .filter(|(_, n)| *n > 0)
                .collect(),
            repeated: repeated_columns(sorted(), &columns, max_value_rows),
            columns,
        })
    }
}

fn hash_rows<R, S>(keys: &Keys, columns: usize, first: u64, rows: &[R]) -> Hashed
where
    R: AsRef<[S]>,
    S: AsRef<str>,
{
    let mut out = Hashed {
        long_cells: vec![0; columns],
        ..Hashed::default()
    };
    for (i, row) in rows.iter().enumerate() {
        let packed_row = ((first + i as u64) as u32) << 6;
        for (column, cell) in row.as_ref().iter().enumerate() {
            let Some(forms) = CellForms::new(keys, cell.as_ref()) else {
                continue;
            };
            if forms.forms.is_empty() {
                out.long_cells[column] += 1;
                continue;
            }
            let packed = packed_row | column as u32;
            out.max_words = out.max_words.max(forms.word_count);
            for (form, filter) in forms.forms {
                out.entries.push((keys.hash(form.as_bytes()), packed));
                out.sequences.push(filter);
            }
            out.words.extend(forms.word_keys);
        }
    }
    out
}

/// Per column, the values (runs of one hash in the sorted entries) held
/// by more than `limit` rows.
fn repeated_columns(
    sorted: impl Iterator<Item = (u64, u32)>,
    columns: &[String],
    limit: u64,
) -> Vec<RepeatedColumn> {
    let mut values = vec![0u64; columns.len()];
    let mut most = vec![0u64; columns.len()];
    // The current run: its hash, its rows (distinct, as they are sorted)
    // and its columns.
    let mut run: Option<(u64, u64, u32, u64)> = None;
    let mut close = |run: Option<(u64, u64, u32, u64)>| {
        let Some((_, rows, _, seen)) = run else {
            return;
        };
        if rows <= limit {
            return;
        }
        for (c, (v, m)) in values.iter_mut().zip(&mut most).enumerate() {
            if seen & (1 << c) != 0 {
                *v += 1;
                *m = (*m).max(rows);
            }
        }
    };
    for (hash, packed) in sorted {
        let (row, column) = (packed >> 6, packed & 63);
        match &mut run {
            Some((h, rows, last_row, seen)) if *h == hash => {
                if *last_row != row {
                    *rows += 1;
                    *last_row = row;
                }
                *seen |= 1 << column;
            }
            _ => {
                close(run.take());
                run = Some((hash, 1, row, 1 << column));
            }
        }
    }
    close(run);
    columns
        .iter()
        .zip(values.into_iter().zip(most))
        .filter(|(_, (v, _))| *v > 0)
        .map(|(c, (values, most_rows))| RepeatedColumn {
            column: c.clone(),
            values,
            most_rows,
        })
        .collect()
}

/// Rows are read and hashed this many at a time.
const BATCH: usize = 65536;

/// Builds an index from a CSV table with a header row: `columns` names
/// the indexed columns (all when empty), `max_value_rows` what the report
/// flags. The index is written to `out`.
pub fn build_from_csv(
    table: impl Read,
    salt: &[u8],
    columns: &[String],
    max_value_rows: u64,
    out: &mut impl Write,
) -> Result<EdmReport, EdmError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(table);
    let csv_error = |e: csv::Error| EdmError::Table(e.to_string());
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        // A spreadsheet's CSV export may start with a byte order mark.
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    for (i, h) in header.iter().enumerate() {
        if h.is_empty() {
            return Err(EdmError::Table(format!("column {} has no name", i + 1)));
        }
        if header[..i].contains(h) {
            return Err(EdmError::Table(format!("column {h:?} appears twice")));
        }
    }
    let picked: Vec<usize> = if columns.is_empty() {
        (0..header.len()).collect()
    } else {
        columns
            .iter()
            .map(|c| {
                header.iter().position(|h| h == c.trim()).ok_or_else(|| {
                    EdmError::Table(format!(
                        "no column {c:?} (the header has {})",
                        header.join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let mut builder = EdmBuilder::new(salt, picked.iter().map(|&i| header[i].clone()).collect())?;
    let mut batch: Vec<Vec<String>> = Vec::with_capacity(BATCH);
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record).map_err(csv_error)?;
        if more {
            batch.push(
                picked
                    .iter()
                    .map(|&i| record.get(i).unwrap_or_default().to_owned())
                    .collect(),
            );
        }
        if batch.len() == BATCH || (!more && !batch.is_empty()) {
            builder.add_rows(&batch)?;
            batch.clear();
        }
        if !more {
            break;
        }
    }
    if builder.rows == 0 {
        return Err(EdmError::Table("no data rows after the header".into()));
    }
    builder
        .write(max_value_rows, out)
        .map_err(|source| EdmError::Io {
            path: "the index".into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folded_filter_is_the_filter_built_at_its_size() {
        let keys = Keys::new(b"sixteen bytes or more of salt").unwrap();
        let hashes: Vec<u64> = (0..5000u64).map(|i| super::super::fmix(i + 1)).collect();
        let at = |log2: u32| {
            let mut f = vec![0u8; 1 << (log2 - 3)];
            for &h in &hashes {
                for bit in filter_bits(keys.probe(h), (1u64 << log2) - 1) {
                    set_bit(&mut f, bit);
                }
            }
            f
        };
        assert_eq!(fold(at(24), 17), at(17));
        // The large path and the listed one give one filter.
        let mut large = Filters::Listed {
            forms: Vec::new(),
            words: Vec::new(),
        };
        large.add(&keys, &vec![0; LISTED + 1], &[]);
        let Filters::Large { .. } = large else {
            panic!("past LISTED hashes the large filters are used")
        };
        let mut listed = Filters::Listed {
            forms: Vec::new(),
            words: Vec::new(),
        };
        large.add(&keys, &hashes, &hashes);
        listed.add(&keys, &vec![0; 1000], &[]);
        listed.add(&keys, &hashes, &hashes);
        let (forms_l, words_l) = large.finish(&keys, 5000);
        let (forms_s, _) = listed.finish(&keys, 5000);
        assert_eq!(forms_l, forms_s);
        assert!(words_l.1 >= 16);
    }
}
