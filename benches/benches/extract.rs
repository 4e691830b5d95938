//! Extraction throughput (MB/s of raw message) for a large plain message, an
//! attachment-heavy base64 message and the shared real-world corpus.
//!
//! PDFs and spreadsheets go to extraction worker processes (this bench
//! re-executes itself as one, as the binaries do); `worker-ipc` measures
//! what that costs per attachment against in-process extraction of the
//! same small PDF and workbook.
//!
//! `cargo bench -p sluice-benches --bench extract`

use std::path::{Path, PathBuf};

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use sluice_benches::base64_lines;
use sluice_mime::worker::{enable_in_process_extraction, enable_workers, WorkerSettings};
use sluice_mime::{extract, extract_document, Limits};

fn workers() {
    enable_workers(WorkerSettings::this_program(0, 1 << 30).expect("own executable"));
}

fn large_plain() -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nTo: b@partner.org\r\nSubject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n".to_vec();
    let line =
        b"The Account Manager met the Customer on the purchase date to review entitlements.\r\n";
    while m.len() < 8 << 20 {
        m.extend_from_slice(line);
    }
    m
}

fn attachment_heavy() -> Vec<u8> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/attachments");
    let mut m = String::from("From: a@example.com\r\nSubject: attachments\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n");
    let mut csv = String::new();
    while csv.len() < 2 << 20 {
        csv.push_str("4111111111111111,Customer,Account Manager,2026-03-14\n");
    }
    for i in 0..4 {
        m.push_str(&format!("--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=export{i}.csv\r\nContent-Transfer-Encoding: base64\r\n\r\n"));
        m.push_str(&base64_lines(csv.as_bytes()));
        m.push_str("\r\n");
    }
    for name in [
        "customer-review.docx",
        "customers.xlsx",
        "statement.pdf",
        "bundle.zip",
    ] {
        let data = std::fs::read(fixtures.join(name)).unwrap();
        m.push_str(&format!("--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename={name}\r\nContent-Transfer-Encoding: base64\r\n\r\n"));
        m.push_str(&base64_lines(&data));
        m.push_str("\r\n");
    }
    m.push_str("--b--\r\n");
    m.into_bytes()
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::env::var_os("SLUICE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    let mut files = Vec::new();
    let mut stack = vec![dir.join("eml")];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "eml") {
                files.push(std::fs::read(p).unwrap());
            }
        }
    }
    files
}

fn bench(c: &mut Criterion) {
    workers();
    let limits = Limits::default();
    let mut g = c.benchmark_group("extract");
    g.sample_size(10);
    for (name, message) in [
        ("large-plain-8MiB", large_plain()),
        ("attachment-heavy-base64", attachment_heavy()),
    ] {
        g.throughput(Throughput::Bytes(message.len() as u64));
        g.bench_function(name, |b| {
            b.iter_batched(|| (), |_| extract(&message, &limits), BatchSize::SmallInput)
        });
    }
    let corpus = corpus();
    if corpus.is_empty() {
        eprintln!("NOTICE: ../shared/corpus not found; corpus benchmark skipped");
    } else {
        g.throughput(Throughput::Bytes(
            corpus.iter().map(|m| m.len() as u64).sum(),
        ));
        g.bench_function("corpus", |b| {
            b.iter(|| {
                corpus
                    .iter()
                    .map(|m| extract(m, &limits).parts.len())
                    .sum::<usize>()
            })
        });
    }
    g.finish();
}

/// One small attachment of each isolated kind, in a worker and in process:
/// the difference is the IPC cost (two pipe transfers and the wake-ups).
fn worker_ipc(c: &mut Criterion) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let limits = Limits::default();
    let mut g = c.benchmark_group("worker-ipc");
    for name in ["attachments/statement.pdf", "attachments/customers.xlsx"] {
        let data = std::fs::read(fixtures.join(name)).unwrap();
        let file = name.rsplit('/').next().unwrap();
        workers();
        g.bench_function(format!("{file}-worker"), |b| {
            b.iter(|| extract_document(&data, file, &limits))
        });
        enable_in_process_extraction();
        g.bench_function(format!("{file}-in-process"), |b| {
            b.iter(|| extract_document(&data, file, &limits))
        });
    }
    g.finish();
}

criterion_group!(benches, bench, worker_ipc);

fn main() -> std::process::ExitCode {
    // Re-executed as an extraction worker: serve, then leave.
    if let Some(code) = sluice_mime::worker::serve_if_worker() {
        return code;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    std::process::ExitCode::SUCCESS
}
