//! The bytes all sessions hold at once (SPEC §2 `max_inflight_bytes`).
//!
//! Each message is charged three times its size while it is received,
//! scanned and relayed: the raw message, the text extraction makes of it
//! (decoded attachments are about the size of their encoding or smaller;
//! what expands further is bounded per message by `max_expanded_bytes`),
//! and the scan's working set (measured: a 51 MB message with a 36 MB
//! attachment costs the proxy 2.6 times its size at peak; see
//! `benches/inflight_load.py`). At DATA the declared `SIZE` is charged before
//! `354`, waiting up to [`ADMISSION_WAIT`]; then every received chunk is
//! charged as it arrives, without waiting: a message that cannot be
//! charged is read to its end and refused with `451 4.3.1`. The charge is
//! held until the message's reply is sent.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a DATA command waits for room before `451 4.3.1`.
pub const ADMISSION_WAIT: Duration = Duration::from_secs(30);

/// Bytes are charged in units of this many (semaphore permits are `u32`
/// per acquisition).
const UNIT: usize = 1024;

/// Held bytes raised by this factor: the message, its extracted text and
/// the scan's working set.
const FACTOR: usize = 3;

/// The shared budget.
#[derive(Debug, Clone)]
pub struct InflightBudget {
    units: Arc<Semaphore>,
    capacity: usize,
}

/// What one message holds of the budget; released when dropped.
#[derive(Debug)]
pub struct Charge {
    budget: InflightBudget,
    permit: Option<OwnedSemaphorePermit>,
    bytes: usize,
}

impl InflightBudget {
    /// A budget of `max_bytes` held bytes.
    pub fn new(max_bytes: u64) -> InflightBudget {
        let capacity = usize::try_from(max_bytes / UNIT as u64)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS);
        InflightBudget {
            units: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    fn units_for(&self, bytes: usize) -> usize {
        bytes.saturating_mul(FACTOR).div_ceil(UNIT)
    }

    /// Charges a message declared as `declared` bytes, waiting up to
    /// `wait` for room; `None` when there was none.
    pub async fn admit(&self, declared: usize, wait: Duration) -> Option<Charge> {
        // A declared size past the whole budget waits for all of it: the
        // SIZE may overstate, and what arrives is charged as it comes.
        let units = self.units_for(declared).min(self.capacity);
        let units = u32::try_from(units).unwrap_or(u32::MAX);
        let permit = if units == 0 {
            None
        } else {
            let acquire = self.units.clone().acquire_many_owned(units);
            Some(tokio::time::timeout(wait, acquire).await.ok()?.ok()?)
        };
        Some(Charge {
            budget: self.clone(),
            permit,
            bytes: declared.min(self.capacity * UNIT / FACTOR),
        })
    }

    /// Bytes the budget has room for now (for tests and metrics).
    pub fn available_bytes(&self) -> usize {
        self.units.available_permits() * UNIT / FACTOR
    }
}

impl Charge {
    /// Grows the charge to cover `bytes` received so far; false when the
    /// budget has no room (nothing is waited for).
    pub fn cover(&mut self, bytes: usize) -> bool {
        if bytes <= self.bytes {
            return true;
        }
        let have = self.budget.units_for(self.bytes);
        let need = self.budget.units_for(bytes);
        if need > have {
            let Ok(extra) = u32::try_from(need - have) else {
                return false;
            };
            match self.budget.units.clone().try_acquire_many_owned(extra) {
                Ok(p) => match &mut self.permit {
                    Some(held) => held.merge(p),
                    None => self.permit = Some(p),
                },
                Err(_) => return false,
            }
        }
        self.bytes = bytes;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn charges_wait_grow_and_release() {
        let budget = InflightBudget::new(150 * 1024);
        let mut a = budget.admit(10 * 1024, Duration::ZERO).await.unwrap();
        assert_eq!(budget.available_bytes(), 40 * 1024);
        assert!(a.cover(40 * 1024));
        assert!(!a.cover(60 * 1024), "past the budget");
        assert!(budget
            .admit(20 * 1024, Duration::from_millis(20))
            .await
            .is_none());
        drop(a);
        assert_eq!(budget.available_bytes(), 50 * 1024);
        let b = budget.admit(0, Duration::ZERO).await.unwrap();
        drop(b);
        assert_eq!(budget.available_bytes(), 50 * 1024);
    }
}
