//! A client connection's upstream session, and the pool of idle ones.

use std::time::{Duration, Instant};

use sluice_smtp::{Reply, UpstreamClient};

/// Idle upstream sessions kept for the next client: connect, greeting,
/// EHLO, STARTTLS and AUTH are the expensive end of a relay, and most
/// senders use one connection per message. Bounded in number and age, so
/// idle clients never hold upstream sessions and the upstream's own idle
/// timeout is never reached.
#[derive(Default)]
pub struct UpstreamPool {
    idle: std::sync::Mutex<Vec<(UpstreamClient, Instant)>>,
}

/// Most idle upstream sessions kept.
const POOL_MAX: usize = 32;
/// Idle upstream sessions older than this are closed, not reused.
const POOL_IDLE: Duration = Duration::from_secs(30);

impl UpstreamPool {
    /// The most recently used session still fresh enough; stale ones are
    /// closed on the way.
    fn take(&self) -> Option<UpstreamClient> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((upstream, since)) = idle.pop() {
            if since.elapsed() < POOL_IDLE {
                return Some(upstream);
            }
            tokio::spawn(upstream.quit());
        }
        None
    }

    /// Keeps a session (between transactions) for reuse; gives it back
    /// when the pool is full.
    fn put(&self, upstream: UpstreamClient) -> Option<UpstreamClient> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= POOL_MAX {
            return Some(upstream);
        }
        idle.push((upstream, Instant::now()));
        None
    }
}

/// The reply when no upstream session can serve the client.
pub fn upstream_unavailable() -> Reply {
    Reply::new(451, (4, 4, 1), "Upstream unavailable, try again later")
}

/// One client connection's upstream session: the client (opened at the
/// first MAIL or taken from the pool, reused for later transactions) and
/// whether a transaction is open on it.
///
/// Invariant: `in_transaction` is false whenever `client` is `None`; a
/// session whose state is unknown (an I/O error, a `421`, a failed `RSET`)
/// is dropped rather than reused.
#[derive(Default)]
pub struct UpstreamSession {
    client: Option<UpstreamClient>,
    in_transaction: bool,
}

impl UpstreamSession {
    /// Whether a session is open.
    pub fn is_open(&self) -> bool {
        self.client.is_some()
    }

    /// Uses `client` as the session.
    pub fn open_with(&mut self, client: UpstreamClient) {
        self.client = Some(client);
        self.in_transaction = false;
    }

    /// Takes an idle session from `pool` when none is open; true when one
    /// was taken.
    pub fn take_from(&mut self, pool: &UpstreamPool) -> bool {
        if self.client.is_some() {
            return false;
        }
        self.client = pool.take();
        self.client.is_some()
    }

    /// Marks a transaction open (or done) on the session.
    pub fn set_in_transaction(&mut self, open: bool) {
        self.in_transaction = open && self.client.is_some();
    }

    /// The arguments of an ESMTP extension the upstream offers (`XFORWARD
    /// NAME ADDR` → `["NAME", "ADDR"]`); `None` when it does not.
    pub fn extension_args(&self, extension: &str) -> Option<Vec<String>> {
        let client = self.client.as_ref()?;
        client.extensions.iter().find_map(|e| {
            let mut words = e.split_ascii_whitespace();
            words
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(extension))
                .then(|| words.map(str::to_owned).collect())
        })
    }

    /// Whether the upstream offers an ESMTP extension.
    pub fn offers(&self, extension: &str) -> bool {
        self.client.as_ref().is_some_and(|u| {
            u.extensions.iter().any(|e| {
                e.split_ascii_whitespace()
                    .next()
                    .is_some_and(|k| k.eq_ignore_ascii_case(extension))
            })
        })
    }

    /// Sends one command; a broken session (I/O error or `421`) is dropped
    /// and the client told to retry.
    pub async fn command(&mut self, line: &str) -> Reply {
        let Some(upstream) = self.client.as_mut() else {
            return upstream_unavailable();
        };
        match upstream.command(line).await {
            Ok(r) if r.code != 421 => r,
            _ => {
                self.drop_session();
                upstream_unavailable()
            }
        }
    }

    /// Sends the message data of the open transaction. `Err` when the
    /// session broke (it is dropped). A refusal leaves the transaction
    /// reset, or the session dropped when it cannot be.
    pub async fn data(&mut self, chunks: &[&[u8]]) -> Result<Reply, ()> {
        self.in_transaction = false;
        let Some(upstream) = self.client.as_mut() else {
            return Err(());
        };
        match upstream.data(chunks).await {
            Ok(r) if r.is_positive() => Ok(r),
            Ok(r) => {
                // Refused at DATA (the transaction may still be open
                // upstream) or at the final dot: reset before this session
                // serves another transaction or client.
                if upstream.command("RSET").await.is_err() {
                    self.drop_session();
                }
                Ok(r)
            }
            Err(_) => {
                self.drop_session();
                Err(())
            }
        }
    }

    /// Abandons the open transaction, if any (`RSET`).
    pub async fn reset(&mut self) {
        if self.in_transaction {
            if let Some(u) = self.client.as_mut() {
                if u.command("RSET").await.is_err() {
                    self.drop_session();
                }
            }
        }
        self.in_transaction = false;
    }

    /// Hands the session to `pool` for the next client (after resetting an
    /// abandoned transaction), or closes it when the pool is full.
    pub async fn release(&mut self, pool: &UpstreamPool) {
        self.reset().await;
        let Some(upstream) = self.client.take() else {
            return;
        };
        if let Some(upstream) = pool.put(upstream) {
            upstream.quit().await;
        }
    }

    fn drop_session(&mut self) {
        self.client = None;
        self.in_transaction = false;
    }
}
