//! Running third-party parsers so that their failures stay theirs.
//!
//! PDF, Office and archive parsers are large, written for well-formed files,
//! and known to panic, recurse without bound or loop on crafted input. One
//! such attachment must become one unscannable part, not a dead proxy or a
//! stuck scan. [`contain`] runs a parser on its own thread with a large
//! stack, catches its panic, and stops waiting at a deadline.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Mutex;
use std::time::Duration;

/// Stack for extractor threads: deep recursion in a parser fits where the
/// caller's 2–8 MiB would overflow (an overflow aborts the process). Only the
/// pages actually touched are committed.
pub const EXTRACTOR_STACK: usize = 256 << 20;

/// Why a contained job produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The job panicked; the payload's message if it was a string.
    Panicked(String),
    /// The job ran past its time limit; its thread is abandoned.
    TimedOut(Duration),
    /// The OS refused a thread.
    NoThread(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panicked(m) => write!(f, "extractor panicked: {m}"),
            Failure::TimedOut(d) => write!(f, "extractor timed out after {:.1}s", d.as_secs_f64()),
            Failure::NoThread(e) => write!(f, "could not start extractor thread: {e}"),
        }
    }
}

type Task = Box<dyn FnOnce() + Send>;

/// Idle extractor threads. Starting a thread (and mapping its large stack)
/// for every attachment costs more than extracting a small one, so workers
/// are reused; a worker whose job timed out is never returned here (it is
/// still busy) and is replaced by a new one on demand.
static IDLE: Mutex<Vec<SyncSender<Task>>> = Mutex::new(Vec::new());

/// Idle workers kept at most.
const MAX_IDLE: usize = 16;

fn worker() -> Result<SyncSender<Task>, Failure> {
    if let Some(w) = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop() {
        return Ok(w);
    }
    let (tx, rx) = mpsc::sync_channel::<Task>(1);
    std::thread::Builder::new()
        .name("sluice-extract-worker".into())
        .stack_size(EXTRACTOR_STACK)
        .spawn(move || {
            // Ends when its sender is dropped: timed out or too many idle.
            while let Ok(task) = rx.recv() {
                task();
            }
        })
        .map_err(|e| Failure::NoThread(e.to_string()))?;
    Ok(tx)
}

/// Runs `job` on an idle (or new) worker thread with [`EXTRACTOR_STACK`], returning its
/// result, or why there is none, within `limit`.
///
/// ```
/// use std::time::Duration;
/// use sluice_mime::containment::{contain, Failure};
///
/// assert_eq!(contain(Duration::from_secs(5), || 2 + 2), Ok(4));
/// let r: Result<(), _> = contain(Duration::from_secs(5), || panic!("corrupt xref"));
/// assert!(matches!(r, Err(Failure::Panicked(m)) if m.contains("corrupt xref")));
/// ```
pub fn contain<T, F>(limit: Duration, job: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    let task: Task = Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(job)).map_err(panic_message);
        // The receiver is gone if the caller timed out; nothing to do.
        let _ = tx.send(result);
    });
    let worker = worker()?;
    if worker.send(task).is_err() {
        return Err(Failure::NoThread("extractor worker ended".into()));
    }
    let outcome = match rx.recv_timeout(limit) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(Failure::Panicked(message)),
        // The worker is still running the job: abandon it.
        Err(mpsc::RecvTimeoutError::Timeout) => return Err(Failure::TimedOut(limit)),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            return Err(Failure::Panicked(
                "extractor thread ended without a result".into(),
            ));
        }
    };
    let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() < MAX_IDLE {
        idle.push(worker);
    }
    outcome
}

/// Runs an extractor named `name` on the calling thread, turning its panic
/// into an error worded as [`contain`]'s. Only for extractors that cannot
/// recurse deeply or run away (see `INLINE_OFFICE` in the walker).
pub(crate) fn guarded<T>(name: &str, job: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(job)).unwrap_or_else(|payload| {
        Err(format!(
            "{name} {}",
            Failure::Panicked(panic_message(payload))
        ))
    })
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_turns_a_panic_into_an_error() {
        assert_eq!(guarded("office", || Ok::<_, String>(7)), Ok(7));
        let r: Result<(), String> = guarded("office", || panic!("bad central directory"));
        assert_eq!(
            r,
            Err("office extractor panicked: bad central directory".into())
        );
    }

    #[test]
    fn runaway_loop_times_out() {
        let r: Result<(), _> = contain(Duration::from_millis(50), || loop {
            std::thread::sleep(Duration::from_millis(10));
        });
        assert_eq!(r, Err(Failure::TimedOut(Duration::from_millis(50))));
    }

    #[test]
    fn deep_recursion_fits_the_worker_stack() {
        fn depth(n: u64) -> u64 {
            let pad = [n; 16];
            if n == 0 {
                0
            } else {
                1 + depth(std::hint::black_box(pad)[0] - 1)
            }
        }
        // ~200k frames of ~200 bytes: far beyond a default 8 MiB stack.
        assert_eq!(
            contain(Duration::from_secs(30), || depth(200_000)),
            Ok(200_000)
        );
    }
}
