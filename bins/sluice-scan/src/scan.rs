//! `sluice-scan scan`.

use std::collections::HashMap;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use sluice_policy::{Envelope, Inspector};

use crate::input::{expand, Input};
use crate::{report, Format};

/// Most consecutive messages a worker takes at a time: the output is
/// taken and written once per chunk rather than once per message.
const CHUNK: usize = 64;
/// How far (in messages) workers may run ahead of the output, which waits
/// for the oldest unfinished message: bounds the memory of finished but
/// unwritten output behind one slow message.
const AHEAD: usize = 4096;

/// One message's output, rendered by the worker that decided it.
struct Rendered {
    bytes: Vec<u8>,
    finding: bool,
    error: Option<String>,
    /// Said on stderr: the input is scanned, but it is not mail.
    warning: Option<String>,
}

/// Whether `bytes` look like a binary file rather than a mail message: no
/// header field (or mbox `From ` line) first, and NUL bytes or many control
/// characters near the start. (A binary is still scanned, with a warning:
/// SPEC §7. Mail may carry binary parts, so a message that starts like one
/// is never called a binary.)
fn looks_binary(bytes: &[u8]) -> bool {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let field_name = first.iter().position(|&b| b == b':').is_some_and(|colon| {
        colon > 0 && first[..colon].iter().all(|&b| (0x21..=0x7e).contains(&b))
    });
    if field_name || first.starts_with(b"From ") {
        return false;
    }
    let head = &bytes[..bytes.len().min(8192)];
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n' | 0x0c | 0x1b))
        .count();
    head.contains(&0) || control * 10 > head.len()
}

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
    // Deciding, rendering and writing happen on the workers (this thread
    // one of them), finished chunks written in input order.
    let render = |input: &Input| {
        // A panic in one message's scan (a bug) is that message's error,
        // not the end of the whole scan.
        let mut binary = false;
        let decision = input
            .with_bytes(|b| {
                binary = looks_binary(b);
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    inspector.inspect(envelope, b)
                }))
            })
            .and_then(|r| r.map_err(|_| "internal error: the scan panicked".to_owned()));
        let result = decision.as_ref().map_err(String::as_str);
        let mut bytes = Vec::new();
        let written = match format {
            Format::Json => report::json_line(&mut bytes, &input.name, result),
            Format::Human => report::human(&mut bytes, &input.name, result, inspector),
        };
        written.expect("writing to memory cannot fail");
        Rendered {
            bytes,
            finding: result.is_ok_and(|d| d.is_finding(inspector.uses_policies())),
            error: decision.err(),
            warning: binary.then(|| {
                format!(
                    "{}: not a mail message (a binary file); scanned as far as it goes",
                    input.name
                )
            }),
        }
    };
    // Not locked for the run: whichever worker writes next takes it.
    let mut out = BufWriter::new(io::stdout());
    let mut sink = Sink {
        out: &mut out,
        errors: false,
        findings: false,
        progress: progress.as_ref(),
    };
    let jobs = jobs.clamp(1, inputs.len().max(1));
    let written = if jobs == 1 {
        inputs.iter().try_for_each(|i| sink.write(&[render(i)]))
    } else {
        in_parallel(&inputs, jobs, &render, &mut sink)
    };
    let (errors, findings) = (sink.errors, sink.findings);
    if let Err(e) = written.and_then(|()| out.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("sluice-scan: cannot write output: {e}");
        }
        return ExitCode::from(2);
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    ExitCode::from(if errors {
        2
    } else if findings {
        1
    } else {
        0
    })
}

/// Where rendered messages go, in input order.
struct Sink<'a, W: Write> {
    out: &'a mut W,
    errors: bool,
    findings: bool,
    progress: Option<&'a indicatif::ProgressBar>,
}

impl<W: Write> Sink<'_, W> {
    fn write(&mut self, chunk: &[Rendered]) -> io::Result<()> {
        for r in chunk {
            if let Some(w) = &r.warning {
                eprintln!("sluice-scan: warning: {w}");
            }
            if let Some(e) = &r.error {
                eprintln!("sluice-scan: {e}");
                self.errors = true;
            }
            self.findings |= r.finding;
            self.out.write_all(&r.bytes)?;
        }
        if let Some(bar) = self.progress {
            bar.inc(chunk.len() as u64);
        }
        Ok(())
    }
}

/// The next chunk of `0..len` for one of `jobs` workers: [`CHUNK`]
/// messages, fewer towards the end (an eighth of what is left per worker),
/// so that the workers finish together rather than one waiting on the
/// other's last long chunk.
fn take_chunk(next: &AtomicUsize, len: usize, jobs: usize) -> Option<(usize, usize)> {
    let mut start = next.load(Ordering::Relaxed);
    loop {
        if start >= len {
            return None;
        }
        let size = ((len - start) / (8 * jobs)).clamp(1, CHUNK);
        match next.compare_exchange_weak(start, start + size, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => return Some((start, start + size)),
            Err(now) => start = now,
        }
    }
}

/// Renders every input on `jobs` worker threads (this one and `jobs - 1`
/// more), which take up to [`CHUNK`] messages at a time. The worker that
/// finishes a chunk files it and writes every chunk that is then next in
/// input order: there is no writer thread to wake, which on a machine with
/// as many cores as workers took a core from a worker at every chunk (a
/// sixth more processor time than one worker alone spent).
fn in_parallel<W: Write + Send>(
    inputs: &[Input],
    jobs: usize,
    render: &(impl Fn(&Input) -> Rendered + Sync),
    sink: &mut Sink<'_, W>,
) -> io::Result<()> {
    let next = AtomicUsize::new(0);
    let written = AtomicUsize::new(0);
    // Set when writing fails (a closed pipe): workers stop.
    let stop = AtomicBool::new(false);
    let ordered = Mutex::new(InOrder {
        sink,
        pending: HashMap::new(),
        at: 0,
        failed: None,
    });
    let work = || {
        while let Some((start, end)) = take_chunk(&next, inputs.len(), jobs) {
            // Behind one slow message, wait for it rather than pile up
            // output.
            while start >= written.load(Ordering::Acquire) + AHEAD && !stop.load(Ordering::Relaxed)
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let chunk: Vec<Rendered> = inputs[start..end].iter().map(render).collect();
            // A worker that panicked while holding the lock left the
            // output as it was: the chunks in it are whole.
            let mut ordered = ordered.lock().unwrap_or_else(|e| e.into_inner());
            ordered.pending.insert(start, chunk);
            if let Err(e) = ordered.write_ready(&written) {
                stop.store(true, Ordering::Relaxed);
                ordered.failed = Some(e);
                break;
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..jobs {
            scope.spawn(work);
        }
        work();
    });
    let ordered = ordered.into_inner().unwrap_or_else(|e| e.into_inner());
    match ordered.failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Finished chunks waiting for the ones before them, and where the output
/// is.
struct InOrder<'s, 'a, W: Write> {
    sink: &'s mut Sink<'a, W>,
    /// Chunks by their first message's number.
    pending: HashMap<usize, Vec<Rendered>>,
    /// The first message not written yet.
    at: usize,
    failed: Option<io::Error>,
}

impl<W: Write> InOrder<'_, '_, W> {
    /// Writes every chunk that is next in input order, and tells the
    /// workers how far the output is.
    fn write_ready(&mut self, written: &AtomicUsize) -> io::Result<()> {
        while let Some(chunk) = self.pending.remove(&self.at) {
            self.sink.write(&chunk)?;
            self.at += chunk.len();
            written.store(self.at, Ordering::Release);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_input_once_and_shrink_towards_the_end() {
        for (len, jobs) in [(5000, 2), (100, 4), (7, 2), (1, 1), (0, 3)] {
            let next = AtomicUsize::new(0);
            let mut chunks = Vec::new();
            while let Some(chunk) = take_chunk(&next, len, jobs) {
                chunks.push(chunk);
            }
            let mut at = 0;
            for &(start, end) in &chunks {
                assert_eq!(start, at, "{len} inputs, {jobs} jobs");
                assert!(end > start && end - start <= CHUNK);
                at = end;
            }
            assert_eq!(at, len);
            if len > 0 {
                assert_eq!(chunks.last().map(|(s, e)| e - s), Some(1));
            }
        }
        let next = AtomicUsize::new(0);
        assert_eq!(take_chunk(&next, 5000, 2), Some((0, CHUNK)));
    }
}
