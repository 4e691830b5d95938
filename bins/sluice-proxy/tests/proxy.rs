//! The built proxy between Python's smtplib (client) and a Python SMTP sink
//! (upstream), with the demo policy.

mod common;

use base64::Engine as _;
use common::{
    demo_relay, free_port, proxy, proxy_with, relay_to, repo, send, sink, sink_on, wait_for_files,
};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn decisions_end_to_end_through_a_real_upstream() {
    let work = tempfile::tempdir().unwrap();
    let (_sink, _proxy, port, inbox) = demo_relay(work.path());
    let messages = repo().join("fixtures/demo/messages");

    // add-header: relayed with the hold header, our trace headers, and the
    // original bytes unchanged after them.
    let reply = send(port, &messages.join("hold-partner.eml"), "bob@partner.org");
    assert!(reply.starts_with("250"), "{reply}");
    let files = wait_for_files(&inbox, 1);
    // The sink hands over lines joined with LF (as smtpd did): compare line by line.
    let relayed = String::from_utf8(std::fs::read(&files[0]).unwrap())
        .unwrap()
        .replace("\r\n", "\n");
    assert!(
        relayed.contains("\nX-Sluice-Hold: customer-entitlement\n"),
        "{relayed}"
    );
    assert!(relayed.contains("\nX-Sluice-Scanned: dlp.test\n"));
    assert!(relayed.contains("\nReceived: from client.test ([127.0.0.1])"));
    let original = std::fs::read_to_string(messages.join("hold-partner.eml"))
        .unwrap()
        .replace("\r\n", "\n");
    assert!(
        relayed.trim_end().ends_with(original.trim_end()),
        "original kept after the added headers"
    );

    // block: 550 5.7.1 with the policy's text; nothing relayed.
    let reply = send(port, &messages.join("card-number.eml"), "shop@partner.org");
    assert_eq!(
        reply,
        "550 5.7.1 Message blocked: it contains a payment card number"
    );

    // quarantine: 250 with an id, the message on disk, nothing relayed.
    let reply = send(
        port,
        &messages.join("board-excerpt.eml"),
        "advisor@partner.org",
    );
    assert!(reply.starts_with("250 2.0.0 quarantined "), "{reply}");
    let id = reply.rsplit(' ').next().unwrap();
    let held = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"))
        .args(["quarantine", "list", "--config"])
        .arg(work.path().join("p/sluice.toml"))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&held.stdout);
    let mut rows = listed.lines();
    assert!(
        rows.next().unwrap().starts_with("ID "),
        "a header: {listed}"
    );
    assert!(rows.next().unwrap().starts_with(id), "{listed}");

    // Internal mail: relayed without a hold header.
    let reply = send(
        port,
        &messages.join("internal-subdomain.eml"),
        "carol@eu.example.com",
    );
    assert!(reply.starts_with("250"), "{reply}");
    // The upstream got: the held-for-review message, the block's sender
    // notification (MAIL FROM:<>, no card number in it) and the internal
    // message; never the blocked or the quarantined one.
    let files = wait_for_files(&inbox, 3);
    let texts: Vec<String> = files
        .iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned())
        .collect();
    assert_eq!(texts.len(), 3, "{texts:#?}");
    let notification = texts
        .iter()
        .find(|t| t.starts_with("X-Envelope: <> -> alice@example.com\r\n"))
        .unwrap_or_else(|| panic!("no notification from <> to the sender in {texts:#?}"));
    assert!(notification.contains("Card block"), "{notification}");
    assert!(!notification.contains("4111"), "{notification}");
    let internal = texts
        .iter()
        .find(|t| t.contains("carol@eu.example.com"))
        .unwrap();
    assert!(!internal.contains("X-Sluice-Hold"));
    assert!(!texts.iter().any(|t| t.contains("board")), "{texts:#?}");

    // Hold, block and quarantine are incidents in the store.
    // (Incidents are written behind the mail: wait for the writer.)
    let started = Instant::now();
    let lines = loop {
        let listed = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"))
            .args(["incidents", "--json", "--config"])
            .arg(work.path().join("p/sluice.toml"))
            .output()
            .unwrap();
        let lines = String::from_utf8(listed.stdout).unwrap();
        if lines.lines().count() >= 3 || started.elapsed() > Duration::from_secs(5) {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let actions: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(actions, ["quarantine", "block", "add-header"], "{lines}");
    // The table: a header, durations as the config writes them, and
    // "no incidents" for an empty answer.
    let table = |period: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"))
            .args(["incidents", "--timeperiod", period, "--config"])
            .arg(work.path().join("p/sluice.toml"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = table("1h");
    assert!(listed.starts_with("ID "), "{listed}");
    assert_eq!(listed.lines().count(), 4, "{listed}");
    assert_eq!(
        table("1h")
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .nth(2),
        Some("Board")
    );
    let query = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"))
        .args(["incidents", "--query", "policy eq 'none such'", "--config"])
        .arg(work.path().join("p/sluice.toml"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&query.stdout), "no incidents\n");
}

#[test]
fn upstream_sessions_are_reused_and_a_restarted_upstream_is_reconnected() {
    let work = tempfile::tempdir().unwrap();
    let (first_box, second_box) = (work.path().join("a"), work.path().join("b"));
    std::fs::create_dir_all(&first_box).unwrap();
    std::fs::create_dir_all(&second_box).unwrap();
    let (first, port) = sink(&first_box);
    let (_p, proxy_port) = proxy(&work.path().join("p"), &relay_to(port), "\"127.0.0.0/8\"");
    let message = repo().join("fixtures/demo/messages/internal-subdomain.eml");
    // Two clients one after the other: the second gets the first's
    // upstream session from the pool.
    for _ in 0..2 {
        let reply = send(proxy_port, &message, "carol@eu.example.com");
        assert!(reply.starts_with("250"), "{reply}");
    }
    let ports: Vec<String> = wait_for_files(&first_box, 2)
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines()
                .find(|l| l.starts_with("X-Peer-Port:"))
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ports.len(), 2);
    assert_eq!(
        ports[0], ports[1],
        "one upstream connection for both clients"
    );
    // The upstream restarts: the pooled session is dead, and the next
    // client is relayed over a fresh one, never told to retry.
    drop(first);
    let (_second, _) = sink_on(&second_box, port);
    let reply = send(proxy_port, &message, "carol@eu.example.com");
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(wait_for_files(&second_box, 1).len(), 1);
}

#[test]
fn upstream_down_relay_control_and_maildir() {
    let work = tempfile::tempdir().unwrap();
    let dead = free_port();
    let (_p, port) = proxy(
        &work.path().join("down"),
        &format!("address = \"127.0.0.1:{dead}\"\nstarttls = \"off\"\ntimeout = \"2s\""),
        "\"127.0.0.0/8\"",
    );
    let reply = send(
        port,
        &repo().join("fixtures/demo/messages/hold-partner.eml"),
        "bob@partner.org",
    );
    assert!(reply.starts_with("451 4.4.1"), "{reply}");

    let (_p, port) = proxy(
        &work.path().join("closed"),
        "maildir = \"outbox\"",
        "\"10.0.0.0/8\"",
    );
    let reply = send(
        port,
        &repo().join("fixtures/demo/messages/hold-partner.eml"),
        "bob@partner.org",
    );
    assert!(
        reply.starts_with("554") || reply.starts_with("disconnected"),
        "{reply}"
    );
    // The refusal is in the log, so a forgotten MTA address shows.
    let log = std::fs::read_to_string(work.path().join("closed/proxy.log")).unwrap();
    assert!(
        log.contains("refused: not in [proxy] allowed_clients") && log.contains("127.0.0.1"),
        "{log}"
    );

    let (mut p, port) = proxy(
        &work.path().join("maildir"),
        "maildir = \"outbox\"",
        "\"127.0.0.0/8\", \"::1/128\"",
    );
    let reply = send(
        port,
        &repo().join("fixtures/demo/messages/hold-partner.eml"),
        "bob@partner.org",
    );
    assert!(reply.starts_with("250 2.0.0 delivered"), "{reply}");
    let delivered = wait_for_files(&work.path().join("maildir/outbox/new"), 1);
    assert_eq!(delivered.len(), 1);
    // SIGTERM: a clean exit.
    let pid = p.0.id();
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let status = p.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn sighup_reloads_policies_and_refuses_a_broken_config() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("hup");
    let (p, port) = proxy(&dir, "maildir = \"outbox\"", "\"127.0.0.0/8\"");
    let card = repo().join("fixtures/demo/messages/card-number.eml");
    assert!(send(port, &card, "shop@partner.org").starts_with("550 5.7.1"));
    let hup = || common::sighup(&p);
    // A broken file is refused: the running policy stays.
    let config = dir.join("sluice.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("action = \"block\"", "action = \"blok\""),
    )
    .unwrap();
    hup();
    std::thread::sleep(Duration::from_millis(500));
    assert!(send(port, &card, "shop@partner.org").starts_with("550 5.7.1"));
    // A good one takes effect.
    std::fs::write(
        &config,
        good.replace("action = \"block\"", "action = \"alert\""),
    )
    .unwrap();
    hup();
    let start = Instant::now();
    loop {
        let reply = send(port, &card, "shop@partner.org");
        if reply.starts_with("250") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not reloaded: {reply}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_lets_a_transaction_in_flight_finish_and_closes_idle_sessions() {
    use std::io::{Read, Write};
    let work = tempfile::tempdir().unwrap();
    let (mut p, port) = proxy(
        &work.path().join("term"),
        "maildir = \"outbox\"",
        "\"127.0.0.0/8\"",
    );
    let connect = || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut greeting = [0u8; 100];
        let _ = s.read(&mut greeting).unwrap();
        s
    };
    let mut idle = connect();
    let mut busy = connect();
    busy.write_all(b"EHLO c\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@partner.org>\r\nDATA\r\nSubject: in flight\r\n\r\nhalf").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .arg("-TERM")
        .arg(p.0.id().to_string())
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    busy.write_all(b" done\r\n.\r\nQUIT\r\n").unwrap();
    let mut transcript = String::new();
    let _ = busy.read_to_string(&mut transcript);
    assert!(transcript.contains("250 2.0.0 delivered"), "{transcript}");
    let mut rest = String::new();
    let _ = idle.read_to_string(&mut rest);
    assert!(rest.contains("421 4.3.2"), "{rest}");
    assert!(p.0.wait().unwrap().success());
    assert_eq!(
        std::fs::read_dir(work.path().join("term/outbox/new"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn sigterm_gives_a_trickling_transaction_a_bounded_grace() {
    use std::io::{Read, Write};
    let work = tempfile::tempdir().unwrap();
    // command_timeout (and so the grace) of 2 s; the client sends a byte
    // every 300 ms, so no single read ever times out.
    let (mut p, port) = proxy_with(
        &work.path().join("grace"),
        "maildir = \"outbox\"",
        "\"127.0.0.0/8\"",
        "command_timeout = \"2s\"",
        "",
        "",
        None,
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut greeting = [0u8; 100];
    let _ = s.read(&mut greeting).unwrap();
    s.write_all(b"EHLO c\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@partner.org>\r\nDATA\r\nSubject: slow\r\n\r\n")
        .unwrap();
    let trickle = std::thread::spawn(move || {
        while s.write_all(b"x").is_ok() {
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    Command::new("kill")
        .arg("-TERM")
        .arg(p.0.id().to_string())
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = p.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "the proxy did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "the grace was given"
    );
    // Nothing was acknowledged, nothing delivered: the client will retry.
    assert!(
        std::fs::read_dir(work.path().join("grace/outbox/new")).map_or(true, |d| d.count() == 0)
    );
    trickle.join().unwrap();
}

/// A 9 MB attachment is scanned in windows: a card number deep inside it,
/// split over a line break, still blocks the message, and the attachment
/// without it is relayed whole.
#[test]
fn a_card_number_deep_in_a_large_attachment_is_blocked() {
    let work = tempfile::tempdir().unwrap();
    let (_sink, _proxy, port, inbox) = demo_relay(work.path());
    let message = |card: &str| {
        let mut csv = String::new();
        let mut row = 0;
        while csv.len() < 9_000_000 {
            row += 1;
            csv.push_str(&format!("{row},ACME Corp,renewal,{}.50,EUR\n", row % 977));
            if row == 150_000 {
                csv.push_str(card);
            }
        }
        let mut encoded = String::new();
        for line in base64::engine::general_purpose::STANDARD
            .encode(csv.as_bytes())
            .as_bytes()
            .chunks(76)
        {
            encoded.push_str(std::str::from_utf8(line).unwrap());
            encoded.push_str("\r\n");
        }
        let path = work.path().join(format!("large-{}.eml", card.len()));
        std::fs::write(
            &path,
            format!(
                "From: alice@example.com\r\nTo: shop@partner.org\r\nSubject: export\r\n\
                 MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\nthe export\r\n\
                 --b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=export.csv\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{encoded}--b--\r\n"
            ),
        )
        .unwrap();
        path
    };
    let reply = send(
        port,
        &message("card on file 4111 1111\n1111 1111 exp 12/29\n"),
        "shop@partner.org",
    );
    assert_eq!(
        reply,
        "550 5.7.1 Message blocked: it contains a payment card number"
    );
    let clean = message("");
    let reply = send(port, &clean, "shop@partner.org");
    assert!(reply.starts_with("250"), "{reply}");
    // The sink hands over lines joined with LF (as smtpd did): compare line by line.
    let lines = |path: &std::path::Path| {
        String::from_utf8(std::fs::read(path).unwrap())
            .unwrap()
            .replace("\r\n", "\n")
    };
    // The upstream also got the block's notification to the sender.
    let relayed = wait_for_files(&inbox, 2)
        .iter()
        .map(|f| lines(f))
        .find(|m| m.contains("\nSubject: export\n"))
        .expect("the clean message relayed");
    let original = lines(&clean);
    assert!(
        relayed.len() > original.len() && relayed.trim_end().ends_with(original.trim_end()),
        "relayed whole after the trace headers"
    );
}
