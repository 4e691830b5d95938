//! End-to-end DLP scan of a text file, for the ripgrep comparison in
//! benches/dlp_vs_ripgrep.sh.
//!
//! `dlp-bench generate DIR [MB]` writes DIR/text.txt, DIR/terms.txt (one
//! term a line, for `rg -f`) and DIR/terms.csv (for us).
//! `dlp-bench scan TERMS.csv FILE [--identifiers]` builds the engine and
//! scans FILE as one body, printing counts and timings.

use std::time::Instant;

use sluice_benches::{dictionary_terms, english_like, vocabulary};
use sluice_dlp::{
    CountMode, Definitions, Dictionary, Engine, EntityDefinition, EntityKind, Identifier,
    RuleDefinition,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") => {
            let dir = std::path::Path::new(&args[2]);
            let mb: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100);
            std::fs::create_dir_all(dir).unwrap();
            let vocab = vocabulary(20_000);
            let terms = dictionary_terms(&vocab, 1000, 11);
            std::fs::write(dir.join("terms.txt"), terms.join("\n") + "\n").unwrap();
            std::fs::write(
                dir.join("terms.csv"),
                terms
                    .iter()
                    .map(|t| format!("\"{t}\"\n"))
                    .collect::<String>(),
            )
            .unwrap();
            std::fs::write(dir.join("text.txt"), english_like(&vocab, mb << 20, 3)).unwrap();
        }
        Some("scan") => {
            let identifiers = args.iter().any(|a| a == "--identifiers");
            let t0 = Instant::now();
            let dictionary = Dictionary::from_csv(std::fs::File::open(&args[2]).unwrap()).unwrap();
            let mut entities = vec![EntityDefinition {
                name: "terms".into(),
                kind: EntityKind::Dictionary {
                    dictionary,
                    case_sensitive: false,
                },
            }];
            let mut names = vec!["terms".to_owned()];
            if identifiers {
                for id in Identifier::ALL {
                    entities.push(EntityDefinition {
                        name: id.name().into(),
                        kind: EntityKind::Identifier(id),
                    });
                    names.push(id.name().into());
                }
            }
            let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut rule = RuleDefinition::new("r", &name_refs);
            rule.count = CountMode::Total;
            let engine = Engine::new(Definitions {
                entities,
                rules: vec![rule],
                profiles: vec![],
            })
            .unwrap();
            let built = t0.elapsed();
            let text = std::fs::read_to_string(&args[3]).unwrap();
            let t1 = Instant::now();
            let result = engine.scan_str(&text);
            let scanned = t1.elapsed();
            let r = result.rule("r").unwrap();
            println!(
                "matches={} build_ms={:.1} scan_ms={:.1} MB/s={:.0}",
                r.count,
                built.as_secs_f64() * 1e3,
                scanned.as_secs_f64() * 1e3,
                text.len() as f64 / 1e6 / scanned.as_secs_f64()
            );
        }
        Some("build") => {
            let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
            let vocab = vocabulary(60_000);
            let terms = dictionary_terms(&vocab, n, 5);
            let before = peak_rss_kb();
            let t0 = Instant::now();
            let dictionary = Dictionary::from_terms(terms.iter().map(|t| (t.as_str(), 1)));
            let engine = Engine::new(Definitions {
                entities: vec![EntityDefinition {
                    name: "terms".into(),
                    kind: EntityKind::Dictionary {
                        dictionary,
                        case_sensitive: false,
                    },
                }],
                rules: vec![RuleDefinition::new("r", &["terms"])],
                profiles: vec![],
            })
            .unwrap();
            let built = t0.elapsed();
            let probe = engine
                .scan_str(&terms[..50].join(" "))
                .rule("r")
                .unwrap()
                .count;
            println!(
                "terms={n} build_ms={:.0} peak_rss_mb={:.0} (before build {:.0}) probe_matches={probe}",
                built.as_secs_f64() * 1e3,
                peak_rss_kb() as f64 / 1024.0,
                before as f64 / 1024.0
            );
        }
        _ => {
            eprintln!("usage: dlp-bench generate DIR [MB] | dlp-bench scan TERMS.csv FILE [--identifiers] | dlp-bench build [N]");
            std::process::exit(2);
        }
    }
}

/// Peak resident memory of this process (Linux), in KiB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
