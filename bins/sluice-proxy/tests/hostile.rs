//! The audit's hostile cases through the built proxy: attachments that
//! blew up extractors, an upstream that answers in Latin-1, AUTH that
//! would cross the network in clear. The proxy answers each and stays up.

mod common;

use std::path::Path;
use std::process::Command;

use common::{
    free_port, proxy, proxy_with, python_server, relay_to, repo, send, sink, wait_for_files,
    Running,
};

/// A scripted upstream: offers AUTH (noting every AUTH line in
/// `dir/auth.log`), answers RCPT with `rcpt` and DATA with `data` (a `354`
/// reads the message and accepts it), and refuses a MAIL inside an open
/// transaction the way real servers do (`503`).
fn scripted_upstream(dir: &Path, rcpt: &[u8], data: &[u8]) -> (Running, u16) {
    greeting_upstream(dir, b"220 up.test ESMTP", rcpt, data)
}

/// [`scripted_upstream`] with its own greeting (a `421` one closes at once).
fn greeting_upstream(dir: &Path, greeting: &[u8], rcpt: &[u8], data: &[u8]) -> (Running, u16) {
    let port = free_port();
    let bytes = |b: &[u8]| b.iter().map(|c| format!("\\x{c:02x}")).collect::<String>();
    let script = format!(
        r#"
import socketserver, os
class H(socketserver.StreamRequestHandler):
    def handle(self):
        w = self.wfile.write
        w(b"{greeting}\r\n")
        if not b"{greeting}".startswith(b"220"):
            return
        open_tx = False
        for line in self.rfile:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                w(b"250-up.test\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == b"AUTH":
                with open(os.path.join({dir:?}, "auth.log"), "ab") as f:
                    f.write(line)
                w(b"235 2.7.0 ok\r\n")
            elif verb == b"MAIL":
                with open(os.path.join({dir:?}, "commands.log"), "ab") as f:
                    f.write(line)
                if open_tx:
                    w(b"503 5.5.1 nested MAIL\r\n")
                else:
                    open_tx = True
                    w(b"250 ok\r\n")
            elif verb == b"RCPT":
                with open(os.path.join({dir:?}, "commands.log"), "ab") as f:
                    f.write(line)
                w(b"{rcpt}\r\n")
            elif verb == b"DATA":
                w(b"{data}\r\n")
                if b"{data}".startswith(b"354"):
                    for body in self.rfile:
                        if body == b".\r\n":
                            break
                    open_tx = False
                    w(b"250 2.0.0 queued\r\n")
            elif verb == b"RSET":
                open_tx = False
                w(b"250 ok\r\n")
            elif verb == b"QUIT":
                w(b"221 bye\r\n")
                return
            else:
                w(b"250 ok\r\n")
socketserver.ThreadingTCPServer.allow_reuse_address = True
s = socketserver.ThreadingTCPServer(("127.0.0.1", {port}), H)
print("ready", flush=True)
s.serve_forever()
"#,
        dir = dir.display().to_string(),
        rcpt = bytes(rcpt),
        data = bytes(data),
        greeting = bytes(greeting),
    );
    (python_server(&script), port)
}

#[test]
fn a_pooled_session_whose_data_was_refused_is_reset_before_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let (_up, up_port) = scripted_upstream(dir.path(), b"250 ok", b"554 5.5.1 no DATA today");
    let (_p, port) = proxy(
        &dir.path().join("p"),
        &relay_to(up_port),
        "\"127.0.0.1/32\"",
    );
    let message = repo().join("fixtures/demo/messages/hold-partner.eml");
    for round in 0..3 {
        // Each send is a new client; the proxy lends them its pooled
        // upstream session, which must not carry the refused transaction.
        let reply = send(port, &message, "bob@partner.org");
        assert!(reply.starts_with("554 5.5.1"), "round {round}: {reply}");
    }
}

#[test]
fn esmtp_parameters_are_checked_and_forwarded_only_where_offered() {
    let dir = tempfile::tempdir().unwrap();
    let (_up, up_port) = scripted_upstream(dir.path(), b"250 ok", b"354 go ahead");
    let (_p, port) = proxy(
        &dir.path().join("p"),
        &relay_to(up_port),
        "\"127.0.0.1/32\"",
    );
    let script = format!(
        r#"
import smtplib
s = smtplib.SMTP("127.0.0.1", {port})
s.ehlo("client.test")
print("dsn" if s.has_extn("dsn") else "no-dsn")
print(s.mail("<alice@example.com>", ["XFOO=1"])[0])
print(s.mail("<alice@example.com>", ["SIZE=500", "RET=HDRS", "ENVID=e1"])[0])
print(s.rcpt("<\"bob smith\"@partner.org>", ["NOTIFY=NEVER"])[0])
s.quit()
"#
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["dsn", "555", "250", "250"],
        "{out}"
    );
    let seen = std::fs::read_to_string(dir.path().join("commands.log")).unwrap();
    // The upstream offers neither SIZE nor DSN: those parameters stay here;
    // the command and the quoted address go on exactly as written.
    assert_eq!(
        seen,
        "mail FROM:<alice@example.com>\r\nrcpt TO:<\"bob smith\"@partner.org>\r\n"
    );
}

#[test]
fn a_421_greeting_fails_over_to_the_next_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let (_down, down) = greeting_upstream(&a, b"421 4.3.2 going down", b"250 ok", b"354 go");
    let (_up, up) = scripted_upstream(&b, b"250 ok", b"354 go ahead");
    let upstream =
        format!("address = [\"127.0.0.1:{down}\", \"127.0.0.1:{up}\"]\nstarttls = \"off\"");
    let (_p, port) = proxy(&dir.path().join("p"), &upstream, "\"127.0.0.1/32\"");
    let message = repo().join("fixtures/demo/messages/hold-partner.eml");
    let reply = send(port, &message, "bob@partner.org");
    assert!(reply.starts_with("250 2.0.0 queued"), "{reply}");
    assert!(!a.join("commands.log").exists());
    assert!(std::fs::read_to_string(b.join("commands.log"))
        .unwrap()
        .contains("bob@partner.org"));
}

#[test]
fn a_latin1_refusal_stays_a_refusal_and_auth_needs_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (_up, up_port) = scripted_upstream(
        dir.path(),
        b"550 5.1.1 Empf\xe4nger unbekannt",
        b"354 go ahead",
    );
    std::fs::write(dir.path().join("upstream.secret"), "s3cret\n").unwrap();
    let message = repo().join("fixtures/demo/messages/hold-partner.eml");
    let auth = |plaintext: bool| {
        format!(
            "{}\nusername = \"sluice\"\npassword_file = \"upstream.secret\"\nallow_plaintext_auth = {plaintext}",
            relay_to(up_port)
        )
    };

    // Without TLS the password is not sent: the client is told to retry.
    let strict = dir.path().join("strict");
    std::fs::create_dir_all(&strict).unwrap();
    std::fs::copy(
        dir.path().join("upstream.secret"),
        strict.join("upstream.secret"),
    )
    .unwrap();
    let (_p, port) = proxy(&strict, &auth(false), "\"127.0.0.1/32\"");
    let reply = send(port, &message, "bob@partner.org");
    assert!(reply.starts_with("451"), "{reply}");
    assert!(
        !dir.path().join("auth.log").exists(),
        "AUTH was sent in clear"
    );

    // Allowed explicitly, AUTH goes out and the upstream's Latin-1 550
    // reaches the client as a 550 (not a 451 "upstream failed").
    let lax = dir.path().join("lax");
    std::fs::create_dir_all(&lax).unwrap();
    std::fs::copy(
        dir.path().join("upstream.secret"),
        lax.join("upstream.secret"),
    )
    .unwrap();
    let (_p, port) = proxy(&lax, &auth(true), "\"127.0.0.1/32\"");
    let reply = send(port, &message, "bob@partner.org");
    assert!(reply.starts_with("550 5.1.1 Empfänger"), "{reply}");
    assert!(dir.path().join("auth.log").exists());
}

fn with_attachment(dir: &Path, name: &str) -> std::path::PathBuf {
    use base64::Engine as _;
    let data = std::fs::read(repo().join("fixtures/hostile").join(name)).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let message = format!(
        "From: alice@example.com\r\nTo: bob@partner.org\r\nSubject: {name}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename={name}\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        lines.join("\r\n")
    );
    let path = dir.join(format!("{name}.eml"));
    std::fs::write(&path, message).unwrap();
    path
}

#[test]
fn extractor_bombs_are_answered_and_the_proxy_stays_up() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let (_sink, sink_port) = sink(&out);
    let (mut proxy, port) = proxy_with(
        &work.path().join("proxy"),
        &relay_to(sink_port),
        "\"127.0.0.1/32\"",
        "",
        "",
        "",
        None,
    );
    let mut relayed = 0;
    for name in ["sparse.xlsx", "double-deflate.pdf", "self-page-tree.pdf"] {
        let message = with_attachment(work.path(), name);
        let reply = send(port, &message, "bob@partner.org");
        assert!(reply.starts_with("250"), "{name}: {reply}");
        relayed += 1;
        assert!(
            proxy.0.try_wait().unwrap().is_none(),
            "{name} stopped the proxy"
        );
    }
    assert_eq!(wait_for_files(&out, relayed).len(), relayed);
}
