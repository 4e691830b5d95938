//! DLP engine throughput on English-like text with a 1,000-term dictionary
//! (single-threaded: inputs just below the engine's 4 MiB window and
//! parallel threshold), with and without every built-in identifier, with a
//! proximity rule, and the latency of a mail-sized text.
//! The end-to-end comparison with ripgrep is benches/dlp_vs_ripgrep.sh.
//!
//! `cargo bench -p sluice-benches --bench dlp`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_benches::{dictionary_terms, english_like, vocabulary};
use sluice_dlp::{
    CountMode, Definitions, Dictionary, DocumentFingerprint, Engine, EntityDefinition, EntityKind,
    FingerprintSet, Identifier, RuleDefinition,
};

/// The dictionary, and every built-in identifier if asked.
fn entities(terms: &[String], identifiers: bool) -> Vec<EntityDefinition> {
    let dictionary = Dictionary::from_terms(terms.iter().map(|t| (t.as_str(), 1)));
    let mut entities = vec![EntityDefinition::new(
        "terms",
        EntityKind::Dictionary {
            dictionary,
            case_sensitive: false,
        },
    )];
    if identifiers {
        entities.extend(
            Identifier::ALL.map(|id| EntityDefinition::new(id.name(), EntityKind::Identifier(id))),
        );
    }
    entities
}

/// One rule counting every match of every entity.
fn engine(terms: &[String], identifiers: bool) -> Engine {
    let entities = entities(terms, identifiers);
    let names: Vec<String> = entities.iter().map(|e| e.name.clone()).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut rule = RuleDefinition::new("r", &refs);
    rule.count = CountMode::Total;
    Engine::new(Definitions::new(entities, vec![rule], vec![])).unwrap()
}

fn bench(c: &mut Criterion) {
    let vocab = vocabulary(20_000);
    let terms = dictionary_terms(&vocab, 1000, 11);
    let text = english_like(&vocab, (4 << 20) - (64 << 10), 3);
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
    // Terms counted only within 100 characters of an e-mail address, with
    // one every ~2 KB: every term hit is checked against the addresses.
    let mut rule = RuleDefinition::new("r", &["terms"]);
    rule.require = vec![Identifier::EmailAddress.name().into()];
    rule.proximity = Some(100);
    let near = Engine::new(Definitions::new(entities(&terms, true), vec![rule], vec![])).unwrap();
    let addressed: String = text
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, line)| {
            if i % 20 == 0 {
                format!("write to user{i}@example.com {line}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    g.bench_function("dictionary+proximity-4MiB", |b| {
        b.iter(|| near.scan_str(&addressed).rules[0].count)
    });
    g.throughput(Throughput::Bytes(mail.len() as u64));
    g.bench_function("dictionary+identifiers-50KiB-mail", |b| {
        b.iter(|| all.scan_str(&mail).rules[0].count)
    });
    // Document fingerprints alone: the word loop every message pays for.
    let document = english_like(&vocab, 20 << 10, 5);
    let fingerprint = Engine::new(Definitions::new(
        vec![EntityDefinition::new(
            "board",
            EntityKind::Fingerprint {
                documents: FingerprintSet {
                    documents: vec![DocumentFingerprint::new("board", &document)],
                },
                similarity: 30,
                min_passage_words: 50,
            },
        )],
        vec![RuleDefinition::new("r", &["board"])],
        vec![],
    ))
    .unwrap();
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("fingerprint-4MiB", |b| {
        b.iter(|| fingerprint.scan_str(&text).rules[0].count)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
