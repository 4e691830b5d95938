//! The HTTP API (SPEC §8): incidents, the quarantine, health and metrics.
//!
//! Every route but `/healthz` needs a token (`Authorization: Bearer T` or
//! `?token=T`), compared in constant time. Store calls run on the blocking
//! pool: SQLite is synchronous.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sluice_store::{Filter, IncidentQuery, Store, Timestamp};

use crate::delivery::{trace_headers, Destination, RecipientReply};
use crate::metrics::Metrics;

/// Most incidents one request returns.
const MAX_LIMIT: u32 = 1000;

/// What the API's handlers share.
pub struct Api {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub destination: Arc<Destination>,
    pub hostname: String,
    /// Accepted tokens (`[api] tokens` and `token_file`), swapped on SIGHUP.
    pub tokens: RwLock<Vec<String>>,
    /// Held messages being released now: a second release of the same
    /// message waits for none, it is refused (no double delivery).
    releasing: Mutex<HashSet<String>>,
}

impl Api {
    pub fn new(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        destination: Arc<Destination>,
        hostname: String,
        tokens: Vec<String>,
    ) -> Api {
        Api {
            store,
            metrics,
            destination,
            hostname,
            tokens: RwLock::new(tokens),
            releasing: Mutex::new(HashSet::new()),
        }
    }
}

/// `[api] tokens` plus the lines of `token_file` (blank lines and `#`
/// comments skipped).
pub fn load_tokens(tokens: &[String], file: Option<&PathBuf>) -> anyhow::Result<Vec<String>> {
    let mut all: Vec<String> = tokens.iter().filter(|t| !t.is_empty()).cloned().collect();
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("api.token_file {}: {e}", file.display()))?;
        all.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if all.is_empty() {
        anyhow::bail!("[api] has no token (tokens or token_file)");
    }
    Ok(all)
}

/// The API's routes.
pub fn router(api: Arc<Api>) -> Router {
    let protected = Router::new()
        .route("/api/v1/incidents", get(list_incidents))
        .route("/api/v1/incidents/{id}", get(one_incident))
        .route("/api/v1/incidents/{id}/message", get(incident_message))
        .route("/api/v1/quarantine", get(list_held))
        .route(
            "/api/v1/quarantine/{id}",
            axum::routing::delete(delete_held),
        )
        .route("/api/v1/quarantine/{id}/release", post(release_held))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(api.clone(), authorize));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(api)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"status": "error", "errors": [message.into()]})),
    )
        .into_response()
}

fn success(data: Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

/// SHA-256 both sides, then compare every byte: the time taken says
/// nothing about how much of a guessed token was right, or its length.
fn token_matches(candidate: &str, token: &str) -> bool {
    let a = Sha256::digest(candidate.as_bytes());
    let b = Sha256::digest(token.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

async fn authorize(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let from_header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    let from_query = Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .ok()
        .and_then(|Query(mut q)| q.remove("token"));
    let Some(candidate) = from_header.or(from_query) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "missing token (Authorization: Bearer <token> or ?token=<token>)",
        );
    };
    let tokens = api.tokens.read().unwrap_or_else(|e| e.into_inner()).clone();
    // Every token is compared, so timing does not tell which one matched.
    let matched = tokens
        .iter()
        .fold(false, |acc, t| token_matches(&candidate, t) | acc);
    if !matched {
        return error(StatusCode::UNAUTHORIZED, "invalid token");
    }
    next.run(request).await
}

/// Up when the store answers.
async fn healthz(State(api): State<Arc<Api>>) -> Response {
    let store = api.store.clone();
    match blocking(move || store.schema_version()).await {
        Ok(_) => Json(json!({"status": "ok"})).into_response(),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the incident store does not answer",
        ),
    }
}

async fn metrics(State(api): State<Arc<Api>>) -> Response {
    let store = api.store.clone();
    if let Ok(Ok((count, bytes))) =
        tokio::task::spawn_blocking(move || store.quarantine_size()).await
    {
        api.metrics.quarantine_messages.set(count as i64);
        api.metrics.quarantine_bytes.set(bytes as i64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        api.metrics.render(),
    )
        .into_response()
}

/// Runs a store call on the blocking pool; a store error is a 500 naming it.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, sluice_store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// The `GET /api/v1/incidents` parameters, checked.
pub fn incident_query(params: &HashMap<String, String>) -> Result<IncidentQuery, Vec<String>> {
    let mut errors = Vec::new();
    let mut number = |name: &str| -> Option<i64> {
        let v = params.get(name)?;
        match v.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                errors.push(format!(
                    "{name}: expected a non-negative integer, got {v:?}"
                ));
                None
            }
        }
    };
    let timeperiod = number("timeperiod");
    let starttime = number("starttime");
    let endtime = number("endtime");
    let limit = number("limit");
    let offset = number("offset");
    let filter = match Filter::parse(params.get("query").map_or("", String::as_str)) {
        Ok(f) => Some(f),
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    };
    if timeperiod.is_some() && (starttime.is_some() || endtime.is_some()) {
        errors.push("timeperiod cannot be combined with starttime/endtime".into());
    }
    if let (Some(s), Some(e)) = (starttime, endtime) {
        if e < s {
            errors.push("endtime is before starttime".into());
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let now = Timestamp::now();
    Ok(IncidentQuery {
        filter: filter.unwrap_or(Filter::All),
        since: timeperiod
            .map(|p| Timestamp(now.0 - p.saturating_mul(1000)))
            .or(starttime.map(|s| Timestamp(s.saturating_mul(1000)))),
        // endtime is inclusive of its whole second.
        until: endtime.map(|e| Timestamp(e.saturating_add(1).saturating_mul(1000))),
        limit: limit.map_or(100, |l| l.clamp(0, MAX_LIMIT as i64) as u32),
        offset: offset.map_or(0, |o| o.min(u32::MAX as i64) as u32),
    })
}

async fn list_incidents(
    State(api): State<Arc<Api>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let query = match incident_query(&params) {
        Ok(q) => q,
        Err(errors) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"status": "error", "errors": errors})),
            )
                .into_response()
        }
    };
    let store = api.store.clone();
    match blocking(move || store.incidents(&query)).await {
        Ok(list) => success(serde_json::to_value(list).unwrap_or_default()),
        Err(r) => r,
    }
}

async fn one_incident(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Response {
    let store = api.store.clone();
    let wanted = id.clone();
    match blocking(move || store.incident(&wanted)).await {
        Ok(Some(i)) => success(serde_json::to_value(i).unwrap_or_default()),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no incident {id}")),
        Err(r) => r,
    }
}

/// The whole message kept with an incident (`forensics = "full"`).
async fn incident_message(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Response {
    let store = api.store.clone();
    let wanted = id.clone();
    match blocking(move || store.forensic_message(&wanted)).await {
        Ok(Some(m)) => ([(header::CONTENT_TYPE, "message/rfc822")], m).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no message kept for incident {id} (forensics = \"full\" keeps them)"),
        ),
        Err(r) => r,
    }
}

async fn list_held(State(api): State<Arc<Api>>) -> Response {
    let store = api.store.clone();
    match blocking(move || store.held()).await {
        Ok(list) => success(serde_json::to_value(list).unwrap_or_default()),
        Err(r) => r,
    }
}

async fn delete_held(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Response {
    if api
        .releasing
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&id)
    {
        return error(StatusCode::CONFLICT, format!("{id} is being released"));
    }
    let store = api.store.clone();
    let wanted = id.clone();
    match blocking(move || store.delete_held(&wanted)).await {
        Ok(true) => success(json!({"id": id, "deleted": true})),
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("no quarantined message {id}"),
        ),
        Err(r) => r,
    }
}

/// Marks a message as being released; the mark goes when this is dropped,
/// also when the request is cancelled half-way (the client went away).
struct Releasing<'a> {
    api: &'a Api,
    id: String,
}

impl<'a> Releasing<'a> {
    fn start(api: &'a Api, id: &str) -> Option<Releasing<'a>> {
        let mut set = api.releasing.lock().unwrap_or_else(|e| e.into_inner());
        set.insert(id.to_owned()).then(|| Releasing {
            api,
            id: id.to_owned(),
        })
    }
}

impl Drop for Releasing<'_> {
    fn drop(&mut self) {
        self.api
            .releasing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

async fn release_held(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Response {
    let Some(_releasing) = Releasing::start(&api, &id) else {
        return error(
            StatusCode::CONFLICT,
            format!("{id} is already being released"),
        );
    };
    match release(&api, &id).await {
        Ok(outcome) => success(outcome.to_json()),
        Err((status, why)) => error(status, why),
    }
}

/// What a release did: every recipient's reply, and whether none is left.
pub struct Released {
    pub id: String,
    pub recipients: Vec<RecipientReply>,
    /// Recipients refused with 4xx, still held for a later release.
    pub pending: Vec<String>,
}

impl Released {
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "released": self.pending.is_empty(),
            "recipients": self.recipients.iter().map(|r| json!({
                "address": r.address,
                "reply": r.reply.to_string(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// Relays a held message upstream to the recipients not yet delivered
/// (SPEC §8): a 4xx recipient stays pending, a 5xx one gets the sender a
/// delivery status notice, and the message is removed only when no
/// recipient is pending. `Err` (502) only when no upstream session could
/// be had; the message is then kept whole.
pub async fn release(api: &Api, id: &str) -> Result<Released, (StatusCode, String)> {
    let store = api.store.clone();
    let wanted = id.to_owned();
    let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
    let held = match tokio::task::spawn_blocking(move || store.held_message(&wanted)).await {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => {
            return Err((
                StatusCode::NOT_FOUND,
                format!("no quarantined message {id}"),
            ))
        }
        Ok(Err(e)) => return Err(internal(e.to_string())),
        Err(e) => return Err(internal(e.to_string())),
    };
    let (held, message) = held;
    let headers = trace_headers(&api.hostname, "", None, id, None);
    let recipients = api
        .destination
        .send_each(
            &api.hostname,
            id,
            &held.sender,
            &held.recipients,
            &[&headers, &message],
        )
        .await
        .map_err(|e| {
            api.metrics.upstream_errors.inc();
            (
                StatusCode::BAD_GATEWAY,
                format!("release of {id} failed, the message is kept: {e}"),
            )
        })?;
    let pending: Vec<String> = recipients
        .iter()
        .filter(|r| !r.reply.is_positive() && r.reply.code < 500)
        .map(|r| r.address.clone())
        .collect();
    let failed: Vec<&RecipientReply> = recipients.iter().filter(|r| r.reply.code >= 500).collect();
    if !failed.is_empty() && !held.sender.is_empty() {
        let notice = delivery_status_notice(&api.hostname, id, &held.sender, &failed);
        // Sent before the answer (a release is rare and the CLI's runtime
        // ends with it); a failure to send it is logged, not fatal.
        let notice_id = sluice_store::ulid();
        let sender = std::slice::from_ref(&held.sender);
        if let Err(e) = api
            .destination
            .send(&api.hostname, &notice_id, "", sender, &[&notice])
            .await
        {
            tracing::warn!("delivery status notice to <{}> failed: {e}", held.sender);
        }
    }
    let store = api.store.clone();
    let wanted = id.to_owned();
    let remaining = pending.clone();
    let updated = tokio::task::spawn_blocking(move || {
        if remaining.is_empty() {
            store.delete_held(&wanted)
        } else {
            store.keep_held_for(&wanted, &remaining)
        }
    })
    .await;
    match updated {
        Ok(Ok(_)) => Ok(Released {
            id: id.to_owned(),
            recipients,
            pending,
        }),
        Ok(Err(e)) => Err(internal(format!(
            "{id} was relayed but the quarantine could not be updated: {e}"
        ))),
        Err(e) => Err(internal(e.to_string())),
    }
}

/// A delivery status notice (RFC 3464) for recipients a release could not
/// reach for good, from `<>`.
fn delivery_status_notice(
    hostname: &str,
    id: &str,
    sender: &str,
    failed: &[&RecipientReply],
) -> Vec<u8> {
    let boundary = format!("sluice-dsn-{}", sluice_store::ulid());
    let mut listed = String::new();
    let mut fields = String::new();
    for r in failed {
        let reply = r.reply.to_string().replace(['\r', '\n'], " ");
        listed.push_str(&format!("  <{}>: {reply}\r\n", r.address));
        let status = r
            .reply
            .status
            .map_or_else(|| "5.0.0".to_owned(), |(a, b, c)| format!("{a}.{b}.{c}"));
        fields.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {reply}\r\n",
            r.address
        ));
    }
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\nTo: <{sender}>\r\n\
         Subject: Undelivered: released message {id}\r\nDate: {date}\r\n\
         Message-ID: <{mid}@{hostname}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your message {id} was held by the data-loss prevention gateway and then\r\n\
         released, but could not be delivered to:\r\n\r\n{listed}\r\n\
         --{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; {hostname}\r\n{fields}\r\n--{boundary}--\r\n",
        date = sluice_store::Timestamp::now().rfc5322(),
        mid = sluice_store::ulid(),
    )
    .into_bytes()
}
