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
/// Hashing is the cost of a build (an HMAC per cell and digit form), so
/// [`EdmBuilder::add_rows`] spreads a batch of rows over threads.
pub struct EdmBuilder {
    keys: Keys,
    columns: Vec<String>,
    /// (hash, row << 6 | column), one per form.
    entries: Vec<(u64, u32)>,
    /// The filter hash of each form, in no particular order.
    sequences: Vec<u64>,
    /// The keyed hash of each word of a cell ([`Keys::word`]), deduplicated
    /// now and then so a table's repeated words do not pile up.
    words: Vec<u64>,
    /// `words.len()` after the last deduplication.
    distinct_words: usize,
    rows: u64,
    max_words: usize,
    long_cells: Vec<u64>,
    threads: usize,
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
            entries: Vec::new(),
            sequences: Vec::new(),
            words: Vec::new(),
            distinct_words: 0,
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
            self.entries.extend(p.entries);
            self.sequences.extend(p.sequences);
            self.words.extend(p.words);
            self.max_words = self.max_words.max(p.max_words);
            for (total, n) in self.long_cells.iter_mut().zip(p.long_cells) {
                *total += n;
            }
        }
        if self.words.len() > 2 * self.distinct_words + (1 << 20) {
            self.words.sort_unstable();
            self.words.dedup();
            self.distinct_words = self.words.len();
        }
        self.rows += rows.len() as u64;
        Ok(())
    }

    /// Writes the index to `out` and says what it holds; values in more
    /// than `max_value_rows` rows are reported (they stay in the index,
    /// and the entity's own `max_value_rows` decides at scan time).
    pub fn write(
        mut self,
        max_value_rows: u64,
        out: &mut impl Write,
    ) -> std::io::Result<EdmReport> {
        self.entries.sort_unstable();
        let n = self.entries.len() as u64;
        // About four entries a bucket; the directory stays under 64 MiB.
        let bucket_bits = if n < 16 {
            0
        } else {
            (63 - (n / 4).leading_zeros()).min(24)
        };
        // 16 bits a form and three probes: about 0.2% of a message's word
        // sequences pass and cost an HMAC.
        let filter_log2 = (64 - (n.max(1) * 16 - 1).leading_zeros()).clamp(16, 40);
        let mut filter = vec![0u8; 1 << (filter_log2 - 3)];
        let mask = (1u64 << filter_log2) - 1;
        for &s in &self.sequences {
            for bit in filter_bits(self.keys.probe(s), mask) {
                filter[(bit >> 3) as usize] |= 1 << (bit & 7);
            }
        }
        self.sequences = Vec::new();
        self.words.sort_unstable();
        self.words.dedup();
        // 16 bits a distinct word, one probe: a word no cell has passes
        // one time in sixteen or less.
        let words_log2 =
            (64 - ((self.words.len() as u64).max(1) * 16 - 1).leading_zeros()).clamp(16, 40);
        let mut words = vec![0u8; 1 << (words_log2 - 3)];
        let words_mask = (1u64 << words_log2) - 1;
        for &w in &self.words {
            let bit = w & words_mask;
            words[(bit >> 3) as usize] |= 1 << (bit & 7);
        }
        self.words = Vec::new();
        if n > u32::MAX as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "more than 2^32 cells and digit forms; split the table",
            ));
        }
        let names = serde_json::to_vec(&self.columns).expect("strings serialize");
        let mut header = Vec::with_capacity(HEADER + names.len() + 8);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&(self.columns.len() as u32).to_le_bytes());
        header.extend_from_slice(&self.rows.to_le_bytes());
        header.extend_from_slice(&n.to_le_bytes());
        header.extend_from_slice(&(self.max_words as u32).to_le_bytes());
        header.extend_from_slice(&bucket_bits.to_le_bytes());
        header.extend_from_slice(&filter_log2.to_le_bytes());
        header.extend_from_slice(&(names.len() as u32).to_le_bytes());
        let mut check = self.keys.mac.clone();
        hmac::Mac::update(&mut check, CHECK_LABEL);
        header.extend_from_slice(&hmac::Mac::finalize(check).into_bytes()[..16]);
        header.extend_from_slice(&words_log2.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&names);
        header.resize(header.len().next_multiple_of(8), 0);
        out.write_all(&header)?;
        let mut directory = Vec::with_capacity(((1usize << bucket_bits) + 1) * 4);
        let mut at = 0usize;
        for bucket in 0..=(1u64 << bucket_bits) {
            while at < self.entries.len()
                && (bucket_bits > 0 && self.entries[at].0 >> (64 - bucket_bits) < bucket)
            {
                at += 1;
            }
            let start = if bucket == 1 << bucket_bits {
                self.entries.len()
            } else {
                at
            };
            directory.extend_from_slice(&(start as u32).to_le_bytes());
        }
        out.write_all(&directory)?;
        out.write_all(&filter)?;
        out.write_all(&words)?;
        let filters = (filter.len() + words.len()) as u64;
        drop(filter);
        drop(words);
        let mut buffer = Vec::with_capacity(ENTRY * 65536);
        for chunk in self.entries.chunks(65536) {
            buffer.clear();
            for &(hash, packed) in chunk {
                buffer.extend_from_slice(&hash.to_le_bytes());
                buffer.extend_from_slice(&packed.to_le_bytes());
            }
            out.write_all(&buffer)?;
        }
        let bytes = (header.len() + directory.len()) as u64 + filters + n * ENTRY as u64;
        Ok(EdmReport {
            rows: self.rows,
            entries: n,
            bytes,
            long_cells: self
                .columns
                .iter()
                .cloned()
                .zip(self.long_cells.iter().copied())
                .filter(|(_, n)| *n > 0)
                .collect(),
            repeated: repeated_columns(&self.entries, &self.columns, max_value_rows),
            columns: self.columns,
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
fn repeated_columns(entries: &[(u64, u32)], columns: &[String], limit: u64) -> Vec<RepeatedColumn> {
    let mut values = vec![0u64; columns.len()];
    let mut most = vec![0u64; columns.len()];
    let mut i = 0;
    while i < entries.len() {
        let mut j = i;
        while j < entries.len() && entries[j].0 == entries[i].0 {
            j += 1;
        }
        let run = &entries[i..j];
        let mut rows: Vec<u32> = run.iter().map(|&(_, p)| p >> 6).collect();
        rows.dedup();
        if rows.len() as u64 > limit {
            let mut seen = 0u64;
            for &(_, p) in run {
                seen |= 1 << (p & 63);
            }
            for (c, (v, m)) in values.iter_mut().zip(&mut most).enumerate() {
                if seen & (1 << c) != 0 {
                    *v += 1;
                    *m = (*m).max(rows.len() as u64);
                }
            }
        }
        i = j;
    }
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
        .map(|h| h.trim().to_owned())
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
