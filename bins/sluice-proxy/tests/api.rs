//! The store and the HTTP API with real peers: Python's smtplib sends,
//! a Python SMTP sink is the upstream, Python's urllib is the HTTP client,
//! Python's http.server receives the webhook and checks its signature.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::api::{
    demo, http, http_trusting, incidents, policies, setup, setup_with, url_encode, TOKEN,
};
use common::{free_port, proxy_with, send, wait_for_files, wait_port, Running};
use serde_json::Value;

#[test]
fn incidents_through_the_api_with_auth_queries_windows_and_pages() {
    let s = setup("forensics = \"full\"", "");
    for (message, to) in [
        ("hold-partner.eml", "bob@partner.org"),
        ("card-number.eml", "shop@partner.org"),
        ("board-excerpt.eml", "advisor@partner.org"),
    ] {
        let reply = send(s.smtp, &demo(message), to);
        assert!(!reply.starts_with('4'), "{message}: {reply}");
    }
    let all = incidents(&s, "", 3);
    assert_eq!(
        policies(&all),
        [
            "Board papers quarantine",
            "Card block",
            "Customer email Hold"
        ],
        "newest first"
    );

    // Auth: no token, a wrong one, the query parameter, the header.
    let url = format!("{}/api/v1/incidents", s.api);
    let (status, body) = http("GET", &url, None);
    assert_eq!(status, 401);
    assert_eq!(body["status"], "error");
    assert!(body["errors"][0]
        .as_str()
        .unwrap()
        .contains("missing token"));
    assert_eq!(http("GET", &url, Some("wrong")).0, 401);
    assert_eq!(http("GET", &format!("{url}?token=wrong"), None).0, 401);
    assert_eq!(http("GET", &format!("{url}?token={TOKEN}"), None).0, 200);
    assert_eq!(http("GET", &format!("{}/metrics", s.api), None).0, 401);
    assert_eq!(http("GET", &format!("{}/healthz", s.api), None).0, 200);

    // The seed's query.
    let hold = incidents(
        &s,
        &format!(
            "query={}&timeperiod=3600",
            url_encode("(policy in ['Customer email Hold'])")
        ),
        1,
    );
    assert_eq!(policies(&hold), ["Customer email Hold"]);
    let i = &hold[0];
    assert_eq!(i["action"], "add-header");
    assert_eq!(i["severity"], "low");
    assert_eq!(i["sender"], "alice@example.com");
    assert_eq!(i["recipients"], serde_json::json!(["bob@partner.org"]));
    assert_eq!(i["client_ip"], "127.0.0.1");
    assert_eq!(i["monitor"], false);
    assert_eq!(i["rules"][0]["rule"], "Customer entitlement");
    assert_eq!(i["rules"][0]["profile"], "Customer data");
    assert_eq!(i["id"].as_str().unwrap().len(), 26, "a ULID");
    let excerpts: Vec<&str> = i["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["excerpt"].as_str().unwrap())
        .collect();
    assert!(
        excerpts.iter().any(|e| e.contains("Account Manager")),
        "dictionary terms are shown: {excerpts:?}"
    );

    // Card numbers are masked in the evidence, the last 4 digits kept.
    let card = incidents(
        &s,
        &format!("query={}", url_encode("policy eq 'card block'")),
        1,
    );
    let evidence = card[0]["evidence"].to_string();
    assert!(evidence.contains("1111"), "{evidence}");
    assert!(!evidence.contains("4111"), "{evidence}");
    assert!(evidence.contains('*'), "{evidence}");

    // Each operator, case-insensitive values, exact comparison.
    let q = |query: &str| {
        let list = incidents(&s, &format!("query={}", url_encode(query)), 0);
        let mut p: Vec<String> = policies(&list).iter().map(|s| s.to_string()).collect();
        p.sort();
        p
    };
    assert_eq!(q("action eq 'BLOCK'"), ["Card block"]);
    assert_eq!(q("action eq 'bloc'"), Vec::<String>::new());
    assert_eq!(
        q("action ne 'block'"),
        ["Board papers quarantine", "Customer email Hold"]
    );
    assert_eq!(
        q("recipient in ['shop@partner.org', 'advisor@partner.org']"),
        ["Board papers quarantine", "Card block"]
    );
    assert_eq!(q("subject like 'ord*'"), ["Card block"]);
    assert_eq!(
        q("rule like '*entitlement' or profile eq 'payment data'"),
        ["Card block", "Customer email Hold"]
    );
    assert_eq!(
        q("not (sender eq 'alice@example.com') "),
        Vec::<String>::new()
    );
    assert_eq!(
        q("severity eq 'low' and not action in ['block', 'quarantine']"),
        ["Customer email Hold"]
    );

    // Syntax errors: 400 naming the position.
    let (status, body) = http(
        "GET",
        &format!("{url}?query={}", url_encode("policy eq 'x' and and")),
        Some(TOKEN),
    );
    assert_eq!(status, 400);
    assert_eq!(body["status"], "error");
    assert_eq!(
        body["errors"][0],
        "query syntax error at position 19: expected a field (policy, action, severity, sender, recipient, rule, profile, subject) or '(' or 'not', found 'and'"
    );
    let (status, body) = http("GET", &format!("{url}?limit=ten"), Some(TOKEN));
    assert_eq!(status, 400, "{body}");

    // Time windows and pages.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(
        incidents(&s, &format!("starttime={}", now + 60), 0).len(),
        0
    );
    assert_eq!(
        incidents(
            &s,
            &format!("starttime={}&endtime={}", now - 60, now + 60),
            3
        )
        .len(),
        3
    );
    assert_eq!(incidents(&s, &format!("endtime={}", now - 60), 0).len(), 0);
    assert_eq!(
        policies(&incidents(&s, "limit=1&offset=1", 1)),
        ["Card block"]
    );
    assert_eq!(incidents(&s, "limit=2", 2).len(), 2);
    assert_eq!(incidents(&s, "offset=3", 0).len(), 0);

    // One incident; the whole message kept with forensics = "full".
    let id = all[0]["id"].as_str().unwrap();
    let (status, one) = http("GET", &format!("{url}/{id}"), Some(TOKEN));
    assert_eq!(status, 200);
    assert_eq!(one["data"], all[0]);
    assert_eq!(
        http("GET", &format!("{url}/01NOSUCHINCIDENT"), Some(TOKEN)).0,
        404
    );
    let (status, kept) = http("GET", &format!("{url}/{id}/message"), Some(TOKEN));
    assert_eq!(status, 200);
    assert!(kept
        .as_str()
        .unwrap()
        .contains("Message-ID: <board-excerpt.eml@demo.example.com>"));

    // Metrics in Prometheus text format.
    let (status, metrics) = http("GET", &format!("{}/metrics?token={TOKEN}", s.api), None);
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap();
    assert!(metrics.contains("sluice_messages_total 3"), "{metrics}");
    assert!(
        metrics.contains(
            "sluice_decisions_total{action=\"block\",mode=\"enforce\",policy=\"Card block\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("sluice_quarantine_messages 1"),
        "{metrics}"
    );
    assert!(metrics.contains("sluice_scan_seconds_bucket"), "{metrics}");
    assert!(metrics.contains("sluice_relay_seconds_count"), "{metrics}");
}

#[test]
fn incidents_never_hold_a_whole_identifier() {
    let s = setup("", "");
    let dir = tempfile::tempdir().unwrap();
    let message = dir.path().join("cards.eml");
    // A card in the Subject (full-width digits too), a list of cards in
    // the body, a file named after one, and an SSN beside them.
    std::fs::write(
        &message,
        "From: alice@example.com\r\nTo: shop@partner.org\r\n\
         Subject: cards 4111 1111 1111 1111 and \u{ff15}\u{ff15}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff14}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\n\
         4111111111111111 5500000000000004 340000000000009 ssn 536-22-1234\r\n\
         --b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"4012888888881881.txt\"\r\n\r\n\
         card 4012 8888 8888 1881\r\n--b--\r\n",
    )
    .unwrap();
    let reply = send(s.smtp, &message, "shop@partner.org");
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    let listed = incidents(&s, "", 1);
    let text = listed[0].to_string();
    for whole in [
        "4111 1111 1111 1111",
        "4111111111111111",
        "5500000000000004",
        "340000000000009",
        "536-22-1234",
        "4012888888881881",
        "4012 8888 8888 1881",
        "\u{ff15}\u{ff15}\u{ff10}\u{ff10}\u{ff10}\u{ff10}",
    ] {
        assert!(!text.contains(whole), "{whole} in {text}");
    }
    assert!(text.contains("1111"), "{text}");
    assert!(
        listed[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("cards **** **** **** 1111"),
        "{text}"
    );
}

/// A Python HTTP listener that checks X-Sluice-Signature over
/// "<X-Sluice-Timestamp>.<body>" (SPEC §8), refuses timestamps more than
/// 5 minutes off, and writes each body to `dir/N.json` with the result.
fn webhook_listener(dir: &Path, secret: &str) -> (Running, u16) {
    let port = free_port();
    let script = format!(
        r#"
import hmac, hashlib, http.server, json, os, time
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stamp = self.headers.get("X-Sluice-Timestamp", "")
        fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < 300
        expected = "sha256=" + hmac.new({secret:?}.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        H.n += 1
        with open(os.path.join({dir:?}, "%d.json" % H.n), "w") as f:
            json.dump({{"valid": fresh and hmac.compare_digest(expected, self.headers.get("X-Sluice-Signature", "")),
                       "content_type": self.headers["Content-Type"], "incident": json.loads(body)}}, f)
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", {port}), H).serve_forever()
"#,
        dir = dir.display().to_string()
    );
    let child = Command::new("python3")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    (Running(child), port)
}

#[test]
fn webhook_posts_signed_incidents() {
    let work = tempfile::tempdir().unwrap();
    let hooks = work.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let (_listener, port) = webhook_listener(&hooks, "hmac-secret");
    let p = work.path().join("p");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("webhook.secret"), "hmac-secret\n").unwrap();
    let s = setup(
        "forensics = \"none\"",
        &format!(
            "[notify]\nfrom = \"dlp-noreply@example.com\"\nwebhook = \"http://127.0.0.1:{port}/incidents\"\nwebhook_secret_file = \"{}\"",
            p.join("webhook.secret").display()
        ),
    );
    let reply = send(s.smtp, &demo("card-number.eml"), "shop@partner.org");
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    let posted = wait_for_files(&hooks, 1);
    assert_eq!(posted.len(), 1);
    let hook: Value = serde_json::from_str(&std::fs::read_to_string(&posted[0]).unwrap()).unwrap();
    assert_eq!(hook["valid"], true, "{hook}");
    assert_eq!(hook["content_type"], "application/json");
    assert_eq!(hook["incident"]["policy"], "Card block");
    assert_eq!(hook["incident"]["action"], "block");
    assert_eq!(
        hook["incident"]["evidence"],
        serde_json::json!([]),
        "forensics = none"
    );
    // The same incident as the API shows.
    let listed = incidents(&s, "", 1);
    assert_eq!(listed[0], hook["incident"]);

    // The sender's notification: from <>, [notify] from, no card number.
    let mail = wait_for_files(&s.inbox, 1);
    assert_eq!(mail.len(), 1);
    let text = std::fs::read_to_string(&mail[0]).unwrap();
    assert!(
        text.starts_with("X-Envelope: <> -> alice@example.com"),
        "{text}"
    );
    assert!(text.contains("From: dlp-noreply@example.com"), "{text}");
    assert!(text.contains(listed[0]["id"].as_str().unwrap()), "{text}");
    assert!(!text.contains("4111"), "{text}");
}

#[test]
fn monitor_mode_records_the_would_be_action_and_changes_nothing() {
    let s = setup_with("mode = \"monitor\"\nlog_format = \"json\"", "", "");
    for (message, to) in [
        ("card-number.eml", "shop@partner.org"),
        ("board-excerpt.eml", "advisor@partner.org"),
        ("hold-partner.eml", "bob@partner.org"),
    ] {
        let reply = send(s.smtp, &demo(message), to);
        assert!(
            reply.starts_with("250 ") && !reply.contains("quarantined"),
            "{message}: {reply}"
        );
    }
    let all = incidents(&s, "", 3);
    let recorded: Vec<(&str, bool)> = all
        .iter()
        .map(|i| {
            (
                i["action"].as_str().unwrap(),
                i["monitor"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        [("add-header", true), ("quarantine", true), ("block", true)]
    );
    assert!(all.iter().all(|i| i["quarantine"].is_null()));
    // All three relayed unchanged (no header added), no notification.
    let relayed = wait_for_files(&s.inbox, 4);
    assert_eq!(relayed.len(), 3, "{relayed:?}");
    for f in &relayed {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.starts_with("X-Envelope: alice@example.com -> "),
            "{text}"
        );
        assert!(!text.contains("X-Sluice-Hold"), "{text}");
    }
    let (_, held) = http("GET", &format!("{}/api/v1/quarantine", s.api), Some(TOKEN));
    assert_eq!(held["data"], serde_json::json!([]));

    // One JSON log line per transaction, with the would-be action.
    let log = std::fs::read_to_string(s.config.with_file_name("proxy.log")).unwrap();
    let transactions: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["message"] == "transaction")
        .collect();
    assert_eq!(transactions.len(), 3, "{log}");
    let card = &transactions[0];
    assert_eq!(card["policy"], "Card block");
    assert_eq!(card["action"], "block");
    assert_eq!(card["monitor"], true);
    assert_eq!(card["from"], "alice@example.com");
    assert_eq!(card["rcpts"], 1);
    assert_eq!(card["message_id"], "<card-number.eml@demo.example.com>");
    assert!(card["reply"].as_str().unwrap().starts_with("250"), "{card}");
    assert_eq!(card["tx"], all[2]["id"]);
    assert!(card["total_ms"].as_f64().unwrap() >= card["scan_ms"].as_f64().unwrap());
}

#[test]
fn token_file_is_reloaded_on_sighup() {
    let work = tempfile::tempdir().unwrap();
    let p = work.path().join("p");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("api.tokens"), "# reviewers\nfirst-token\n").unwrap();
    let api_port = free_port();
    let (proxy, _smtp) = proxy_with(
        &p,
        &format!("maildir = \"{}\"", work.path().join("out").display()),
        "\"127.0.0.0/8\"",
        "",
        "",
        &format!("[api]\nlisten = \"127.0.0.1:{api_port}\"\ntoken_file = \"api.tokens\""),
        None,
    );
    wait_port(api_port);
    let url = format!("http://127.0.0.1:{api_port}/api/v1/quarantine");
    assert_eq!(http("GET", &url, Some("first-token")).0, 200);
    assert_eq!(http("GET", &url, Some("second-token")).0, 401);

    std::fs::write(p.join("api.tokens"), "second-token\n").unwrap();
    common::sighup(&proxy);
    let started = Instant::now();
    while http("GET", &url, Some("second-token")).0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "new token never accepted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        http("GET", &url, Some("first-token")).0,
        401,
        "the old token is revoked"
    );
}

#[test]
fn a_monitor_policy_above_a_block_records_and_the_block_still_applies() {
    // SPEC §5: a policy tried in monitor mode at the top of the file
    // changes nothing for the mail.
    let s = setup(
        "",
        "[[policy]]\nname = \"Try quarantine\"\nprofiles = [\"Payment data\"]\naction = \"quarantine\"\nmode = \"monitor\"\n",
    );
    let reply = send(s.smtp, &demo("card-number.eml"), "shop@partner.org");
    assert!(reply.starts_with("550 5.7.1 "), "{reply}");
    let all = incidents(&s, "", 2);
    let recorded: Vec<(&str, &str, bool)> = all
        .iter()
        .map(|i| {
            (
                i["policy"].as_str().unwrap(),
                i["action"].as_str().unwrap(),
                i["monitor"].as_bool().unwrap(),
            )
        })
        .collect();
    // Newest first: both incidents of the one message.
    let mut sorted = recorded.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            ("Card block", "block", false),
            ("Try quarantine", "quarantine", true)
        ],
        "{recorded:?}"
    );
    assert!(all.iter().all(|i| i["quarantine"].is_null()));
    let (_, held) = http("GET", &format!("{}/api/v1/quarantine", s.api), Some(TOKEN));
    assert_eq!(held["data"], serde_json::json!([]));
    // The query language finds the monitor incident by its policy.
    let q = url_encode("policy eq 'try quarantine'");
    let found = incidents(&s, &format!("query={q}"), 1);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["monitor"], true);
}

/// `[api] tls`: HTTPS with the configured certificate (urllib verifies it
/// against that certificate as its CA), nothing in clear on that port,
/// and a client that connects and never says anything does not hold up
/// the next one.
#[test]
fn the_api_over_https() {
    let work = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let (cert_pem, key_pem) = (work.path().join("api.pem"), work.path().join("api.key"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let api_port = free_port();
    let (_proxy, _smtp) = proxy_with(
        &work.path().join("p"),
        "address = \"127.0.0.1:9\"\nstarttls = \"off\"",
        "\"127.0.0.0/8\"",
        "",
        "",
        &format!(
            "[api]\nlisten = \"127.0.0.1:{api_port}\"\ntokens = [\"{TOKEN}\"]\ntls = {{ cert = \"{}\", key = \"{}\" }}\n\n[console]\n",
            cert_pem.display(),
            key_pem.display()
        ),
        None,
    );
    wait_port(api_port);
    // Connected, silent: its handshake waits alone.
    let _silent = std::net::TcpStream::connect(("127.0.0.1", api_port)).unwrap();
    let https = format!("https://localhost:{api_port}");
    let started = Instant::now();
    let (status, body) = http_trusting(
        Some(&cert_pem),
        "GET",
        &format!("{https}/api/v1/incidents"),
        Some(TOKEN),
    );
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        http_trusting(
            Some(&cert_pem),
            "GET",
            &format!("{https}/api/v1/audit"),
            None
        )
        .0,
        401
    );
    // A client that does not trust the certificate refuses it; plain HTTP
    // gets no HTTP answer.
    let (status, why) = http("GET", &format!("{https}/healthz"), None);
    assert_eq!(status, 0, "{why}");
    assert!(
        why.as_str().unwrap().contains("CERTIFICATE_VERIFY_FAILED"),
        "{why}"
    );
    let (status, why) = http("GET", &format!("http://127.0.0.1:{api_port}/healthz"), None);
    assert_eq!(status, 0, "{why}");
    // The console on the same listener: its cookies are Secure over TLS.
    let script = r#"
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
with urllib.request.urlopen(sys.argv[1], context=ctx, timeout=30) as r:
    print(r.status, r.getheader("Set-Cookie"), r.getheader("Content-Security-Policy"))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, &format!("{https}/login")])
        .arg(&cert_pem)
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.starts_with("200 sluice_signin="), "{line} {out:?}");
    assert!(line.contains("HttpOnly; SameSite=Strict; Secure"), "{line}");
    assert!(line.contains("default-src 'none'"), "{line}");
}
