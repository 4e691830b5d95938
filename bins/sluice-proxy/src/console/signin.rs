//! Sign-in throttling (SPEC §9): after 5 failed sign-ins in 15 minutes for
//! one user name or from one client address, that name or address gets 429
//! for 15 minutes, whatever password it tries next.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures that lock a name or an address.
pub const MAX_FAILURES: usize = 5;

/// The window failures are counted in, and how long a lock lasts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Names and addresses tracked at most: past this, the oldest failures are
/// forgotten first, so a flood of made-up names cannot grow the map without
/// bound (it can only shorten how long the flood's own names stay locked).
const MAX_KEYS: usize = 100_000;

/// Recent failures by `user:<name>` and `ip:<address>`.
#[derive(Default)]
pub struct SignInLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SignInLimiter {
    /// How long the first locked key of `keys` stays locked, if one is.
    pub fn locked(&self, keys: &[String], now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .filter_map(|k| failures.get(k))
            .filter_map(|times| {
                let recent: Vec<&Instant> = times
                    .iter()
                    .filter(|t| now.duration_since(**t) < WINDOW)
                    .collect();
                // Locked from the 5th failure in the window, for WINDOW
                // after the last one.
                (recent.len() >= MAX_FAILURES)
                    .then(|| WINDOW.saturating_sub(now.duration_since(*recent[recent.len() - 1])))
            })
            .max()
    }

    /// Counts a failed sign-in against each of `keys`.
    pub fn fail(&self, keys: &[String], now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        if failures.len() >= MAX_KEYS {
            let oldest = failures
                .iter()
                .min_by_key(|(_, times)| times.back().copied())
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                failures.remove(&k);
            }
        }
        for key in keys {
            let times = failures.entry(key.clone()).or_default();
            times.push_back(now);
            // More than MAX_FAILURES in the window adds nothing.
            while times.len() > MAX_FAILURES {
                times.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_name_or_the_address_for_fifteen_minutes() {
        let limiter = SignInLimiter::default();
        let start = Instant::now();
        let keys = |user: &str, ip: &str| vec![format!("user:{user}"), format!("ip:{ip}")];
        for i in 0..4 {
            limiter.fail(&keys("ana", "192.0.2.1"), start + Duration::from_secs(i));
        }
        assert_eq!(
            limiter.locked(&keys("ana", "192.0.2.9"), start + Duration::from_secs(5)),
            None
        );
        limiter.fail(&keys("ana", "192.0.2.1"), start + Duration::from_secs(5));
        // The name is locked from anywhere, the address for any name.
        assert!(limiter
            .locked(&keys("ana", "192.0.2.9"), start + Duration::from_secs(6))
            .is_some());
        assert!(limiter
            .locked(&keys("bo", "192.0.2.1"), start + Duration::from_secs(6))
            .is_some());
        assert_eq!(
            limiter.locked(&keys("bo", "192.0.2.9"), start + Duration::from_secs(6)),
            None
        );
        let left = limiter
            .locked(&keys("ana", "x"), start + Duration::from_secs(65))
            .unwrap();
        assert_eq!(left, WINDOW - Duration::from_secs(60));
        assert_eq!(
            limiter.locked(&keys("ana", "x"), start + WINDOW + Duration::from_secs(5)),
            None
        );
    }
}
