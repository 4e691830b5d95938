//! Archives (.zip, .gz, .tar, .tgz) to entries, bounded.
//!
//! Each reader decompresses at most the allowance it is given plus one
//! byte, so a 10 KB zip that claims to expand to 10 GB costs at most one
//! allowance of time and memory before it is cut off and reported.

use std::io::{Cursor, Read};

/// One file read out of an archive.
#[derive(Debug)]
pub(crate) struct Entry {
    pub path: String,
    pub data: Vec<u8>,
    /// More bytes followed than the per-entry allowance.
    pub truncated: bool,
}

/// Why an archive reader stopped before the end of the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    TooManyEntries,
    OutOfBytes,
}

/// What came out of one archive.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub entries: Vec<Entry>,
    /// Entries that could not be read, with the reason.
    pub problems: Vec<(String, String)>,
    pub stopped: Option<Stop>,
}

/// How much an archive may expand to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Allowance {
    pub max_entries: usize,
    pub per_entry: u64,
    pub total: u64,
}

impl Listing {
    fn expanded(&self) -> u64 {
        self.entries.iter().map(|e| e.data.len() as u64).sum()
    }

    /// Reads one entry's bytes within the allowance; false when out of
    /// bytes for the archive as a whole. `declared` is the size the
    /// archive states for it (0 when unknown), trusted only to size the
    /// buffer within the allowance: read_to_end into an empty Vec starts
    /// with 32-byte probe reads, each a separate inflate call.
    fn read_entry(
        &mut self,
        path: String,
        reader: &mut dyn Read,
        declared: u64,
        allowance: Allowance,
    ) -> bool {
        let left = allowance.total.saturating_sub(self.expanded());
        if left == 0 {
            self.stopped = Some(Stop::OutOfBytes);
            return false;
        }
        let cap = allowance.per_entry.min(left);
        let presize = declared.min(cap + 1).min(16 << 20);
        let mut data = Vec::with_capacity(usize::try_from(presize).unwrap_or(0));
        let read = reader.take(cap + 1).read_to_end(&mut data);
        if let Err(e) = &read {
            // Damaged data: keep what decoded before the damage.
            self.problems
                .push((path.clone(), format!("archive entry damaged: {e}")));
            if data.is_empty() {
                return true;
            }
        }
        let truncated = data.len() as u64 > cap;
        data.truncate(cap as usize);
        if truncated && cap < allowance.per_entry {
            self.stopped = Some(Stop::OutOfBytes);
        }
        self.entries.push(Entry {
            path,
            data,
            truncated,
        });
        true
    }
}

/// Reads the entries of a zip archive.
pub(crate) fn read_zip(data: &[u8], allowance: Allowance) -> Result<Listing, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| format!("zip archive unreadable: {e}"))?;
    let mut listing = Listing::default();
    let count = zip.len();
    if count > allowance.max_entries {
        listing.stopped = Some(Stop::TooManyEntries);
    }
    for i in 0..count.min(allowance.max_entries) {
        let (path, encrypted, is_dir) = match zip.by_index_raw(i) {
            Ok(f) => (
                String::from_utf8_lossy(f.name_raw()).into_owned(),
                f.encrypted(),
                f.is_dir(),
            ),
            Err(e) => {
                listing.problems.push((
                    format!("#{}", i + 1),
                    format!("archive entry unreadable: {e}"),
                ));
                continue;
            }
        };
        if is_dir {
            continue;
        }
        if encrypted {
            listing
                .problems
                .push((path, "encrypted archive entry".into()));
            continue;
        }
        let mut file = match zip.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                listing
                    .problems
                    .push((path, format!("archive entry unreadable: {e}")));
                continue;
            }
        };
        let declared = file.size();
        if !listing.read_entry(path, &mut file, declared, allowance) {
            break;
        }
    }
    Ok(listing)
}

/// Decompresses a gzip stream (all members) as one entry named `inner`.
pub(crate) fn read_gzip(
    data: &[u8],
    inner: String,
    allowance: Allowance,
) -> Result<Listing, String> {
    let mut listing = Listing::default();
    let mut decoder = flate2::read::MultiGzDecoder::new(data);
    listing.read_entry(inner, &mut decoder, 0, allowance);
    Ok(listing)
}

/// Reads the regular files of a tar archive.
pub(crate) fn read_tar(data: &[u8], allowance: Allowance) -> Result<Listing, String> {
    let mut archive = tar::Archive::new(Cursor::new(data));
    let entries = archive
        .entries()
        .map_err(|e| format!("tar archive unreadable: {e}"))?;
    let mut listing = Listing::default();
    let mut seen = 0usize;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                listing.problems.push((
                    format!("#{}", seen + 1),
                    format!("tar archive damaged: {e}"),
                ));
                break;
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        seen += 1;
        if seen > allowance.max_entries {
            listing.stopped = Some(Stop::TooManyEntries);
            break;
        }
        let path = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("#{seen}"));
        let declared = entry.size();
        if !listing.read_entry(path, &mut entry, declared, allowance) {
            break;
        }
    }
    Ok(listing)
}
