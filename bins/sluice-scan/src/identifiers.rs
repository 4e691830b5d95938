//! `sluice-scan identifiers`: the built-in identifier types (SPEC §3.3).

use std::io::{self, Write};
use std::process::ExitCode;

use serde::Serialize;
use sluice_dlp::{Confidence, Identifier};

use crate::Format;

/// One type, as the JSON line shows it.
#[derive(Serialize)]
struct TypeOut {
    #[serde(rename = "type")]
    name: &'static str,
    validates: &'static str,
    /// The highest confidence a match has without a keyword.
    confidence: Confidence,
    keywords: &'static [&'static str],
}

pub fn run(format: Format) -> ExitCode {
    crate::reported(write(&mut io::stdout().lock(), format), ExitCode::SUCCESS)
}

fn write(out: &mut impl Write, format: Format) -> io::Result<()> {
    for id in Identifier::ALL {
        let t = TypeOut {
            name: id.name(),
            validates: id.validates(),
            confidence: id.confidence(),
            keywords: id.keywords(),
        };
        match format {
            Format::Json => {
                serde_json::to_writer(&mut *out, &t)?;
                writeln!(out)?;
            }
            Format::Human => {
                writeln!(
                    out,
                    "{:<22} {:<6}  {}",
                    t.name,
                    t.confidence.name(),
                    t.validates
                )?;
                writeln!(out, "{:<30} keywords: {}", "", t.keywords.join(", "))?;
            }
        }
    }
    Ok(())
}
