//! The SMTP server session as a state machine, without I/O.
//!
//! The connection loop feeds it one command line at a time and carries out
//! the [`Step`] it returns: send a reply, ask the handler (for MAIL and
//! RCPT, whose replies come from the upstream in a transparent proxy), read
//! DATA, start TLS or close. Keeping the protocol rules here, free of
//! sockets, makes every rule testable in microseconds.

use std::borrow::Cow;

use smtp_proto::{Error as ParseError, Request};

use crate::Reply;

/// Longest command line accepted, CRLF included (RFC 5321 §4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = 512;

/// What the session offers and enforces.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Name in the greeting and EHLO reply.
    pub hostname: String,
    /// Largest message, advertised with SIZE and enforced.
    pub max_message_size: usize,
    /// Recipients per transaction.
    pub max_recipients: usize,
    /// STARTTLS is offered.
    pub starttls: bool,
    /// MAIL before STARTTLS is refused with `530 5.7.0`.
    pub tls_required: bool,
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before HELO/EHLO.
    Connected,
    /// Greeted, no transaction.
    Ready,
    /// MAIL accepted.
    Mail,
    /// At least one RCPT accepted.
    Rcpt,
    /// Between 354 and the end of DATA.
    Data,
    /// QUIT answered.
    Closed,
}

/// A MAIL command for the handler: the parsed sender, and the command as
/// the client wrote it, split into the path and the parameters (each one
/// of SPEC §6's), so a relay forwards the address exactly as received and
/// each parameter only where the next hop offers its extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRequest {
    /// Reverse-path, `""` for the null sender.
    pub from: String,
    /// The SIZE parameter, 0 if absent.
    pub size: usize,
    /// The command line without CRLF.
    pub line: String,
    /// `MAIL FROM:<...>` as written, without parameters.
    pub path: String,
    /// The parameters as written (`SIZE=123`, `BODY=8BITMIME`, ...).
    pub params: Vec<String>,
}

/// A RCPT command for the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptRequest {
    /// Forward-path.
    pub to: String,
    /// The command line without CRLF.
    pub line: String,
    /// `RCPT TO:<...>` as written, without parameters.
    pub path: String,
    /// The parameters as written (`NOTIFY=...`, `ORCPT=...`).
    pub params: Vec<String>,
}

/// ESMTP parameters MAIL accepts (SPEC §6), with the extension that carries
/// each to the next hop.
pub const MAIL_PARAMETERS: &[(&str, &str)] = &[
    ("SIZE", "SIZE"),
    ("BODY", "8BITMIME"),
    ("SMTPUTF8", "SMTPUTF8"),
    ("RET", "DSN"),
    ("ENVID", "DSN"),
];

/// ESMTP parameters RCPT accepts, with their extension.
pub const RCPT_PARAMETERS: &[(&str, &str)] = &[("NOTIFY", "DSN"), ("ORCPT", "DSN")];

/// Splits `MAIL FROM:<a b@c> SIZE=1` into the command with its path and
/// the parameters after it. The path ends at the `>` that closes it,
/// outside quotes (a quoted local part may hold spaces and `>`).
pub fn split_parameters(line: &str) -> (&str, Vec<&str>) {
    let bytes = line.as_bytes();
    let end = match line.find('<') {
        Some(open) => {
            let mut quoted = false;
            let mut escaped = false;
            let mut close = None;
            for (i, &b) in bytes.iter().enumerate().skip(open + 1) {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => quoted = !quoted,
                    b'>' if !quoted => {
                        close = Some(i + 1);
                        break;
                    }
                    _ => {}
                }
            }
            close.unwrap_or(line.len())
        }
        // `MAIL FROM:a@b` (no angle brackets): the path ends at a space.
        None => {
            let colon = line.find(':').map_or(0, |c| c + 1);
            let start = colon + (line.len() - colon - line[colon..].trim_start().len());
            line[start..].find(' ').map_or(line.len(), |s| start + s)
        }
    };
    (&line[..end], line[end..].split_ascii_whitespace().collect())
}

/// A MAIL or RCPT line as a request carries it: the address as written
/// (`parsed` when the path has no brackets), the path, and the parameters,
/// each checked against `allowed`.
fn parameters(
    line: &str,
    parsed: &str,
    allowed: &[(&str, &str)],
) -> Result<(String, String, Vec<String>), Reply> {
    let (path, params) = split_parameters(line);
    check_parameters(&params, allowed)?;
    let address = written_address(path).unwrap_or(parsed).to_owned();
    Ok((
        address,
        path.to_owned(),
        params.iter().map(|p| p.to_string()).collect(),
    ))
}

/// The address inside a path's angle brackets exactly as the client wrote
/// it (`"bob smith"@partner.org` keeps its quotes, which a parsed address
/// loses), without a source route; `None` without brackets.
fn written_address(path: &str) -> Option<&str> {
    let open = path.find('<')?;
    let inner = path[open + 1..].strip_suffix('>')?;
    // `<@relay1,@relay2:user@host>`: the route is obsolete (RFC 5321 C).
    let inner = match inner.strip_prefix('@') {
        Some(_) => inner.split_once(':').map_or(inner, |(_, a)| a),
        None => inner,
    };
    Some(inner.trim())
}

/// The first parameter of `params` not in `allowed`, or a BODY value other
/// than 7BIT/8BITMIME, as the `555 5.5.4` reply.
fn check_parameters(params: &[&str], allowed: &[(&str, &str)]) -> Result<(), Reply> {
    for param in params {
        let (keyword, value) = param.split_once('=').unwrap_or((param, ""));
        let known = allowed.iter().any(|(k, _)| k.eq_ignore_ascii_case(keyword));
        let valid = match keyword.to_ascii_uppercase().as_str() {
            "BODY" => value.eq_ignore_ascii_case("7BIT") || value.eq_ignore_ascii_case("8BITMIME"),
            "RET" => value.eq_ignore_ascii_case("FULL") || value.eq_ignore_ascii_case("HDRS"),
            "SMTPUTF8" => value.is_empty(),
            _ => true,
        };
        if !known || !valid {
            let shown: String = param.chars().take(40).collect();
            return Err(reply(
                555,
                (5, 5, 4),
                &format!("Parameter {shown} not supported"),
            ));
        }
    }
    Ok(())
}

/// What the connection loop must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the reply.
    Reply(Reply),
    /// Send the reply and close the connection.
    Close(Reply),
    /// Ask the handler, send its reply, then call [`Session::mail_answered`].
    Mail(MailRequest),
    /// Ask the handler, send its reply, then call [`Session::rcpt_answered`].
    Rcpt(RcptRequest),
    /// Send `354`, then read the message with a [`crate::DataReader`].
    Data(Reply),
    /// Tell the handler the transaction is abandoned, and send the reply.
    Reset(Reply),
    /// Send the reply (`220`), then start TLS and call [`Session::tls_started`].
    StartTls(Reply),
    /// Give the handler these XFORWARD attributes (names upper-cased,
    /// values xtext-decoded), then send `250`.
    Xforward(Vec<(String, String)>),
}

/// XFORWARD attributes this server accepts (Postfix's `XFORWARD_README`).
pub const XFORWARD_ATTRIBUTES: &[&str] =
    &["NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"];

/// Undoes xtext (RFC 3461 §4): `+XX` is the byte with that hex value.
pub fn xtext_decode(value: &str) -> String {
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'+' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// xtext (RFC 3461 §4): `+`, `=`, controls and non-ASCII as `+XX`.
pub fn xtext_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// One client session.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    tls: bool,
    /// The client may send XFORWARD (an MTA in front of us).
    xforward: bool,
    helo: Option<String>,
    from: Option<String>,
    recipients: Vec<String>,
}

fn reply(code: u16, status: (u8, u16, u16), text: &str) -> Reply {
    Reply::new(code, status, text)
}

impl Session {
    /// A new session (plain text until STARTTLS).
    pub fn new(config: SessionConfig) -> Session {
        Session {
            config,
            state: State::Connected,
            tls: false,
            xforward: false,
            helo: None,
            from: None,
            recipients: Vec::new(),
        }
    }

    /// The `220` greeting.
    pub fn greeting(&self) -> Reply {
        Reply {
            code: 220,
            status: None,
            lines: vec![format!("{} ESMTP Sluice", self.config.hostname)],
        }
    }

    /// Where the session is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The HELO/EHLO name.
    pub fn helo(&self) -> Option<&str> {
        self.helo.as_deref()
    }

    /// The current transaction's sender and accepted recipients.
    pub fn envelope(&self) -> (Option<&str>, &[String]) {
        (self.from.as_deref(), &self.recipients)
    }

    /// Whether TLS is active.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Lets this client send XFORWARD (and advertises it).
    pub fn allow_xforward(&mut self) {
        self.xforward = true;
    }

    /// Handles one command line (with or without its CRLF).
    pub fn command(&mut self, line: &[u8]) -> Step {
        if line.len() > MAX_COMMAND_LINE {
            return Step::Reply(reply(500, (5, 5, 2), "Line too long"));
        }
        let mut owned = line.to_vec();
        if !owned.ends_with(b"\n") {
            owned.extend_from_slice(b"\r\n");
        }
        let text = String::from_utf8_lossy(&owned)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        // smtp-proto does not know XFORWARD (a Postfix extension).
        if text
            .get(..9)
            .is_some_and(|k| k.eq_ignore_ascii_case("XFORWARD "))
        {
            return self.xforward(&text[9..]);
        }
        let parsed = Request::parse(&mut owned.iter());
        match parsed {
            Ok(request) => self.request(request, text),
            Err(e) => Step::Reply(parse_error(e)),
        }
    }

    fn request(&mut self, request: Request<Cow<'_, str>>, line: String) -> Step {
        match request {
            Request::Ehlo { host } => {
                self.greeted(host.into_owned());
                let mut lines = vec![
                    self.config.hostname.clone(),
                    "PIPELINING".into(),
                    format!("SIZE {}", self.config.max_message_size),
                ];
                lines.extend([
                    "8BITMIME".into(),
                    "SMTPUTF8".into(),
                    "DSN".into(),
                    "ENHANCEDSTATUSCODES".into(),
                ]);
                if self.config.starttls && !self.tls {
                    lines.push("STARTTLS".into());
                }
                if self.xforward {
                    lines.push("XFORWARD NAME ADDR PROTO HELO".into());
                }
                Step::Reset(Reply {
                    code: 250,
                    status: None,
                    lines,
                })
            }
            Request::Helo { host } => {
                self.greeted(host.into_owned());
                Step::Reset(Reply {
                    code: 250,
                    status: None,
                    lines: vec![self.config.hostname.clone()],
                })
            }
            Request::Lhlo { .. } => Step::Reply(reply(502, (5, 5, 1), "LHLO is for LMTP")),
            Request::Mail { from } => {
                if self.state == State::Connected {
                    return Step::Reply(reply(503, (5, 5, 1), "Send HELO or EHLO first"));
                }
                if self.state != State::Ready {
                    return Step::Reply(reply(503, (5, 5, 1), "Sender already given"));
                }
                if self.config.tls_required && !self.tls {
                    return Step::Reply(reply(
                        530,
                        (5, 7, 0),
                        "Must issue a STARTTLS command first",
                    ));
                }
                if from.size > self.config.max_message_size {
                    return Step::Reply(reply(
                        552,
                        (5, 3, 4),
                        "Message size exceeds fixed maximum message size",
                    ));
                }
                let (sender, path, params) = match parameters(&line, &from.address, MAIL_PARAMETERS)
                {
                    Ok(parts) => parts,
                    Err(r) => return Step::Reply(r),
                };
                Step::Mail(MailRequest {
                    from: sender,
                    size: from.size,
                    line,
                    path,
                    params,
                })
            }
            Request::Rcpt { to } => {
                if !matches!(self.state, State::Mail | State::Rcpt) {
                    return Step::Reply(reply(503, (5, 5, 1), "Need MAIL before RCPT"));
                }
                if self.recipients.len() >= self.config.max_recipients {
                    return Step::Reply(reply(452, (4, 5, 3), "Too many recipients"));
                }
                let (recipient, path, params) =
                    match parameters(&line, &to.address, RCPT_PARAMETERS) {
                        Ok(parts) => parts,
                        Err(r) => return Step::Reply(r),
                    };
                Step::Rcpt(RcptRequest {
                    to: recipient,
                    line,
                    path,
                    params,
                })
            }
            Request::Data => match self.state {
                State::Rcpt => {
                    self.state = State::Data;
                    Step::Data(reply(354, (2, 0, 0), "End data with <CR><LF>.<CR><LF>"))
                }
                State::Mail => Step::Reply(reply(554, (5, 5, 1), "No valid recipients")),
                _ => Step::Reply(reply(503, (5, 5, 1), "Need RCPT before DATA")),
            },
            Request::Rset => {
                self.reset();
                Step::Reset(reply(250, (2, 0, 0), "OK"))
            }
            Request::Noop { .. } => Step::Reply(reply(250, (2, 0, 0), "OK")),
            Request::Vrfy { .. } => Step::Reply(reply(
                252,
                (2, 5, 0),
                "Cannot VRFY user, but will accept message and attempt delivery",
            )),
            Request::Quit => {
                self.state = State::Closed;
                Step::Close(reply(221, (2, 0, 0), "Bye"))
            }
            Request::StartTls => {
                if !self.config.starttls {
                    Step::Reply(reply(502, (5, 5, 1), "STARTTLS not available"))
                } else if self.tls {
                    Step::Reply(reply(503, (5, 5, 1), "TLS already active"))
                } else {
                    Step::StartTls(reply(220, (2, 0, 0), "Ready to start TLS"))
                }
            }
            Request::Bdat { .. } | Request::Burl { .. } => {
                Step::Reply(reply(502, (5, 5, 1), "BDAT is not supported, use DATA"))
            }
            Request::Auth { .. } => Step::Reply(reply(502, (5, 5, 1), "AUTH is not offered")),
            Request::Expn { .. }
            | Request::Help { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. } => Step::Reply(reply(502, (5, 5, 1), "Command not implemented")),
        }
    }

    /// `XFORWARD attr=value ...` (Postfix `XFORWARD_README`).
    fn xforward(&mut self, args: &str) -> Step {
        if !self.xforward {
            return Step::Reply(reply(550, (5, 7, 0), "XFORWARD not permitted"));
        }
        if !matches!(self.state, State::Ready | State::Connected) {
            return Step::Reply(reply(503, (5, 5, 1), "Mail transaction in progress"));
        }
        let mut attributes = Vec::new();
        for pair in args.split_ascii_whitespace() {
            let Some((name, value)) = pair.split_once('=') else {
                return Step::Reply(reply(501, (5, 5, 4), "Bad XFORWARD attribute syntax"));
            };
            let name = name.to_ascii_uppercase();
            if !XFORWARD_ATTRIBUTES.contains(&name.as_str()) {
                return Step::Reply(reply(501, (5, 5, 4), "Bad XFORWARD attribute name"));
            }
            attributes.push((name, xtext_decode(value)));
        }
        if attributes.is_empty() {
            return Step::Reply(reply(501, (5, 5, 4), "Syntax: XFORWARD attribute=value..."));
        }
        Step::Xforward(attributes)
    }

    fn greeted(&mut self, host: String) {
        self.helo = Some(host);
        self.reset();
    }

    /// Drops the transaction (RSET, EHLO, end of DATA).
    pub fn reset(&mut self) {
        self.from = None;
        self.recipients.clear();
        if self.state != State::Connected || self.helo.is_some() {
            self.state = State::Ready;
        }
    }

    /// Records the handler's reply to MAIL.
    pub fn mail_answered(&mut self, request: &MailRequest, answer: &Reply) {
        if answer.is_positive() {
            self.from = Some(request.from.clone());
            self.state = State::Mail;
        }
    }

    /// Records the handler's reply to RCPT.
    pub fn rcpt_answered(&mut self, request: &RcptRequest, answer: &Reply) {
        if answer.is_positive() {
            self.recipients.push(request.to.clone());
            self.state = State::Rcpt;
        }
    }

    /// The message was read and answered: the transaction is over.
    pub fn data_finished(&mut self) {
        self.reset();
    }

    /// TLS is up: the session starts over as RFC 3207 requires (the client
    /// must greet again; nothing said before counts).
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.helo = None;
        self.from = None;
        self.recipients.clear();
        self.state = State::Connected;
    }
}

fn parse_error(e: ParseError) -> Reply {
    match e {
        ParseError::UnknownCommand => reply(500, (5, 5, 2), "Syntax error, command unrecognized"),
        ParseError::InvalidSenderAddress => reply(501, (5, 1, 7), "Bad sender address syntax"),
        ParseError::InvalidRecipientAddress => {
            reply(501, (5, 1, 3), "Bad recipient address syntax")
        }
        ParseError::SyntaxError { syntax } => reply(501, (5, 5, 4), &format!("Syntax: {syntax}")),
        ParseError::InvalidParameter { param } => {
            reply(501, (5, 5, 4), &format!("Invalid parameter {param}"))
        }
        ParseError::UnsupportedParameter { param } => {
            reply(555, (5, 5, 4), &format!("Unsupported parameter {param}"))
        }
        ParseError::NeedsMoreData { .. }
        | ParseError::ResponseTooLong
        | ParseError::InvalidResponse { .. } => reply(500, (5, 5, 2), "Syntax error"),
    }
}

#[cfg(test)]
mod tests;
