//! `sluice-scan test --config FILE CASES.toml`: policy regression cases.

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
    let (mut passed, mut failed) = (0, 0);
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
        let envelope = Envelope {
            sender: case.from.clone(),
            recipients: case.to.as_ref().map(|r| match r {
                Recipients::One(s) => vec![s.clone()],
                Recipients::Many(v) => v.clone(),
            }),
        };
        let d = inspector.inspect(&envelope, &raw);
        let policy = d.policy().unwrap_or_default().to_owned();
        let action = d.action().map(|a| a.name().to_owned()).unwrap_or_default();
        if policy == case.expect.policy && action == case.expect.action {
            passed += 1;
            println!("ok   case {} {}", i + 1, case.message);
        } else {
            failed += 1;
            println!("FAIL case {} {}", i + 1, case.message);
            println!(
                "  expected: policy {:?} action {:?}",
                case.expect.policy, case.expect.action
            );
            println!("  actual:   policy {policy:?} action {action:?}");
            println!("  from {} to {}", d.sender, d.recipients.join(", "));
            for line in &d.trace {
                println!("    {line}");
            }
            for r in &d.rules {
                println!(
                    "    rule {:?} (profile {:?}) count {} -> {}",
                    r.rule, r.profile, r.count, r.severity
                );
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    ExitCode::from(if failed > 0 { 1 } else { 0 })
}
