//! Memory for the tables scans probe at random: the k-gram filter of a
//! fingerprint library and its postings, an EDM index's filters and its
//! remembered word verdicts, megabytes each, read one cache line at a
//! time anywhere in them.
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
//! Unsafe code: a table's values are reached through a pointer into the
//! memory it owns (`Table`).
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

/// Tables at least this large get a mapping of their own, rounded up to
/// whole huge pages (2 MiB); a smaller one stays on the heap, where it
/// shares pages with the rest.
const LINES_MAPPED_FROM: usize = 2 << 20;
/// The same for [`AtomicSlots`]: EDM's 1 MiB of verdicts get a huge page.
const SLOTS_MAPPED_FROM: usize = 1 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// A table's values: zeroed, in [`huge_page_memory`] from `mapped_from`
/// bytes, on the heap below. The slice is kept as a pointer and a length,
/// so that reading it is no more than that (the hot loops read it per
/// word).
///
/// Invariant: `first` points at `len` valid, aligned values of `T` owned
/// by `_owner` (a mapping is page-aligned, and zero bytes are a valid `T`
/// for every `T` this module uses: [`Line`], `AtomicU32` and the
/// [`Plain`] types), reached by nothing but `get` and `get_mut`.
struct Table<T> {
    first: std::ptr::NonNull<T>,
    len: usize,
    _owner: Owner<T>,
}

enum Owner<T> {
    Heap(#[allow(dead_code)] Box<[T]>),
    Mapped(#[allow(dead_code)] memmap2::MmapMut),
}

// SAFETY: a table owns its values like a `Box<[T]>` does.
unsafe impl<T: Send> Send for Table<T> {}
// SAFETY: as above; shared access only gives `&[T]`.
unsafe impl<T: Sync> Sync for Table<T> {}

impl<T> Table<T> {
    /// `len` values: all-zero bytes in a mapping, `zero()` on the heap.
    /// Private: only for types whose zero bytes are a valid value.
    fn zeroed(len: usize, mapped_from: usize, zero: impl Fn() -> T) -> Table<T> {
        let bytes = len * std::mem::size_of::<T>();
        if bytes >= mapped_from {
            // A mapping that fails (an address-space limit) leaves the
            // table on the heap, where it works the same.
            if let Ok(mut memory) = huge_page_memory(bytes.div_ceil(HUGE_PAGE) * HUGE_PAGE) {
                // Derived from the mutable mapping, for writes; a mapping
                // is page-aligned, so aligned for `T`.
                let first = std::ptr::NonNull::new(memory.as_mut_ptr().cast::<T>())
                    .expect("a mapping is not null");
                return Table {
                    first,
                    len,
                    _owner: Owner::Mapped(memory),
                };
            }
        }
        let mut heap: Box<[T]> = (0..len).map(|_| zero()).collect();
        let first = std::ptr::NonNull::new(heap.as_mut_ptr()).expect("a box is not null");
        Table {
            first,
            len,
            _owner: Owner::Heap(heap),
        }
    }

    #[inline(always)]
    fn get(&self) -> &[T] {
        // SAFETY: the invariant.
        unsafe { std::slice::from_raw_parts(self.first.as_ptr(), self.len) }
    }

    #[inline(always)]
    fn get_mut(&mut self) -> &mut [T] {
        // SAFETY: the invariant, and `&mut self` makes this the only
        // reference.
        unsafe { std::slice::from_raw_parts_mut(self.first.as_ptr(), self.len) }
    }

    fn is_mapped(&self) -> bool {
        matches!(self._owner, Owner::Mapped(_))
    }
}

/// Zeroed [`Line`]s: a large fingerprint library's k-gram filter.
pub(crate) struct Lines(Table<Line>);

impl Lines {
    pub(crate) fn zeroed(count: usize) -> Lines {
        Lines(Table::zeroed(count, LINES_MAPPED_FROM, Line::default))
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> &[Line] {
        self.0.get()
    }

    pub(crate) fn get_mut(&mut self) -> &mut [Line] {
        self.0.get_mut()
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
        let place = if self.0.is_mapped() { "mapped" } else { "heap" };
        write!(f, "Lines({} on the {place})", self.get().len())
    }
}

/// Types whose all-zero bytes are a valid value, for [`Values`].
/// Implemented here only, for the types the module has checked.
pub(crate) trait Plain: Copy + Default + private::Sealed {}

mod private {
    pub trait Sealed {}
}

impl private::Sealed for u32 {}
impl Plain for u32 {}
impl private::Sealed for (u64, u32) {}
impl Plain for (u64, u32) {}

/// Values filled once while a table loads, then searched at random: a
/// fingerprint library's postings (pairs of hash and document, a
/// hundred megabytes for 10,000 documents) and their directory. On 4 KiB
/// pages each search of them for a k-gram that passed the filter was two
/// misses of the address translation cache as well as of the data cache.
pub(crate) struct Values<T: Plain>(Table<T>);

impl<T: Plain> Values<T> {
    /// `len` values, each `T::default()` (all zero bytes).
    pub(crate) fn zeroed(len: usize) -> Values<T> {
        Values(Table::zeroed(len, LINES_MAPPED_FROM, T::default))
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> &[T] {
        self.0.get()
    }

    pub(crate) fn get_mut(&mut self) -> &mut [T] {
        self.0.get_mut()
    }
}

impl<T: Plain> Default for Values<T> {
    fn default() -> Values<T> {
        Values::zeroed(0)
    }
}

impl<T: Plain> std::fmt::Debug for Values<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = if self.0.is_mapped() { "mapped" } else { "heap" };
        write!(f, "Values({} on the {place})", self.get().len())
    }
}

/// Zeroed atomic 32-bit slots that threads share: EDM's remembered word
/// verdicts, a table of a megabyte read at random for every word.
pub(crate) struct AtomicSlots(Table<AtomicU32>);

impl AtomicSlots {
    pub(crate) fn zeroed(len: usize) -> AtomicSlots {
        let slots = AtomicSlots(Table::zeroed(len, SLOTS_MAPPED_FROM, || AtomicU32::new(0)));
        // A mapping's pages are the shared zero page until written: the
        // first verdict stored in each faulted in (and zeroed) a page in
        // the middle of a scan, 2 MiB at a time on huge pages. Each page
        // is written once now, while the index loads.
        let per_page = 4096 / std::mem::size_of::<AtomicU32>();
        for slot in slots.get().iter().step_by(per_page) {
            slot.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        slots
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> &[AtomicU32] {
        self.0.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_tables_are_mapped_small_ones_are_not_and_both_read_back() {
        for (count, mapped) in [(16, false), (LINES_MAPPED_FROM / 64, true)] {
            let mut lines = Lines::zeroed(count);
            assert_eq!(lines.0.is_mapped(), mapped);
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
    fn values_mapped_or_not_start_at_zero_and_keep_what_is_written() {
        for (len, mapped) in [(100, false), (LINES_MAPPED_FROM / 16, true)] {
            let mut values: Values<(u64, u32)> = Values::zeroed(len);
            assert_eq!(values.0.is_mapped(), mapped);
            assert_eq!(values.get().len(), len);
            assert!(values.get().iter().all(|&v| v == (0, 0)));
            for (i, v) in values.get_mut().iter_mut().enumerate() {
                *v = (u64::MAX - i as u64, i as u32);
            }
            values.get_mut().sort_unstable();
            assert_eq!(
                values.get()[0],
                (u64::MAX - (len as u64 - 1), len as u32 - 1)
            );
            assert!(values.get().windows(2).all(|w| w[0] < w[1]));
        }
        assert!(Values::<u32>::default().get().is_empty());
    }

    #[test]
    fn atomic_slots_mapped_or_not_start_at_zero_and_keep_what_is_stored() {
        use std::sync::atomic::Ordering::Relaxed;
        for (len, mapped) in [(1000, false), (SLOTS_MAPPED_FROM / 4, true)] {
            let slots = AtomicSlots::zeroed(len);
            assert_eq!(slots.0.is_mapped(), mapped);
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
