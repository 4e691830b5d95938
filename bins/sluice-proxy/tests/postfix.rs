//! The proxy between swaks (client) and Postfix's smtp-sink (upstream):
//! peers we did not write. Skipped with a notice when they are not
//! installed (`.ci/run` installs them: `apt-get install postfix swaks`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// smtp-sink dumping each message into `dir`; `extra` are more options.
fn smtp_sink(dir: &Path, extra: &[&str]) -> (Running, u16) {
    std::fs::create_dir_all(dir).unwrap();
    Command::new("chmod").arg("777").arg(dir).status().unwrap();
    let port = free_port();
    let child = Command::new("smtp-sink")
        .args(["-u", "postfix", "-d"])
        .arg(format!("{}/%M.", dir.display()))
        .args(extra)
        .arg(format!("127.0.0.1:{port}"))
        .arg("100")
        .spawn()
        .unwrap();
    wait_port(port);
    (Running(child), port)
}

fn proxy(dir: &Path, upstream_port: u16) -> (Running, u16) {
    let demo = repo().join("fixtures/demo");
    std::fs::create_dir_all(dir.join("dictionaries")).unwrap();
    std::fs::copy(
        demo.join("dictionaries/customer.csv"),
        dir.join("dictionaries/customer.csv"),
    )
    .unwrap();
    std::fs::copy(demo.join("board.fp"), dir.join("board.fp")).unwrap();
    let port = free_port();
    let text = std::fs::read_to_string(demo.join("sluice.toml")).unwrap();
    let rules = &text[text.find("[[entity]]").unwrap()..];
    let config = format!(
        "[proxy]\nlisten = \"127.0.0.1:{port}\"\nhostname = \"dlp.test\"\n\n[upstream]\naddress = \"127.0.0.1:{upstream_port}\"\nstarttls = \"off\"\n\n[store]\npath = \"data/sluice.db\"\n\n{rules}"
    );
    std::fs::write(dir.join("sluice.toml"), config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"))
        .arg("--config")
        .arg(dir.join("sluice.toml"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    (Running(child), port)
}

/// swaks' transcript for one message.
fn swaks(port: u16, to: &str, data: &Path) -> String {
    let out = Command::new("swaks")
        .args([
            "--server",
            &format!("127.0.0.1:{port}"),
            "--from",
            "alice@example.com",
            "--to",
            to,
            "--helo",
            "client.test",
            "--data",
        ])
        .arg(format!("@{}", data.display()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dumps(dir: &Path, n: usize) -> Vec<PathBuf> {
    let start = Instant::now();
    loop {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        if files.len() >= n || start.elapsed() > Duration::from_secs(5) {
            return files;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn swaks_through_the_proxy_to_smtp_sink() {
    if !have("smtp-sink") || !have("swaks") {
        eprintln!("NOTICE: smtp-sink or swaks not installed; Postfix peer test skipped");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_sink, sink_port) = smtp_sink(&work.path().join("sink"), &[]);
    let (_proxy, port) = proxy(&work.path().join("proxy"), sink_port);
    let messages = repo().join("fixtures/demo/messages");

    let t = swaks(port, "bob@partner.org", &messages.join("hold-partner.eml"));
    assert!(
        t.contains("<-  250 2.0.0 Ok"),
        "the upstream's own reply passes through: {t}"
    );
    let t = swaks(port, "shop@partner.org", &messages.join("card-number.eml"));
    assert!(
        t.contains("<** 550 5.7.1 Message blocked: it contains a payment card number"),
        "{t}"
    );

    // DKIM: the original bytes arrive unchanged after the added headers.
    let corpus = repo().join("../shared/corpus/eml/spamassassin");
    let signed = std::fs::read_dir(&corpus).ok().and_then(|rd| {
        rd.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
            std::fs::read(p).is_ok_and(|b| {
                b.starts_with(b"DKIM-Signature") || b.windows(16).any(|w| w == b"\nDKIM-Signature:")
            })
        })
    });
    let sample = signed.unwrap_or_else(|| messages.join("internal-subdomain.eml"));
    let original = std::fs::read(&sample).unwrap();
    let mut text = String::from_utf8_lossy(&original).replace("\r\n", "\n");
    // An mbox envelope line is not part of the message.
    if text.starts_with("From ") {
        text = text
            .split_once('\n')
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default();
    }
    let crlf = text.replace('\n', "\r\n");
    let sent = work.path().join("sample.eml");
    std::fs::write(&sent, &crlf).unwrap();
    let t = swaks(port, "colleague@example.com", &sent);
    assert!(t.contains("<-  250"), "{t}");
    let files = dumps(&work.path().join("sink"), 2);
    assert_eq!(files.len(), 2, "the blocked message never reached the sink");
    // smtp-sink's dump turns CRLF into LF; every other byte must match.
    // (Dump names are random: look in all of them.)
    let sent_bytes = text.as_bytes();
    let relayed = files
        .iter()
        .map(|f| {
            String::from_utf8_lossy(&std::fs::read(f).unwrap())
                .replace("\r\n", "\n")
                .into_bytes()
        })
        .find(|r| r.windows(sent_bytes.len()).any(|w| w == sent_bytes));
    let relayed = relayed.unwrap_or_else(|| {
        panic!(
            "{} not relayed byte for byte (DKIM must stay valid)",
            sample.display()
        )
    });
    assert!(String::from_utf8_lossy(&relayed).contains("X-Sluice-Scanned: dlp.test"));
}

#[test]
fn upstream_rcpt_rejections_pass_through() {
    if !have("smtp-sink") || !have("swaks") {
        eprintln!("NOTICE: smtp-sink or swaks not installed; Postfix peer test skipped");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_sink, sink_port) = smtp_sink(&work.path().join("sink"), &["-f", "RCPT"]);
    let (_proxy, port) = proxy(&work.path().join("proxy"), sink_port);
    let t = swaks(
        port,
        "bob@partner.org",
        &repo().join("fixtures/demo/messages/hold-partner.eml"),
    );
    assert!(t.contains("<** 5"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("<** 5") && l.contains("RCPT") || l.contains("Error")),
        "{t}"
    );
}
