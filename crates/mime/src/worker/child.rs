//! The worker's side: cap its own address space, then answer requests
//! from stdin on stdout until the parent closes the pipe.

use std::io::{BufReader, BufWriter};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;

use super::protocol::{self, Extracted, Kind};
use super::WORKER_ENV;

/// Stack of the thread that runs extractors in a worker: parsers recurse,
/// and an overflow only costs this worker, but a deep enough stack lets
/// legitimate deep documents finish. It counts against the address-space
/// cap, so it is not the 256 MiB an in-process thread could have.
const WORKER_STACK: usize = 64 << 20;

/// When this process was started as an extraction worker (see
/// [`super::WORKER_ENV`]), serves requests until the parent closes the
/// pipe and returns the exit code; otherwise returns `None` at once.
/// Call it first thing in `main`, before threads or runtimes start.
pub fn serve_if_worker() -> Option<ExitCode> {
    let limit = std::env::var_os(WORKER_ENV)?;
    let limit: u64 = match limit.to_str().and_then(|s| s.parse().ok()) {
        Some(l) => l,
        None => return Some(ExitCode::from(2)),
    };
    Some(serve(limit))
}

fn serve(limit: u64) -> ExitCode {
    use rustix::process::{setrlimit, Resource, Rlimit};
    let cap = Rlimit {
        current: Some(limit),
        maximum: Some(limit),
    };
    // Without the cap a worker is no safer than a thread: refuse to serve.
    if setrlimit(Resource::As, cap).is_err() {
        return ExitCode::from(3);
    }
    watch_parent();
    // Panics are answered as errors; their default report would only fill
    // the stderr the parent reads for out-of-memory messages.
    std::panic::set_hook(Box::new(|_| {}));
    let served = std::thread::Builder::new()
        .name("sluice-extractor".into())
        .stack_size(WORKER_STACK)
        .spawn(move || answer_requests(limit));
    match served.map(|t| t.join()) {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        _ => ExitCode::from(4),
    }
}

/// A worker whose parent is gone has no one to answer: it ends, even in
/// the middle of a job (the parent's closed pipe is only noticed between
/// jobs). `PR_SET_PDEATHSIG` would fire when the *thread* that started the
/// worker ends, which in a thread pool is any time, so the parent is
/// watched instead.
fn watch_parent() {
    let parent = rustix::process::getppid();
    let _ = std::thread::Builder::new()
        .name("sluice-extractor-watch".into())
        .stack_size(64 * 1024)
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(500));
            if rustix::process::getppid() != parent {
                // This process is the worker itself, not a library user's:
                // ending it is the point.
                std::process::exit(5);
            }
        });
}

/// True at a clean end of input.
fn answer_requests(limit: u64) -> bool {
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut output = BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    loop {
        let (kind, allowance, data) = match protocol::read_request(&mut input, limit) {
            Ok(Some(request)) => request,
            Ok(None) => return true,
            Err(_) => return false,
        };
        let result = catch_unwind(AssertUnwindSafe(|| run_extractor(kind, &data, allowance)))
            .unwrap_or_else(|payload| {
                Err(format!(
                    "{} extractor panicked: {}",
                    kind.name(),
                    crate::containment::panic_message(payload)
                ))
            });
        drop(data);
        if protocol::write_response(&mut output, &result).is_err() {
            return false;
        }
    }
}

/// Runs the extractor for `kind`; the text is cut at `allowance` bytes
/// (and marked truncated) so a response never exceeds what the parent
/// accepts.
pub(crate) fn run_extractor(kind: Kind, data: &[u8], allowance: u64) -> Result<Extracted, String> {
    let mut extracted = match kind {
        Kind::Pdf => crate::document::pdf::extract(data)?,
        Kind::Spreadsheet => crate::document::sheet::extract(data, allowance)?,
    };
    let cap = usize::try_from(allowance).unwrap_or(usize::MAX);
    if extracted.text.len() > cap {
        let mut cut = cap;
        while !extracted.text.is_char_boundary(cut) {
            cut -= 1;
        }
        extracted.text.truncate(cut);
        extracted.truncated = true;
    }
    Ok(extracted)
}
