//! `sluice-scan extract`.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use serde::Serialize;
use sluice_mime::{extract, Extraction, Limits, Location, SkippedPart};

use crate::input::expand;
use crate::Format;

#[derive(Serialize)]
struct PartOut<'a> {
    location: &'a Location,
    text: &'a str,
}

#[derive(Serialize)]
struct MessageOut<'a> {
    path: &'a str,
    parts: Vec<PartOut<'a>>,
    unscannable: &'a [SkippedPart],
    unsupported: &'a [SkippedPart],
    error: Option<&'a str>,
}

pub fn run(paths: &[String], format: Format) -> ExitCode {
    let limits = Limits::default();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = false;
    for input in expand(paths) {
        let name = &input.name;
        let (extraction, error) = match input.with_bytes(|b| extract(b, &limits)) {
            Ok(extraction) => (extraction, None),
            Err(e) => {
                eprintln!("sluice-scan: {e}");
                failed = true;
                (Extraction::default(), Some(e))
            }
        };
        let written = match format {
            Format::Json => write_json(&mut out, name, &extraction, error.as_deref()),
            Format::Human => write_human(&mut out, name, &extraction, error.as_deref()),
        };
        if let Err(e) = written {
            // A closed pipe (`| head`) is not an error worth a message.
            if e.kind() != io::ErrorKind::BrokenPipe {
                eprintln!("sluice-scan: cannot write output: {e}");
            }
            return ExitCode::from(2);
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(if failed { 2 } else { 0 })
}

fn write_json(
    out: &mut impl Write,
    path: &str,
    x: &Extraction,
    error: Option<&str>,
) -> io::Result<()> {
    let message = MessageOut {
        path,
        parts: x
            .parts
            .iter()
            .map(|p| PartOut {
                location: &p.location,
                text: &p.text,
            })
            .collect(),
        unscannable: &x.unscannable,
        unsupported: &x.unsupported,
        error,
    };
    serde_json::to_writer(&mut *out, &message)?;
    writeln!(out)
}

fn write_human(
    out: &mut impl Write,
    path: &str,
    x: &Extraction,
    error: Option<&str>,
) -> io::Result<()> {
    writeln!(out, "== {path}")?;
    if let Some(e) = error {
        writeln!(out, "  error: {e}")?;
        return writeln!(out);
    }
    for part in &x.parts {
        writeln!(out, "  [{}]", part.location)?;
        for line in part.text.lines().filter(|l| !l.trim().is_empty()) {
            writeln!(out, "    {}", line.trim_end())?;
        }
    }
    for s in &x.unscannable {
        writeln!(out, "  UNSCANNABLE [{}]: {}", s.location, s.reason)?;
    }
    for s in &x.unsupported {
        writeln!(out, "  unsupported [{}]: {}", s.location, s.reason)?;
    }
    writeln!(out)
}
