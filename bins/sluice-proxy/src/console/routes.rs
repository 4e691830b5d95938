//! The reviewers' pages: sign-in, incidents, triage, the quarantine, the
//! audit log and the users. Store calls run on the blocking pool (SQLite is
//! synchronous); quarantine operations go through the same
//! [`crate::quarantine::Quarantine`] as the API's and the CLI's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::Markup;
use serde::Deserialize;
use sluice_store::{Actor, AuditAction, AuditEntry, AuditQuery, Filter, TriageState};

use super::{pages, problem, set_cookie, signing, users, Admin, Console, Reviewer, SESSION_COOKIE};
use crate::incidents::IncidentParams;
use crate::quarantine::QuarantineError;

/// Incidents and audit entries a page shows.
const PAGE_SIZE: u32 = 50;

/// The cookie that ties a sign-in form to the browser that loaded it.
const SIGN_IN_COOKIE: &str = "sluice_signin";

fn html(markup: Markup) -> Response {
    Html(markup.into_string()).into_response()
}

/// A store call ([`crate::store_call::run`]); its error is a 500 page.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, sluice_store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    crate::store_call::run(f)
        .await
        .map_err(|e| problem(StatusCode::INTERNAL_SERVER_ERROR, "Store error", &e))
}

/// Where to go after signing in: a path of this console, never another
/// site (`//evil.example` is another site).
fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/incidents"
    }
}

#[derive(Deserialize)]
pub struct NextParam {
    #[serde(default)]
    next: String,
}

/// The sign-in page, with a fresh nonce cookie its form's token belongs to.
pub async fn sign_in_page(
    State(console): State<Arc<Console>>,
    Query(q): Query<NextParam>,
) -> Response {
    sign_in_form(&console, local_path(&q.next), None, StatusCode::OK)
}

fn sign_in_form(
    console: &Console,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let Ok(nonce) = signing::nonce() else {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "Error", "no randomness");
    };
    let csrf = console.secret.csrf(&format!("sign-in:{nonce}"));
    (
        status,
        [(
            header::SET_COOKIE,
            set_cookie(console, SIGN_IN_COOKIE, &nonce, None),
        )],
        Html(pages::sign_in(&csrf, next, error).into_string()),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

/// Checks a name and password; a session cookie on success. Failures are
/// audited and throttled per name and per address.
pub async fn sign_in(
    State(console): State<Arc<Console>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<crate::api::Peer>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let nonce = super::cookie(&headers, SIGN_IN_COOKIE).unwrap_or("");
    if nonce.is_empty()
        || !console
            .secret
            .csrf_matches(&format!("sign-in:{nonce}"), &form.csrf)
    {
        return super::bad_csrf();
    }
    let ip = peer.0.ip();
    // The name as the throttle and the audit trail hold it: a name no user
    // can have is one fixed key, so a flood of long made-up names stores
    // none of them (each key is at most 69 bytes).
    let actor = if users::valid_name(&form.username) {
        format!("user:{}", form.username)
    } else {
        "user:(invalid name)".to_owned()
    };
    let keys = [actor.clone(), format!("ip:{ip}")];
    if let Some(left) = console.limiter.locked(&keys, Instant::now()) {
        let minutes = left.as_secs().div_ceil(60);
        let mut response = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts",
            &format!("Too many failed sign-ins; try again in {minutes} minute(s)."),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, left.as_secs().max(1).into());
        return response;
    }
    let user = console.users.find(&form.username);
    let password = form.password.clone();
    let hash = user.as_ref().map(|u| u.hash.clone());
    // argon2 takes tens of milliseconds of CPU: off the async threads.
    let verified = tokio::task::spawn_blocking(move || {
        // An unknown name is checked against a decoy, so it takes as long.
        let hash = hash.as_deref().unwrap_or_else(|| users::decoy_hash());
        users::verify_password(&password, hash)
    })
    .await
    .unwrap_or(false);
    let mut entry = AuditEntry::now(actor, AuditAction::SignIn);
    entry.client_ip = Some(ip.to_string());
    let user = match user.filter(|_| verified) {
        Some(u) => u,
        None => {
            console.limiter.fail(&keys, Instant::now());
            entry.action = AuditAction::SignInFailed;
            entry.result = "wrong name or password".into();
            record(&console, entry).await;
            return sign_in_form(
                &console,
                local_path(&form.next),
                Some("Wrong name or password."),
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    record(&console, entry).await;
    let Ok(nonce) = signing::nonce() else {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "Error", "no randomness");
    };
    let ttl = console.session_ttl.as_secs();
    let session = signing::Session {
        user: user.name.clone(),
        expires: super::now() + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
        nonce,
        tag: signing::password_tag(&user.hash),
    };
    let cookie = set_cookie(
        &console,
        SESSION_COOKIE,
        &console.secret.session(&session),
        Some(ttl),
    );
    let clear = set_cookie(&console, SIGN_IN_COOKIE, "", Some(0));
    let mut response = Redirect::to(local_path(&form.next)).into_response();
    let h = response.headers_mut();
    for c in [cookie, clear] {
        if let Ok(v) = c.parse() {
            h.append(header::SET_COOKIE, v);
        }
    }
    response
}

/// Appends to the audit trail; a store that cannot take it is logged.
async fn record(console: &Console, entry: AuditEntry) {
    let store = console.api.store.clone();
    if let Err(r) = blocking(move || store.record_audit(&entry)).await {
        tracing::error!("audit trail: {:?}", r.status());
    }
}

/// A form that carries only its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// Ends the session here (and clears the cookie).
pub async fn sign_out(
    State(console): State<Arc<Console>>,
    reviewer: Reviewer,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !reviewer.csrf_ok(&console, &form.csrf) {
        return super::bad_csrf();
    }
    console.revoked.revoke(&reviewer.session, super::now());
    (
        [(
            header::SET_COOKIE,
            set_cookie(&console, SESSION_COOKIE, "", Some(0)),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

/// Incidents: a policy picked from the configured ones, the §8 query, a
/// period, pages of [`PAGE_SIZE`].
pub async fn incidents(
    State(console): State<Arc<Console>>,
    reviewer: Reviewer,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query = q.get("query").cloned().unwrap_or_default();
    let policy = q.get("policy").cloned().unwrap_or_default();
    let period = q.get("period").cloned().unwrap_or_else(|| "86400".into());
    let offset: u32 = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let policies: Vec<String> = {
        let live = console.proxy.live.read().unwrap_or_else(|e| e.into_inner());
        live.inspector
            .config()
            .policy
            .iter()
            .map(|p| p.name.clone())
            .collect()
    };
    let mut view = pages::IncidentsView {
        query: &query,
        policy: &policy,
        policies: &policies,
        period: &period,
        offset,
        page_size: PAGE_SIZE,
        error: None,
        incidents: &[],
    };
    // The reader's own query is checked alone, so an error's position is
    // in the text they typed.
    if let Err(e) = Filter::parse(&query) {
        view.error = Some((e.message.clone(), e.position));
        return html(pages::incidents(&reviewer.chrome(), &view));
    }
    let params = IncidentParams {
        query: with_policy(&policy, &query),
        timeperiod: period.parse().ok(),
        limit: Some(u64::from(PAGE_SIZE)),
        offset: Some(u64::from(offset)),
        ..IncidentParams::default()
    };
    let store_query = match params.query() {
        Ok(q) => q,
        Err(errors) => {
            view.error = Some((errors.join("; "), 1));
            return html(pages::incidents(&reviewer.chrome(), &view));
        }
    };
    let store = console.api.store.clone();
    let list = match blocking(move || store.incidents(&store_query)).await {
        Ok(list) => list,
        Err(r) => return r,
    };
    view.incidents = &list;
    html(pages::incidents(&reviewer.chrome(), &view))
}

/// `query` narrowed to `policy` (none: `query` as it is), in the §8
/// language: the name quoted with `\'` and `\\` escaped.
fn with_policy(policy: &str, query: &str) -> String {
    if policy.is_empty() {
        return query.to_owned();
    }
    let quoted = policy.replace('\\', "\\\\").replace('\'', "\\'");
    if query.trim().is_empty() {
        format!("policy eq '{quoted}'")
    } else {
        format!("policy eq '{quoted}' and ({query})")
    }
}

/// One incident, with its audit trail.
pub async fn incident(
    State(console): State<Arc<Console>>,
    reviewer: Reviewer,
    Path(id): Path<String>,
) -> Response {
    let store = console.api.store.clone();
    let wanted = id.clone();
    let found = blocking(move || {
        let Some(incident) = store.incident(&wanted)? else {
            return Ok(None);
        };
        let trail = store.audit_log(&AuditQuery {
            incident_id: Some(wanted.clone()),
            limit: 200,
            ..AuditQuery::default()
        })?;
        Ok(Some((incident, trail)))
    })
    .await;
    match found {
        Ok(Some((incident, trail))) => html(pages::incident(&reviewer.chrome(), &incident, &trail)),
        Ok(None) => not_found(&reviewer, &format!("No incident {id}.")),
        Err(r) => r,
    }
}

fn not_found(reviewer: &Reviewer, message: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(pages::problem("Not found", Some(&reviewer.chrome()), message).into_string()),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct TriageForm {
    csrf: String,
    state: String,
    #[serde(default)]
    note: String,
}

/// Sets an incident's verdict (audited), back to the incident.
pub async fn triage(
    State(console): State<Arc<Console>>,
    reviewer: Reviewer,
    Path(id): Path<String>,
    Form(form): Form<TriageForm>,
) -> Response {
    if !reviewer.csrf_ok(&console, &form.csrf) {
        return super::bad_csrf();
    }
    let Some(state) = TriageState::parse(&form.state) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad verdict",
            "Pick one of the verdicts offered.",
        );
    };
    let note: String = form.note.trim().chars().take(1000).collect();
    let store = console.api.store.clone();
    let (actor, ip) = (format!("user:{}", reviewer.user.name), reviewer.client_ip);
    let wanted = id.clone();
    let set = blocking(move || {
        let by = Actor {
            name: &actor,
            client_ip: ip.map(|i| i.to_string()),
        };
        store.set_triage(&wanted, state, &note, &by)
    })
    .await;
    match set {
        Ok(true) => Redirect::to(&format!("/incidents/{}", pages::url_encode(&id))).into_response(),
        Ok(false) => not_found(&reviewer, &format!("No incident {id}.")),
        Err(r) => r,
    }
}

/// The held messages.
pub async fn quarantine(State(console): State<Arc<Console>>, reviewer: Reviewer) -> Response {
    match console.api.quarantine.list().await {
        Ok(list) => html(pages::quarantine(&reviewer.chrome(), &list)),
        Err(e) => quarantine_problem(&reviewer, e),
    }
}

fn quarantine_problem(reviewer: &Reviewer, e: QuarantineError) -> Response {
    let status = match &e {
        QuarantineError::NotFound(_) => StatusCode::NOT_FOUND,
        QuarantineError::Releasing(_) => StatusCode::CONFLICT,
        QuarantineError::Upstream(_) => StatusCode::BAD_GATEWAY,
        QuarantineError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let page = pages::problem("Not done", Some(&reviewer.chrome()), &e.to_string());
    (status, Html(page.into_string())).into_response()
}

/// One held message with its safe preview.
pub async fn held(
    State(console): State<Arc<Console>>,
    reviewer: Reviewer,
    Path(id): Path<String>,
) -> Response {
    let store = console.api.store.clone();
    let wanted = id.clone();
    let found = blocking(move || {
        let Some((entry, message)) = store.held_message(&wanted)? else {
            return Ok(None);
        };
        let incident = store.incident(&entry.incident_id)?;
        Ok(Some((entry, message, incident)))
    })
    .await;
    let (entry, message, incident) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(&reviewer, &format!("No held message {id}.")),
        Err(r) => return r,
    };
    let live = console
        .proxy
        .live
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    // Extraction and scanning are CPU work (and may start workers).
    let preview = tokio::task::spawn_blocking(move || {
        let mut left = pages::PREVIEW_CHARS;
        let mut out = Vec::new();
        for (location, text) in live.inspector.preview(&message) {
            if left == 0 {
                break;
            }
            let shown: String = text.chars().take(left).collect();
            left -= shown.chars().count();
            let location =
                pages::location_text(&serde_json::to_value(&location).unwrap_or_default());
            out.push((location, shown));
        }
        out
    })
    .await
    .unwrap_or_default();
    html(pages::held(
        &reviewer.chrome(),
        &entry,
        incident.as_ref(),
        &preview,
    ))
}

async fn held_entry(
    console: &Console,
    reviewer: &Reviewer,
    id: &str,
) -> Result<sluice_store::Held, Response> {
    let store = console.api.store.clone();
    let wanted = id.to_owned();
    match blocking(move || store.held_entry(&wanted)).await? {
        Some(h) => Ok(h),
        None => Err(not_found(reviewer, &format!("No held message {id}."))),
    }
}

/// What a reviewer does to a held message.
#[derive(Clone, Copy)]
enum HeldAction {
    Release,
    Delete,
}

impl HeldAction {
    fn parse(name: &str) -> Option<HeldAction> {
        match name {
            "release" => Some(HeldAction::Release),
            "delete" => Some(HeldAction::Delete),
            _ => None,
        }
    }
}

/// "Release this message?" or "Delete this message?"
pub async fn confirm(
    State(console): State<Arc<Console>>,
    reviewer: Reviewer,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let Some(action) = HeldAction::parse(&action) else {
        return not_found(&reviewer, "No such action.");
    };
    match held_entry(&console, &reviewer, &id).await {
        Ok(h) => html(pages::confirm(
            &reviewer.chrome(),
            &h,
            matches!(action, HeldAction::Release),
        )),
        Err(r) => r,
    }
}

/// Releases a held message (the page shows every recipient's reply) or
/// deletes it (back to the quarantine), as the API would.
pub async fn act(
    State(console): State<Arc<Console>>,
    reviewer: Reviewer,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !reviewer.csrf_ok(&console, &form.csrf) {
        return super::bad_csrf();
    }
    let quarantine = &console.api.quarantine;
    match HeldAction::parse(&action) {
        None => not_found(&reviewer, "No such action."),
        Some(HeldAction::Release) => match quarantine.release(&id, &reviewer.requester()).await {
            Ok(r) => html(pages::released(
                &reviewer.chrome(),
                &id,
                &r.recipients,
                &r.pending,
            )),
            Err(e) => quarantine_problem(&reviewer, e),
        },
        Some(HeldAction::Delete) => match quarantine.delete(&id, &reviewer.requester()).await {
            Ok(()) => {
                super::requests::expire_and_tell(&console).await;
                Redirect::to("/quarantine").into_response()
            }
            Err(e) => quarantine_problem(&reviewer, e),
        },
    }
}

#[derive(Deserialize)]
pub struct OffsetParam {
    #[serde(default)]
    offset: u32,
}

/// The audit log (admins).
pub async fn audit(
    State(console): State<Arc<Console>>,
    Admin(admin): Admin,
    Query(q): Query<OffsetParam>,
) -> Response {
    let store = console.api.store.clone();
    let query = AuditQuery {
        limit: PAGE_SIZE,
        offset: q.offset,
        ..AuditQuery::default()
    };
    match blocking(move || store.audit_log(&query)).await {
        Ok(trail) => html(pages::audit(&admin.chrome(), &trail, q.offset, PAGE_SIZE)),
        Err(r) => r,
    }
}

/// The users (admins; read-only).
pub async fn users(State(console): State<Arc<Console>>, Admin(admin): Admin) -> Response {
    html(pages::users(&admin.chrome(), &console.users.current()))
}

#[cfg(test)]
mod tests {
    use super::{local_path, with_policy};

    #[test]
    fn a_picked_policy_narrows_the_query() {
        assert_eq!(with_policy("", "severity eq 'high'"), "severity eq 'high'");
        assert_eq!(with_policy("Card block", ""), "policy eq 'Card block'");
        assert_eq!(
            with_policy("Bob's \\ policy", "a or b"),
            "policy eq 'Bob\\'s \\\\ policy' and (a or b)"
        );
        for policy in ["Bob's", "x\\", "' or 'a' eq 'a"] {
            let filter = sluice_store::Filter::parse(&with_policy(policy, "")).unwrap();
            // One comparison with the name as it is: nothing injected.
            assert!(
                matches!(&filter, sluice_store::Filter::Eq(_, v) if v == policy),
                "{policy}: {filter:?}"
            );
        }
    }

    #[test]
    fn sign_in_goes_back_only_to_a_page_of_this_console() {
        assert_eq!(local_path("/quarantine/01J"), "/quarantine/01J");
        for elsewhere in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "",
            "incidents",
        ] {
            assert_eq!(local_path(elsewhere), "/incidents", "{elsewhere}");
        }
    }
}
