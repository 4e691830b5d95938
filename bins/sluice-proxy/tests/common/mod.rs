//! Helpers shared by the proxy's integration tests.
#![allow(dead_code)] // each test file uses a different subset

pub mod api;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn wait_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `[upstream]` body for relaying to a local test upstream on `port`
/// in clear text.
pub fn relay_to(port: u16) -> String {
    format!("address = \"127.0.0.1:{port}\"\nstarttls = \"off\"")
}

/// Starts the proxy with the demo policy, the given `[upstream]` body and
/// allowed clients, in `dir`; returns it once it accepts connections.
pub fn proxy(dir: &Path, upstream: &str, allowed: &str) -> (Running, u16) {
    proxy_with(dir, upstream, allowed, "", "", "", None)
}

/// [`proxy`] with more `[proxy]` keys, more `[store]` keys, more tables (`[api]`, `[notify]`)
/// and optionally a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) on the
/// proxy process, as a full disk.
pub fn proxy_with(
    dir: &Path,
    upstream: &str,
    allowed: &str,
    proxy_keys: &str,
    store: &str,
    tables: &str,
    file_size_limit: Option<u64>,
) -> (Running, u16) {
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
        "[proxy]\nlisten = \"127.0.0.1:{port}\"\nhostname = \"dlp.test\"\nallowed_clients = [{allowed}]\n{proxy_keys}\n\n[upstream]\n{upstream}\n\n[store]\npath = \"data/sluice.db\"\n{store}\n\n{tables}\n\n{rules}"
    );
    std::fs::write(dir.join("sluice.toml"), config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"));
    command
        .arg("--config")
        .arg(dir.join("sluice.toml"))
        // The log, for tests that read it.
        .stderr(std::fs::File::create(dir.join("proxy.log")).unwrap());
    if let Some(limit) = file_size_limit {
        use std::os::unix::process::CommandExt;
        // The one unsafe block of the tests: limits set between fork and
        // exec. SAFETY: only async-signal-safe calls between fork and exec.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                // An ignored signal stays ignored across exec: writes past
                // the limit fail with EFBIG instead of killing the process.
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let rl = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &rl) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = command.spawn().unwrap();
    wait_port(port);
    (Running(child), port)
}

/// Files in `dir` once there are `n` (or after 5 s), sorted.
pub fn wait_for_files(dir: &Path, n: usize) -> Vec<PathBuf> {
    let start = Instant::now();
    loop {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        if files.len() >= n || start.elapsed() > Duration::from_secs(5) {
            return files;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The demo proxy in `work/p` relaying to a [`sink`] that writes into
/// `work/inbox`: (sink, proxy, the proxy's port, the inbox).
pub fn demo_relay(work: &Path) -> (Running, Running, u16, PathBuf) {
    let inbox = work.join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let (sink, sink_port) = sink(&inbox);
    let (proxy, port) = proxy(&work.join("p"), &relay_to(sink_port), "\"127.0.0.0/8\"");
    (sink, proxy, port, inbox)
}

/// A Python SMTP sink (socketserver) writing each message to `dir/N.eml`.
pub fn sink(dir: &Path) -> (Running, u16) {
    sink_on(dir, free_port())
}

/// [`sink`] on a given port.
pub fn sink_on(dir: &Path, port: u16) -> (Running, u16) {
    // A small SMTP server on the standard library's socketserver (smtpd
    // and asyncore left Python in 3.12). Like smtpd it undoes
    // dot-stuffing and hands the lines over joined with LF.
    let script = format!(
        r#"
import os, socketserver
class Sink(socketserver.StreamRequestHandler):
    n = 0
    def handle(self):
        w = self.wfile.write
        w(b"220 sink.test ESMTP\r\n")
        mailfrom, rcpts = None, []
        for line in self.rfile:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                w(b"250-sink.test\r\n250-SIZE 33554432\r\n250 8BITMIME\r\n")
            elif verb == b"MAIL":
                # The null sender reads "<>", as smtpd wrote it.
                mailfrom, rcpts = line[line.index(b":") + 1:].strip().split(b" ")[0].strip(b"<>").decode() or "<>", []
                w(b"250 OK\r\n")
            elif verb == b"RCPT":
                rcpt = line[line.index(b":") + 1:].strip().split(b" ")[0].strip(b"<>").decode()
                # With DIR.strict present, "temp" and "gone" addresses are
                # refused (for release tests); otherwise all are taken.
                if os.path.exists({dir:?} + ".strict") and rcpt.startswith(("temp", "gone")):
                    w(b"450 4.2.1 try later\r\n" if rcpt.startswith("temp") else b"550 5.1.1 no such user\r\n")
                    continue
                rcpts.append(rcpt)
                w(b"250 OK\r\n")
            elif verb == b"DATA":
                w(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                lines = []
                for body in self.rfile:
                    if body == b".\r\n":
                        break
                    body = body[:-2] if body.endswith(b"\r\n") else body
                    lines.append(body[1:] if body.startswith(b".") else body)
                Sink.n += 1
                with open(os.path.join({dir:?}, "%d.eml" % Sink.n), "wb") as f:
                    f.write(("X-Envelope: %s -> %s\r\nX-Peer-Port: %d\r\n" % (mailfrom, ",".join(rcpts), self.client_address[1])).encode() + b"\n".join(lines))
                mailfrom, rcpts = None, []
                w(b"250 OK\r\n")
            elif verb == b"RSET":
                mailfrom, rcpts = None, []
                w(b"250 OK\r\n")
            elif verb == b"QUIT":
                w(b"221 Bye\r\n")
                return
            else:
                w(b"250 OK\r\n")
socketserver.ThreadingTCPServer.allow_reuse_address = True
server = socketserver.ThreadingTCPServer(("127.0.0.1", {port}), Sink)
print("ready", flush=True)
server.serve_forever()
"#,
        dir = dir.display().to_string(),
    );
    (python_server(&script), port)
}

/// Runs a Python server script that prints `ready` once it listens.
pub fn python_server(script: &str) -> Running {
    let mut child = Command::new("python3")
        .arg("-W")
        .arg("ignore")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    Running(child)
}

/// Sends one fixture message with smtplib; returns "CODE TEXT" of the end of
/// DATA (or of the refusal).
pub fn send(port: u16, message: &Path, to: &str) -> String {
    let script = format!(
        r#"
import smtplib, sys
data = open({path:?}, "rb").read()
try:
    with smtplib.SMTP("127.0.0.1", {port}) as s:
        s.ehlo("client.test")
        for code, text in (s.mail("alice@example.com"), s.rcpt({to:?})):
            if code >= 400:
                print(code, text.decode())
                sys.exit(0)
        code, text = s.data(data)
        print(code, text.decode())
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPServerDisconnected as e:
    print("disconnected", e)
"#,
        path = message.display().to_string()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Whether a program is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// swaks' transcript for one message from alice@example.com (HELO
/// `client.test`) to `to`; `extra` are more swaks options.
pub fn swaks(port: u16, to: &str, data: &Path, extra: &[&str]) -> String {
    let out = Command::new("swaks")
        .args(["--server", &format!("127.0.0.1:{port}")])
        .args([
            "--from",
            "alice@example.com",
            "--to",
            to,
            "--helo",
            "client.test",
        ])
        .args(extra)
        .arg("--data")
        .arg(format!("@{}", data.display()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends SIGHUP to a running proxy (reload its configuration).
pub fn sighup(proxy: &Running) {
    let status = Command::new("kill")
        .args(["-HUP", &proxy.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Postfix's smtp-sink dumping each message into `dir` (made writable for
/// the `postfix` user it runs as); `extra` are more options.
pub fn smtp_sink(dir: &Path, extra: &[&str]) -> (Running, u16) {
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
