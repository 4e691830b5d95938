//! Wall-clock times as incidents and mail headers write them, and ULIDs.
//!
//! Kept here, without a date crate, because the store needs only UTC
//! formatting of Unix times: RFC 3339 for incidents, RFC 5322 for mail.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since 1970-01-01 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Now.
    pub fn now() -> Timestamp {
        Timestamp(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        )
    }

    /// Seconds since 1970.
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// `2026-11-28T09:14:03Z`.
    ///
    /// ```
    /// use sluice_store::Timestamp;
    /// assert_eq!(Timestamp(1_795_857_243_000).rfc3339(), "2026-11-28T09:14:03Z");
    /// ```
    pub fn rfc3339(self) -> String {
        let c = Civil::of(self.unix_seconds());
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// `Sat, 28 Nov 2026 09:14:03 +0000`, for `Date:` and `Received:`.
    ///
    /// ```
    /// use sluice_store::Timestamp;
    /// assert_eq!(Timestamp(1_795_857_243_000).rfc5322(), "Sat, 28 Nov 2026 09:14:03 +0000");
    /// ```
    pub fn rfc5322(self) -> String {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        // 1970-01-01 was a Thursday.
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        let secs = self.unix_seconds();
        let c = Civil::of(secs);
        format!(
            "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
            DAYS[secs.div_euclid(86_400).rem_euclid(7) as usize],
            c.day,
            MONTHS[(c.month - 1) as usize],
            c.year,
            c.hour,
            c.minute,
            c.second
        )
    }
}

/// A UTC calendar date and time.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

impl Civil {
    /// Howard Hinnant's days-to-civil algorithm.
    fn of(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Civil {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
        }
    }
}

/// A new ULID (26 characters of Crockford base 32: 48 bits of milliseconds,
/// 80 random bits). Ids made in the same millisecond by this process
/// increase, so they sort in the order they were made.
///
/// ```
/// let a = sluice_store::ulid();
/// let b = sluice_store::ulid();
/// assert_eq!(a.len(), 26);
/// assert!(a < b);
/// ```
pub fn ulid() -> String {
    /// (last millisecond, last random part, generator state)
    static LAST: Mutex<(i64, u128, u64)> = Mutex::new((0, 0, 0));
    let now = Timestamp::now().0;
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if last.2 == 0 {
        // Seeded once from the system's entropy (one system call per
        // process, not per id); should it be unavailable, time and an
        // address still make collisions across processes unlikely.
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            let address = &now as *const i64 as u64;
            seed = (now as u64 ^ address.rotate_left(32)).to_le_bytes();
        }
        last.2 = u64::from_le_bytes(seed) | 1;
    }
    let random = if now <= last.0 {
        // Same (or an earlier, after a clock step) millisecond: keep the
        // previous time and count up, so ids stay ordered and unique.
        last.1 = (last.1 + 1) & ((1 << 80) - 1);
        last.1
    } else {
        let high = splitmix64(&mut last.2);
        let low = splitmix64(&mut last.2);
        last.0 = now;
        last.1 = ((u128::from(high) << 64) | u128::from(low)) & ((1 << 80) - 1);
        last.1
    };
    let value = ((last.0 as u128 & ((1 << 48) - 1)) << 80) | random;
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// The splitmix64 generator: ULIDs need unpredictability between
/// processes, not cryptographic strength.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_around_leap_years_and_epoch() {
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(951_782_400_000).rfc3339(), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp(0).rfc5322(), "Thu, 01 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn ulids_encode_the_time_first() {
        let id = ulid();
        // The first 10 characters are the 48-bit millisecond time.
        let ms = id[..10].chars().fold(0i64, |acc, c| {
            acc * 32
                + b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
                    .iter()
                    .position(|&a| a as char == c)
                    .unwrap() as i64
        });
        assert!((Timestamp::now().0 - ms).abs() < 5_000, "{id}");
        let many: std::collections::BTreeSet<String> = (0..10_000).map(|_| ulid()).collect();
        assert_eq!(many.len(), 10_000);
    }
}
