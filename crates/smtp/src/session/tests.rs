use super::*;

#[test]
fn xforward_only_for_allowed_clients_and_outside_transactions() {
    let config = SessionConfig {
        hostname: "dlp.test".into(),
        max_message_size: 1000,
        max_recipients: 10,
        starttls: false,
        tls_required: false,
    };
    let mut s = Session::new(config.clone());
    let Step::Reset(ehlo) = s.command(b"EHLO mta\r\n") else {
        panic!()
    };
    assert!(!ehlo.lines.iter().any(|l| l.starts_with("XFORWARD")));
    assert_eq!(
        s.command(b"XFORWARD ADDR=203.0.113.5\r\n"),
        Step::Reply(reply(550, (5, 7, 0), "XFORWARD not permitted"))
    );
    let mut s = Session::new(config);
    s.allow_xforward();
    let Step::Reset(ehlo) = s.command(b"EHLO mta\r\n") else {
        panic!()
    };
    assert!(ehlo
        .lines
        .contains(&"XFORWARD NAME ADDR PROTO HELO".to_owned()));
    assert_eq!(
        s.command(b"XFORWARD NAME=client.example ADDR=IPV6:2001:db8::5 helo=a+20b\r\n"),
        Step::Xforward(vec![
            ("NAME".into(), "client.example".into()),
            ("ADDR".into(), "IPV6:2001:db8::5".into()),
            ("HELO".into(), "a b".into()),
        ])
    );
    assert!(matches!(
        s.command(b"XFORWARD COLOR=red\r\n"),
        Step::Reply(r) if r.code == 501
    ));
    assert_eq!(xtext_encode("a b+=c"), "a+20b+2B+3Dc");
    assert_eq!(xtext_decode(&xtext_encode("héllo = +")), "héllo = +");
}

#[test]
fn parameters_split_after_the_path_quotes_and_all() {
    assert_eq!(
        split_parameters("MAIL FROM:<a@b.c> SIZE=10 BODY=8BITMIME"),
        ("MAIL FROM:<a@b.c>", vec!["SIZE=10", "BODY=8BITMIME"])
    );
    assert_eq!(
        split_parameters("MAIL FROM:<\"x> y\"@b.c> RET=HDRS"),
        ("MAIL FROM:<\"x> y\"@b.c>", vec!["RET=HDRS"])
    );
    assert_eq!(
        split_parameters("RCPT TO: a@b.c NOTIFY=NEVER"),
        ("RCPT TO: a@b.c", vec!["NOTIFY=NEVER"])
    );
    assert_eq!(split_parameters("MAIL FROM:<>"), ("MAIL FROM:<>", vec![]));
    assert_eq!(
        written_address("RCPT TO:<\"bob smith\"@partner.org>"),
        Some("\"bob smith\"@partner.org")
    );
    assert_eq!(written_address("MAIL FROM:<>"), Some(""));
    assert_eq!(written_address("RCPT TO:<@r1,@r2:a@b.c>"), Some("a@b.c"));
    assert_eq!(written_address("RCPT TO: a@b.c"), None);
    assert!(check_parameters(
        &["SIZE=1", "body=7bit", "SMTPUTF8", "ENVID=x"],
        MAIL_PARAMETERS
    )
    .is_ok());
    for bad in [
        "AUTH=<>",
        "BODY=BINARYMIME",
        "XFOO",
        "RET=ALL",
        "SMTPUTF8=1",
    ] {
        let r = check_parameters(&[bad], MAIL_PARAMETERS).unwrap_err();
        assert_eq!((r.code, r.status), (555, Some((5, 5, 4))), "{bad}");
    }
    assert!(check_parameters(
        &["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;a@b"],
        RCPT_PARAMETERS
    )
    .is_ok());
    assert!(check_parameters(&["SIZE=1"], RCPT_PARAMETERS).is_err());
}

fn session() -> Session {
    Session::new(SessionConfig {
        hostname: "dlp.example.com".into(),
        max_message_size: 1000,
        max_recipients: 2,
        starttls: true,
        tls_required: false,
    })
}

fn code(step: &Step) -> u16 {
    match step {
        Step::Reply(r) | Step::Close(r) | Step::Data(r) | Step::Reset(r) | Step::StartTls(r) => {
            r.code
        }
        Step::Mail(_) | Step::Rcpt(_) | Step::Xforward(_) => 0,
    }
}

fn accept_mail(s: &mut Session, line: &[u8]) {
    match s.command(line) {
        Step::Mail(m) => s.mail_answered(&m, &Reply::new(250, (2, 1, 0), "OK")),
        other => panic!("{other:?}"),
    }
}

fn accept_rcpt(s: &mut Session, line: &[u8]) {
    match s.command(line) {
        Step::Rcpt(r) => s.rcpt_answered(&r, &Reply::new(250, (2, 1, 5), "OK")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ehlo_advertises_extensions() {
    let mut s = session();
    let Step::Reset(r) = s.command(b"EHLO client.example\r\n") else {
        panic!()
    };
    let text = String::from_utf8(r.to_bytes()).unwrap();
    for ext in [
        "PIPELINING",
        "SIZE 1000",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
    ] {
        assert!(
            text.contains(&format!("250-{ext}")) || text.contains(&format!("250 {ext}")),
            "{ext} in {text}"
        );
    }
    assert_eq!(s.helo(), Some("client.example"));
}

#[test]
fn transaction_order_is_enforced() {
    let mut s = session();
    assert_eq!(code(&s.command(b"MAIL FROM:<a@example.com>")), 503);
    s.command(b"EHLO c");
    assert_eq!(code(&s.command(b"RCPT TO:<b@partner.org>")), 503);
    assert_eq!(code(&s.command(b"DATA")), 503);
    accept_mail(&mut s, b"MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME");
    assert_eq!(code(&s.command(b"MAIL FROM:<a@example.com>")), 503);
    assert_eq!(code(&s.command(b"DATA")), 554, "no accepted recipient yet");
    accept_rcpt(&mut s, b"RCPT TO:<b@partner.org>");
    assert_eq!(code(&s.command(b"DATA")), 354);
    assert_eq!(s.state(), State::Data);
    assert_eq!(
        s.envelope(),
        (Some("a@example.com"), &["b@partner.org".to_owned()][..])
    );
    s.data_finished();
    assert_eq!(s.state(), State::Ready);
}

#[test]
fn limits_size_and_recipients() {
    let mut s = session();
    s.command(b"EHLO c");
    assert_eq!(
        code(&s.command(b"MAIL FROM:<a@example.com> SIZE=5000")),
        552
    );
    accept_mail(&mut s, b"MAIL FROM:<>");
    accept_rcpt(&mut s, b"RCPT TO:<b@partner.org>");
    accept_rcpt(&mut s, b"RCPT TO:<c@partner.org>");
    let Step::Reply(r) = s.command(b"RCPT TO:<d@partner.org>") else {
        panic!()
    };
    assert_eq!(r.to_bytes(), b"452 4.5.3 Too many recipients\r\n");
    let long = [b"NOOP ".as_slice(), &[b'x'; 600]].concat();
    let Step::Reply(r) = s.command(&long) else {
        panic!()
    };
    assert_eq!((r.code, r.status), (500, Some((5, 5, 2))));
}

#[test]
fn rejected_mail_and_rcpt_keep_the_state() {
    let mut s = session();
    s.command(b"HELO c");
    let Step::Mail(m) = s.command(b"MAIL FROM:<a@example.com>") else {
        panic!()
    };
    s.mail_answered(&m, &Reply::new(550, (5, 7, 1), "no"));
    assert_eq!(s.state(), State::Ready);
    accept_mail(&mut s, b"MAIL FROM:<a@example.com>");
    let Step::Rcpt(r) = s.command(b"RCPT TO:<x@nowhere.example>") else {
        panic!()
    };
    s.rcpt_answered(&r, &Reply::new(550, (5, 1, 1), "unknown user"));
    assert_eq!(s.state(), State::Mail);
}

#[test]
fn tls_required_and_restart_after_starttls() {
    let mut s = Session::new(SessionConfig {
        tls_required: true,
        ..session().config
    });
    s.command(b"EHLO c");
    let Step::Reply(r) = s.command(b"MAIL FROM:<a@example.com>") else {
        panic!()
    };
    assert_eq!(
        r.to_bytes(),
        b"530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
    assert_eq!(code(&s.command(b"STARTTLS")), 220);
    s.tls_started();
    assert_eq!(
        code(&s.command(b"MAIL FROM:<a@example.com>")),
        503,
        "must greet again after TLS"
    );
    let Step::Reset(r) = s.command(b"EHLO c") else {
        panic!()
    };
    assert!(!String::from_utf8(r.to_bytes())
        .unwrap()
        .contains("STARTTLS"));
    accept_mail(&mut s, b"MAIL FROM:<a@example.com>");
}

#[test]
fn other_commands() {
    let mut s = session();
    assert_eq!(
        s.command(b"VRFY bob"),
        Step::Reply(Reply::new(
            252,
            (2, 5, 0),
            "Cannot VRFY user, but will accept message and attempt delivery"
        ))
    );
    assert_eq!(code(&s.command(b"NOOP")), 250);
    assert_eq!(code(&s.command(b"FOO bar")), 500);
    assert_eq!(
        code(&s.command(b"MAIL FROM:bad")),
        501,
        "syntax is checked before order"
    );
    s.command(b"EHLO c");
    assert!(matches!(code(&s.command(b"MAIL FROM:<a@b")), 501));
    assert_eq!(code(&s.command(b"RSET")), 250);
    assert!(matches!(s.command(b"QUIT"), Step::Close(_)));
    assert_eq!(s.state(), State::Closed);
}
