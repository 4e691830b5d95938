//! Extraction workers for the integration tests: the crate's own
//! `sluice-extract-worker` binary, at most two, 1 GiB each (the defaults).

use std::sync::Once;

use sluice_mime::worker::{enable_workers, WorkerSettings};

pub fn with_workers() {
    static ENABLED: Once = Once::new();
    ENABLED.call_once(|| {
        enable_workers(WorkerSettings {
            program: env!("CARGO_BIN_EXE_sluice-extract-worker").into(),
            args: Vec::new(),
            env: Vec::new(),
            workers: 2,
            memory_limit: 1 << 30,
        })
    });
}
