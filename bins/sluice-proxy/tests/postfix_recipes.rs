//! The README's Postfix recipes, each run end to end against a real
//! Postfix: a private instance (its own config, queue and ports), swaks as
//! the client, smtp-sink as the next hop. Milter; before-queue
//! `smtpd_proxy_filter` (with XFORWARD); after-queue `content_filter`
//! without a loop, with `header_checks` holding `X-Sluice-Hold` mail.
//!
//! Needs root (Postfix's master runs as root) and Postfix, swaks and
//! smtp-sink (`.ci/run` installs them); skipped with a notice elsewhere,
//! failing in CI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::api::http;
use common::{free_port, have, repo, smtp_sink, swaks, wait_port, Running};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One instance at a time: each names itself in the system `main.cf`.
static ONE_POSTFIX: Mutex<()> = Mutex::new(());

/// Whether the tests can run here; `false` after the notice (in CI a
/// missing tool fails).
fn can_run() -> bool {
    if is_root() && have("postfix") && have("swaks") && have("smtp-sink") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the Postfix recipe tests need root, postfix, swaks and smtp-sink in CI"
    );
    eprintln!("NOTICE: not root or Postfix/swaks missing; Postfix recipe test skipped");
    false
}

/// A Postfix instance of its own, stopped and unregistered when dropped.
struct Postfix {
    config: PathBuf,
    /// The system `main.cf` was created for the run (it did not exist).
    created_main_cf: bool,
}

impl Postfix {
    /// An instance listening on `port`, relaying everything to
    /// `relay_port`, with `extra` `main.cf` settings (`name = value`) and
    /// `services`: `(port, ["name = value" -o options])` smtpd services.
    fn start(
        dir: &Path,
        port: u16,
        relay_port: u16,
        extra: &[String],
        services: &[(u16, Vec<String>)],
    ) -> Postfix {
        let config = dir.join("etc");
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::copy("/etc/postfix/master.cf", config.join("master.cf")).unwrap();
        let d = dir.display();
        let mut main = format!(
            "compatibility_level = 3.6\nqueue_directory = {d}/queue\ndata_directory = {d}/data\n\
             mail_owner = postfix\nmyhostname = mta.test\nmydestination =\ninet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\nmynetworks = 127.0.0.0/8\nrelayhost = [127.0.0.1]:{relay_port}\n\
             smtp_tls_security_level = none\nmaillog_file = {d}/maillog\nmaillog_file_prefixes = {d}\n\
             smtpd_relay_restrictions = permit_mynetworks, reject\nalias_maps =\nalias_database =\n\
             local_recipient_maps =\nsmtputf8_enable = no\n"
        );
        for line in extra {
            main.push_str(line);
            main.push('\n');
        }
        std::fs::write(config.join("main.cf"), main).unwrap();
        let c = config.to_str().unwrap().to_owned();
        let c = c.as_str();
        run("postconf", &["-c", c, "-F", "*/*/chroot = n"]);
        run("postconf", &["-c", c, "-M#", "smtp/inet"]);
        let mut all = vec![(port, Vec::new())];
        all.extend(services.iter().cloned());
        for (p, options) in &all {
            let service = format!("127.0.0.1:{p}/inet = 127.0.0.1:{p} inet n - n - - smtpd");
            run("postconf", &["-c", c, "-Me", &service]);
            for o in options {
                run(
                    "postconf",
                    &["-c", c, "-P", &format!("127.0.0.1:{p}/inet/{o}")],
                );
            }
        }
        run("chown", &["-R", "postfix", &format!("{d}/data")]);
        // Postfix only runs an instance the system configuration names.
        let created_main_cf = !Path::new("/etc/postfix/main.cf").exists();
        if created_main_cf {
            std::fs::write("/etc/postfix/main.cf", "").unwrap();
        }
        run(
            "postconf",
            &["-e", &format!("alternate_config_directories = {c}")],
        );
        let postfix = Postfix {
            config,
            created_main_cf,
        };
        run("postfix", &["-c", c, "start"]);
        wait_port(port);
        postfix
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let c = self.config.to_str().unwrap();
        let out = Command::new(program)
            .args(["-c", c])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.config.parent().unwrap().join("maillog")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let c = self.config.to_str().unwrap();
        let _ = Command::new("postfix").args(["-c", c, "stop"]).output();
        let _ = Command::new("postconf")
            .args(["-X", "alternate_config_directories"])
            .output();
        if self.created_main_cf {
            let _ = std::fs::remove_file("/etc/postfix/main.cf");
        }
    }
}

/// Files smtp-sink wrote into `dir`, once there are `n` (or after 10 s).
fn sunk(dir: &Path, n: usize) -> Vec<String> {
    let read = || -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .collect()
    };
    let started = Instant::now();
    loop {
        let files = read();
        // Postfix delivers from its queue when its queue manager gets to
        // it: seconds on a machine busy with the other tests.
        if files.len() >= n || started.elapsed() > Duration::from_secs(30) {
            // smtp-sink creates a dump file before it has written all of
            // it (a CI run read one half-written): read them once more
            // after a pause.
            std::thread::sleep(Duration::from_millis(500));
            return read();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sluice with the demo policies: `front` is its `[proxy]` and `[milter]`
/// tables, `upstream_port` where releases, notices (and relayed mail) go.
fn sluice(dir: &Path, front: &str, wait_on: u16, upstream_port: u16, api_port: u16) -> Running {
    sluice_in_group(dir, front, wait_on, upstream_port, api_port, None)
}

/// [`sluice`], its process in group `gid` when given.
fn sluice_in_group(
    dir: &Path,
    front: &str,
    wait_on: u16,
    upstream_port: u16,
    api_port: u16,
    gid: Option<u32>,
) -> Running {
    let demo = repo().join("fixtures/demo");
    std::fs::create_dir_all(dir.join("dictionaries")).unwrap();
    std::fs::copy(
        demo.join("dictionaries/customer.csv"),
        dir.join("dictionaries/customer.csv"),
    )
    .unwrap();
    std::fs::copy(demo.join("board.fp"), dir.join("board.fp")).unwrap();
    let text = std::fs::read_to_string(demo.join("sluice.toml")).unwrap();
    let rules = &text[text.find("[[entity]]").unwrap()..];
    std::fs::write(
        dir.join("sluice.toml"),
        format!(
            "{front}\n\
             [upstream]\naddress = \"127.0.0.1:{upstream_port}\"\nstarttls = \"off\"\n\n[store]\npath = \"data/sluice.db\"\n\n\
             [api]\nlisten = \"127.0.0.1:{api_port}\"\ntokens = [\"t\"]\n\n{rules}"
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice-proxy"));
    command
        .arg("--config")
        .arg(dir.join("sluice.toml"))
        .stderr(std::fs::File::create(dir.join("proxy.log")).unwrap());
    if let Some(gid) = gid {
        std::os::unix::process::CommandExt::gid(&mut command, gid);
    }
    let child = command.spawn().unwrap();
    wait_port(wait_on);
    Running(child)
}

/// A card number gets the block's reply at the client; the hold message
/// is queued by Postfix.
fn block_then_hold(port: u16, postfix: &Postfix) {
    let messages = repo().join("fixtures/demo/messages");
    let t = swaks(
        port,
        "shop@partner.org",
        &messages.join("card-number.eml"),
        &[],
    );
    assert!(
        t.contains("<** 550 5.7.1 Message blocked: it contains a payment card number"),
        "{t}\n{}",
        postfix.log()
    );
    let t = swaks(
        port,
        "bob@partner.org",
        &messages.join("hold-partner.eml"),
        &[],
    );
    assert!(t.contains("<-  250 2.0.0 Ok: queued as"), "{t}");
}

/// `n` incidents, each naming the client as Postfix saw it (swaks from
/// 127.0.0.1 with HELO `client.test`); then, with Sluice stopped, a
/// message gets `expected` at the client.
fn clients_named_then_sluice_down(
    api_port: u16,
    n: usize,
    sluice: &mut Option<Running>,
    port: u16,
    expected: &str,
) {
    let list = incidents(api_port, n);
    assert_eq!(list.len(), n, "{list:?}");
    for i in &list {
        assert_eq!(i["client_ip"], "127.0.0.1", "{i}");
        assert_eq!(i["client_helo"], "client.test", "{i}");
    }
    sluice.take();
    let card = repo().join("fixtures/demo/messages/card-number.eml");
    let t = swaks(port, "shop@partner.org", &card, &[]);
    assert!(t.contains(expected), "{t}");
}

/// The incidents the API has, once there are `n` (or after 10 s).
fn incidents(api_port: u16, n: usize) -> Vec<serde_json::Value> {
    let started = Instant::now();
    loop {
        let (_, body) = http(
            "GET",
            &format!("http://127.0.0.1:{api_port}/api/v1/incidents"),
            Some("t"),
        );
        let list = body["data"].as_array().cloned().unwrap_or_default();
        if list.len() >= n || started.elapsed() > Duration::from_secs(10) {
            return list;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn postfix_with_sluice_as_its_milter() {
    if !can_run() {
        return;
    }
    let _one = ONE_POSTFIX.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let sink_dir = w.join("sink");
    let (_sink, sink_port) = smtp_sink(&sink_dir, &[]);
    let (milter_port, api_port, port) = (free_port(), free_port(), free_port());
    let front = format!(
        "[proxy]\nlisten = \"\"\nhostname = \"dlp.test\"\n\n[milter]\nlisten = \"127.0.0.1:{milter_port}\"\n"
    );
    let mut sluice = Some(sluice(
        &w.join("sluice"),
        &front,
        milter_port,
        sink_port,
        api_port,
    ));
    // The README's milter recipe.
    let postfix = Postfix::start(
        &w.join("postfix"),
        port,
        sink_port,
        &[
            format!("smtpd_milters = inet:127.0.0.1:{milter_port}"),
            "milter_default_action = tempfail".into(),
            "milter_protocol = 6".into(),
        ],
        &[],
    );
    let messages = repo().join("fixtures/demo/messages");

    // block: Postfix answers the client with the policy's reply;
    // add-header: delivered with the headers at the top.
    block_then_hold(port, &postfix);
    // quarantine: accepted by Postfix, discarded, held by Sluice.
    let t = swaks(
        port,
        "advisor@partner.org",
        &messages.join("board-excerpt.eml"),
        &[],
    );
    assert!(t.contains("<-  250 2.0.0 Ok: queued as"), "{t}");

    // Postfix delivers the held-for-review message; Sluice's notice of the
    // block leaves through [upstream]; the quarantined one goes nowhere.
    let delivered = sunk(&sink_dir, 2);
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert!(!delivered.iter().any(|m| m.contains("board-excerpt.eml@")));
    let notice = delivered
        .iter()
        .find(|m| m.contains("Auto-Submitted: auto-generated"))
        .expect("the sender's notice");
    assert!(notice.contains("To: <alice@example.com>"), "{notice}");
    let held = delivered
        .iter()
        .find(|m| m.contains("hold-partner.eml@"))
        .expect("the held-for-review message");
    let scanned = held
        .find("X-Sluice-Scanned: dlp.test")
        .expect("scanned header");
    let hold = held
        .find("X-Sluice-Hold: customer-entitlement")
        .expect("policy header");
    // Above Postfix's own Received (smtp-sink adds its lines above all).
    let received = held
        .find("Received: from client.test")
        .expect("Postfix's Received");
    assert!(scanned < hold && hold < received, "{held}");
    assert!(
        postfix.log().contains("milter triggers DISCARD action"),
        "{}",
        postfix.log()
    );

    let api = format!("http://127.0.0.1:{api_port}/api/v1");
    let (_, quarantined) = http("GET", &format!("{api}/quarantine"), Some("t"));
    assert_eq!(
        quarantined["data"].as_array().unwrap().len(),
        1,
        "{quarantined}"
    );
    // The client as Postfix saw it, from the milter's connect step; Sluice
    // down: Postfix tempfails, nothing is accepted unscanned.
    clients_named_then_sluice_down(api_port, 3, &mut sluice, port, "<** 451 4.7.1");
}

/// The README's same-host milter recipe: a unix socket, Postfix's user in
/// the socket's group (here Sluice runs in Postfix's group, which is the
/// same grant), no permission set by hand: the socket's own mode lets the
/// group connect.
#[test]
fn postfix_with_sluice_as_its_milter_on_a_unix_socket() {
    if !can_run() {
        return;
    }
    let _one = ONE_POSTFIX.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // Postfix's smtpd (user postfix) must reach the socket's folder.
    std::fs::set_permissions(w, std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();
    let run_dir = w.join("run");
    std::fs::create_dir(&run_dir).unwrap();
    std::fs::set_permissions(
        &run_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .unwrap();
    let socket = run_dir.join("milter.sock");
    let sink_dir = w.join("sink");
    let (_sink, sink_port) = smtp_sink(&sink_dir, &[]);
    let (api_port, port) = (free_port(), free_port());
    let front = format!(
        "[proxy]\nlisten = \"\"\nhostname = \"dlp.test\"\n\n[milter]\nlisten = \"unix:{}\"\n",
        socket.display()
    );
    let gid = String::from_utf8(
        Command::new("id")
            .args(["-g", "postfix"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    let mut sluice = Some(sluice_in_group(
        &w.join("sluice"),
        &front,
        api_port,
        sink_port,
        api_port,
        Some(gid),
    ));
    let started = Instant::now();
    while !socket.exists() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let postfix = Postfix::start(
        &w.join("postfix"),
        port,
        sink_port,
        &[
            format!("smtpd_milters = unix:{}", socket.display()),
            "milter_default_action = tempfail".into(),
            "milter_protocol = 6".into(),
        ],
        &[],
    );
    block_then_hold(port, &postfix);
    let delivered = sunk(&sink_dir, 2);
    let held = delivered
        .iter()
        .find(|m| m.contains("hold-partner.eml@"))
        .expect("the held-for-review message");
    assert!(
        held.contains("X-Sluice-Hold: customer-entitlement"),
        "{held}"
    );
    clients_named_then_sluice_down(api_port, 2, &mut sluice, port, "<** 451 4.7.1");
}

#[test]
fn postfix_before_queue_proxy_filter_with_xforward() {
    if !can_run() {
        return;
    }
    let _one = ONE_POSTFIX.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (_sink, sink_port) = smtp_sink(&w.join("sink"), &[]);
    let (smtp_port, api_port, port, back_port) =
        (free_port(), free_port(), free_port(), free_port());
    let front = format!(
        "[proxy]\nlisten = \"127.0.0.1:{smtp_port}\"\nhostname = \"dlp.test\"\n\
         allowed_clients = [\"127.0.0.0/8\"]\nxforward_clients = [\"127.0.0.0/8\"]\n"
    );
    let mut sluice = Some(sluice(
        &w.join("sluice"),
        &front,
        smtp_port,
        back_port,
        api_port,
    ));
    // The README's before-queue recipe: the submission service hands each
    // transaction to Sluice; Sluice's upstream is a second smtpd that
    // takes it back (and believes Sluice's XFORWARD).
    let postfix = Postfix::start(
        &w.join("postfix"),
        port,
        sink_port,
        &[],
        &[(
            back_port,
            vec![
                "smtpd_authorized_xforward_hosts = 127.0.0.0/8".into(),
                "smtpd_client_restrictions =".into(),
                "smtpd_relay_restrictions = permit_mynetworks,reject".into(),
                "mynetworks = 127.0.0.0/8".into(),
                "smtpd_proxy_filter =".into(),
            ],
        )],
    );
    let c = postfix.config.to_str().unwrap().to_owned();
    for o in [
        format!("127.0.0.1:{port}/inet/smtpd_proxy_filter = 127.0.0.1:{smtp_port}"),
        format!("127.0.0.1:{port}/inet/smtpd_proxy_options = speed_adjust"),
    ] {
        run("postconf", &["-c", &c, "-P", &o]);
    }
    run("postfix", &["-c", &c, "reload"]);
    std::thread::sleep(Duration::from_millis(500));

    // The block reaches the client at its end of DATA.
    block_then_hold(port, &postfix);
    // The incidents name the original client (XFORWARD from Postfix), not
    // Postfix's own HELO; Sluice down: the client gets a temporary error.
    clients_named_then_sluice_down(api_port, 2, &mut sluice, port, "<** 451 ");
}

#[test]
fn postfix_after_queue_content_filter_holds_without_a_loop() {
    if !can_run() {
        return;
    }
    let _one = ONE_POSTFIX.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let sink_dir = w.join("sink");
    let (_sink, sink_port) = smtp_sink(&sink_dir, &[]);
    let (smtp_port, api_port, port, back_port) =
        (free_port(), free_port(), free_port(), free_port());
    let front = format!(
        "[proxy]\nlisten = \"127.0.0.1:{smtp_port}\"\nhostname = \"dlp.test\"\n\
         allowed_clients = [\"127.0.0.0/8\"]\nxforward_clients = [\"127.0.0.0/8\"]\n"
    );
    let _sluice = sluice(&w.join("sluice"), &front, smtp_port, back_port, api_port);
    std::fs::create_dir_all(w.join("postfix/etc")).unwrap();
    let checks = w.join("postfix/etc/sluice_hold");
    std::fs::write(&checks, "/^X-Sluice-Hold:/ HOLD\n").unwrap();
    // The README's after-queue recipe.
    let postfix = Postfix::start(
        &w.join("postfix"),
        port,
        sink_port,
        &[format!("header_checks = regexp:{}", checks.display())],
        &[(
            back_port,
            vec![
                "content_filter =".into(),
                "receive_override_options = no_unknown_recipient_checks,no_milters,no_address_mappings".into(),
                "smtpd_client_restrictions =".into(),
                "smtpd_relay_restrictions = permit_mynetworks,reject".into(),
                "mynetworks = 127.0.0.0/8".into(),
            ],
        )],
    );
    let c = postfix.config.to_str().unwrap().to_owned();
    // A transport of its own for the filter, so it can tell Sluice the
    // original client (XFORWARD).
    run(
        "postconf",
        &[
            "-c",
            &c,
            "-Me",
            "sluicefilter/unix = sluicefilter unix - - n - - smtp",
        ],
    );
    run(
        "postconf",
        &[
            "-c",
            &c,
            "-P",
            "sluicefilter/unix/smtp_send_xforward_command = yes",
        ],
    );
    let filter =
        format!("127.0.0.1:{port}/inet/content_filter = sluicefilter:[127.0.0.1]:{smtp_port}");
    run("postconf", &["-c", &c, "-P", &filter]);
    run("postfix", &["-c", &c, "reload"]);
    std::thread::sleep(Duration::from_millis(500));
    let messages = repo().join("fixtures/demo/messages");

    let t = swaks(
        port,
        "bob@partner.org",
        &messages.join("hold-partner.eml"),
        &[],
    );
    assert!(t.contains("<-  250 2.0.0 Ok: queued as"), "{t}");
    let t = swaks(
        port,
        "carol@eu.example.com",
        &messages.join("internal-subdomain.eml"),
        &[],
    );
    assert!(t.contains("<-  250 2.0.0 Ok: queued as"), "{t}");
    // The internal message goes out once; the held-for-review one waits in
    // Postfix's hold queue.
    let out = sunk(&sink_dir, 1);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].contains("internal-subdomain.eml@"), "{}", out[0]);
    let started = Instant::now();
    while !postfix.log().contains("hold: header X-Sluice-Hold") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            postfix.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !postfix.log().contains("too many hops"),
        "{}",
        postfix.log()
    );
    // The incident names the original client: Postfix's filter transport
    // passed it on with XFORWARD.
    let incidents = incidents(api_port, 1);
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(
        incidents[0]["client_helo"], "client.test",
        "{}",
        incidents[0]
    );
    // `postsuper -H` releases it: delivered with the hold header.
    postfix.run("postsuper", &["-H", "ALL"]);
    postfix.run("postqueue", &["-f"]);
    let out = sunk(&sink_dir, 2);
    assert_eq!(out.len(), 2, "{}", postfix.log());
    assert!(out
        .iter()
        .any(|m| m.contains("hold-partner.eml@")
            && m.contains("X-Sluice-Hold: customer-entitlement")));
    assert!(
        !postfix.log().contains("too many hops"),
        "{}",
        postfix.log()
    );
}
