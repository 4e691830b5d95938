//! PDF and spreadsheet extraction in capped worker processes (SPEC §3.1).
//!
//! `pdf-extract`/`lopdf` and `calamine` can be made to allocate without
//! bound (a 4.8 KB .xlsx with cells `A1` and `XFD1048576` asks for a 512 GiB
//! grid; a PDF whose content stream is deflated twice inflates to gigabytes)
//! or to loop. Allocation failure aborts a Rust process and a thread cannot
//! be stopped, so no in-process guard helps: these parsers run in separate
//! processes whose address space is capped with `RLIMIT_AS`
//! (`max_extractor_memory`), which are killed at the message's deadline, and
//! which are replaced when they die. Their death makes one part
//! unscannable, with the reason, and nothing else.
//!
//! A worker is this same program, re-executed: the parent starts
//! [`WorkerSettings::program`] with the environment variable
//! [`WORKER_ENV`] set, and the program's `main` hands control to
//! [`serve_if_worker`] before doing anything else:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     if let Some(code) = sluice_mime::worker::serve_if_worker() {
//!         return code; // this process was a worker; its parent closed the pipe
//!     }
//!     let settings = sluice_mime::worker::WorkerSettings::this_program(0, 1 << 30)
//!         .expect("own executable");
//!     sluice_mime::worker::enable_workers(settings);
//!     // ... extract as usual: PDFs and spreadsheets now go to workers.
//!     std::process::ExitCode::SUCCESS
//! }
//! ```
//!
//! A program that enables nothing gets those formats as unscannable
//! (`extractor workers not enabled`); [`enable_in_process_extraction`] opts
//! in to running them on the calling thread, under `catch_unwind` only, for
//! embedders that accept the risk (and for tests of the extractors
//! themselves).
//!
//! Workers are reused: a request costs two pipe transfers and no process
//! start. Requests and responses are length-prefixed (`protocol.rs`); the
//! parent polls the pipes with the deadline, so a worker that stops
//! answering is killed, never waited for.

mod child;
pub(crate) mod protocol;

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

pub(crate) use protocol::{Extracted, Kind};

pub use child::serve_if_worker;

/// The environment variable that makes a process a worker; its value is
/// the address-space cap in bytes.
pub const WORKER_ENV: &str = "SLUICE_EXTRACTOR_WORKER";

/// How to start extraction workers and how many may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// The executable to start; its `main` must call [`serve_if_worker`]
    /// first.
    pub program: PathBuf,
    /// Arguments for it (a worker ignores them; some launchers need them).
    pub args: Vec<OsString>,
    /// Environment added for it: settings its allocator must see at start
    /// to live within the cap (mimalloc reserves a 1 GiB arena up front
    /// unless `MIMALLOC_ARENA_RESERVE=0`).
    pub env: Vec<(OsString, OsString)>,
    /// Worker processes at most; 0 means one per core.
    pub workers: usize,
    /// Address space of one worker, in bytes (`max_extractor_memory`).
    pub memory_limit: u64,
}

impl WorkerSettings {
    /// Workers that re-execute the running program.
    pub fn this_program(workers: usize, memory_limit: u64) -> io::Result<WorkerSettings> {
        Ok(WorkerSettings {
            program: std::env::current_exe()?,
            args: Vec::new(),
            env: Vec::new(),
            workers,
            memory_limit,
        })
    }
}

enum Mode {
    NotEnabled,
    InProcess,
    Workers(Arc<Pool>),
}

static MODE: RwLock<Mode> = RwLock::new(Mode::NotEnabled);

/// Sends PDF and spreadsheet extraction to worker processes started as
/// `settings` says. Calling it again replaces the pool: idle workers of the
/// old one end at once, busy ones when their job does.
pub fn enable_workers(settings: WorkerSettings) {
    let pool = Arc::new(Pool::new(settings));
    *MODE.write().unwrap_or_else(|e| e.into_inner()) = Mode::Workers(pool);
}

/// Runs PDF and spreadsheet extraction on the calling thread under
/// `catch_unwind` only: an allocation bomb then aborts this process and a
/// runaway parser keeps its thread. For embedders that accept that, and for
/// tests of the extractors.
pub fn enable_in_process_extraction() {
    *MODE.write().unwrap_or_else(|e| e.into_inner()) = Mode::InProcess;
}

/// Extracts `data` as `kind`, reading at most `allowance` bytes of
/// expansion, finishing by `deadline` (`max_scan_time`'s wording in the
/// error when it does not).
pub(crate) fn extract(
    kind: Kind,
    data: &[u8],
    allowance: u64,
    deadline: Instant,
    max_scan_time: Duration,
) -> Result<Extracted, String> {
    let pool = match &*MODE.read().unwrap_or_else(|e| e.into_inner()) {
        Mode::NotEnabled => return Err("extractor workers not enabled".into()),
        Mode::InProcess => None,
        Mode::Workers(pool) => Some(Arc::clone(pool)),
    };
    match pool {
        None => {
            crate::containment::guarded(kind.name(), || child::run_extractor(kind, data, allowance))
        }
        Some(pool) => pool
            .run(kind, data, allowance, deadline)
            .map_err(|f| match f {
                Failure::Deadline => scan_time_reason(max_scan_time),
                Failure::Reason(r) => r,
            }),
    }
}

fn scan_time_reason(max_scan_time: Duration) -> String {
    crate::limits::Exceeded::ScanTime(max_scan_time).to_string()
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Spreadsheet => "sheet",
        }
    }
}

/// `1073741824` as `1GiB`, the way limits are written in `sluice.toml`.
pub(crate) fn format_size(bytes: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

enum Failure {
    Deadline,
    Reason(String),
}

struct Pool {
    settings: WorkerSettings,
    size: usize,
    state: Mutex<PoolState>,
    /// Signalled when a worker goes back to idle or dies.
    freed: Condvar,
}

struct PoolState {
    idle: Vec<Process>,
    /// Workers alive, idle or busy.
    live: usize,
}

impl Pool {
    fn new(settings: WorkerSettings) -> Pool {
        let size = match settings.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Pool {
            settings,
            size,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                live: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn run(
        &self,
        kind: Kind,
        data: &[u8],
        allowance: u64,
        deadline: Instant,
    ) -> Result<Extracted, Failure> {
        let mut process = self.acquire(deadline)?;
        // Text beyond the allowance is cut by the worker; a little more
        // covers the framing.
        let max_response = allowance.saturating_add(1 << 20);
        let outcome = process.exchange(kind, data, allowance, max_response, deadline);
        match outcome {
            Ok(result) => {
                self.release(process);
                result.map_err(Failure::Reason)
            }
            Err(exchange) => {
                let failure = process.end(exchange, self.settings.memory_limit);
                self.forget();
                Err(failure)
            }
        }
    }

    /// An idle worker, a new one while fewer than `size` live, or the
    /// first one freed before `deadline`.
    fn acquire(&self, deadline: Instant) -> Result<Process, Failure> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while let Some(mut process) = state.idle.pop() {
                // A worker killed from outside while idle is replaced here
                // rather than failing the part it would have been given.
                if matches!(process.child.try_wait(), Ok(None)) {
                    return Ok(process);
                }
                state.live -= 1;
            }
            if state.live < self.size {
                state.live += 1;
                drop(state);
                return Process::start(&self.settings).map_err(|e| {
                    self.forget();
                    Failure::Reason(format!("could not start extractor worker: {e}"))
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::Deadline);
            }
            state = self
                .freed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn release(&self, process: Process) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.idle.push(process);
        self.freed.notify_one();
    }

    fn forget(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.live -= 1;
        self.freed.notify_one();
    }
}

/// One worker process and the parent's ends of its pipes (non-blocking).
struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: ChildStderr,
    /// The last bytes the worker wrote to stderr: an allocation failure
    /// says so there before the abort.
    stderr_tail: Vec<u8>,
}

/// How an exchange with a worker went wrong.
enum ExchangeError {
    Deadline,
    /// The worker closed its pipes or they failed: it died.
    Died,
    /// It answered something the protocol does not allow.
    Garbage(String),
}

const STDERR_TAIL: usize = 4096;

/// A response being read: the 9-byte header, then as many body bytes as
/// it announced (checked against the cap before any is kept).
#[derive(Default)]
struct Incoming {
    head: [u8; 9],
    head_len: usize,
    body: Vec<u8>,
    body_len: Option<u64>,
}

impl Incoming {
    /// Reads what the pipe has; the decoded response once it is whole.
    fn read_from(
        &mut self,
        pipe: &mut ChildStdout,
        max_response: u64,
    ) -> Result<Option<Result<Extracted, String>>, ExchangeError> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let read = match self.body_len {
                None => pipe.read(&mut self.head[self.head_len..]),
                Some(len) => {
                    let want = (len - self.body.len() as u64).min(chunk.len() as u64) as usize;
                    pipe.read(&mut chunk[..want])
                }
            };
            match read {
                // A whole response of zero body bytes reads nothing more.
                Ok(0) if self.body_len != Some(self.body.len() as u64) => {
                    return Err(ExchangeError::Died)
                }
                Ok(n) => match self.body_len {
                    None => {
                        self.head_len += n;
                        if self.head_len == self.head.len() {
                            let len = protocol::response_len(&self.head, max_response)
                                .map_err(ExchangeError::Garbage)?;
                            self.body_len = Some(len);
                        }
                    }
                    Some(_) => self.body.extend_from_slice(&chunk[..n]),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(ExchangeError::Died),
            }
            if self.body_len == Some(self.body.len() as u64) {
                let body = std::mem::take(&mut self.body);
                return Ok(Some(protocol::decode_response(self.head[0], body)));
            }
        }
    }
}

impl Process {
    fn start(settings: &WorkerSettings) -> io::Result<Process> {
        let mut child = Command::new(&settings.program)
            .args(&settings.args)
            .envs(settings.env.iter().map(|(k, v)| (k, v)))
            .env(WORKER_ENV, settings.memory_limit.to_string())
            // No backtraces: what a worker says on stderr is read to tell
            // why it died, and a backtrace printed after running out of
            // memory pushed "memory allocation of" out of the kept tail
            // (with RUST_BACKTRACE=1 in the service's environment).
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(io::Error::other("worker pipes missing"));
                }
            };
        for fd in [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()] {
            let flags = rustix::fs::fcntl_getfl(fd)?;
            rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)?;
        }
        Ok(Process {
            child,
            stdin,
            stdout,
            stderr,
            stderr_tail: Vec::new(),
        })
    }

    /// Sends one request and reads its response, never blocking past
    /// `deadline`. `Ok(Err(reason))` is the extractor's own failure; the
    /// worker is fine and can be reused.
    fn exchange(
        &mut self,
        kind: Kind,
        data: &[u8],
        allowance: u64,
        max_response: u64,
        deadline: Instant,
    ) -> Result<Result<Extracted, String>, ExchangeError> {
        let header = protocol::encode_request(kind, allowance, data);
        let mut sent = 0usize;
        let total = header.len() + data.len();
        let mut response = Incoming::default();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ExchangeError::Deadline);
            }
            let timeout = Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            };
            let writing = sent < total;
            let mut fds = [
                PollFd::new(&self.stdout, PollFlags::IN),
                PollFd::new(&self.stderr, PollFlags::IN),
                PollFd::new(
                    &self.stdin,
                    if writing {
                        PollFlags::OUT
                    } else {
                        PollFlags::empty()
                    },
                ),
            ];
            match poll(&mut fds, Some(&timeout)) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return Err(ExchangeError::Died),
            }
            let ready = [fds[0].revents(), fds[1].revents(), fds[2].revents()];
            if !ready[1].is_empty() {
                self.read_stderr();
            }
            if writing && !ready[2].is_empty() {
                let chunk = if sent < header.len() {
                    &header[sent..]
                } else {
                    &data[sent - header.len()..]
                };
                match self.stdin.write(chunk) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Err(ExchangeError::Died),
                }
            }
            if ready[0].is_empty() {
                continue;
            }
            if let Some(result) = response.read_from(&mut self.stdout, max_response)? {
                if sent < total {
                    return Err(ExchangeError::Garbage(
                        "extractor answered before reading its request".into(),
                    ));
                }
                return Ok(result);
            }
        }
    }

    fn read_stderr(&mut self) {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stderr.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => {
                    self.stderr_tail.extend_from_slice(&chunk[..n]);
                    if self.stderr_tail.len() > STDERR_TAIL {
                        let cut = self.stderr_tail.len() - STDERR_TAIL;
                        self.stderr_tail.drain(..cut);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Ends a worker after a failed exchange and says why, in SPEC §3.1's
    /// words. A worker that timed out is killed; one that died is reaped
    /// and its signal or stderr read.
    fn end(mut self, error: ExchangeError, memory_limit: u64) -> Failure {
        match error {
            ExchangeError::Deadline => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Failure::Deadline
            }
            ExchangeError::Garbage(reason) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Failure::Reason(reason)
            }
            ExchangeError::Died => {
                // Its pipes closed: it is exiting. Give it a moment to be
                // reaped with its own status before forcing the matter.
                let waited = Instant::now();
                let status = loop {
                    match self.child.try_wait() {
                        Ok(Some(status)) => break Some(status),
                        Ok(None) if waited.elapsed() < Duration::from_millis(500) => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        _ => {
                            let _ = self.child.kill();
                            break self.child.wait().ok();
                        }
                    }
                };
                self.read_stderr();
                let tail = String::from_utf8_lossy(&self.stderr_tail);
                let out_of_memory = tail.contains("memory allocation of");
                Failure::Reason(match status {
                    _ if out_of_memory => format!(
                        "extractor out of memory (limit {})",
                        format_size(memory_limit)
                    ),
                    Some(s) if s.signal().is_some() => {
                        format!("extractor crashed (signal {})", s.signal().unwrap_or(0))
                    }
                    Some(s) => format!("extractor exited ({s})"),
                    None => "extractor ended without an answer".to_owned(),
                })
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Idle workers of a replaced pool, and any left at exit: no orphans.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format_size;

    #[test]
    fn sizes_read_as_written_in_the_config() {
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(512 << 20), "512MiB");
        assert_eq!(format_size(3 << 10), "3KiB");
        assert_eq!(format_size(1000), "1000 bytes");
    }
}
