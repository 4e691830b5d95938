//! A stand-alone extraction worker: the smallest program that serves
//! `sluice-mime`'s worker protocol. Programs that embed `sluice-mime` can
//! point [`WorkerSettings::program`] at it instead of re-executing
//! themselves; the crate's own tests do.
//!
//! [`WorkerSettings::program`]: sluice_mime::worker::WorkerSettings

use std::process::ExitCode;

fn main() -> ExitCode {
    match sluice_mime::worker::serve_if_worker() {
        Some(code) => code,
        None => {
            eprintln!(
                "sluice-extract-worker: started by sluice-mime with {} set, not by hand",
                sluice_mime::worker::WORKER_ENV
            );
            ExitCode::from(2)
        }
    }
}
