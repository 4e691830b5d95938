//! PDF and spreadsheet extraction in worker processes: the audit's hostile
//! files (made by `fixtures/hostile/make_hostile.py`) each end as text or as
//! an unscannable part with SPEC §3.1's reason, within the limits, and the
//! test process survives them all.

mod common;

use std::time::{Duration, Instant};

use sluice_mime::{extract_document, Extraction, Limits};

fn hostile(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/hostile/");
    std::fs::read(format!("{path}{name}")).unwrap()
}

fn run(name: &str, limits: &Limits) -> Extraction {
    common::with_workers();
    extract_document(&hostile(name), name, limits)
}

fn reasons(x: &Extraction) -> Vec<String> {
    x.unscannable.iter().map(|u| u.reason.clone()).collect()
}

fn text(x: &Extraction) -> String {
    x.parts
        .iter()
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_sparse_workbook_is_its_cells_not_its_extent() {
    let started = Instant::now();
    let x = run("sparse.xlsx", &Limits::default());
    assert!(reasons(&x).is_empty(), "{:?}", reasons(&x));
    let t = text(&x);
    assert!(t.contains("Customer Account Manager"), "{t}");
    assert!(t.contains("Purchase date"), "{t}");
    assert!(t.len() < 200, "{} bytes", t.len());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_plain_pdf_is_read_by_a_worker() {
    let x = run("text.pdf", &Limits::default());
    assert!(reasons(&x).is_empty(), "{:?}", reasons(&x));
    assert!(text(&x).contains("Customer Account Manager"));
}

/// Limits whose deadline a slow (debug, loaded) machine cannot reach
/// before the memory cap under test.
fn roomy() -> Limits {
    Limits {
        max_scan_time: Duration::from_secs(600),
        ..Limits::default()
    }
}

#[test]
fn a_doubly_deflated_stream_runs_out_of_the_workers_memory() {
    let x = run("double-deflate.pdf", &roomy());
    assert_eq!(reasons(&x), ["extractor out of memory (limit 1GiB)"]);
}

#[test]
fn a_stream_listed_thousands_of_times_is_stopped() {
    let x = run("repeated-stream.pdf", &Limits::default());
    let r = reasons(&x);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0] == "extractor out of memory (limit 1GiB)"
            || r[0] == "limit exceeded: max_scan_time 20s",
        "{r:?}"
    );
}

#[test]
fn the_deadline_kills_a_busy_worker() {
    let limits = Limits {
        max_scan_time: Duration::from_millis(100),
        ..Limits::default()
    };
    let started = Instant::now();
    let x = run("repeated-stream.pdf", &limits);
    assert_eq!(reasons(&x), ["limit exceeded: max_scan_time 0.1s"]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The pool replaced the killed worker: the next document is read.
    let x = run("text.pdf", &Limits::default());
    assert!(text(&x).contains("Customer Account Manager"));
}

#[test]
fn pages_the_tree_does_not_reach_are_not_passed_as_clean() {
    let x = run("self-page-tree.pdf", &Limits::default());
    assert_eq!(
        reasons(&x),
        ["1 of 1 pages not reachable from the page tree"]
    );
}

#[test]
fn a_page_that_only_draws_an_image_has_no_text_layer() {
    let x = run("image-only.pdf", &Limits::default());
    assert_eq!(reasons(&x), ["no text layer (pages 2)"]);
    assert!(text(&x).contains("Customer Account Manager"));
}

/// What `fuzz/` found in the extractors the workers run: each a part made
/// unscannable with the reason, the worker and the process fine after it.
#[test]
fn fuzz_findings_in_worker_extractors_are_contained() {
    // pdf-extract: a Type0 font without DescendantFonts panics ("Descendant
    // fonts required").
    let x = run(
        "fuzzed/pdf-type0-font-without-descendants.pdf",
        &Limits::default(),
    );
    let r = reasons(&x);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].starts_with("pdf extractor panicked: Descendant fonts required"),
        "{r:?}"
    );
    assert!(text(&run("text.pdf", &Limits::default())).contains("Customer Account Manager"));
}

#[test]
fn many_documents_share_few_workers() {
    common::with_workers();
    let data = hostile("text.pdf");
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let data = data.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| extract_document(&data, "text.pdf", &Limits::default()))
                    .filter(|x| text(x).contains("Customer Account Manager"))
                    .count()
            })
        })
        .collect();
    let read: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(read, 60);
}
