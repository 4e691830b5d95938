//! Where accepted mail goes, and whole transactions sent on our own behalf
//! (quarantine releases, sender notifications) through the same upstream
//! path as relayed mail.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sluice_smtp::{Reply, UpstreamClient};

/// Where accepted mail goes.
pub enum Destination {
    /// Relay to these `host:port`s, tried in order.
    Relay {
        addresses: Vec<String>,
        timeout: Duration,
        /// STARTTLS to the upstream.
        tls: sluice_smtp::tls::UpstreamTls,
        /// AUTH credentials, if the upstream wants them.
        auth: Option<sluice_smtp::Auth>,
    },
    /// Deliver into this Maildir (written and fsynced).
    Maildir(PathBuf),
}

/// Why a transaction of our own did not go through.
#[derive(Debug)]
pub enum DeliveryError {
    /// Worth retrying: connection trouble or a 4xx reply.
    Transient(String),
    /// The upstream refused for good (5xx).
    Permanent(String),
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::Transient(s) => write!(f, "{s} (temporary)"),
            DeliveryError::Permanent(s) => write!(f, "{s}"),
        }
    }
}

impl Destination {
    /// Opens an upstream session (connect, STARTTLS as configured, AUTH).
    pub async fn open(&self, helo: &str) -> Result<UpstreamClient, sluice_smtp::UpstreamError> {
        let Destination::Relay {
            addresses,
            timeout,
            tls,
            auth,
        } = self
        else {
            unreachable!("open is only called for relay destinations");
        };
        let upstream =
            UpstreamClient::connect_with(addresses, helo, *timeout, tls, auth.as_ref()).await?;
        Ok(upstream)
    }

    /// Sends one whole transaction in a session of its own: `sender` (""
    /// for `MAIL FROM:<>`), every recipient, the message (`parts` joined).
    /// Succeeds with the upstream's reply to the data when at least one
    /// recipient was accepted and the data too (the refused ones named in
    /// an extra line); otherwise fails, for good only when every refusal
    /// was a 5xx. [`Destination::send_each`] with the replies summed up.
    pub async fn send(
        &self,
        helo: &str,
        id: &str,
        sender: &str,
        recipients: &[String],
        parts: &[&[u8]],
    ) -> Result<Reply, DeliveryError> {
        let replies = self
            .send_each(helo, id, sender, recipients, parts)
            .await
            .map_err(DeliveryError::Transient)?;
        let (delivered, refused): (Vec<_>, Vec<_>) =
            replies.into_iter().partition(|r| r.reply.is_positive());
        let named = refused
            .iter()
            .map(|r| format!("{}: {}", r.address, r.reply))
            .collect::<Vec<_>>()
            .join("; ");
        match delivered.into_iter().next() {
            Some(accepted) => {
                let mut reply = accepted.reply;
                if !refused.is_empty() {
                    reply.lines.push(format!("not delivered to: {named}"));
                }
                Ok(reply)
            }
            None if refused.iter().any(|r| r.reply.code < 500) => Err(DeliveryError::Transient(
                format!("upstream refused ({named})"),
            )),
            None => Err(DeliveryError::Permanent(format!(
                "upstream refused ({named})"
            ))),
        }
    }
}

/// What one recipient of a release got.
#[derive(Debug, Clone)]
pub struct RecipientReply {
    /// The address, as held.
    pub address: String,
    /// The upstream's reply to its RCPT, or to the data when RCPT was
    /// accepted.
    pub reply: Reply,
}

impl Destination {
    /// Sends one transaction and reports each recipient's outcome (SPEC §8
    /// releases): refused RCPTs keep their own reply, accepted ones get the
    /// reply to the data. `Err` only when no upstream session could be had
    /// or it broke (nothing is known to be delivered).
    pub async fn send_each(
        &self,
        helo: &str,
        id: &str,
        sender: &str,
        recipients: &[String],
        parts: &[&[u8]],
    ) -> Result<Vec<RecipientReply>, String> {
        if let Destination::Maildir(dir) = self {
            deliver_maildir(dir, id, parts).map_err(|e| format!("local delivery: {e}"))?;
            let delivered = Reply::new(250, (2, 0, 0), format!("delivered {id}"));
            return Ok(same_reply(recipients, &delivered));
        }
        let mut upstream = self.open(helo).await.map_err(|e| e.to_string())?;
        let result = per_recipient(&mut upstream, sender, recipients, parts).await;
        upstream.quit().await;
        result.map_err(|e| e.to_string())
    }
}

async fn per_recipient(
    upstream: &mut UpstreamClient,
    sender: &str,
    recipients: &[String],
    parts: &[&[u8]],
) -> Result<Vec<RecipientReply>, sluice_smtp::UpstreamError> {
    let mail = upstream
        .command(&mail_command(upstream, sender, recipients, parts))
        .await?;
    if !mail.is_positive() {
        return Ok(same_reply(recipients, &mail));
    }
    let mut out = Vec::with_capacity(recipients.len());
    let mut accepted = Vec::new();
    for (i, r) in recipients.iter().enumerate() {
        let reply = upstream.command(&format!("RCPT TO:{}", path_of(r))).await?;
        if reply.is_positive() {
            accepted.push(i);
        }
        out.push(RecipientReply {
            address: r.clone(),
            reply,
        });
    }
    if accepted.is_empty() {
        let _ = upstream.command("RSET").await;
        return Ok(out);
    }
    let data = upstream.data(parts).await?;
    if !data.is_positive() {
        let _ = upstream.command("RSET").await;
    }
    for i in accepted {
        out[i].reply = data.clone();
    }
    Ok(out)
}

/// Every recipient with the one reply that decided them all.
fn same_reply(recipients: &[String], reply: &Reply) -> Vec<RecipientReply> {
    recipients
        .iter()
        .map(|r| RecipientReply {
            address: r.clone(),
            reply: reply.clone(),
        })
        .collect()
}

/// `<address>` for a MAIL or RCPT command; an address already written as a
/// path (`<"bob smith"@partner.org>`) is sent exactly as it is.
fn path_of(address: &str) -> String {
    if address.starts_with('<') && address.ends_with('>') {
        address.to_owned()
    } else {
        format!("<{address}>")
    }
}

/// `MAIL FROM:<sender>` with BODY=8BITMIME and SMTPUTF8 where the message
/// needs them and the upstream offers them.
fn mail_command(
    upstream: &UpstreamClient,
    sender: &str,
    recipients: &[String],
    parts: &[&[u8]],
) -> String {
    let mut mail = format!("MAIL FROM:{}", path_of(sender));
    let eight_bit = parts.iter().any(|p| p.iter().any(|&b| b >= 0x80));
    if eight_bit && upstream.extensions.iter().any(|e| e == "8BITMIME") {
        mail.push_str(" BODY=8BITMIME");
    }
    let utf8 = !sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
    if utf8 && upstream.extensions.iter().any(|e| e == "SMTPUTF8") {
        mail.push_str(" SMTPUTF8");
    }
    mail
}

/// Our `Received:` and `X-Sluice-Scanned:` fields (and the policy's
/// header), sent before the message; the message's own bytes follow
/// unchanged, so DKIM signatures stay valid.
pub fn trace_headers(
    hostname: &str,
    helo: &str,
    client: Option<IpAddr>,
    id: &str,
    extra: Option<&str>,
) -> Vec<u8> {
    let from = match client {
        Some(ip) => format!("from {helo} ([{ip}])\r\n\t"),
        None => String::new(),
    };
    let mut out = format!(
        "Received: {from}by {hostname} (Sluice) with ESMTP id {id};\r\n\t{}\r\n",
        crate::stamps::mail_date()
    )
    .into_bytes();
    out.extend_from_slice(format!("X-Sluice-Scanned: {hostname}\r\n").as_bytes());
    if let Some(h) = extra {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub fn deliver_maildir(dir: &Path, id: &str, parts: &[&[u8]]) -> std::io::Result<()> {
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let name = format!("{id}.{}.sluice", std::process::id());
    let tmp = dir.join("tmp").join(&name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        for part in parts {
            f.write_all(part)?;
        }
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join("new").join(&name))?;
    std::fs::File::open(dir.join("new"))?.sync_all()
}
