//! SMTP for Sluice: the server session, DATA framing and replies, with no
//! DLP inside.
//!
//! The session is a state machine without I/O ([`Session`]): a connection
//! loop feeds it command lines and carries out the [`Step`] it returns.
//! MAIL and RCPT are handed to the caller because in a transparent relay
//! their replies are the upstream's. DATA is read by [`DataReader`], which
//! ends a message only at `CRLF . CRLF`, undoes dot-stuffing, bounds memory
//! by the size limit, and refuses (after reading to the real end) any data
//! with a bare CR or LF: the SMTP smuggling defence. [`serve`] runs
//! sessions on tokio for a [`Handler`] (the proxy's DLP and relay logic),
//! with STARTTLS from [`tls::server_config`] (optionally verifying client
//! certificates: the handler hears of a verified one and decides, at MAIL,
//! whether to admit the client), and a bounded grace for transactions in
//! flight at shutdown. No client holds resources for ever: every read and
//! write has `command_timeout`, the session `session_timeout`, one address
//! at most `max_connections_per_client` connections, and the bytes all
//! sessions hold are capped by an [`inflight::InflightBudget`] (DATA waits
//! for room, then `451 4.3.1`). MAIL and RCPT parameters are checked
//! against SPEC §6's list ([`MAIL_PARAMETERS`], [`RCPT_PARAMETERS`]) and
//! handed over with the path as the client wrote it. [`UpstreamClient`] is our own
//! relay client: `mail-send` drops the reply to the end of DATA and alters
//! the data, and a transparent relay needs both exact. It reads replies as
//! bytes, bounded in line length and count (non-UTF-8 text as Latin-1, so a
//! 5xx stays a 5xx), fails over across addresses on a bad greeting,
//! STARTTLS or AUTH, and authenticates only inside TLS unless told
//! otherwise.
//!
//! ```
//! use sluice_smtp::{Reply, Session, SessionConfig, Step};
//!
//! let mut s = Session::new(SessionConfig {
//!     hostname: "dlp.example.com".into(),
//!     max_message_size: 50 << 20,
//!     max_recipients: 1000,
//!     starttls: false,
//!     tls_required: false,
//! });
//! s.command(b"EHLO client.example\r\n");
//! let Step::Mail(mail) = s.command(b"MAIL FROM:<alice@example.com> SIZE=1200\r\n") else { panic!() };
//! assert_eq!(mail.from, "alice@example.com");
//! s.mail_answered(&mail, &Reply::new(250, (2, 1, 0), "OK")); // the upstream's reply
//! ```
#![deny(missing_docs)]

mod client;
pub mod data;
pub mod inflight;
pub mod proxy_protocol;
mod reply;
mod server;
mod session;
mod stream;
pub mod tls;

pub use client::{Auth, UpstreamClient, UpstreamError};
pub use data::{dot_stuff, DataProblem, DataReader, DataStatus, DotStuffer};
pub use reply::Reply;
pub use server::{serve, Connection, ConnectionHandler, Handler, ServerConfig, Transaction};
pub use session::{
    split_parameters, xtext_decode, xtext_encode, MailRequest, RcptRequest, Session, SessionConfig,
    State, Step, MAIL_PARAMETERS, MAX_COMMAND_LINE, RCPT_PARAMETERS, XFORWARD_ATTRIBUTES,
};
