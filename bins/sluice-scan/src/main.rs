//! `sluice-scan`: the offline scanner and tooling CLI (SPEC §7).
//!
//! Thin by design: argument parsing, reading inputs, printing. Extraction
//! lives in `sluice-mime`, matching in `sluice-dlp`.

mod extract;
mod fingerprint;
mod input;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

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
        /// Documents: any format extraction reads (.txt, .eml, .docx, .pdf, ...).
        #[arg(required = true)]
        docs: Vec<String>,
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
    quiet_extractor_panics();
    let cli = Cli::parse();
    match cli.command {
        Command::Extract { format, paths } => extract::run(&paths, format),
        Command::Fingerprint { out, docs } => fingerprint::run(&out, &docs),
    }
}

/// Panics inside contained extractors are reported as unscannable parts;
/// the default hook would also print them to stderr mid-output.
fn quiet_extractor_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let contained = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("sluice-extract-"));
        if !contained {
            default(info);
        }
    }));
}
