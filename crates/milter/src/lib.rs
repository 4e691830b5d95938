//! Sluice's milter front end: the milter protocol (version 6) as Postfix
//! (`smtpd_milters`, `non_smtpd_milters`) and Sendmail
//! (`INPUT_MAIL_FILTER`) speak it, where the MTA keeps its own queue and
//! the filter only says what becomes of each message (SPEC §6).
//!
//! `protocol.rs` reads and writes packets; `server.rs` holds a connection:
//! it negotiates (version 6, header insertion, no `DATA` or unknown-command
//! steps, header values with their leading space, and no reply expected
//! but at MAIL and at the end of the message, when the MTA offers them),
//! records the client from the connect step and the macros (`{client_addr}`,
//! `i` for the queue id, `{auth_authen}`), assembles the message from the
//! header and body packets, and at the end asks a [`MilterHandler`] for a
//! [`Verdict`]. No DLP is inside: the proxy's handler inspects the message
//! and executes the same plan as its SMTP front end.
//!
//! On TCP, every read asks the kernel for an immediate acknowledgement
//! (`TCP_QUICKACK`): most steps get no reply, and an MTA that leaves
//! Nagle's algorithm on (Postfix) holds each small packet until the one
//! before is acknowledged, so delayed ACKs made the TCP milter half as fast
//! as the unix socket.
//!
//! Limits: packets over 1 MiB end the connection (the MTA then applies its
//! own default action, a tempfail in Postfix); a message over
//! `max_message_size` is answered `552 5.3.4`; its bytes are charged to the
//! shared in-flight budget as they arrive (no room: `451 4.3.1`); an MTA
//! silent past the timeout loses the connection. A refusal found at a step
//! the MTA does not wait on is given at the next step it does wait on.
#![deny(missing_docs)]

pub mod protocol;
mod server;

pub use server::{
    serve_milter, Client, Message, MilterAddress, MilterConfig, MilterHandler, Verdict,
};
