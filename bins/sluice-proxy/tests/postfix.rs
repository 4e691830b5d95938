//! The proxy between swaks (client) and Postfix's smtp-sink (upstream):
//! peers we did not write. Skipped with a notice when they are not
//! installed (`.ci/run` installs them: `apt-get install postfix swaks`).

mod common;

use common::{have, proxy, relay_to, repo, smtp_sink, swaks, wait_for_files};

#[test]
fn swaks_through_the_proxy_to_smtp_sink() {
    if !have("smtp-sink") || !have("swaks") {
        // .ci/run installs them: missing there, the test fails.
        assert!(
            std::env::var_os("CI").is_none(),
            "smtp-sink or swaks missing in CI"
        );
        eprintln!("NOTICE: smtp-sink or swaks not installed; Postfix peer test skipped");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_sink, sink_port) = smtp_sink(&work.path().join("sink"), &[]);
    let (_proxy, port) = proxy(
        &work.path().join("proxy"),
        &relay_to(sink_port),
        "\"127.0.0.0/8\"",
    );
    let messages = repo().join("fixtures/demo/messages");

    let t = swaks(
        port,
        "bob@partner.org",
        &messages.join("hold-partner.eml"),
        &[],
    );
    assert!(
        t.contains("<-  250 2.0.0 Ok"),
        "the upstream's own reply passes through: {t}"
    );
    let t = swaks(
        port,
        "shop@partner.org",
        &messages.join("card-number.eml"),
        &[],
    );
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
    let t = swaks(port, "colleague@example.com", &sent, &[]);
    assert!(t.contains("<-  250"), "{t}");
    // The hold, the block's sender notification and the sample; never the
    // blocked message.
    let files = wait_for_files(&work.path().join("sink"), 3);
    assert_eq!(files.len(), 3, "the blocked message never reached the sink");
    let dumps: Vec<String> = files
        .iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned())
        .collect();
    let notification = dumps
        .iter()
        .find(|d| d.contains("Subject: Data-loss policy: your message was blocked"))
        .unwrap_or_else(|| panic!("no notification in {dumps:#?}"));
    assert!(notification.contains("X-Mail-Args: <>\n"), "{notification}");
    assert!(notification.contains("X-Rcpt-Args: <alice@example.com>\n"));
    assert!(notification.contains("\"Card block\""));
    assert!(
        !notification.contains("4111"),
        "no matched value: {notification}"
    );
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
        // .ci/run installs them: missing there, the test fails.
        assert!(
            std::env::var_os("CI").is_none(),
            "smtp-sink or swaks missing in CI"
        );
        eprintln!("NOTICE: smtp-sink or swaks not installed; Postfix peer test skipped");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_sink, sink_port) = smtp_sink(&work.path().join("sink"), &["-f", "RCPT"]);
    let (_proxy, port) = proxy(
        &work.path().join("proxy"),
        &relay_to(sink_port),
        "\"127.0.0.0/8\"",
    );
    let t = swaks(
        port,
        "bob@partner.org",
        &repo().join("fixtures/demo/messages/hold-partner.eml"),
        &[],
    );
    assert!(t.contains("<** 5"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("<** 5") && l.contains("RCPT") || l.contains("Error")),
        "{t}"
    );
}
