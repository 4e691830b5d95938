//! `sluice-scan scan`.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

use sluice_policy::{Decision, Envelope, Inspector};

use crate::input::{expand, Input};
use crate::{report, Format};

/// How far scanning may run ahead of the output, in messages: output keeps
/// input order, and memory stays bounded by this many decisions.
const WINDOW: usize = 256;

pub fn run(
    inspector: &Inspector,
    envelope: &Envelope,
    paths: &[String],
    format: Format,
    jobs: usize,
) -> ExitCode {
    let inputs = expand(paths);
    let progress = (io::stderr().is_terminal() && inputs.len() > 200).then(|| {
        let bar = indicatif::ProgressBar::new(inputs.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} messages {per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        bar
    });
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut errors, mut findings) = (false, false);
    let mut write_error = None;
    decide_in_order(inspector, envelope, &inputs, jobs, |input, decision| {
        let result: Result<&Decision, &str> = match &decision {
            Ok(d) => Ok(d),
            Err(e) => {
                eprintln!("sluice-scan: {e}");
                errors = true;
                Err(e.as_str())
            }
        };
        if let Ok(d) = result {
            findings |= d.is_finding(inspector.uses_policies());
        }
        let written = match format {
            Format::Json => report::json_line(&mut out, &input.name, result),
            Format::Human => report::human(&mut out, &input.name, result, inspector),
        };
        if let Some(bar) = &progress {
            bar.inc(1);
        }
        match written {
            Ok(()) => true,
            Err(e) => {
                write_error = Some(e);
                false
            }
        }
    });
    if let Some(e) = write_error {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("sluice-scan: cannot write output: {e}");
        }
        return ExitCode::from(2);
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if out.flush().is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(if errors {
        2
    } else if findings {
        1
    } else {
        0
    })
}

/// Decides every input on `jobs` threads and hands each decision to
/// `emit` in input order, while the workers go on: writing output overlaps
/// scanning. Workers run at most [`WINDOW`] inputs ahead of the output, so
/// memory stays bounded however many inputs there are. `emit` returning
/// `false` (output closed) stops the scan.
fn decide_in_order(
    inspector: &Inspector,
    envelope: &Envelope,
    inputs: &[Input],
    jobs: usize,
    mut emit: impl FnMut(&Input, Result<Decision, String>) -> bool,
) {
    let decide = |input: &Input| input.read().map(|b| inspector.inspect(envelope, &b));
    let jobs = jobs.clamp(1, inputs.len().max(1));
    if jobs == 1 {
        for input in inputs {
            if !emit(input, decide(input)) {
                return;
            }
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many decisions have been emitted, for the window.
    let emitted = (Mutex::new(0usize), Condvar::new());
    let (tx, rx) = mpsc::channel::<(usize, Result<Decision, String>)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, stop, emitted, decide) = (&next, &stop, &emitted, &decide);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(input) = inputs.get(i) else { break };
                {
                    let (done, more) = emitted;
                    let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
                    while i >= *done + WINDOW && !stop.load(Ordering::Relaxed) {
                        done = more.wait(done).unwrap_or_else(|e| e.into_inner());
                    }
                }
                if stop.load(Ordering::Relaxed) || tx.send((i, decide(input))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0;
        for (i, decision) in rx {
            pending.insert(i, decision);
            while let Some(decision) = pending.remove(&want) {
                if !emit(&inputs[want], decision) {
                    stop.store(true, Ordering::Relaxed);
                }
                want += 1;
                let (done, more) = &emitted;
                *done.lock().unwrap_or_else(|e| e.into_inner()) = want;
                more.notify_all();
            }
            if stop.load(Ordering::Relaxed) {
                let (_, more) = &emitted;
                more.notify_all();
                break;
            }
        }
    });
}
