//! Deliveries that may fail for a while (sender notices, webhook posts):
//! each item keeps its own retry schedule, so one recipient or endpoint
//! that keeps failing never delays the others.
//!
//! Items arrive on a bounded channel; up to [`CONCURRENCY`] attempts run at
//! once; an item whose attempt asks for a retry waits for its next slot in
//! a set of scheduled items (at most [`MAX_WAITING`]; past that it is
//! dropped and reported, never held in memory without bound).

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Attempts in flight at once.
pub const CONCURRENCY: usize = 8;

/// Items waiting for a retry at most.
pub const MAX_WAITING: usize = 10_000;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered.
    Done,
    /// Worth trying again later.
    Retry(String),
    /// Refused for good.
    Failed(String),
}

/// How an item ended, for counting and logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered (after how many retries).
    Sent,
    /// Refused for good, or still failing after the last retry.
    Failed(String),
    /// No room left to wait for a retry.
    Dropped(String),
}

/// Runs until `receiver` closes and nothing is left in flight or waiting.
/// `attempt` tries one item and hands it back with the result; `schedule`
/// is the wait before each retry; `finished` hears of every item's end.
pub async fn run<T, F, Fut>(
    mut receiver: mpsc::Receiver<T>,
    schedule: &'static [Duration],
    attempt: F,
    finished: impl Fn(&T, Outcome),
) where
    T: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = (T, Attempt)> + Send + 'static,
{
    // (due, retries so far, item), unordered: few items wait at once and a
    // scan per wake-up is cheaper than keeping them sorted.
    let mut waiting: Vec<(Instant, usize, T)> = Vec::new();
    let mut running: JoinSet<(T, usize, Attempt)> = JoinSet::new();
    let mut open = true;
    loop {
        // Start what is due while there is room.
        let now = Instant::now();
        let mut i = 0;
        while i < waiting.len() && running.len() < CONCURRENCY {
            if waiting[i].0 <= now {
                let (_, tries, item) = waiting.swap_remove(i);
                let fut = attempt(item);
                running.spawn(async move {
                    let (item, result) = fut.await;
                    (item, tries, result)
                });
            } else {
                i += 1;
            }
        }
        if !open && running.is_empty() && waiting.is_empty() {
            return;
        }
        let next_due = waiting.iter().map(|w| w.0).min();
        tokio::select! {
            item = receiver.recv(), if open && running.len() < CONCURRENCY => match item {
                Some(item) => {
                    let fut = attempt(item);
                    running.spawn(async move {
                        let (item, result) = fut.await;
                        (item, 0, result)
                    });
                }
                None => open = false,
            },
            Some(joined) = running.join_next(), if !running.is_empty() => {
                // An attempt that panicked lost its item; nothing to retry.
                let Ok((item, tries, result)) = joined else { continue };
                match result {
                    Attempt::Done => finished(&item, Outcome::Sent),
                    Attempt::Failed(e) => finished(&item, Outcome::Failed(e)),
                    Attempt::Retry(e) if tries >= schedule.len() => {
                        finished(&item, Outcome::Failed(e))
                    }
                    Attempt::Retry(e) if waiting.len() >= MAX_WAITING => {
                        finished(&item, Outcome::Dropped(e))
                    }
                    Attempt::Retry(_) => {
                        waiting.push((Instant::now() + schedule[tries], tries + 1, item));
                    }
                }
            },
            _ = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test(start_paused = true)]
    async fn a_failing_item_never_delays_the_others() {
        static SCHEDULE: [Duration; 3] = [
            Duration::from_secs(5),
            Duration::from_secs(30),
            Duration::from_secs(120),
        ];
        let (tx, rx) = mpsc::channel(16);
        let ended: Arc<Mutex<Vec<(String, Outcome, Duration)>>> = Arc::default();
        let log = ended.clone();
        let started = Instant::now();
        let runner = tokio::spawn(async move {
            run(
                rx,
                &SCHEDULE,
                |item: String| async move {
                    let result = match item.as_str() {
                        "down" => Attempt::Retry("connection refused".into()),
                        "refused" => Attempt::Failed("550".into()),
                        _ => Attempt::Done,
                    };
                    (item, result)
                },
                move |item, outcome| {
                    log.lock()
                        .unwrap()
                        .push((item.clone(), outcome, started.elapsed()))
                },
            )
            .await
        });
        for item in ["down", "a", "refused", "b"] {
            tx.send(item.to_owned()).await.unwrap();
        }
        drop(tx);
        runner.await.unwrap();
        let ended = ended.lock().unwrap();
        let when = |name: &str| ended.iter().find(|e| e.0 == name).unwrap().clone();
        assert_eq!(when("a").1, Outcome::Sent);
        assert_eq!(when("b").1, Outcome::Sent);
        assert!(when("b").2 < Duration::from_secs(1), "b waited behind down");
        assert_eq!(when("refused").1, Outcome::Failed("550".into()));
        let down = when("down");
        assert_eq!(down.1, Outcome::Failed("connection refused".into()));
        assert!(down.2 >= Duration::from_secs(155), "{:?}", down.2);
    }
}
