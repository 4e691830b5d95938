//! The HTTP API (SPEC §8): incidents, the quarantine, the audit trail,
//! health and metrics.
//!
//! Every route but `/healthz` needs a token (`Authorization: Bearer T` or
//! `?token=T`), compared in constant time. Store calls run on the blocking
//! pool: SQLite is synchronous.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sluice_config::{ApiConfig, ApiToken};
use sluice_store::{AuditQuery, Store};

use crate::incidents::IncidentParams;
use crate::metrics::Metrics;
use crate::quarantine::{Quarantine, QuarantineError, Requester};

/// What the API's handlers share.
pub struct Api {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub quarantine: Quarantine,
    /// Accepted tokens (`[api] tokens` and `token_file`), swapped on SIGHUP.
    pub tokens: RwLock<Vec<Token>>,
}

/// One accepted token and who it stands for.
#[derive(Clone)]
pub struct Token {
    /// `token:<name>` or `token:#N`.
    pub actor: String,
    secret: String,
}

/// The address a request came from, as the server knows it (plain TCP or
/// HTTPS): the audit trail names it.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, crate::https::TlsListener>,
    > for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::https::TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// `[api] tokens` plus the lines of `token_file` (blank lines and `#`
/// comments skipped).
pub fn load_tokens(api: &ApiConfig) -> anyhow::Result<Vec<Token>> {
    let mut all = Vec::new();
    // Unnamed tokens are `token:#N`, counting over `tokens` then the lines
    // of `token_file` (SPEC §8).
    let mut unnamed = 0;
    let mut bare = |token: String, all: &mut Vec<Token>| {
        unnamed += 1;
        all.push(Token {
            actor: format!("token:#{unnamed}"),
            secret: token,
        });
    };
    for t in &api.tokens {
        match t {
            ApiToken::Bare(token) if !token.is_empty() => bare(token.clone(), &mut all),
            ApiToken::Bare(_) => {}
            ApiToken::Named(named) => {
                let secret = match (&named.token, &named.token_file) {
                    (Some(token), _) => token.clone(),
                    (None, Some(file)) => std::fs::read_to_string(file)
                        .map_err(|e| {
                            anyhow::anyhow!("api.tokens {:?} {}: {e}", named.name, file.display())
                        })?
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                    (None, None) => String::new(),
                };
                if !secret.is_empty() {
                    all.push(Token {
                        actor: format!("token:{}", named.name),
                        secret,
                    });
                }
            }
        }
    }
    if let Some(file) = &api.token_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("api.token_file {}: {e}", file.display()))?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            bare(line.to_owned(), &mut all);
        }
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
        .route("/api/v1/audit", get(audit_log))
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
    let matched = tokens.iter().fold(None, |found, t| {
        let hit = token_matches(&candidate, &t.secret);
        found.or(hit.then(|| t.actor.clone()))
    });
    let Some(actor) = matched else {
        return error(StatusCode::UNAUTHORIZED, "invalid token");
    };
    // The peer's address, when the server was started with it (it is).
    let client_ip = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0 .0.ip());
    let mut request = request;
    request
        .extensions_mut()
        .insert(Requester { actor, client_ip });
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
    if let Ok((count, bytes)) = crate::store_call::run(move || store.quarantine_size()).await {
        api.metrics.quarantine_messages.set(count as i64);
        api.metrics.quarantine_bytes.set(bytes as i64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        api.metrics.render(),
    )
        .into_response()
}

/// A store call ([`crate::store_call::run`]); its error is a 500 naming it.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, sluice_store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    crate::store_call::run(f)
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))
}

/// The `GET /api/v1/incidents` parameters as numbers; each one that is not
/// a non-negative integer is an error.
fn incident_params(params: &HashMap<String, String>) -> Result<IncidentParams, Vec<String>> {
    let mut errors = Vec::new();
    let mut number = |name: &str| -> Option<u64> {
        let v = params.get(name)?;
        match v.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(format!(
                    "{name}: expected a non-negative integer, got {v:?}"
                ));
                None
            }
        }
    };
    let parsed = IncidentParams {
        query: params.get("query").cloned().unwrap_or_default(),
        timeperiod: number("timeperiod"),
        starttime: number("starttime"),
        endtime: number("endtime"),
        limit: number("limit"),
        offset: number("offset"),
    };
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

/// A 400 listing every problem with the request's parameters.
fn bad_request(errors: Vec<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": "error", "errors": errors})),
    )
        .into_response()
}

async fn list_incidents(
    State(api): State<Arc<Api>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let query = match incident_params(&params).and_then(|p| p.query()) {
        Ok(q) => q,
        Err(errors) => return bad_request(errors),
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
    match api.quarantine.list().await {
        Ok(list) => success(serde_json::to_value(list).unwrap_or_default()),
        Err(e) => quarantine_error(e),
    }
}

/// `GET /api/v1/audit`: the incidents' time and paging parameters (and
/// `quarantine_id` or `incident_id` for one message's or incident's
/// trail); newest first.
async fn audit_log(
    State(api): State<Arc<Api>>,
    Query(mut params): Query<HashMap<String, String>>,
) -> Response {
    let quarantine_id = params.remove("quarantine_id");
    let incident_id = params.remove("incident_id");
    let parsed = incident_params(&params).and_then(|p| {
        if p.query.is_empty() {
            p.query()
        } else {
            Err(vec![
                "query: the audit log takes no query, only time and paging parameters".into(),
            ])
        }
    });
    let query = match parsed {
        Ok(q) => AuditQuery {
            since: q.since,
            until: q.until,
            limit: q.limit,
            offset: q.offset,
            quarantine_id,
            incident_id,
        },
        Err(errors) => return bad_request(errors),
    };
    let store = api.store.clone();
    match blocking(move || store.audit_log(&query)).await {
        Ok(list) => success(serde_json::to_value(list).unwrap_or_default()),
        Err(r) => r,
    }
}

async fn delete_held(
    State(api): State<Arc<Api>>,
    Extension(by): Extension<Requester>,
    Path(id): Path<String>,
) -> Response {
    match api.quarantine.delete(&id, &by).await {
        Ok(()) => success(json!({"id": id, "deleted": true})),
        Err(e) => quarantine_error(e),
    }
}

async fn release_held(
    State(api): State<Arc<Api>>,
    Extension(by): Extension<Requester>,
    Path(id): Path<String>,
) -> Response {
    match api.quarantine.release(&id, &by).await {
        Ok(released) => success(released.to_json()),
        Err(e) => quarantine_error(e),
    }
}

/// The HTTP status of each quarantine failure.
fn quarantine_error(e: QuarantineError) -> Response {
    let status = match &e {
        QuarantineError::NotFound(_) => StatusCode::NOT_FOUND,
        QuarantineError::Releasing(_) => StatusCode::CONFLICT,
        QuarantineError::Upstream(_) => StatusCode::BAD_GATEWAY,
        QuarantineError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}
