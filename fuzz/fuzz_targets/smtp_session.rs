//! The SMTP session state machine and DATA framing on byte streams: lines
//! go to the session; after a 354 the rest goes to the DATA reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_smtp::{DataReader, DataStatus, Session, SessionConfig, Step};

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let mut session = Session::new(SessionConfig {
        hostname: "fuzz.example".into(),
        max_message_size: 1 << 16,
        max_recipients: 10,
        starttls: true,
        tls_required: false,
    });
    // XFORWARD too, as from an MTA in front.
    session.allow_xforward();
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |p| p + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        match session.command(line) {
            Step::Close(_) => return,
            Step::Mail(m) => session.mail_answered(&m, &sluice_smtp::Reply::new(250, (2, 1, 0), "ok")),
            Step::Rcpt(r) => session.rcpt_answered(&r, &sluice_smtp::Reply::new(250, (2, 1, 5), "ok")),
            Step::Data(_) => {
                let mut reader = DataReader::new(1 << 16);
                match reader.feed(rest) {
                    DataStatus::More => return,
                    _ => {
                        session.data_finished();
                        return;
                    }
                }
            }
            _ => {}
        }
    }
});
