//! The reviewers' console (SPEC §9) with real peers: users made by
//! `sluice-proxy user add`, messages sent by Python's smtplib, Postfix's
//! smtp-sink as the upstream, and headless Chromium driven by selenium
//! (`tests/browser/console_flow.py`) for everything a reviewer and a
//! sender do. Sign-in throttling is checked over plain HTTP.
//! `.ci/run` installs chromium, chromium-driver, selenium and Postfix;
//! missing there, the tests fail.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::api::TOKEN;
use common::{free_port, have, proxy_with, relay_to, repo, smtp_sink, wait_port, Running};

const XSS: &str = "<img src=x onerror=alert(1)>";
const SESSION_TTL: u64 = 20;
const ADMIN_PASSWORD: &str = "admin password 1";
const REVIEWER_PASSWORD: &str = "reviewer password 1";

/// Whether the browser peers are here; in CI they must be.
fn have_browser() -> bool {
    let python_selenium = Command::new("python3")
        .args(["-c", "import selenium"])
        .status()
        .is_ok_and(|s| s.success());
    let ok = have("chromium") && have("chromedriver") && have("smtp-sink") && python_selenium;
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium, chromedriver, smtp-sink or selenium missing in CI"
        );
        eprintln!("NOTICE: chromium/chromedriver/selenium/smtp-sink missing; console test skipped");
    }
    ok
}

/// A console proxy relaying to smtp-sink, with two users: (proxy, smtp
/// port, console URL, sink folder, work folder).
struct Console {
    _sink: Running,
    _proxy: Running,
    smtp: u16,
    url: String,
    sink: std::path::PathBuf,
    work: tempfile::TempDir,
}

fn console() -> Console {
    let work = tempfile::tempdir().unwrap();
    let sink_dir = work.path().join("sink");
    let (sink, sink_port) = smtp_sink(&sink_dir, &[]);
    let api_port = free_port();
    let url = format!("http://127.0.0.1:{api_port}");
    let dir = work.path().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    // The users exist before the proxy starts (as after installation).
    let tables = format!(
        "[api]\nlisten = \"127.0.0.1:{api_port}\"\ntokens = [\"{TOKEN}\"]\n\n\
         [console]\nsession_ttl = \"{SESSION_TTL}s\"\nnotify = [\"dlp-team@example.com\"]\n\n\
         [notify]\nfrom = \"dlp-noreply@example.com\"\nconsole_url = \"{url}\"\nlink_ttl = \"1d\"\n\n\
         [[policy]]\nname = \"Board papers held\"\nprofiles = [\"Confidential documents\"]\n\
         to = {{ exclude = [\"*@example.com\"] }}\naction = \"quarantine\"\nnotify_sender = true\n"
    );
    let config = dir.join("sluice.toml");
    // A first config without the proxy running, for `user add`.
    let demo = std::fs::read_to_string(repo().join("fixtures/demo/sluice.toml")).unwrap();
    let rules = &demo[demo.find("[[entity]]").unwrap()..];
    std::fs::create_dir_all(dir.join("dictionaries")).unwrap();
    std::fs::copy(
        repo().join("fixtures/demo/dictionaries/customer.csv"),
        dir.join("dictionaries/customer.csv"),
    )
    .unwrap();
    std::fs::copy(repo().join("fixtures/demo/board.fp"), dir.join("board.fp")).unwrap();
    std::fs::write(&config, format!("{tables}\n{rules}")).unwrap();
    user_command(&config, &["add", "ana", "--role", "admin"], ADMIN_PASSWORD);
    user_command(
        &config,
        &["add", "rev", "--role", "reviewer"],
        REVIEWER_PASSWORD,
    );
    let (proxy, smtp) = proxy_with(
        &dir,
        &relay_to(sink_port),
        "\"127.0.0.0/8\"",
        "",
        "",
        &tables,
        None,
    );
    wait_port(api_port);
    Console {
        _sink: sink,
        _proxy: proxy,
        smtp,
        url,
        sink: sink_dir,
        work,
    }
}

/// Sends the test's messages with smtplib: a card in an attachment whose
/// name is markup (blocked), and three board excerpts (held), one with a
/// subject and a sender of markup.
fn send_messages(c: &Console) {
    let board = repo().join("fixtures/demo/messages/board-excerpt.eml");
    let script = format!(
        r#"
import smtplib
from email.message import EmailMessage
board = open({board:?}, "rb").read()
def held(subject):
    return board.replace(b"Subject: notes", b"Subject: " + subject.encode())
with smtplib.SMTP("127.0.0.1", {port}) as c:
    m = EmailMessage()
    m["From"] = "alice@example.com"; m["To"] = "shop@partner.org"; m["Subject"] = "Order"
    m.set_content("See the attachment.")
    m.add_attachment("card 4111 1111 1111 1111 exp 12/29".encode(), maintype="text",
                     subtype="plain", filename={xss:?} + ".txt")
    try:
        c.send_message(m, "alice@example.com", ["shop@partner.org"])
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 550, e
    for subject in ["Board minutes for release", {xss:?}, "Board minutes, please release"]:
        # The markup subject comes from a sender whose address is markup too.
        sender = '"%s"@example.com' % subject if subject == {xss:?} else "alice@example.com"
        c.sendmail(sender, ["advisor@partner.org"], held(subject))
print("sent")
"#,
        board = board.display().to_string(),
        port = c.smtp,
        xss = XSS,
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sent"),
        "{out:?}"
    );
}

/// A page on another origin with a form that posts to `?target=`.
fn cross_site_server() -> (Running, String) {
    let port = free_port();
    let script = format!(
        r#"
import http.server, urllib.parse, html
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        target = html.escape(q.get("target", [""])[0])
        body = ('<form method="post" action="%s"><input type="hidden" name="csrf" value="x">'
                '<button id="go">go</button></form>' % target).encode()
        self.send_response(200); self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.2", {port}), H).serve_forever()
"#
    );
    let child = Command::new("python3")
        .args(["-c", &script])
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.2", port)).is_err() {
        assert!(started.elapsed().as_secs() < 10, "cross-site server");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (Running(child), format!("http://127.0.0.2:{port}"))
}

#[test]
fn reviewers_and_senders_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let c = console();
    send_messages(&c);
    let (_other_site, cross_site) = cross_site_server();
    let shots = repo().join("target/console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("python3")
        .arg(repo().join("bins/sluice-proxy/tests/browser/console_flow.py"))
        .env("CONSOLE", &c.url)
        .env("TOKEN", TOKEN)
        .env("SINK_DIR", &c.sink)
        .env("SCREENSHOTS", &shots)
        .env("CROSS_SITE", &cross_site)
        .env("SESSION_TTL", SESSION_TTL.to_string())
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("REVIEWER_PASSWORD", REVIEWER_PASSWORD)
        .output()
        .unwrap();
    let log = std::fs::read_to_string(c.work.path().join("p/proxy.log")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("console flow: ok"),
        "stdout: {}\nstderr: {}\nproxy log: {log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A sign-in POST with a fresh form; its HTTP status.
const SIGN_IN: &str = r#"
import sys, http.client, re
host, name, password = sys.argv[1], sys.argv[2], sys.argv[3]
c = http.client.HTTPConnection(host, timeout=30)
c.request("GET", "/login")
r = c.getresponse(); page = r.read().decode()
nonce = re.search(r"sluice_signin=([^;]+)", r.getheader("Set-Cookie")).group(1)
csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
body = "username=%s&password=%s&csrf=%s" % (name, password.replace(" ", "+"), csrf)
c.request("POST", "/login", body=body, headers={"Cookie": "sluice_signin=" + nonce,
          "Content-Type": "application/x-www-form-urlencoded", "Origin": "http://" + host})
r = c.getresponse(); r.read()
session = re.search(r"sluice_session=([^;]*)", r.getheader("Set-Cookie") or "")
print(r.status, r.getheader("Retry-After") or "", session.group(1) if session else "")
"#;

fn sign_in(host: &str, name: &str, password: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", SIGN_IN, host, name, password])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn five_failed_sign_ins_lock_the_name_for_fifteen_minutes() {
    if !have("smtp-sink") {
        assert!(std::env::var_os("CI").is_none(), "smtp-sink missing in CI");
        return;
    }
    let c = console();
    let host = c.url.trim_start_matches("http://").to_owned();
    assert!(sign_in(&host, "rev", REVIEWER_PASSWORD).starts_with("303"));
    for _ in 0..5 {
        assert!(sign_in(&host, "rev", "not the password").starts_with("401"));
    }
    // Locked: even the right password gets 429, with Retry-After.
    let locked = sign_in(&host, "rev", REVIEWER_PASSWORD);
    let (status, retry) = locked.split_once(' ').unwrap();
    assert_eq!(status, "429", "{locked}");
    let retry: u64 = retry.trim().parse().unwrap();
    assert!((800..=900).contains(&retry), "{retry}");
    // The address is locked for every name too (the limit is per name and
    // per client).
    assert!(sign_in(&host, "ana", ADMIN_PASSWORD).starts_with("429"));
    // Every failure is in the audit trail.
    let (_, audit) = common::api::http("GET", &format!("{}/api/v1/audit", c.url), Some(TOKEN));
    let failed = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sign-in-failed" && e["actor"] == "user:rev")
        .count();
    assert_eq!(failed, 5, "{audit}");
}

/// The status of `GET path` with a session cookie.
fn get_with(host: &str, path: &str, session: &str) -> String {
    let script = r#"
import sys, http.client
c = http.client.HTTPConnection(sys.argv[1], timeout=30)
c.request("GET", sys.argv[2], headers={"Cookie": "sluice_session=" + sys.argv[3]})
r = c.getresponse(); r.read()
print(r.status, r.getheader("Location") or "")
"#;
    let out = Command::new("python3")
        .args(["-c", script, host, path, session])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `sluice-proxy user ARGS...`, a password on stdin.
fn user_command(config: &Path, args: &[&str], password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"))
        .arg("user")
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn a_new_password_or_a_removal_ends_the_users_sessions() {
    if !have("smtp-sink") {
        assert!(std::env::var_os("CI").is_none(), "smtp-sink missing in CI");
        return;
    }
    let c = console();
    let host = c.url.trim_start_matches("http://").to_owned();
    let config = c.work.path().join("p/sluice.toml");
    let session = |name: &str, password: &str| {
        let line = sign_in(&host, name, password);
        assert!(line.starts_with("303"), "{line}");
        line.rsplit(' ').next().unwrap().to_owned()
    };
    let rev = session("rev", REVIEWER_PASSWORD);
    let ana = session("ana", ADMIN_PASSWORD);
    assert!(get_with(&host, "/quarantine", &rev).starts_with("200"));
    assert!(get_with(&host, "/audit", &ana).starts_with("200"));
    // A reviewer's session opens no admin page, and no API endpoint.
    assert!(get_with(&host, "/audit", &rev).starts_with("403"));
    assert!(get_with(&host, "/api/v1/incidents", &ana).starts_with("401"));
    // A tampered cookie is no session.
    let forged = format!("{}x", &rev);
    assert!(get_with(&host, "/quarantine", &forged).starts_with("303 /login"));

    user_command(&config, &["passwd", "rev"], "a brand new password");
    assert!(
        get_with(&host, "/quarantine", &rev).starts_with("303 /login"),
        "the old password's session ended"
    );
    assert!(sign_in(&host, "rev", "a brand new password").starts_with("303"));
    user_command(&config, &["remove", "ana"], "");
    assert!(get_with(&host, "/audit", &ana).starts_with("303 /login"));
    assert!(sign_in(&host, "ana", ADMIN_PASSWORD).starts_with("401"));
}
