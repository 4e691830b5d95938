//! DLP engine throughput on English-like text with a 1,000-term dictionary
//! (single-threaded: inputs below the engine's parallel threshold), with and
//! without every built-in identifier, and the latency of a mail-sized text.
//! The end-to-end comparison with ripgrep is benches/dlp_vs_ripgrep.sh.
//!
//! `cargo bench -p sluice-benches --bench dlp`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_benches::{dictionary_terms, english_like, vocabulary};
use sluice_dlp::{
    CountMode, Definitions, Dictionary, DocumentFingerprint, Engine, EntityDefinition, EntityKind,
    FingerprintSet, Identifier, RuleDefinition,
};

fn engine(terms: &[String], identifiers: bool) -> Engine {
    let dictionary = Dictionary::from_terms(terms.iter().map(|t| (t.as_str(), 1)));
    let mut entities = vec![EntityDefinition {
        name: "terms".into(),
        kind: EntityKind::Dictionary {
            dictionary,
            case_sensitive: false,
        },
    }];
    if identifiers {
        entities.extend(Identifier::ALL.map(|id| EntityDefinition {
            name: id.name().into(),
            kind: EntityKind::Identifier(id),
        }));
    }
    let names: Vec<String> = entities.iter().map(|e| e.name.clone()).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut rule = RuleDefinition::new("r", &refs);
    rule.count = CountMode::Total;
    Engine::new(Definitions {
        entities,
        rules: vec![rule],
        profiles: vec![],
    })
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let vocab = vocabulary(20_000);
    let terms = dictionary_terms(&vocab, 1000, 11);
    let text = english_like(&vocab, 4 << 20, 3);
    let mail = english_like(&vocab, 50 << 10, 9);
    let dict = engine(&terms, false);
    let all = engine(&terms, true);
    let mut g = c.benchmark_group("dlp");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("dictionary-4MiB", |b| {
        b.iter(|| dict.scan_str(&text).rules[0].count)
    });
    g.bench_function("dictionary+identifiers-4MiB", |b| {
        b.iter(|| all.scan_str(&text).rules[0].count)
    });
    g.throughput(Throughput::Bytes(mail.len() as u64));
    g.bench_function("dictionary+identifiers-50KiB-mail", |b| {
        b.iter(|| all.scan_str(&mail).rules[0].count)
    });
    // Document fingerprints alone: the word loop every message pays for.
    let document = english_like(&vocab, 20 << 10, 5);
    let fingerprint = Engine::new(Definitions {
        entities: vec![EntityDefinition {
            name: "board".into(),
            kind: EntityKind::Fingerprint {
                documents: FingerprintSet {
                    documents: vec![DocumentFingerprint::new("board", &document)],
                },
                similarity: 30,
            },
        }],
        rules: vec![RuleDefinition::new("r", &["board"])],
        profiles: vec![],
    })
    .unwrap();
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("fingerprint-4MiB", |b| {
        b.iter(|| fingerprint.scan_str(&text).rules[0].count)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
