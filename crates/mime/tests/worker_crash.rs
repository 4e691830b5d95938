//! A worker that dies mid-job (here: sent SIGABRT from outside, as
//! a parser bug would) makes its part unscannable with the signal, and the
//! next document gets a fresh worker. Its own test binary: it signals
//! every child of this process.

mod common;

use std::time::Duration;

use sluice_mime::{extract_document, Limits};

fn hostile(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/hostile/");
    std::fs::read(format!("{path}{name}")).unwrap()
}

/// Process ids of this process's children (workers), from every thread's
/// list: a worker is the child of the thread that started it.
fn workers() -> Vec<i32> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    pids
}

#[test]
fn a_worker_killed_mid_job_is_reported_and_replaced() {
    common::with_workers();
    let pdf = hostile("repeated-stream.pdf");
    let busy = std::thread::spawn(move || extract_document(&pdf, "a.pdf", &Limits::default()));
    // Wait until a worker is busy with it, then crash it.
    let mut killed = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        for pid in workers() {
            let pid = rustix::process::Pid::from_raw(pid).unwrap();
            killed |= rustix::process::kill_process(pid, rustix::process::Signal::ABORT).is_ok();
        }
        if killed {
            break;
        }
    }
    assert!(killed, "no worker started");
    let x = busy.join().unwrap();
    let reasons: Vec<&str> = x.unscannable.iter().map(|u| u.reason.as_str()).collect();
    assert_eq!(reasons, ["extractor crashed (signal 6)"]);
    let text = extract_document(&hostile("text.pdf"), "text.pdf", &Limits::default());
    assert!(text
        .parts
        .iter()
        .any(|p| p.text.contains("Customer Account Manager")));
}
