//! `sluice-scan check --config FILE`.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use sluice_config::Config;
use sluice_policy::{lints, Inspector};

pub fn run(path: &Path) -> ExitCode {
    let inspector = match Config::load(path).and_then(Inspector::new) {
        Ok(i) => i,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("error: {e}");
            }
            eprintln!("{}: {} error(s)", path.display(), errors.0.len());
            return ExitCode::from(2);
        }
    };
    let warnings = lints(&inspector);
    let written = write_report(&mut io::stdout().lock(), path, &inspector, &warnings);
    crate::reported(written, ExitCode::SUCCESS)
}

fn write_report(
    out: &mut impl Write,
    path: &Path,
    inspector: &Inspector,
    warnings: &[sluice_policy::Lint],
) -> io::Result<()> {
    for w in warnings {
        writeln!(out, "warning: {}: {w}", path.display())?;
    }
    let c = inspector.config();
    writeln!(
        out,
        "ok: {}: {} entities, {} rules, {} profiles, {} policies, {} warning(s)",
        path.display(),
        c.entity.len(),
        c.rule.len(),
        c.profile.len(),
        c.policy.len(),
        warnings.len()
    )?;
    out.flush()
}
