//! Helpers shared by the proxy's integration tests.

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

/// Starts the proxy with the demo policy, the given `[upstream]` body and
/// allowed clients, in `dir`; returns it once it accepts connections.
pub fn proxy(dir: &Path, upstream: &str, allowed: &str) -> (Running, u16) {
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
        "[proxy]\nlisten = \"127.0.0.1:{port}\"\nhostname = \"dlp.test\"\nallowed_clients = [{allowed}]\n\n[upstream]\n{upstream}\n\n[store]\npath = \"data/sluice.db\"\n\n{rules}"
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
