//! `sluice-scan scan`.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use sluice_policy::{Decision, Envelope, Inspector};

use crate::input::{expand, Input};
use crate::{report, Format};

/// Messages decided per batch: output keeps input order, memory stays
/// bounded by a batch.
const BATCH: usize = 256;

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
    for batch in inputs.chunks(BATCH) {
        let decisions = decide_all(inspector, envelope, batch, jobs);
        for (input, decision) in batch.iter().zip(&decisions) {
            let result: Result<&Decision, &str> = match decision {
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
            if let Err(e) = written {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    eprintln!("sluice-scan: cannot write output: {e}");
                }
                return ExitCode::from(2);
            }
        }
        if let Some(bar) = &progress {
            bar.inc(batch.len() as u64);
        }
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

/// Decides every input of a batch on `jobs` threads, in input order.
fn decide_all(
    inspector: &Inspector,
    envelope: &Envelope,
    batch: &[Input],
    jobs: usize,
) -> Vec<Result<Decision, String>> {
    let decide = |input: &Input| input.read().map(|b| inspector.inspect(envelope, &b));
    let jobs = jobs.clamp(1, batch.len().max(1));
    if jobs == 1 {
        return batch.iter().map(decide).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Decision, String>>> =
        (0..batch.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = batch.get(i) else { break };
                        done.push((i, decide(input)));
                    }
                    done
                })
            })
            .collect();
        for w in workers {
            for (i, r) in w.join().expect("scan worker panicked") {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every input decided"))
        .collect()
}
