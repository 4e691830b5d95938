//! Running as a service: the systemd unit passes `systemd-analyze verify`
//! and keeps its hardening, and `check` flags secrets anyone can read.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{have, repo};

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    if !have("systemd-analyze") {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze missing in CI"
        );
        eprintln!("NOTICE: systemd-analyze not installed; unit check skipped");
        return;
    }
    let unit = std::fs::read_to_string(repo().join("packaging/sluice-proxy.service")).unwrap();
    for hardening in [
        "User=sluice",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/sluice /run/sluice",
        "CapabilityBoundingSet=\n",
        "Restart=on-failure",
    ] {
        assert!(unit.contains(hardening), "{hardening}");
    }
    // Verified with the binaries this build made in place of /usr/bin's.
    let dir = tempfile::tempdir().unwrap();
    let local = unit
        .replace("/usr/bin/sluice-proxy", env!("CARGO_BIN_EXE_sluice-proxy"))
        .replace(
            "/usr/bin/sluice-scan",
            &std::path::Path::new(env!("CARGO_BIN_EXE_sluice-proxy"))
                .with_file_name("sluice-scan")
                .display()
                .to_string(),
        );
    let path = dir.path().join("sluice-proxy.service");
    std::fs::write(&path, local).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{:?} {} {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=20"])
        .arg(&path)
        .output()
        .unwrap();
    // Exposure at most 2.0 ("OK"; the threshold is in tenths).
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_flags_secrets_anyone_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(repo().join("fixtures/demo/sluice.toml")).unwrap();
    let rules = &demo[demo.find("[[entity]]").unwrap()..];
    std::fs::create_dir(dir.path().join("dictionaries")).unwrap();
    std::fs::copy(
        repo().join("fixtures/demo/dictionaries/customer.csv"),
        dir.path().join("dictionaries/customer.csv"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("fixtures/demo/board.fp"),
        dir.path().join("board.fp"),
    )
    .unwrap();
    let tokens = dir.path().join("api.tokens");
    std::fs::write(&tokens, "secret-token\n").unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = dir.path().join("api.key");
    std::fs::write(dir.path().join("api.pem"), cert.cert.pem()).unwrap();
    std::fs::write(&key, cert.signing_key.serialize_pem()).unwrap();
    std::fs::write(
        dir.path().join("sluice.toml"),
        format!(
            "[api]\ntoken_file = \"api.tokens\"\ntls = {{ cert = \"api.pem\", key = \"api.key\" }}\n\n{rules}"
        ),
    )
    .unwrap();
    let check = || {
        let scan =
            std::path::Path::new(env!("CARGO_BIN_EXE_sluice-proxy")).with_file_name("sluice-scan");
        let out = Command::new(scan)
            .args(["check", "--config"])
            .arg(dir.path().join("sluice.toml"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for secret in [&tokens, &key] {
        std::fs::set_permissions(secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = check();
    for name in ["api.token_file:", "api.tls.key:"] {
        assert!(
            out.lines()
                .any(|l| l.contains(name) && l.contains("is readable by anyone (mode 0644)")),
            "{name} {out}"
        );
    }
    for secret in [&tokens, &key] {
        std::fs::set_permissions(secret, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    assert!(!check().contains("readable by anyone"));
}

#[test]
fn the_packaged_configuration_passes_check_laid_out_as_installed() {
    // /etc/sluice as the package lays it out, in a temporary folder.
    let etc = tempfile::tempdir().unwrap();
    let e = etc.path();
    std::fs::create_dir(e.join("dictionaries")).unwrap();
    std::fs::copy(
        repo().join("fixtures/demo/dictionaries/customer.csv"),
        e.join("dictionaries/customer.csv"),
    )
    .unwrap();
    std::fs::copy(repo().join("fixtures/demo/board.fp"), e.join("board.fp")).unwrap();
    std::fs::write(e.join("api.token"), "0123abcd\n").unwrap();
    std::fs::set_permissions(e.join("api.token"), std::fs::Permissions::from_mode(0o640)).unwrap();
    // Where the package's `sluice` group exists (a machine that installed
    // it), `check` run as root judges secrets as that user: lay them out
    // as the package does, root:sluice 0640 in a folder it may enter.
    if let Some(gid) = group_id("sluice") {
        std::os::unix::fs::chown(e.join("api.token"), None, Some(gid)).unwrap();
        std::fs::set_permissions(e, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = std::fs::read_to_string(repo().join("packaging/sluice.toml"))
        .unwrap()
        // The store's folder as the package creates it.
        .replace(
            "/var/lib/sluice/sluice.db",
            &e.join("lib/sluice.db").display().to_string(),
        );
    std::fs::write(e.join("sluice.toml"), config).unwrap();
    let scan =
        std::path::Path::new(env!("CARGO_BIN_EXE_sluice-proxy")).with_file_name("sluice-scan");
    let out = Command::new(scan)
        .args(["check", "--config"])
        .arg(e.join("sluice.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("ok: ") && text.contains("0 warning(s)"),
        "{text}"
    );
}

/// The id of group `name` in /etc/group, if there is one.
fn group_id(name: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(2)?.parse().ok())
}
