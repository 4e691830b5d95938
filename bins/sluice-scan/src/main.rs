//! `sluice-scan`: the offline scanner and tooling CLI (SPEC §7).
//!
//! Thin by design: argument parsing, reading inputs, printing. Extraction
//! lives in `sluice-mime`, matching in `sluice-dlp`, decisions in
//! `sluice-policy`.

mod cases;
mod check;
mod edm;
mod extract;
mod fingerprint;
mod identifiers;
mod input;
mod report;
mod scan;

/// Scanning allocates many short-lived buffers per message on every
/// worker; mimalloc's per-thread free lists measured faster than glibc's
/// malloc for that (see the README's measurements). It is built with
/// `no_thp` (the workspace's Cargo.toml): the tables probed at random ask
/// for huge pages themselves (`sluice_dlp`'s `huge_pages`), the heap does
/// not. And it is mimalloc 2 (`libmimalloc-sys`'s `v2`): its allocation
/// path measured faster than version 3's on the scan benchmark
/// (`docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use sluice_config::{Config, ConfigError, ConfigErrors, LimitsConfig};
use sluice_policy::{Envelope, Excerpts, Inspector};

#[derive(Parser)]
#[command(
    name = "sluice-scan",
    version,
    about = "Sluice offline scanner: see what the DLP engine sees in mail"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decide what the policies do with each message, and explain why.
    Scan {
        /// The configuration (sluice.toml).
        #[arg(
            long,
            required_unless_present = "dictionary",
            conflicts_with = "dictionary"
        )]
        config: Option<PathBuf>,
        /// A dictionary CSV alone: one rule counting unique terms, default n/2 threshold.
        #[arg(long)]
        dictionary: Option<PathBuf>,
        /// Evaluate only these profiles (no policy).
        #[arg(long)]
        profile: Vec<String>,
        /// Envelope sender (default: the From header).
        #[arg(long)]
        from: Option<String>,
        /// Envelope recipient, repeatable (default: To, Cc and Bcc headers).
        #[arg(long)]
        to: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Messages decided in parallel (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Print to stderr how long loading the configuration (dictionaries,
        /// fingerprints, EDM indexes) took, and scanning.
        #[arg(long)]
        timings: bool,
        /// .eml files, folders (recursive), mbox files, Maildirs, or - for stdin.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Validate a configuration: every error with its location, and warnings.
    Check {
        /// The configuration (sluice.toml).
        #[arg(long)]
        config: PathBuf,
    },
    /// Run policy regression cases.
    Test {
        /// The configuration (sluice.toml).
        #[arg(long)]
        config: PathBuf,
        /// The cases file.
        cases: PathBuf,
    },
    /// Print the text Sluice extracts from each message, with locations.
    Extract {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// .eml files, folders (recursive), mbox files, Maildirs, or - for stdin.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Fingerprint confidential documents for `type = "fingerprint"` entities.
    Fingerprint {
        /// The fingerprint file to write (hashes and document names only).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Boilerplate many documents carry (licence clauses, disclaimers, a
        /// template's text): what these documents hold is left out of every
        /// fingerprint, so a passage of it matches nothing.
        #[arg(long)]
        exclude: Vec<String>,
        /// Documents: any format extraction reads (.txt, .eml, .docx, .pdf, ...).
        #[arg(required = true)]
        docs: Vec<String>,
    },
    /// Index a table (CSV with a header row) for `type = "edm"` entities:
    /// keyed hashes of its cells, never their text.
    Edm {
        /// The index file to write.
        #[arg(long)]
        out: std::path::PathBuf,
        /// The secret salt; created (mode 0640) when it does not exist.
        #[arg(long)]
        salt_file: std::path::PathBuf,
        /// The columns to index, by header name (default: all).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Report columns with values in more rows than this.
        #[arg(long, default_value_t = 10)]
        max_value_rows: u64,
        /// The table.
        table: std::path::PathBuf,
    },
    /// List the built-in identifier types: what each validates, its
    /// confidence without a keyword, its keywords.
    Identifiers {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

/// Output format of a command.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Human,
    /// JSON Lines, one object per message.
    Json,
}

fn main() -> ExitCode {
    // A re-executed extraction worker serves its parent and nothing else.
    if let Some(code) = sluice_mime::worker::serve_if_worker() {
        return code;
    }
    quiet_extractor_panics();
    let cli = Cli::parse();
    match cli.command {
        Command::Scan {
            config,
            dictionary,
            profile,
            from,
            to,
            format,
            jobs,
            timings,
            paths,
        } => {
            let started = std::time::Instant::now();
            let inspector = match (config, dictionary) {
                (Some(c), _) => Config::load(&c).and_then(Inspector::new),
                (None, Some(d)) => Inspector::for_dictionary(&d),
                (None, None) => unreachable!("clap requires one"),
            };
            let inspector = match inspector.and_then(|i| {
                enable_workers(&i.config().limits)?;
                if profile.is_empty() {
                    Ok(i)
                } else {
                    i.with_profiles(&profile)
                }
            }) {
                Ok(i) => i,
                Err(errors) => return config_errors(&errors),
            };
            // JSON carries no explanation and no excerpt: don't make them
            // for every message.
            let inspector = match format {
                Format::Json => inspector
                    .without_explanations()
                    .with_excerpts(Excerpts::None),
                Format::Human => inspector,
            };
            let envelope = Envelope {
                sender: from,
                recipients: (!to.is_empty()).then_some(to),
            };
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
            give_back_freed_memory();
            let loaded = started.elapsed();
            let scanned = std::time::Instant::now();
            let code = scan::run(&inspector, &envelope, &paths, format, jobs);
            if timings {
                eprintln!(
                    "sluice-scan: loaded in {} ms, scanned in {} ms",
                    loaded.as_millis(),
                    scanned.elapsed().as_millis()
                );
            }
            code
        }
        Command::Check { config } => check::run(&config),
        Command::Test { config, cases } => match Config::load(&config)
            .and_then(Inspector::new)
            .and_then(|i| enable_workers(&i.config().limits).map(|()| i))
        {
            Ok(inspector) => cases::run(&inspector, &cases),
            Err(errors) => config_errors(&errors),
        },
        Command::Extract { format, paths } => match enable_workers(&LimitsConfig::default()) {
            Ok(()) => extract::run(&paths, format),
            Err(errors) => config_errors(&errors),
        },
        Command::Identifiers { format } => identifiers::run(format),
        Command::Edm {
            out,
            salt_file,
            columns,
            max_value_rows,
            table,
        } => edm::run(&out, &salt_file, &columns, max_value_rows, &table),
        Command::Fingerprint { out, exclude, docs } => {
            match enable_workers(&LimitsConfig::default()) {
                Ok(()) => fingerprint::run(&out, &docs, &exclude),
                Err(errors) => config_errors(&errors),
            }
        }
    }
}

/// The exit code of a command whose report went to stdout: its own
/// verdict, unless the report could not be written. A reader that closed
/// the pipe early (`| grep -q`, `| head`) saw what it wanted, so the verdict
/// stands; any other write error is a failure (exit 2).
fn reported(written: std::io::Result<()>, verdict: ExitCode) -> ExitCode {
    match written {
        Ok(()) => verdict,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => verdict,
        Err(e) => {
            eprintln!("sluice-scan: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

fn config_errors(errors: &ConfigErrors) -> ExitCode {
    for e in &errors.0 {
        eprintln!("sluice-scan: {e}");
    }
    ExitCode::from(2)
}

/// PDFs and spreadsheets go to extraction worker processes, as `[limits]`
/// says (SPEC §3.1).
fn enable_workers(limits: &LimitsConfig) -> Result<(), ConfigErrors> {
    let mut settings = limits.workers().map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: String::new(),
            path: "limits".into(),
            message: format!("cannot start extraction workers: {e}"),
        }])
    })?;
    // mimalloc (this binary's allocator) would reserve a 1 GiB arena at a
    // worker's first allocation, which the address-space cap refuses.
    settings
        .env
        .push(("MIMALLOC_ARENA_RESERVE".into(), "0".into()));
    sluice_mime::worker::enable_workers(settings);
    Ok(())
}

/// Hands the memory the load freed back to the system now. Loading a
/// large fingerprint library frees hundreds of megabytes (its JSON and
/// the lists decoded from it); mimalloc would return them a little at a
/// time during the scan, every return interrupting all scanning threads
/// to flush their address translations (`docs/performance.md`).
#[allow(unsafe_code)]
fn give_back_freed_memory() {
    // SAFETY: `mi_collect` only frees memory mimalloc holds unused: no
    // allocation of ours is touched or moved.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Panics inside contained extractors are reported as unscannable parts;
/// the default hook would also print them to stderr mid-output.
fn quiet_extractor_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !sluice_mime::containment::panicking_inside_guard() {
            default(info);
        }
    }));
}
