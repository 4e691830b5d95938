//! `sluice-scan check --config FILE`.

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
    for w in &warnings {
        println!("warning: {}: {w}", path.display());
    }
    let c = inspector.config();
    println!(
        "ok: {}: {} entities, {} rules, {} profiles, {} policies, {} warning(s)",
        path.display(),
        c.entity.len(),
        c.rule.len(),
        c.profile.len(),
        c.policy.len(),
        warnings.len()
    );
    ExitCode::SUCCESS
}
