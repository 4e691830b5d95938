//! The incident webhook (`[notify] webhook`): each incident POSTed as §8's
//! JSON. With `webhook_secret_file`, each post carries
//! `X-Sluice-Timestamp: <epoch seconds>` and `X-Sluice-Signature:
//! sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` (SPEC §8): the
//! timestamp is signed, so a captured post cannot be replayed later.
//!
//! One task sends from a bounded queue, with a timeout per attempt and
//! retries with backoff; a full queue or a final failure is logged and
//! counted, never a reason to hold mail.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::retry::{Attempt, Outcome};

/// Waits before each retry.
const RETRIES: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
];

/// One attempt, connection to response.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Incidents waiting to be posted at most.
const QUEUE: usize = 10_000;

/// Queues incidents for the posting task.
#[derive(Clone)]
pub struct Webhook {
    queue: mpsc::Sender<Vec<u8>>,
    metrics: Arc<Metrics>,
}

/// The endpoint and how to reach it.
struct Endpoint {
    uri: hyper::Uri,
    secret: Option<Vec<u8>>,
    tls: Arc<rustls::ClientConfig>,
}

/// TLS for an `https://` webhook: certificates verified against the
/// system's roots (`SSL_CERT_FILE` / `SSL_CERT_DIR` override them).
pub fn https_client_config() -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot parse is skipped, not fatal.
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Webhook {
    /// Checks the URL and starts the posting task (inside the runtime).
    pub fn start(
        url: &str,
        secret: Option<Vec<u8>>,
        tls: Arc<rustls::ClientConfig>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Webhook> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| anyhow::anyhow!("notify.webhook {url:?}: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            anyhow::bail!("notify.webhook {url:?}: expected an http:// or https:// URL");
        }
        let (queue, receiver) = mpsc::channel(QUEUE);
        let endpoint = Endpoint { uri, secret, tls };
        tokio::spawn(endpoint.run(receiver, metrics.clone()));
        Ok(Webhook { queue, metrics })
    }

    /// Queues one incident. Never waits.
    pub fn post(&self, incident: &sluice_store::Incident) {
        let body = serde_json::to_vec(incident).unwrap_or_default();
        if self.queue.try_send(body).is_err() {
            self.metrics.webhooks.with_label_values(&["dropped"]).inc();
            tracing::warn!("webhook for incident {} dropped: queue full", incident.id);
        }
    }
}

/// `X-Sluice-Signature` of `body` sent at `timestamp` (epoch seconds):
/// `sha256=` and the lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hmac_hex(secret, &[timestamp.to_string().as_bytes(), b".", body])
    )
}

/// Lowercase hex HMAC-SHA256 of the concatenated `parts` under `secret`.
fn hmac_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Endpoint {
    /// Posts each incident with its own retry schedule ([`crate::retry`]).
    async fn run(self, receiver: mpsc::Receiver<Vec<u8>>, metrics: Arc<Metrics>) {
        let endpoint = Arc::new(self);
        let uri = endpoint.uri.clone();
        crate::retry::run(
            receiver,
            &RETRIES,
            move |body: Vec<u8>| {
                let endpoint = endpoint.clone();
                async move {
                    let result = tokio::time::timeout(ATTEMPT_TIMEOUT, endpoint.post(&body))
                        .await
                        .unwrap_or_else(|_| Err("timed out".into()));
                    let attempt = match result {
                        Ok(()) => Attempt::Done,
                        Err(e) => {
                            tracing::warn!("webhook {}: {e}; will retry", endpoint.uri);
                            Attempt::Retry(e)
                        }
                    };
                    (body, attempt)
                }
            },
            |_, outcome| {
                let result = match outcome {
                    Outcome::Sent => "sent",
                    Outcome::Failed(e) => {
                        tracing::warn!("webhook {uri} failed: {e}");
                        "failed"
                    }
                    Outcome::Dropped(e) => {
                        tracing::warn!("webhook {uri}: post dropped ({e}): too many waiting");
                        "dropped"
                    }
                };
                metrics.webhooks.with_label_values(&[result]).inc();
            },
        )
        .await
    }

    async fn post(&self, body: &[u8]) -> Result<(), String> {
        let host = self.uri.host().unwrap_or_default();
        let https = self.uri.scheme_str() == Some("https");
        let port = self.uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        if https {
            let name = rustls_pki_types::ServerName::try_from(host.to_owned())
                .map_err(|e| format!("bad host name: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            self.exchange(tls, body).await
        } else {
            self.exchange(tcp, body).await
        }
    }

    async fn exchange<S>(&self, stream: S, body: &[u8]) -> Result<(), String>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        // The connection future drives the socket; it ends with the request.
        tokio::spawn(connection);
        let authority = self.uri.authority().map(|a| a.as_str()).unwrap_or_default();
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "sluice-proxy");
        if let Some(secret) = &self.secret {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            request = request
                .header("X-Sluice-Timestamp", now.to_string())
                .header("X-Sluice-Signature", signature(secret, now, body));
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        // Read the body so the peer sees a complete exchange.
        let _ = response.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_rfc4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::hmac_hex(b"Jefe", &[b"what do ya ", b"want for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // The timestamp is part of what is signed.
        let a = super::signature(b"k", 1_700_000_000, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, super::signature(b"k", 1_700_000_001, b"{}"));
        assert_eq!(
            a,
            format!("sha256={}", super::hmac_hex(b"k", &[b"1700000000.{}"]))
        );
    }
}
