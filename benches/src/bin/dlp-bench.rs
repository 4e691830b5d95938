//! End-to-end DLP scan of a text file, for the ripgrep comparison in
//! benches/dlp_vs_ripgrep.sh.
//!
//! `dlp-bench generate DIR [MB]` writes DIR/text.txt, DIR/terms.txt (one
//! term a line, for `rg -f`) and DIR/terms.csv (for us).
//! `dlp-bench scan TERMS.csv FILE [--identifiers]` builds the engine and
//! scans FILE as one body, printing counts and timings.
//! `dlp-bench identifiers FILE...` counts every identifier type's matches
//! in the files at each confidence (the false positives of
//! benches/identifier_false_positives.sh), per type and per MB.

use std::time::Instant;

use sluice_benches::{base64_lines, dictionary_terms, english_like, vocabulary};
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
            let mut entities = vec![EntityDefinition::new(
                "terms",
                EntityKind::Dictionary {
                    dictionary,
                    case_sensitive: false,
                },
            )];
            let mut names = vec!["terms".to_owned()];
            if identifiers {
                for id in Identifier::ALL {
                    entities.push(EntityDefinition::new(id.name(), EntityKind::Identifier(id)));
                    names.push(id.name().into());
                }
            }
            let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut rule = RuleDefinition::new("r", &name_refs);
            rule.count = CountMode::Total;
            let engine = Engine::new(Definitions::new(entities, vec![rule], vec![])).unwrap();
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
        Some("identifiers") => identifier_hits(&args[2..]),
        Some("mail") => {
            let dir = std::path::Path::new(&args[2]);
            let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5000);
            std::fs::create_dir_all(dir).unwrap();
            write_mail_folder(dir, n);
        }
        Some("table") => {
            let rows: usize = args
                .get(3)
                .and_then(|s| s.parse().ok())
                .unwrap_or(1_000_000);
            let file = std::fs::File::create(&args[2]).unwrap();
            let mut out = std::io::BufWriter::new(file);
            sluice_benches::customer_table(rows, &mut out).unwrap();
            std::io::Write::flush(&mut out).unwrap();
        }
        Some("docs") => {
            // N documents of about 10 KB of English-like text each.
            let dir = std::path::Path::new(&args[2]);
            let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10_000);
            std::fs::create_dir_all(dir).unwrap();
            let vocab = vocabulary(20_000);
            for i in 0..n {
                // Seeds apart from `mail`'s (0..N): a document generated
                // from a message's seed would be that message's text, and
                // the scan benchmark would mail the library to itself.
                let text = english_like(&vocab, 10_000, (1 << 32) + i as u64);
                std::fs::write(dir.join(format!("doc{i:05}.txt")), text).unwrap();
            }
        }
        Some("fp-load") => {
            // Reading a fingerprint file and compiling it into an engine.
            let t0 = Instant::now();
            let json = std::fs::read_to_string(&args[2]).unwrap();
            let set = sluice_dlp::FingerprintSet::from_json(&json).unwrap();
            drop(json);
            let documents = set.documents.len();
            let engine = Engine::new(Definitions::new(
                vec![EntityDefinition::fingerprint("docs", set, 30)],
                vec![RuleDefinition::new("r", &["docs"])],
                vec![],
            ))
            .unwrap();
            println!(
                "documents={documents} load_ms={:.0} rss_mb={:.0} peak_rss_mb={:.0}",
                t0.elapsed().as_secs_f64() * 1e3,
                rss_kb() as f64 / 1024.0,
                peak_rss_kb() as f64 / 1024.0
            );
            drop(engine);
        }
        Some("edm-load") => {
            // Opening an index (mapping and checking it), and the memory a
            // scan of a text costs with it.
            let salt = sluice_dlp::read_salt(std::path::Path::new(&args[3])).unwrap();
            let before = rss_kb();
            let t0 = Instant::now();
            let index = sluice_dlp::EdmIndex::open(std::path::Path::new(&args[2]), &salt).unwrap();
            let opened = t0.elapsed();
            let after_open = rss_kb();
            let engine = Engine::new(Definitions::new(
                vec![EntityDefinition::edm(
                    "rows",
                    std::sync::Arc::new(index),
                    Default::default(),
                )],
                vec![RuleDefinition::new("r", &["rows"])],
                vec![],
            ))
            .unwrap();
            let text = std::fs::read_to_string(&args[4]).unwrap();
            let t1 = Instant::now();
            let count = engine.scan_str(&text).rule("r").unwrap().count;
            println!(
                "open_ms={:.1} rss_after_open_mb={:.0} scan_ms={:.0} text_mb={:.0} rows_found={count} rss_after_scan_mb={:.0} (before open {:.0})",
                opened.as_secs_f64() * 1e3,
                after_open as f64 / 1024.0,
                t1.elapsed().as_secs_f64() * 1e3,
                text.len() as f64 / 1e6,
                rss_kb() as f64 / 1024.0,
                before as f64 / 1024.0
            );
        }
        Some("build") => {
            let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
            let vocab = vocabulary(60_000);
            let terms = dictionary_terms(&vocab, n, 5);
            let before = peak_rss_kb();
            let t0 = Instant::now();
            let dictionary = Dictionary::from_terms(terms.iter().map(|t| (t.as_str(), 1)));
            let engine = Engine::new(Definitions::new(
                vec![EntityDefinition::new(
                    "terms",
                    EntityKind::Dictionary {
                        dictionary,
                        case_sensitive: false,
                    },
                )],
                vec![RuleDefinition::new("r", &["terms"])],
                vec![],
            ))
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
            eprintln!("usage: dlp-bench generate DIR [MB] | dlp-bench scan TERMS.csv FILE [--identifiers] | dlp-bench mail DIR [N] | dlp-bench build [N] | dlp-bench table FILE.csv [ROWS] | dlp-bench edm-load INDEX SALT TEXT | dlp-bench docs DIR [N] | dlp-bench fp-load FILE");
            std::process::exit(2);
        }
    }
}

/// Resident memory of this process now (Linux), in KiB.
fn rss_kb() -> u64 {
    status_kb("VmRSS:")
}

/// Peak resident memory of this process (Linux), in KiB.
fn peak_rss_kb() -> u64 {
    status_kb("VmHWM:")
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// `n` messages of 1–15 KB: plain or multipart/alternative with HTML, some
/// with a base64 CSV or OpenDocument attachment, some mentioning the demo
/// dictionary's terms or a card number.
fn write_mail_folder(dir: &std::path::Path, n: usize) {
    use sluice_benches::Lcg;
    let vocab = vocabulary(20_000);
    let demo_terms = [
        "Customer",
        "Account Manager",
        "Sales Engineer",
        "Purchase date",
        "Entitlement",
        "Renewal date",
    ];
    let docx = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/attachments/memo.odt"
    ))
    .unwrap();
    let mut rng = Lcg::new(99);
    for i in 0..n {
        let size = 1000 + rng.next_u31() as usize % 14_000;
        let mut body = english_like(&vocab, size * 2 / 3, i as u64);
        for _ in 0..rng.next_u31() % 4 {
            let at = body.len() * (rng.next_u31() as usize % 100) / 100;
            let at = (0..=at)
                .rev()
                .find(|&k| body.is_char_boundary(k) && (k == 0 || body.as_bytes()[k - 1] == b' '))
                .unwrap_or(0);
            body.insert_str(
                at,
                &format!(
                    "{} ",
                    demo_terms[rng.next_u31() as usize % demo_terms.len()]
                ),
            );
        }
        if rng.next_u31().is_multiple_of(50) {
            body.push_str("\nCard: 4111 1111 1111 1111\n");
        }
        let to = if rng.next_u31().is_multiple_of(3) {
            "colleague@example.com"
        } else {
            "partner@partner.org"
        };
        let mut m = format!("From: alice@example.com\r\nTo: {to}\r\nSubject: Message {i}\r\nMessage-ID: <{i}@bench.example.com>\r\nMIME-Version: 1.0\r\n");
        let kind = rng.next_u31() % 4;
        let text_part = |body: &str| {
            format!(
                "Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
                body.replace('\n', "\r\n")
            )
        };
        let html_part = |body: &str| {
            format!("Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>{}</p></body></html>\r\n", body.replace("\n\n", "</p><p>").replace('\n', "<br>\r\n"))
        };
        match kind {
            0 => m.push_str(&text_part(&body)),
            1 => m.push_str(&format!("Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\n{}--alt\r\n{}--alt--\r\n", text_part(&body), html_part(&body))),
            _ => {
                let (name, ctype, data) = if kind == 2 {
                    ("export.csv", "text/csv", body.lines().take(20).map(|l| l.replace(' ', ",")).collect::<Vec<_>>().join("\n").into_bytes())
                } else {
                    ("memo.odt", "application/vnd.oasis.opendocument.text", docx.clone())
                };
                m.push_str(&format!(
                    "Content-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\n{}--mix\r\nContent-Type: {ctype}\r\nContent-Disposition: attachment; filename={name}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--mix--\r\n",
                    text_part(&body[..body.len() / 2]),
                    base64_lines(&data)
                ));
            }
        }
        std::fs::write(dir.join(format!("{i:05}.eml")), m).unwrap();
    }
    std::fs::write(dir.join("../terms.txt"), demo_terms.join("\n") + "\n").unwrap();
}

/// Matches of every type at or above each confidence, over `files`
/// (texts scanned a line-aligned 1 MiB chunk at a time, as mail parts).
fn identifier_hits(files: &[String]) {
    use sluice_dlp::Confidence;
    let levels = [Confidence::Low, Confidence::Medium, Confidence::High];
    let entities = Identifier::ALL
        .iter()
        .map(|id| EntityDefinition::identifier(id.name(), *id))
        .collect();
    let mut rules = Vec::new();
    for id in Identifier::ALL {
        for level in levels {
            let mut rule = RuleDefinition::new(format!("{}/{level}", id.name()), &[id.name()]);
            rule.count = CountMode::Total;
            rule.min_confidence = Some(level);
            rules.push(rule);
        }
    }
    let engine = Engine::new(Definitions::new(entities, rules, vec![])).unwrap();
    let mut totals = std::collections::BTreeMap::<String, u64>::new();
    let mut examples = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut bytes = 0usize;
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        bytes += text.len();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let mut cut = rest.len().min(1 << 20);
            while !rest.is_char_boundary(cut) {
                cut += 1;
            }
            if let Some(nl) = rest[cut..].find('\n') {
                cut += nl + 1;
            }
            let (chunk, tail) = rest.split_at(cut);
            rest = tail;
            for r in engine.scan_str(chunk).rules {
                *totals.entry(r.rule.clone()).or_default() += r.count;
                let e = examples.entry(r.rule.clone()).or_default();
                e.extend(
                    r.matches
                        .iter()
                        .take(3 - e.len().min(3))
                        .map(|m| m.text.clone()),
                );
            }
        }
    }
    let mb = bytes as f64 / 1e6;
    println!("{:.1} MB of text; matches (per MB) by confidence", mb);
    println!(
        "{:<22} {:>14} {:>14} {:>14}  examples (at low)",
        "type", "low+", "medium+", "high"
    );
    let mut sums = [0u64; 3];
    for id in Identifier::ALL {
        let counts: Vec<u64> = levels
            .iter()
            .map(|l| totals[&format!("{}/{l}", id.name())])
            .collect();
        for (s, c) in sums.iter_mut().zip(&counts) {
            *s += c;
        }
        if counts[0] == 0 {
            continue;
        }
        let cell = |c: u64| format!("{c} ({:.2})", c as f64 / mb);
        println!(
            "{:<22} {:>14} {:>14} {:>14}  {:?}",
            id.name(),
            cell(counts[0]),
            cell(counts[1]),
            cell(counts[2]),
            examples[&format!("{}/low", id.name())]
        );
    }
    let cell = |c: u64| format!("{c} ({:.2})", c as f64 / mb);
    println!(
        "{:<22} {:>14} {:>14} {:>14}",
        "all types",
        cell(sums[0]),
        cell(sums[1]),
        cell(sums[2])
    );
}
