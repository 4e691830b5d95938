//! `sluice-scan test --config FILE CASES.toml`: policy regression cases.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use serde::Deserialize;
use sluice_policy::{Envelope, Inspector};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    #[serde(default)]
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    message: String,
    from: Option<String>,
    to: Option<Recipients>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Recipients {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    policy: String,
    #[serde(default)]
    action: String,
}

pub fn run(inspector: &Inspector, cases_path: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(cases_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("sluice-scan: cannot read {}: {e}", cases_path.display());
            return ExitCode::from(2);
        }
    };
    let cases: Cases = match toml::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "sluice-scan: {}: {}",
                cases_path.display(),
                e.to_string().lines().next().unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    };
    let base = cases_path.parent().unwrap_or(Path::new("."));
    let mut out = io::stdout().lock();
    let (mut passed, mut failed) = (0, 0);
    // Every case runs even when the reader has gone (`| grep -q FAIL`), so
    // the exit code always judges them all; the first write error is kept.
    let mut written = Ok(());
    for (i, case) in cases.case.iter().enumerate() {
        let path = base.join(&case.message);
        let raw = match std::fs::read(&path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "sluice-scan: case {}: cannot read {}: {e}",
                    i + 1,
                    path.display()
                );
                return ExitCode::from(2);
            }
        };
        let (ok, report) = run_case(&mut out, inspector, i + 1, case, &raw);
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
        written = written.and(report);
    }
    written = written
        .and_then(|()| writeln!(out, "{passed} passed, {failed} failed"))
        .and_then(|()| out.flush());
    crate::reported(written, ExitCode::from(if failed > 0 { 1 } else { 0 }))
}

/// Inspects one case's message and reports it: whether it passed, and
/// whether the report could be written.
fn run_case(
    out: &mut impl Write,
    inspector: &Inspector,
    number: usize,
    case: &Case,
    raw: &[u8],
) -> (bool, io::Result<()>) {
    let envelope = Envelope {
        sender: case.from.clone(),
        recipients: case.to.as_ref().map(|r| match r {
            Recipients::One(s) => vec![s.clone()],
            Recipients::Many(v) => v.clone(),
        }),
    };
    let d = inspector.inspect(&envelope, raw);
    let policy = d.policy().unwrap_or_default().to_owned();
    let action = d.action().map(|a| a.name().to_owned()).unwrap_or_default();
    if policy == case.expect.policy && action == case.expect.action {
        return (true, writeln!(out, "ok   case {number} {}", case.message));
    }
    let written = (|| {
        writeln!(out, "FAIL case {number} {}", case.message)?;
        writeln!(
            out,
            "  expected: policy {:?} action {:?}",
            case.expect.policy, case.expect.action
        )?;
        writeln!(out, "  actual:   policy {policy:?} action {action:?}")?;
        writeln!(out, "  from {} to {}", d.sender, d.recipients.join(", "))?;
        for line in &d.trace {
            writeln!(out, "    {line}")?;
        }
        for r in &d.rules {
            writeln!(
                out,
                "    rule {:?} (profile {:?}) count {} -> {}",
                r.rule, r.profile, r.count, r.severity
            )?;
        }
        Ok(())
    })();
    (false, written)
}
