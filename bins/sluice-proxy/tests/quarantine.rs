//! The quarantine through the API: per-recipient releases, deletes, a
//! failed release, and a full disk, with real peers (Python's smtplib and
//! urllib, a Python SMTP sink upstream).

mod common;

use std::process::Command;

use common::api::{demo, http, incidents, setup, Setup, TOKEN};
use common::{proxy_with, relay_to, send, sink, wait_for_files};

#[test]
fn a_release_answers_per_recipient_keeps_the_deferred_and_bounces_the_refused() {
    let s = setup("", "");
    let script = format!(
        r#"
import smtplib
with smtplib.SMTP("127.0.0.1", {port}) as c:
    r = c.sendmail("alice@example.com", ["advisor@partner.org", "temp@partner.org", "gone@partner.org"],
                   open({path:?}, "rb").read())
    print("ok")
"#,
        port = s.smtp,
        path = demo("board-excerpt.eml").display().to_string()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{out:?}"
    );
    let (_, list) = http("GET", &format!("{}/api/v1/quarantine", s.api), Some(TOKEN));
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["data"][0]["recipients"].as_array().unwrap().len(), 3);

    // The upstream now defers temp@ and refuses gone@.
    let strict = format!("{}.strict", s.inbox.display());
    std::fs::write(&strict, "").unwrap();
    let release = format!("{}/api/v1/quarantine/{id}/release", s.api);
    let (status, body) = http("POST", &release, Some(TOKEN));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["released"], false, "{body}");
    let replies: Vec<(String, String)> = body["data"]["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_owned(),
                r["reply"].as_str().unwrap()[..3].to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("advisor@partner.org", "250"),
        ("temp@partner.org", "450"),
        ("gone@partner.org", "550"),
    ]
    .iter()
    .map(|(a, c)| (a.to_string(), c.to_string()))
    .collect();
    assert_eq!(replies, expected);
    // Delivered to advisor@, and the sender told about gone@.
    let files = wait_for_files(&s.inbox, 2);
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("X-Envelope: alice@example.com -> advisor@partner.org")),
        "{texts:?}"
    );
    let dsn = texts
        .iter()
        .find(|t| t.starts_with("X-Envelope: <> -> alice@example.com"))
        .expect("a DSN");
    assert!(
        dsn.contains("Final-Recipient: rfc822; gone@partner.org"),
        "{dsn}"
    );
    assert!(dsn.contains("Status: 5.1.1"), "{dsn}");
    // Held for temp@ only.
    let (_, list) = http("GET", &format!("{}/api/v1/quarantine", s.api), Some(TOKEN));
    assert_eq!(
        list["data"][0]["recipients"],
        serde_json::json!(["temp@partner.org"])
    );

    // Once the upstream takes temp@, the next release finishes the job.
    std::fs::remove_file(&strict).unwrap();
    let (status, body) = http("POST", &release, Some(TOKEN));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["released"], true, "{body}");
    assert_eq!(body["data"]["recipients"].as_array().unwrap().len(), 1);
    let files = wait_for_files(&s.inbox, 3);
    let last = std::fs::read_to_string(files.last().unwrap()).unwrap();
    assert!(
        last.starts_with("X-Envelope: alice@example.com -> temp@partner.org"),
        "{last}"
    );
    let (_, list) = http("GET", &format!("{}/api/v1/quarantine", s.api), Some(TOKEN));
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    // The audit trail says who each release reached; the incident, that
    // the message is out.
    let (_, audit) = http("GET", &format!("{}/api/v1/audit", s.api), Some(TOKEN));
    let details: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "delivered: temp@partner.org",
            "delivered: advisor@partner.org; refused: gone@partner.org; pending: temp@partner.org"
        ]
    );
    let (_, incident) = http(
        "GET",
        &format!("{}/api/v1/incidents/{id}", s.api),
        Some(TOKEN),
    );
    assert_eq!(
        incident["data"]["quarantine"]["state"], "released",
        "{incident}"
    );
}

#[test]
fn quarantine_release_delete_and_a_failed_release() {
    let mut s = setup("", "");
    let hold = |s: &Setup| {
        let reply = send(s.smtp, &demo("board-excerpt.eml"), "advisor@partner.org");
        assert!(reply.starts_with("250 2.0.0 quarantined "), "{reply}");
        reply.rsplit(' ').next().unwrap().to_owned()
    };
    let first = hold(&s);
    let second = hold(&s);
    let (status, list) = http("GET", &format!("{}/api/v1/quarantine", s.api), Some(TOKEN));
    assert_eq!(status, 200);
    let held = list["data"].as_array().unwrap();
    assert_eq!(held.len(), 2);
    assert_eq!(held[0]["id"], first.as_str());
    assert_eq!(held[0]["incident_id"], first.as_str());
    assert_eq!(held[0]["sender"], "alice@example.com");
    assert_eq!(
        held[0]["recipients"],
        serde_json::json!(["advisor@partner.org"])
    );
    assert_eq!(held[0]["subject"], "notes");
    assert!(held[0]["size"].as_u64().unwrap() > 1000);
    assert!(held[0]["time"].as_str().unwrap().ends_with('Z'));
    // The incident points at the held message.
    let incident = incidents(&s, "", 2);
    let quarantine = &incident[1]["quarantine"];
    assert_eq!(quarantine["id"], first.as_str(), "{quarantine}");
    assert_eq!(quarantine["state"], "held");
    assert_eq!(
        quarantine["pending"],
        serde_json::json!(["advisor@partner.org"])
    );
    assert_eq!(quarantine["actor"], serde_json::Value::Null);
    assert!(
        wait_for_files(&s.inbox, 1).is_empty(),
        "nothing relayed yet"
    );

    // Release: relayed to the upstream with the original sender and
    // recipients, then removed.
    let (status, body) = http(
        "POST",
        &format!("{}/api/v1/quarantine/{first}/release", s.api),
        Some(TOKEN),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["released"], true, "{body}");
    assert_eq!(
        body["data"]["recipients"][0]["address"],
        "advisor@partner.org"
    );
    assert!(
        body["data"]["recipients"][0]["reply"]
            .as_str()
            .unwrap()
            .starts_with("250"),
        "{body}"
    );
    let relayed = wait_for_files(&s.inbox, 1);
    assert_eq!(relayed.len(), 1);
    let text = std::fs::read_to_string(&relayed[0]).unwrap();
    assert!(
        text.starts_with("X-Envelope: alice@example.com -> advisor@partner.org"),
        "{text}"
    );
    assert!(text.contains("X-Sluice-Scanned: dlp.test"));
    assert!(text.contains("Message-ID: <board-excerpt.eml@demo.example.com>"));
    let (_, list) = http("GET", &format!("{}/api/v1/quarantine", s.api), Some(TOKEN));
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        http(
            "POST",
            &format!("{}/api/v1/quarantine/{first}/release", s.api),
            Some(TOKEN)
        )
        .0,
        404
    );

    // With the upstream down, a release fails, says why and keeps the message.
    drop(s.sink.take());
    let (status, body) = http(
        "POST",
        &format!("{}/api/v1/quarantine/{second}/release", s.api),
        Some(TOKEN),
    );
    assert_eq!(status, 502, "{body}");
    let why = body["errors"][0].as_str().unwrap();
    assert!(why.contains("the message is kept"), "{why}");
    let (_, list) = http("GET", &format!("{}/api/v1/quarantine", s.api), Some(TOKEN));
    assert_eq!(list["data"][0]["id"], second.as_str());

    // Delete, through the command line this time.
    let out = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"))
        .args(["quarantine", "delete", &second, "--config"])
        .arg(&s.config)
        .env("USER", "dana")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Each release and delete is logged with who did it, and when.
    let cli_log = String::from_utf8_lossy(&out.stderr);
    assert!(
        cli_log.contains("actor=cli:dana") && cli_log.contains(&format!("quarantine={second}")),
        "{cli_log}"
    );
    let proxy_log = std::fs::read_to_string(s.config.with_file_name("proxy.log")).unwrap();
    assert!(
        proxy_log
            .lines()
            .any(|l| l.contains("actor=token:#1") && l.contains("quarantine release: released")),
        "{proxy_log}"
    );
    let (_, list) = http("GET", &format!("{}/api/v1/quarantine", s.api), Some(TOKEN));
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    assert_eq!(
        http(
            "DELETE",
            &format!("{}/api/v1/quarantine/{second}", s.api),
            Some(TOKEN)
        )
        .0,
        404
    );

    // The audit trail has every step, newest first, with who, from where
    // and the outcome (SPEC §8).
    let (status, audit) = http("GET", &format!("{}/api/v1/audit", s.api), Some(TOKEN));
    assert_eq!(status, 200, "{audit}");
    let trail: Vec<(String, String, String, String)> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            (
                text("actor"),
                text("action"),
                text("quarantine_id"),
                text("result"),
            )
        })
        .collect();
    let ok = |actor: &str, action: &str, id: &str| {
        (
            actor.to_owned(),
            action.to_owned(),
            id.to_owned(),
            "ok".to_owned(),
        )
    };
    assert_eq!(trail.len(), 5, "{audit}");
    assert_eq!(trail[0].1, "delete");
    assert!(trail[0].3.starts_with("no quarantined message"), "{audit}");
    assert_eq!(trail[1], ok("cli:dana", "delete", &second));
    assert_eq!(trail[2].1, "release");
    assert!(trail[2].3.contains("the message is kept"), "{audit}");
    assert!(trail[3].3.starts_with("no quarantined message"), "{audit}");
    assert_eq!(trail[4], ok("token:#1", "release", &first));
    let released = &audit["data"][4];
    assert_eq!(released["incident_id"], first.as_str());
    assert_eq!(released["client_ip"], "127.0.0.1");
    assert_eq!(released["detail"], "delivered: advisor@partner.org");
    assert_eq!(audit["data"][1]["client_ip"], serde_json::Value::Null);
    // One message's trail; paging; a query is refused.
    let (_, one) = http(
        "GET",
        &format!("{}/api/v1/audit?quarantine_id={second}&limit=1", s.api),
        Some(TOKEN),
    );
    assert_eq!(one["data"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["data"][0]["actor"], "token:#1");
    let (status, refused) = http(
        "GET",
        &format!("{}/api/v1/audit?query=action%20eq%20%27x%27", s.api),
        Some(TOKEN),
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(http("GET", &format!("{}/api/v1/audit", s.api), None).0, 401);

    // The same trail from the command line.
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"))
            .args(args)
            .arg("--config")
            .arg(&s.config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let table = cli(&["audit", "--quarantine", &second]);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[1].contains("cli:dana") && rows[1].contains("delete"),
        "{table}"
    );
    assert!(rows[2].contains("the message is kept"), "{table}");
    let lines = cli(&["audit", "--json", "--timeperiod", "1h"]);
    assert_eq!(lines.lines().count(), 5, "{lines}");
    let incidents = cli(&["incidents"]);
    assert!(incidents.contains("quarantine (released)"), "{incidents}");
    assert!(incidents.contains("quarantine (deleted)"), "{incidents}");

    // The incidents say where their messages went, and who sent them there.
    for (id, state, actor) in [
        (&first, "released", "token:#1"),
        (&second, "deleted", "cli:dana"),
    ] {
        let (_, one) = http(
            "GET",
            &format!("{}/api/v1/incidents/{id}", s.api),
            Some(TOKEN),
        );
        let q = &one["data"]["quarantine"];
        assert_eq!(
            (q["state"].as_str(), q["actor"].as_str()),
            (Some(state), Some(actor)),
            "{one}"
        );
        assert_eq!(q["pending"], serde_json::json!([]));
    }
}

#[test]
fn a_full_disk_never_gets_a_250_for_a_quarantine() {
    let work = tempfile::tempdir().unwrap();
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let (_sink, upstream) = sink(&inbox);
    // The proxy may write no file past 1 MiB: the store's file can hold a
    // small message but not a 2 MB one.
    let (_proxy, smtp) = proxy_with(
        &work.path().join("p"),
        &relay_to(upstream),
        "\"127.0.0.0/8\"",
        "",
        "",
        "",
        Some(1 << 20),
    );
    let original = std::fs::read_to_string(demo("board-excerpt.eml"))
        .unwrap()
        .replace("\r\n", "\n");
    let boundary = "--===============0177061253217551911==";
    let (head, tail) = original
        .split_once(&format!("{boundary}\nContent-Type: application/vnd"))
        .unwrap();
    let padding: String = (0..30_000).map(|i| format!("{:076}\n", i)).collect();
    let big = format!(
        "{head}{boundary}\nContent-Type: text/csv\nContent-Disposition: attachment; filename=\"pad.csv\"\n\n{padding}\n{boundary}\nContent-Type: application/vnd{tail}"
    );
    let big_path = work.path().join("big.eml");
    std::fs::write(&big_path, big.replace('\n', "\r\n")).unwrap();

    let reply = send(smtp, &big_path, "advisor@partner.org");
    assert!(reply.starts_with("451 4.3.0"), "{reply}");
    // The session's store still works for what fits.
    let reply = send(smtp, &demo("board-excerpt.eml"), "advisor@partner.org");
    assert!(reply.starts_with("250 2.0.0 quarantined"), "{reply}");
    assert!(wait_for_files(&inbox, 1).is_empty(), "nothing relayed");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"))
        .args(["quarantine", "list", "--config"])
        .arg(work.path().join("p/sluice.toml"))
        .output()
        .unwrap();
    // A header and the one held message.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        2,
        "{out:?}"
    );
}
