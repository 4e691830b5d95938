//! `sluice-scan edm --out FILE --salt-file SALT [--columns A,B] [--max-value-rows N] TABLE.csv`

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::reported;

/// Builds the index into a temporary file beside `out` and renames it
/// over `out`: a scanner or proxy that has the old index mapped keeps
/// reading the old file, never a half-written one.
pub fn run(
    out: &Path,
    salt_file: &Path,
    columns: &[String],
    max_value_rows: u64,
    table: &Path,
) -> ExitCode {
    let fail = |message: String| {
        eprintln!("sluice-scan: {message}");
        ExitCode::from(2)
    };
    let (salt, created) = match sluice_dlp::read_or_create_salt(salt_file) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    if created {
        eprintln!(
            "sluice-scan: created the salt {} (readable by owner and group only; keep it secret, and with the index)",
            salt_file.display()
        );
    }
    let input = match std::fs::File::open(table) {
        Ok(f) => std::io::BufReader::with_capacity(1 << 20, f),
        Err(e) => return fail(format!("cannot read {}: {e}", table.display())),
    };
    let partial = out.with_extension("edm-partial");
    let file = match std::fs::File::create(&partial) {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot write {}: {e}", partial.display())),
    };
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let started = std::time::Instant::now();
    let built = sluice_dlp::build_edm_index(input, &salt, columns, max_value_rows, &mut writer)
        .and_then(|report| {
            writer
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&partial, out))
                .map(|()| report)
                .map_err(|source| sluice_dlp::EdmError::Io {
                    path: out.display().to_string(),
                    source,
                })
        });
    let report = match built {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            let at = match e {
                sluice_dlp::EdmError::Table(_) => format!("{}: ", table.display()),
                _ => String::new(),
            };
            return fail(format!("{at}{e}"));
        }
    };
    let mut text = format!(
        "{}: {} rows, columns {}, {} hashes, {:.1} MB, built in {:.1} s\n",
        out.display(),
        report.rows,
        report.columns.join(", "),
        report.entries,
        report.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    for (column, n) in &report.long_cells {
        text.push_str(&format!(
            "warning: column {column}: {n} cells have more than {} words and are not indexed\n",
            sluice_dlp::EDM_MAX_CELL_WORDS
        ));
    }
    for r in &report.repeated {
        text.push_str(&format!(
            "warning: column {}: {} values are each in more than {max_value_rows} rows (up to {}); they never count toward a row\n",
            r.column, r.values, r.most_rows
        ));
    }
    reported(
        std::io::stdout().lock().write_all(text.as_bytes()),
        ExitCode::SUCCESS,
    )
}
