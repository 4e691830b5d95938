//! Helpers of the API tests: an HTTP client (Python's urllib), a proxy
//! with the API on, incident queries that wait for the writer.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{free_port, proxy_with, relay_to, repo, sink, wait_port, Running};

/// `METHOD url` through urllib; returns the status and the parsed JSON
/// body (or the text as a JSON string when it is not JSON). Status 0: no
/// HTTP answer at all (the body says why).
pub fn http(method: &str, url: &str, token: Option<&str>) -> (u16, Value) {
    http_trusting(None, method, url, token)
}

/// [`http`], trusting the certificates in `ca` (PEM) for `https://`.
pub fn http_trusting(
    ca: Option<&std::path::Path>,
    method: &str,
    url: &str,
    token: Option<&str>,
) -> (u16, Value) {
    let script = r#"
import sys, urllib.request, urllib.error, json
method, url, token = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, method=method)
if token:
    req.add_header("Authorization", "Bearer " + token)
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        status, body = r.status, r.read()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read()
except Exception as e:
    status, body = 0, repr(e).encode()
print(status)
sys.stdout.write(body.decode("utf-8", "replace"))
"#;
    let mut python = Command::new("python3");
    python.args(["-c", script, method, url, token.unwrap_or("")]);
    if let Some(ca) = ca {
        // OpenSSL's default verify paths, which urllib's context loads.
        python.env("SSL_CERT_FILE", ca);
    }
    let out = python.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, body) = text.split_once('\n').unwrap_or((&text, ""));
    let status = status
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no status: {text} {out:?}"));
    let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
    (status, body)
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub const TOKEN: &str = "t0ken-for-tests";

pub struct Setup {
    pub _work: tempfile::TempDir,
    pub _proxy: Running,
    pub sink: Option<Running>,
    pub smtp: u16,
    pub api: String,
    pub inbox: std::path::PathBuf,
    pub config: std::path::PathBuf,
}

pub fn setup(store: &str, tables: &str) -> Setup {
    setup_with("", store, tables)
}

pub fn setup_with(proxy_keys: &str, store: &str, tables: &str) -> Setup {
    let work = tempfile::tempdir().unwrap();
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let (sink, upstream) = sink(&inbox);
    let api_port = free_port();
    let (proxy, smtp) = proxy_with(
        &work.path().join("p"),
        &relay_to(upstream),
        "\"127.0.0.0/8\"",
        proxy_keys,
        store,
        &format!("[api]\nlisten = \"127.0.0.1:{api_port}\"\ntokens = [\"{TOKEN}\"]\n\n{tables}"),
        None,
    );
    wait_port(api_port);
    Setup {
        config: work.path().join("p/sluice.toml"),
        _work: work,
        _proxy: proxy,
        sink: Some(sink),
        smtp,
        api: format!("http://127.0.0.1:{api_port}"),
        inbox,
    }
}

pub fn demo(name: &str) -> std::path::PathBuf {
    repo().join("fixtures/demo/messages").join(name)
}

/// The incidents a query returns (waits for the writer until `n` are there).
pub fn incidents(s: &Setup, params: &str, n: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let (status, body) = http(
            "GET",
            &format!("{}/api/v1/incidents?{params}", s.api),
            Some(TOKEN),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "success");
        let list = body["data"].as_array().unwrap().clone();
        if list.len() >= n || started.elapsed() > Duration::from_secs(5) {
            return list;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn policies(list: &[Value]) -> Vec<&str> {
    list.iter().map(|i| i["policy"].as_str().unwrap()).collect()
}
