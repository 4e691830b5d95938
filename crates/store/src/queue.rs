//! The incident writer: a bounded queue drained by one thread, so recording
//! an incident never waits for the disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use crate::{IncidentRecord, Store};

/// Most incidents committed in one transaction: one fsync for many.
const BATCH: usize = 256;

/// Counters of an [`IncidentQueue`].
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Incidents committed.
    pub written: AtomicU64,
    /// Incidents dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Incidents lost to a failed write.
    pub failed: AtomicU64,
}

/// Sends incidents to the writer thread. Dropping every sender (and so the
/// queue) lets the thread finish what is queued and exit.
#[derive(Debug, Clone)]
pub struct IncidentQueue {
    sender: SyncSender<IncidentRecord>,
    stats: Arc<QueueStats>,
}

impl IncidentQueue {
    /// Starts the writer thread with room for `capacity` waiting incidents.
    /// `on_error` hears of each failed batch (for the log); it runs on the
    /// writer thread.
    pub fn start(
        store: Arc<Store>,
        capacity: usize,
        on_error: impl Fn(&crate::StoreError, usize) + Send + 'static,
    ) -> std::io::Result<(IncidentQueue, std::thread::JoinHandle<()>)> {
        let (sender, receiver) = sync_channel(capacity.max(1));
        let stats = Arc::new(QueueStats::default());
        let thread_stats = stats.clone();
        let handle = std::thread::Builder::new()
            .name("incident-writer".into())
            .spawn(move || drain(&store, &receiver, &thread_stats, &on_error))?;
        Ok((IncidentQueue { sender, stats }, handle))
    }

    /// Queues an incident; `false` (and counted as dropped) when the queue
    /// is full or the writer is gone. Never blocks.
    pub fn submit(&self, record: IncidentRecord) -> bool {
        match self.sender.try_send(record) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The queue's counters.
    pub fn stats(&self) -> &QueueStats {
        &self.stats
    }
}

fn drain(
    store: &Store,
    receiver: &Receiver<IncidentRecord>,
    stats: &QueueStats,
    on_error: &dyn Fn(&crate::StoreError, usize),
) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        match store.insert(&batch) {
            Ok(()) => {
                stats
                    .written
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                stats
                    .failed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                on_error(&e, batch.len());
            }
        }
    }
}
