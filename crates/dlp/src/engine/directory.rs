//! A directory over a sorted list of hashes: where each value of their
//! top bits starts.
//!
//! The fingerprint hashes are uniform, so with about four of them to a
//! bucket a lookup reads one directory slot and one short run. A binary
//! search over millions of hashes took twenty-odd steps, most of them
//! cache misses, for every k-gram a message shares with the documents.

use std::ops::Range;

use crate::huge_pages::Values;

/// Hashes per bucket the directory aims at.
const PER_BUCKET: usize = 4;

/// Where each bucket of a sorted list of `u64` keys starts. It describes
/// one list: ranges it gives index that list and no other.
#[derive(Debug, Default)]
pub(super) struct Directory {
    /// `starts[b]..starts[b + 1]` holds the keys whose top bits are `b`.
    /// Empty when the list is too long for `u32` offsets: every lookup
    /// then gets the whole list.
    starts: Values<u32>,
    /// 64 less the number of top bits (at most 63: `key >> shift` is
    /// defined).
    shift: u32,
    /// The list's length.
    len: usize,
}

impl Directory {
    /// The directory of `keys`, which must be sorted.
    pub(super) fn new(keys: impl ExactSizeIterator<Item = u64>) -> Directory {
        let len = keys.len();
        if u32::try_from(len).is_err() {
            return Directory {
                starts: Values::default(),
                shift: 63,
                len,
            };
        }
        let bits = (len / PER_BUCKET).max(1).ilog2().clamp(1, 28);
        let buckets = 1usize << bits;
        let shift = 64 - bits;
        let mut table = Values::zeroed(buckets + 1);
        let starts = table.get_mut();
        // Count each bucket's keys, then turn the counts into starts.
        for key in keys {
            starts[(key >> shift) as usize + 1] += 1;
        }
        for b in 1..=buckets {
            starts[b] += starts[b - 1];
        }
        Directory {
            starts: table,
            shift,
            len,
        }
    }

    /// The part of the list where `key` would be.
    #[inline]
    pub(super) fn bucket(&self, key: u64) -> Range<usize> {
        let starts = self.starts.get();
        if starts.is_empty() {
            return 0..self.len;
        }
        let b = (key >> self.shift) as usize;
        starts[b] as usize..starts[b + 1] as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_in_its_bucket_and_others_are_not_found() {
        let mut keys: Vec<u64> = (0..10_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i << 7))
            .collect();
        keys.push(0);
        keys.push(u64::MAX);
        keys.push(u64::MAX);
        keys.sort_unstable();
        let directory = Directory::new(keys.iter().copied());
        for &k in &keys {
            assert!(keys[directory.bucket(k)].contains(&k), "{k:#x}");
        }
        for probe in [1u64, 12345, u64::MAX - 1, 1 << 63] {
            let found = keys[directory.bucket(probe)].contains(&probe);
            assert_eq!(found, keys.binary_search(&probe).is_ok(), "{probe:#x}");
        }
        // Buckets tile the list in order.
        let mut next = 0;
        let starts = directory.starts.get();
        for b in 0..starts.len() - 1 {
            let r = starts[b] as usize..starts[b + 1] as usize;
            assert_eq!(r.start, next);
            next = r.end;
        }
        assert_eq!(next, keys.len());
    }

    #[test]
    fn short_and_empty_lists() {
        let empty = Directory::new(std::iter::empty());
        assert!(empty.bucket(42).is_empty());
        let one = [7u64];
        let directory = Directory::new(one.iter().copied());
        assert_eq!(&one[directory.bucket(7)], &[7]);
    }
}
