//! Exact data match in the proxy: a row mailed is blocked, its incident
//! names the row and columns with every cell masked (excerpt and
//! subject), and SIGHUP loads a rebuilt index.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::api::{http, TOKEN};
use common::{free_port, proxy_with, relay_to, repo, sink, wait_port};

const SALT: &str = "a secret salt for the proxy's edm test\n";

/// Writes `p/customers.edm` from `table`, as `sluice-scan edm` does: a new
/// file renamed over the old one, which a running proxy may have mapped.
fn index(p: &Path, table: &str) {
    std::fs::create_dir_all(p).unwrap();
    std::fs::write(p.join("customers.salt"), SALT).unwrap();
    let mut out = Vec::new();
    sluice_dlp::build_edm_index(table.as_bytes(), SALT.as_bytes(), &[], 10, &mut out).unwrap();
    std::fs::write(p.join("customers.edm.new"), out).unwrap();
    std::fs::rename(p.join("customers.edm.new"), p.join("customers.edm")).unwrap();
}

const TABLES: &str = "[[entity]]\nname = \"customers\"\ntype = \"edm\"\npath = \"customers.edm\"\nsalt_file = \"customers.salt\"\n\n\
    [[rule]]\nname = \"Customer records\"\nentities = [\"customers\"]\nseverity = { low = 1 }\n\n\
    [[profile]]\nname = \"Records\"\nrules = [\"Customer records\"]\n\n\
    [[policy]]\nname = \"Block records\"\nprofiles = [\"Records\"]\naction = \"block\"\n";

#[test]
fn a_row_is_blocked_masked_in_its_incident_and_reloaded_on_sighup() {
    let table = std::fs::read_to_string(repo().join("fixtures/edm/customers.csv")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let p = work.path().join("p");
    index(&p, &table);
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let (_sink, upstream) = sink(&inbox);
    let api_port = free_port();
    let (proxy, smtp) = proxy_with(
        &p,
        &relay_to(upstream),
        "\"127.0.0.0/8\"",
        "",
        "",
        &format!("[api]\nlisten = \"127.0.0.1:{api_port}\"\ntokens = [\"{TOKEN}\"]\n\n{TABLES}"),
        None,
    );
    wait_port(api_port);
    let message = work.path().join("row.eml");
    std::fs::write(
        &message,
        "From: sales@example.com\r\nTo: someone@partner.org\r\nSubject: about Dolores Haze\r\n\r\n\
         Please update DOLORES HAZE, account acc-20202020, phone 555 010 2323.\r\n",
    )
    .unwrap();
    let reply = common::send(smtp, &message, "someone@partner.org");
    assert!(reply.starts_with("550 5.7.1"), "{reply}");

    let url = format!("http://127.0.0.1:{api_port}/api/v1/incidents");
    let started = Instant::now();
    let incident = loop {
        let (status, body) = http("GET", &url, Some(TOKEN));
        assert_eq!(status, 200, "{body}");
        if let Some(i) = body["data"].as_array().unwrap().first() {
            break i.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no incident");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(incident["policy"], "Block records");
    let evidence = &incident["evidence"][0];
    assert_eq!(evidence["row"], 2004, "{incident}");
    assert_eq!(
        evidence["columns"],
        serde_json::json!(["name", "phone", "account"])
    );
    let shown = incident.to_string().to_lowercase();
    for cell in ["dolores", "haze", "20202020", "2323"] {
        assert!(!shown.contains(cell), "{cell} shows in {incident}");
    }
    assert_eq!(incident["subject"], "about ******* ****");

    // The table without that row, loaded on SIGHUP: the message passes.
    let without: String = table
        .lines()
        .filter(|l| !l.starts_with("Dolores"))
        .map(|l| format!("{l}\n"))
        .collect();
    index(&p, &without);
    common::sighup(&proxy);
    let started = Instant::now();
    loop {
        let reply = common::send(smtp, &message, "someone@partner.org");
        if reply.starts_with("250") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the rebuilt index was never loaded: {reply}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
