//! Classifying up to 64 bytes at once into a bit mask. The word split,
//! the whitespace collapse and the identifier searches' jumps to the next
//! digit, capital or dot run over every byte of every message: with a
//! mask they visit only the places where a class changes, where a
//! byte-at-a-time loop mispredicted a branch at both ends of every word or
//! gap, and a regex or substring search per stop cost hundreds of
//! instructions a call. On x86_64 a mask is 16 bytes a step with SSE2, which every x86_64
//! processor has; elsewhere 8 bytes a step in a `u64` (SWAR), at about
//! four times the instructions (`docs/performance.md`).
#![allow(unsafe_code)]

/// The classes of ASCII bytes a mask can be made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteClass {
    /// The one byte given, not 0 (a short chunk is padded with zero
    /// bytes): `Equal(b' ')` for spaces.
    Equal(u8),
    /// `0-9`, `A-Z`, `a-z`.
    Alphanumeric,
    /// `0-9`.
    Digit,
    /// `A-Z`.
    Upper,
}

/// Bit `i` set when `chunk[i]` (at most 64 bytes) is in `class`; no bit
/// at or past `chunk.len()`.
#[inline(always)]
pub(crate) fn byte_mask(chunk: &[u8], class: ByteClass) -> u64 {
    debug_assert!(chunk.len() <= 64);
    if let Ok(block) = chunk.try_into() {
        return block_mask(block, class);
    }
    // Zero bytes are in no class: the padding adds no bits.
    let mut padded = [0u8; 64];
    padded[..chunk.len()].copy_from_slice(chunk);
    block_mask(&padded, class)
}

#[inline(always)]
fn block_mask(block: &[u8; 64], class: ByteClass) -> u64 {
    #[cfg(target_arch = "x86_64")]
    return sse2::mask(block, class);
    #[cfg(not(target_arch = "x86_64"))]
    return swar::mask(block, class);
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::ByteClass;
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8,
    };

    #[inline(always)]
    pub(super) fn mask(block: &[u8; 64], class: ByteClass) -> u64 {
        let mut mask = 0u64;
        for (i, sixteen) in block.chunks_exact(16).enumerate() {
            // SAFETY: SSE2 is part of x86_64 itself (every x86_64
            // processor has it, and the target enables it), and the load
            // reads the 16 bytes of `sixteen`, which are in bounds
            // (`chunks_exact`); it has no alignment requirement.
            let bits = unsafe {
                let v = _mm_loadu_si128(sixteen.as_ptr().cast::<__m128i>());
                // `x - lo <= n` unsigned: x is in lo..=lo+n.
                let within = |x: __m128i, lo: u8, n: u8| {
                    let d = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
                    _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(n as i8)), d)
                };
                let hits = match class {
                    ByteClass::Equal(b) => _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8)),
                    ByteClass::Alphanumeric => {
                        let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
                        _mm_or_si128(within(v, b'0', 9), within(folded, b'a', 25))
                    }
                    ByteClass::Digit => within(v, b'0', 9),
                    ByteClass::Upper => within(v, b'A', 25),
                };
                _mm_movemask_epi8(hits) as u32 as u64
            };
            mask |= bits << (16 * i);
        }
        mask
    }
}

/// The portable masks: eight bytes at a time in a `u64`.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
mod swar {
    use super::ByteClass;

    /// A `u64` with `b` in every byte.
    const fn every_byte(b: u8) -> u64 {
        0x0101_0101_0101_0101 * b as u64
    }

    /// The top bit of each byte of `x` (all below 0x80) that is `>= lo`:
    /// adding `0x80 - lo` sets it exactly then, with no carry into the
    /// next byte.
    fn at_least(x: u64, lo: u8) -> u64 {
        x.wrapping_add(every_byte(0x80 - lo)) & every_byte(0x80)
    }

    /// The top bit of each byte of `x` (all below 0x80) in `lo..=hi`.
    fn between(x: u64, lo: u8, hi: u8) -> u64 {
        at_least(x, lo) & !at_least(x, hi + 1)
    }

    /// The top bit of each byte of `x` that is below 0x80.
    fn ascii(x: u64) -> u64 {
        !x & every_byte(0x80)
    }

    pub(super) fn mask(block: &[u8; 64], class: ByteClass) -> u64 {
        let flags = |x: u64| match class {
            ByteClass::Equal(b) => {
                // Exactly the zero bytes of `x ^ b…b` (no borrow from one
                // byte into the next, as the shorter test has).
                let t = x ^ every_byte(b);
                let low7 = every_byte(0x7F);
                !((t & low7).wrapping_add(low7) | t) & every_byte(0x80)
            }
            // Bytes from 0x80 would carry: only ASCII bytes count.
            ByteClass::Alphanumeric => {
                let low = x & every_byte(0x7F);
                let folded = low | every_byte(0x20);
                (between(low, b'0', b'9') | between(folded, b'a', b'z')) & ascii(x)
            }
            ByteClass::Digit => between(x & every_byte(0x7F), b'0', b'9') & ascii(x),
            ByteClass::Upper => between(x & every_byte(0x7F), b'A', b'Z') & ascii(x),
        };
        let mut mask = 0u64;
        for (i, eight) in block.chunks_exact(8).enumerate() {
            let x = u64::from_le_bytes(eight.try_into().expect("8 bytes"));
            // The eight top bits, gathered into the low byte.
            let bits = (flags(x) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
            mask |= bits << (8 * i);
        }
        mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_agree_with_a_byte_at_a_time_test() {
        let text: Vec<u8> = (0..=255u8)
            .chain(b"  a  b\t\tc 1 Zz@[`{/:".iter().copied())
            .collect();
        for start in 0..text.len() {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 31, 63, 64] {
                let chunk = &text[start..(start + len).min(text.len())];
                let mut block = [0u8; 64];
                block[..chunk.len()].copy_from_slice(chunk);
                for class in [
                    ByteClass::Equal(b' '),
                    ByteClass::Equal(b'.'),
                    ByteClass::Alphanumeric,
                    ByteClass::Digit,
                    ByteClass::Upper,
                ] {
                    let expected = chunk.iter().enumerate().fold(0u64, |m, (i, &b)| {
                        let hit = match class {
                            ByteClass::Equal(e) => b == e,
                            ByteClass::Alphanumeric => b.is_ascii_alphanumeric(),
                            ByteClass::Digit => b.is_ascii_digit(),
                            ByteClass::Upper => b.is_ascii_uppercase(),
                        };
                        m | u64::from(hit) << i
                    });
                    assert_eq!(byte_mask(chunk, class), expected, "{class:?} {chunk:?}");
                    // The portable masks, wherever they are not the ones used.
                    assert_eq!(swar::mask(&block, class), expected, "{class:?} {chunk:?}");
                }
            }
        }
    }
}
