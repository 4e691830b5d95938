//! Memory for the tables scans probe at random: the k-gram filter of a
//! fingerprint library and an EDM index's filters, megabytes each, read
//! one cache line at a time anywhere in them.
//!
//! On 4 KiB pages every such probe is also a miss of the processor's
//! address translation cache, so these tables get a mapping of their own
//! with transparent huge pages asked for (`MADV_HUGEPAGE`; only advice:
//! without transparent huge pages they are on small pages). The rest of
//! the heap is not asked for huge pages (`sluice-scan` builds mimalloc
//! with `no_thp`): a process holding a few hundred megabytes of huge
//! pages scanned mail slower and far less evenly, its kernel copying
//! file data and faulting in fresh memory for longer (`docs/performance.md`).
//!
//! Unsafe code: a mapping's bytes are read as lines (`Lines::get`).
#![allow(unsafe_code)]

use std::io;

/// Anonymous, zeroed memory of `len` bytes (more than 0) in a mapping of
/// its own, huge pages asked for.
pub(crate) fn huge_page_memory(len: usize) -> io::Result<memmap2::MmapMut> {
    let memory = memmap2::MmapMut::map_anon(len)?;
    #[cfg(target_os = "linux")]
    let _ = memory.advise(memmap2::Advice::HugePage);
    Ok(memory)
}

/// Eight 64-bit words on one 64-byte cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
pub(crate) struct Line(pub(crate) [u64; 8]);

/// Tables at least this large get a mapping of their own: one huge page.
/// A smaller one stays on the heap, where it shares pages with the rest.
const MAPPED_FROM: usize = 2 << 20;

/// Zeroed [`Line`]s: in [`huge_page_memory`] from [`MAPPED_FROM`] bytes,
/// on the heap below.
pub(crate) struct Lines(Storage);

enum Storage {
    Heap(Vec<Line>),
    /// Invariant: page-aligned (a mapping), its length a multiple of 64.
    Mapped(memmap2::MmapMut),
}

impl Lines {
    pub(crate) fn zeroed(count: usize) -> Lines {
        let bytes = count * std::mem::size_of::<Line>();
        if bytes >= MAPPED_FROM {
            // A mapping that fails (an address-space limit) leaves the
            // table on the heap, where it works the same.
            if let Ok(memory) = huge_page_memory(bytes) {
                return Lines(Storage::Mapped(memory));
            }
        }
        Lines(Storage::Heap(vec![Line::default(); count]))
    }

    pub(crate) fn get(&self) -> &[Line] {
        match &self.0 {
            Storage::Heap(lines) => lines,
            Storage::Mapped(memory) => {
                // SAFETY: any bits are a valid `Line` (eight u64s), and
                // the mapping is page-aligned with a length that is a
                // multiple of 64 (the invariant), so all of it is lines.
                let (before, lines, after) = unsafe { memory.align_to::<Line>() };
                debug_assert!(before.is_empty() && after.is_empty());
                lines
            }
        }
    }

    pub(crate) fn get_mut(&mut self) -> &mut [Line] {
        match &mut self.0 {
            Storage::Heap(lines) => lines,
            Storage::Mapped(memory) => {
                // SAFETY: as in `get`.
                let (before, lines, after) = unsafe { memory.align_to_mut::<Line>() };
                debug_assert!(before.is_empty() && after.is_empty());
                lines
            }
        }
    }
}

impl Clone for Lines {
    fn clone(&self) -> Lines {
        let mut copy = Lines::zeroed(self.get().len());
        copy.get_mut().copy_from_slice(self.get());
        copy
    }
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match self.0 {
            Storage::Heap(_) => "heap",
            Storage::Mapped(_) => "mapped",
        };
        write!(f, "Lines({} on the {place})", self.get().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_tables_are_mapped_small_ones_are_not_and_both_read_back() {
        for (count, mapped) in [(16, false), (MAPPED_FROM / 64, true)] {
            let mut lines = Lines::zeroed(count);
            assert_eq!(matches!(lines.0, Storage::Mapped(_)), mapped);
            assert_eq!(lines.get().len(), count);
            assert!(lines.get().iter().all(|l| l.0 == [0; 8]));
            assert_eq!(lines.get().as_ptr() as usize % 64, 0);
            lines.get_mut()[count - 1].0[7] = 42;
            let copy = lines.clone();
            assert_eq!(copy.get()[count - 1].0[7], 42);
            assert_eq!(copy.get().len(), count);
        }
    }
}
