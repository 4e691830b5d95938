//! Store calls from async code. SQLite is synchronous, so each call runs
//! on tokio's blocking pool, off the workers that serve SMTP, the milter
//! and HTTP.

use sluice_store::StoreError;

/// Runs `f` on the blocking pool. Its error, or the pool's (a panic in the
/// call), comes back as text for the caller to present in its own form: a
/// JSON error, an HTML page, a quarantine error.
pub(crate) async fn run<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}
