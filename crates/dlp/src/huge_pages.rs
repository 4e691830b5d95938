//! Memory for the tables scans probe at random: the k-gram filter of a
//! fingerprint library, an EDM index's filters and its remembered word
//! verdicts, megabytes each, read one cache line at a time anywhere in
//! them.
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
//! Unsafe code: a mapping's bytes are read as lines (`Lines::get`) or as
//! atomics (`AtomicSlots::get`).
#![allow(unsafe_code)]

use std::io;
use std::sync::atomic::AtomicU32;

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

/// Zeroed atomic 32-bit slots that threads share (EDM's remembered
/// word verdicts): a table of a megabyte or more gets a mapping of its
/// own, rounded up to whole huge pages, so that its random reads do not
/// miss the address translation cache of 4 KiB pages.
pub(crate) struct AtomicSlots {
    /// The first slot: of `memory` when mapped, else of `heap`.
    /// Invariant: `len` slots from here stay valid and unaliased by
    /// anything but this value's `get` for as long as it lives.
    first: std::ptr::NonNull<AtomicU32>,
    len: usize,
    _memory: Option<memmap2::MmapMut>,
    _heap: Option<Box<[AtomicU32]>>,
}

// SAFETY: the slots are atomics, which threads may share; the pointer
// only stands for the memory this value owns.
unsafe impl Send for AtomicSlots {}
// SAFETY: as above.
unsafe impl Sync for AtomicSlots {}

/// Slots in a table this large or larger are mapped ([`AtomicSlots`]).
const SLOTS_MAPPED_FROM: usize = 1 << 20;

impl AtomicSlots {
    pub(crate) fn zeroed(len: usize) -> AtomicSlots {
        let bytes = len * std::mem::size_of::<AtomicU32>();
        if bytes >= SLOTS_MAPPED_FROM {
            let whole = bytes.div_ceil(MAPPED_FROM) * MAPPED_FROM;
            if let Ok(mut memory) = huge_page_memory(whole) {
                // Derived from the mutable mapping, for writes through
                // the atomics; page-aligned, so aligned for u32.
                let first = std::ptr::NonNull::new(memory.as_mut_ptr().cast::<AtomicU32>())
                    .expect("a mapping is not null");
                return AtomicSlots {
                    first,
                    len,
                    _memory: Some(memory),
                    _heap: None,
                };
            }
        }
        let mut heap: Box<[AtomicU32]> = (0..len).map(|_| AtomicU32::new(0)).collect();
        let first = std::ptr::NonNull::new(heap.as_mut_ptr()).expect("a box is not null");
        AtomicSlots {
            first,
            len,
            _memory: None,
            _heap: Some(heap),
        }
    }

    pub(crate) fn get(&self) -> &[AtomicU32] {
        // SAFETY: `len` zeroed (valid) u32s, aligned, owned by `self`
        // (the invariant); atomics allow shared writes.
        unsafe { std::slice::from_raw_parts(self.first.as_ptr(), self.len) }
    }

    #[cfg(test)]
    fn is_mapped(&self) -> bool {
        self._memory.is_some()
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

    #[test]
    fn atomic_slots_mapped_or_not_start_at_zero_and_keep_what_is_stored() {
        use std::sync::atomic::Ordering::Relaxed;
        for (len, mapped) in [(1000, false), (SLOTS_MAPPED_FROM / 4, true)] {
            let slots = AtomicSlots::zeroed(len);
            assert_eq!(slots.is_mapped(), mapped);
            assert_eq!(slots.get().len(), len);
            assert!(slots.get().iter().all(|s| s.load(Relaxed) == 0));
            std::thread::scope(|scope| {
                for t in 0..4u32 {
                    let slots = &slots;
                    scope.spawn(move || {
                        for i in (t as usize..len).step_by(4) {
                            slots.get()[i].store(i as u32 + 1, Relaxed);
                        }
                    });
                }
            });
            assert!(slots
                .get()
                .iter()
                .enumerate()
                .all(|(i, s)| s.load(Relaxed) == i as u32 + 1));
        }
    }
}
