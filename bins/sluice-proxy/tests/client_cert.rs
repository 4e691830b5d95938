//! `[proxy.tls] client_ca`: a client outside `allowed_clients` may relay
//! only after STARTTLS with a certificate from the configured CA (Python's
//! ssl/smtplib as the client, certificates made at test time).

mod common;

use std::path::Path;
use std::process::Command;

use common::{proxy_with, wait_for_files};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(
    name: &str,
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'static, KeyPair>,
) -> (String, String) {
    let mut params = CertificateParams::new(vec![name.to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn only_verified_client_certificates_relay_from_outside_allowed_clients() {
    let work = tempfile::tempdir().unwrap();
    let certs = work.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let (ca_pem, ca) = new_ca("Sluice test client CA");
    let (_, rogue_ca) = new_ca("Someone else's CA");
    let (server_cert, server_key) = leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth, &ca);
    let (client_cert, client_key) =
        leaf("mta.example.com", ExtendedKeyUsagePurpose::ClientAuth, &ca);
    let (rogue_cert, rogue_key) = leaf(
        "mta.example.com",
        ExtendedKeyUsagePurpose::ClientAuth,
        &rogue_ca,
    );
    let tls = format!(
        "[proxy.tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"",
        write(&certs, "server.pem", &server_cert),
        write(&certs, "server.key", &server_key),
        write(&certs, "ca.pem", &ca_pem),
    );
    let client = (
        write(&certs, "client.pem", &client_cert),
        write(&certs, "client.key", &client_key),
    );
    let rogue = (
        write(&certs, "rogue.pem", &rogue_cert),
        write(&certs, "rogue.key", &rogue_key),
    );
    let outbox = work.path().join("outbox");
    // No address is allowed: only a certificate can admit a client.
    let (_proxy, port) = proxy_with(
        &work.path().join("p"),
        &format!("maildir = \"{}\"", outbox.display()),
        "",
        "",
        "",
        &tls,
        None,
    );
    let script = format!(
        r#"
import smtplib, ssl, sys
def attempt(cert):
    try:
        with smtplib.SMTP("127.0.0.1", {port}, timeout=10) as s:
            s.ehlo("client.test")
            if cert != "plain":
                ctx = ssl.create_default_context(cafile={ca:?})
                if cert:
                    ctx.load_cert_chain(cert[0], cert[1])
                s.starttls(context=ctx)
                s.ehlo("client.test")
            code, text = s.mail("alice@example.com")
            if code != 250:
                return "%d %s" % (code, text.decode())
            s.rcpt("colleague@example.com")
            code, text = s.data(b"Subject: hi\r\n\r\nhello\r\n")
            return "%d %s" % (code, text.decode())
    except smtplib.SMTPServerDisconnected as e:
        return "disconnected"
    except (ssl.SSLError, ConnectionResetError, OSError) as e:
        return "tls refused: %s" % type(e).__name__
for name, cert in [("plain", "plain"), ("no certificate", None), ("verified", ({c0:?}, {c1:?})), ("rogue", ({r0:?}, {r1:?}))]:
    print(name + ": " + attempt(cert))
"#,
        ca = format!("{}", certs.join("ca.pem").display()),
        c0 = client.0,
        c1 = client.1,
        r0 = rogue.0,
        r1 = rogue.1,
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines[0], "plain: 554 5.7.1 Relay access denied");
    assert_eq!(lines[1], "no certificate: 554 5.7.1 Relay access denied");
    assert!(
        lines[2].starts_with("verified: 250 2.0.0 delivered"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("rogue: tls refused") || lines[3] == "rogue: disconnected",
        "{text}"
    );
    assert_eq!(wait_for_files(&outbox.join("new"), 1).len(), 1);
}
