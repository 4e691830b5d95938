//! The server against real clients: Python's smtplib, and raw sockets for
//! what no polite client sends (smuggling, over-long lines, pipelining).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_smtp::{
    serve, ConnectionHandler, Handler, MailRequest, RcptRequest, Reply, ServerConfig,
    SessionConfig, Transaction,
};

#[derive(Default)]
struct Recorder {
    messages: Mutex<Vec<Transaction>>,
    resets: Mutex<usize>,
}

struct Conn(Arc<Recorder>);

struct Shared(Arc<Recorder>);

impl Handler for Shared {
    type Connection = Conn;
    fn connect(&self, peer: SocketAddr) -> Result<Conn, Reply> {
        assert!(peer.ip().is_loopback());
        Ok(Conn(self.0.clone()))
    }
}

impl ConnectionHandler for Conn {
    async fn mail(&mut self, _helo: &str, _m: &MailRequest) -> Reply {
        Reply::new(250, (2, 1, 0), "Sender OK")
    }
    async fn rcpt(&mut self, r: &RcptRequest) -> Reply {
        if r.to.starts_with("reject@") {
            Reply::new(550, (5, 1, 1), "No such user")
        } else {
            Reply::new(250, (2, 1, 5), "Recipient OK")
        }
    }
    async fn data(&mut self, t: Transaction) -> Reply {
        self.0.messages.lock().unwrap().push(t);
        Reply::new(250, (2, 0, 0), "queued as TEST1")
    }
    async fn reset(&mut self) {
        *self.0.resets.lock().unwrap() += 1;
    }
    async fn close(&mut self) {}
}

/// Starts a server on a free loopback port in a background runtime.
fn start(max_connections: usize, timeout: Duration) -> (SocketAddr, Arc<Recorder>) {
    start_with(max_connections, timeout, None)
}

fn start_with(
    max_connections: usize,
    timeout: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (SocketAddr, Arc<Recorder>) {
    start_tweaked(max_connections, timeout, tls, |_| {})
}

/// [`start_with`], with `tweak` applied to the server's configuration.
fn start_tweaked(
    max_connections: usize,
    timeout: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
    tweak: impl FnOnce(&mut ServerConfig) + Send + 'static,
) -> (SocketAddr, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let handler = Arc::new(Shared(recorder.clone()));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let mut config = ServerConfig {
                session: SessionConfig {
                    hostname: "dlp.test".into(),
                    max_message_size: 10_000,
                    max_recipients: 3,
                    starttls: false,
                    tls_required: false,
                },
                max_connections,
                command_timeout: timeout,
                tls,
                shutdown_grace: Duration::from_secs(30),
                inflight: sluice_smtp::inflight::InflightBudget::new(2 << 30),
                session_timeout: Duration::from_secs(1800),
                max_connections_per_client: 0,
            };
            tweak(&mut config);
            serve(listener, config, handler, std::future::pending()).await;
        });
    });
    (rx.recv().unwrap(), recorder)
}

/// One raw session: sends `input` (after reading the greeting), returns
/// everything the server said until it closes or goes quiet.
fn raw(addr: SocketAddr, input: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut greeting = String::new();
    BufReader::new(s.try_clone().unwrap())
        .read_line(&mut greeting)
        .unwrap();
    s.write_all(input).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn codes(transcript: &str) -> Vec<String> {
    transcript
        .lines()
        .filter(|l| l.as_bytes().get(3) == Some(&b' '))
        .map(|l| l[..3].to_owned())
        .collect()
}

#[test]
fn python_smtplib_sends_messages_through() {
    let (addr, recorder) = start(10, Duration::from_secs(10));
    let script = format!(
        r#"
import smtplib
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "alice@example.com"
m["To"] = "bob@partner.org"
m["Subject"] = "hello"
m.set_content(".leading dot\n..two dots\nCustomer list\n")
with smtplib.SMTP("127.0.0.1", {port}) as s:
    code, caps = s.ehlo("client.test")
    assert code == 250 and b"PIPELINING" in caps and b"SIZE 10000" in caps, caps
    refused = s.send_message(m, to_addrs=["bob@partner.org", "reject@partner.org"])
    assert refused == {{"reject@partner.org": (550, b"5.1.1 No such user")}}, refused
    print(s.noop())
    try:
        s.sendmail("alice@example.com", ["bob@partner.org"], "Subject: big\r\n\r\n" + "x" * 20000)
        raise SystemExit("oversized message accepted")
    except smtplib.SMTPSenderRefused as e:
        # smtplib declares SIZE=, so MAIL is refused before the data is sent.
        assert e.smtp_code == 552 and e.smtp_error.startswith(b"5.3.4"), e
"#,
        port = addr.port()
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages = recorder.messages.lock().unwrap();
    assert_eq!(messages.len(), 1);
    let t = &messages[0];
    assert_eq!(
        (t.from.as_str(), t.recipients.as_slice(), t.helo.as_str()),
        (
            "alice@example.com",
            &["bob@partner.org".to_owned()][..],
            "client.test"
        )
    );
    let text = String::from_utf8(t.message.clone()).unwrap();
    assert!(
        text.contains("\r\n.leading dot\r\n..two dots\r\n"),
        "dot-unstuffed: {text}"
    );
}

#[test]
fn smuggling_is_refused_and_the_session_goes_on() {
    let (addr, recorder) = start(10, Duration::from_secs(10));
    let smuggle = b"EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@partner.org>\r\nDATA\r\n";
    for variant in [
        &b"\n.\n"[..],
        b"\n.\r\n",
        b"\r.\r",
        b"\r\n.\r",
        b"\r\n.\n",
        b"\r\n\x00.\r\n",
    ] {
        let mut input = smuggle.to_vec();
        input.extend_from_slice(b"Subject: x\r\n\r\nhi");
        input.extend_from_slice(variant);
        input.extend_from_slice(b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@partner.org>\r\nDATA\r\nspoofed\r\n.\r\nNOOP\r\nQUIT\r\n");
        let transcript = raw(addr, &input);
        let c = codes(&transcript);
        // The smuggled commands were data: one 550 5.6.0 after the real end,
        // then the NOOP and QUIT of the same session.
        assert_eq!(
            c,
            ["250", "250", "250", "354", "550", "250", "221"],
            "{variant:?}: {transcript}"
        );
        assert!(transcript.contains("550 5.6.0"), "{transcript}");
    }
    assert!(
        recorder.messages.lock().unwrap().is_empty(),
        "nothing relayed"
    );
}

#[test]
fn oversized_data_without_size_is_read_and_refused() {
    let (addr, recorder) = start(10, Duration::from_secs(10));
    let mut input =
        b"EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@partner.org>\r\nDATA\r\n".to_vec();
    for _ in 0..500 {
        input.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    input.extend_from_slice(b".\r\nQUIT\r\n");
    let transcript = raw(addr, &input);
    assert_eq!(
        codes(&transcript),
        ["250", "250", "250", "354", "552", "221"],
        "{transcript}"
    );
    assert!(recorder.messages.lock().unwrap().is_empty());
    assert!(
        *recorder.resets.lock().unwrap() >= 1,
        "the upstream transaction is reset"
    );
}

#[test]
fn a_message_past_the_inflight_budget_is_read_and_deferred() {
    // 12 KiB of budget holds 4 KiB of message (its text, its scan).
    let (addr, recorder) = start_tweaked(10, Duration::from_secs(10), None, |c| {
        c.inflight = sluice_smtp::inflight::InflightBudget::new(12 * 1024)
    });
    let mut input =
        b"EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@partner.org>\r\nDATA\r\n".to_vec();
    for _ in 0..150 {
        input.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    input.extend_from_slice(
        b".\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@partner.org>\r\nDATA\r\nsmall\r\n.\r\nQUIT\r\n",
    );
    let transcript = raw(addr, &input);
    assert_eq!(
        codes(&transcript),
        ["250", "250", "250", "354", "451", "250", "250", "354", "250", "221"],
        "{transcript}"
    );
    assert!(transcript.contains("451 4.3.1"), "{transcript}");
    // Only the small message reached the handler; the budget was freed.
    assert_eq!(recorder.messages.lock().unwrap().len(), 1);
}

#[test]
fn one_client_cannot_hold_every_slot() {
    let (addr, _) = start_tweaked(10, Duration::from_secs(10), None, |c| {
        c.max_connections_per_client = 2
    });
    let greeting = |s: &mut TcpStream| {
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut first = TcpStream::connect(addr).unwrap();
    let mut second = TcpStream::connect(addr).unwrap();
    assert!(greeting(&mut first).starts_with("220"));
    assert!(greeting(&mut second).starts_with("220"));
    let mut third = TcpStream::connect(addr).unwrap();
    assert!(greeting(&mut third).starts_with("421 4.7.0"));
    drop(first);
    // The slot is freed when the server sees the connection end.
    let started = std::time::Instant::now();
    loop {
        let mut next = TcpStream::connect(addr).unwrap();
        let said = greeting(&mut next);
        if said.starts_with("220") {
            break;
        }
        assert!(said.starts_with("421 4.7.0"), "{said}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "slot never freed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_busy_session_still_ends_at_session_timeout() {
    let (addr, _) = start_tweaked(10, Duration::from_secs(10), None, |c| {
        c.session_timeout = Duration::from_millis(800)
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    let mut seen = String::new();
    // A NOOP every 100 ms never lets command_timeout fire.
    while started.elapsed() < Duration::from_secs(4) && !seen.contains("421") {
        if s.write_all(b"NOOP\r\n").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut buf = [0u8; 1024];
        s.set_nonblocking(true).unwrap();
        if let Ok(n) = s.read(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        s.set_nonblocking(false).unwrap();
    }
    assert!(seen.contains("421 4.4.2 Session too long"), "{seen}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let (addr, recorder) = start(10, Duration::from_secs(10));
    let transcript = raw(
        addr,
        b"EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@partner.org>\r\nRCPT TO:<reject@partner.org>\r\nDATA\r\nSubject: p\r\n\r\nbody\r\n.\r\nRSET\r\nVRFY x\r\nQUIT\r\n",
    );
    assert_eq!(
        codes(&transcript),
        ["250", "250", "250", "550", "354", "250", "250", "252", "221"],
        "{transcript}"
    );
    assert_eq!(
        recorder.messages.lock().unwrap()[0].message,
        b"Subject: p\r\n\r\nbody\r\n"
    );
}

#[test]
fn limits_lines_recipients_connections_and_idle() {
    let (addr, _recorder) = start(1, Duration::from_millis(300));
    let long = [
        b"NOOP ".as_slice(),
        &[b'x'; 2000],
        b"\r\nRCPT TO:<x@y.z>\r\nEHLO c\r\nMAIL FROM:<a@b.c>\r\n",
    ]
    .concat();
    let mut input = long;
    for i in 0..4 {
        input.extend_from_slice(format!("RCPT TO:<r{i}@partner.org>\r\n").as_bytes());
    }
    input.extend_from_slice(b"QUIT\r\n");
    let transcript = raw(addr, &input);
    assert_eq!(
        codes(&transcript),
        ["500", "503", "250", "250", "250", "250", "250", "452", "221"],
        "{transcript}"
    );
    assert!(transcript.contains("500 5.5.2 Line too long"));
    assert!(transcript.contains("452 4.5.3"));

    // One connection allowed: a second one is told to come back.
    // (The previous session's slot is freed just after its close: retry.)
    let mut first = loop {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut greeting = [0u8; 64];
        let n = s.read(&mut greeting).unwrap();
        if greeting[..n].starts_with(b"220") {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let second = raw(addr, b"");
    assert!(second.is_empty() || second.starts_with("421"), "{second}");
    // The idle first connection is closed with 421 4.4.2.
    first
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut rest = Vec::new();
    let mut buf = [0u8; 256];
    let outcome = loop {
        match first.read(&mut buf) {
            Ok(0) => break "eof".to_owned(),
            Ok(n) => rest.extend_from_slice(&buf[..n]),
            Err(e) => break e.to_string(),
        }
    };
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("421 4.4.2"), "{rest:?} then {outcome}");
}

#[test]
fn starttls_with_a_certificate_made_at_test_time() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let tls = sluice_smtp::tls::server_config(&cert_pem, &key_pem, None).unwrap();
    let (addr, recorder) = start_with(10, Duration::from_secs(10), Some(tls));
    let script = format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context(cafile={cafile:?})
with smtplib.SMTP("127.0.0.1", {port}) as s:
    code, caps = s.ehlo("client.test")
    assert b"STARTTLS" in caps, caps
    s.starttls(context=ctx)
    code, caps = s.ehlo("client.test")
    assert b"STARTTLS" not in caps, caps
    s.sendmail("alice@example.com", ["bob@partner.org"], b"Subject: tls\r\n\r\nover TLS\r\n")
print("ok")
"#,
        cafile = cert_pem.display().to_string(),
        port = addr.port()
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        recorder.messages.lock().unwrap()[0].message,
        b"Subject: tls\r\n\r\nover TLS\r\n"
    );

    // Commands pipelined behind STARTTLS are discarded, never executed.
    let transcript = raw(
        addr,
        b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<smuggled@example.com>\r\n",
    );
    assert!(
        transcript.contains("220 2.0.0 Ready to start TLS"),
        "{transcript}"
    );
    assert!(!transcript.contains("2.1.0"), "{transcript}");
    assert!(missing_tls_file_is_a_clear_error(dir.path()));
}

fn missing_tls_file_is_a_clear_error(dir: &std::path::Path) -> bool {
    let err = sluice_smtp::tls::server_config(&dir.join("nope.pem"), &dir.join("key.pem"), None)
        .unwrap_err();
    err.to_string().contains("nope.pem")
}

#[test]
fn upstream_client_starttls_modes() {
    use sluice_smtp::tls::{UpstreamTls, UpstreamTlsMode};
    use sluice_smtp::UpstreamClient;
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let (tls_addr, recorder) = start_with(
        10,
        Duration::from_secs(10),
        Some(sluice_smtp::tls::server_config(&cert_pem, &key_pem, None).unwrap()),
    );
    let (plain_addr, _) = start(10, Duration::from_secs(10));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = Duration::from_secs(5);
        let at = |a: SocketAddr| vec![a.to_string()];
        // Opportunistic: a self-signed certificate still encrypts.
        let opportunistic = UpstreamTls::new(UpstreamTlsMode::Opportunistic, None, None).unwrap();
        let mut c = UpstreamClient::connect(&at(tls_addr), "proxy.test", t, &opportunistic)
            .await
            .unwrap();
        assert!(c.tls);
        assert!(c
            .command("MAIL FROM:<a@example.com>")
            .await
            .unwrap()
            .is_positive());
        assert!(c
            .command("RCPT TO:<b@partner.org>")
            .await
            .unwrap()
            .is_positive());
        let reply = c
            .data(&[b"Subject: via tls\r\n\r\n", b".dot line\r\n"])
            .await
            .unwrap();
        assert_eq!(reply.code, 250);
        c.quit().await;
        // Opportunistic against a server without STARTTLS: clear text.
        let c = UpstreamClient::connect(&at(plain_addr), "proxy.test", t, &opportunistic)
            .await
            .unwrap();
        assert!(!c.tls);
        // Required: verified against the name.
        let trusted = UpstreamTls::new(
            UpstreamTlsMode::Required,
            Some("localhost".into()),
            Some(&cert_pem),
        )
        .unwrap();
        assert!(
            UpstreamClient::connect(&at(tls_addr), "proxy.test", t, &trusted)
                .await
                .unwrap()
                .tls
        );
        let wrong_name = UpstreamTls::new(
            UpstreamTlsMode::Required,
            Some("mx.elsewhere.example".into()),
            Some(&cert_pem),
        )
        .unwrap();
        let err = UpstreamClient::connect(&at(tls_addr), "proxy.test", t, &wrong_name)
            .await
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("upstream TLS failed"), "{err}");
        let untrusted =
            UpstreamTls::new(UpstreamTlsMode::Required, Some("localhost".into()), None).unwrap();
        assert!(
            UpstreamClient::connect(&at(tls_addr), "proxy.test", t, &untrusted)
                .await
                .is_err()
        );
        let err = UpstreamClient::connect(&at(plain_addr), "proxy.test", t, &trusted)
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not offer STARTTLS"), "{err}");
    });
    let messages = recorder.messages.lock().unwrap();
    assert_eq!(
        messages[0].message,
        b"Subject: via tls\r\n\r\n.dot line\r\n"
    );
}

/// A scripted upstream on a raw socket: it offers `auth`, records the
/// lines it receives and accepts the credentials `alice` / `s3cret`.
fn auth_upstream(auth: &'static str) -> (SocketAddr, std::thread::JoinHandle<Vec<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut seen = Vec::new();
        w.write_all(b"220 fake ESMTP\r\n").unwrap();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap() == 0 {
                break;
            }
            let line = line.trim_end().to_owned();
            seen.push(line.clone());
            let reply: &[u8] = match line.as_str() {
                l if l.starts_with("EHLO") => {
                    format!("250-fake\r\n250 {auth}\r\n").leak().as_bytes()
                }
                "AUTH PLAIN AGFsaWNlAHMzY3JldA==" => b"235 2.7.0 Authentication successful\r\n",
                "AUTH LOGIN" => b"334 VXNlcm5hbWU6\r\n",
                "YWxpY2U=" => b"334 UGFzc3dvcmQ6\r\n",
                "czNjcmV0" => b"235 2.7.0 Authentication successful\r\n",
                "QUIT" => {
                    w.write_all(b"221 bye\r\n").unwrap();
                    break;
                }
                _ => b"535 5.7.8 Authentication credentials invalid\r\n",
            };
            w.write_all(reply).unwrap();
        }
        seen
    });
    (addr, handle)
}

#[test]
fn upstream_auth_plain_and_login() {
    use sluice_smtp::tls::{UpstreamTls, UpstreamTlsMode};
    use sluice_smtp::UpstreamClient;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let off = UpstreamTls::new(UpstreamTlsMode::Off, None, None).unwrap();
    for (auth, expected) in [
        ("AUTH PLAIN LOGIN", vec!["AUTH PLAIN AGFsaWNlAHMzY3JldA=="]),
        ("AUTH LOGIN", vec!["AUTH LOGIN", "YWxpY2U=", "czNjcmV0"]),
    ] {
        let (addr, handle) = auth_upstream(auth);
        rt.block_on(async {
            let mut c = UpstreamClient::connect(
                &[addr.to_string()],
                "proxy.test",
                Duration::from_secs(5),
                &off,
            )
            .await
            .unwrap();
            c.authenticate("alice", "s3cret").await.unwrap();
            c.quit().await;
        });
        let seen = handle.join().unwrap();
        assert_eq!(&seen[1..seen.len() - 1], &expected[..], "{seen:?}");
    }
    let (addr, handle) = auth_upstream("AUTH PLAIN");
    rt.block_on(async {
        let mut c = UpstreamClient::connect(
            &[addr.to_string()],
            "proxy.test",
            Duration::from_secs(5),
            &off,
        )
        .await
        .unwrap();
        let err = c.authenticate("alice", "wrong").await.unwrap_err();
        assert!(err.to_string().contains("535 5.7.8"), "{err}");
        c.quit().await;
    });
    handle.join().unwrap();
}
