//! Release requests (SPEC §9): the sender's page behind a signed link in
//! the quarantine notice, the reviewers' decisions, and the mail each step
//! sends. A request is recorded (with its audit entry) before anyone is
//! told; an approval is a release through the same
//! [`crate::quarantine::Quarantine`] as the API's, and is marked approved
//! only once an upstream took the message.

use std::sync::Arc;

use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use sluice_store::{Actor, ReleaseRequest, RequestRefused, RequestState};

use super::routes::CsrfForm;
use super::signing::LinkError;
use super::{pages, problem, Console, Reviewer};
use crate::api::Peer;
use crate::notify::Notifier;
use crate::store_call;

/// Longest justification kept.
const MAX_JUSTIFICATION: usize = 2000;

/// Requests listed at most.
const LIST_LIMIT: u32 = 200;

/// Release requests, pending first.
pub async fn list(State(console): State<Arc<Console>>, reviewer: Reviewer) -> Response {
    let store = console.api.store.clone();
    match store_call::run(move || store.release_requests(LIST_LIMIT)).await {
        Ok(list) => Html(pages::requests(&reviewer.chrome(), &list).into_string()).into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, "Store error", &e),
    }
}

/// Approves (`approve`: releases the message, then marks the request
/// approved) or rejects (`reject`: the message stays held) a pending
/// request, and tells the sender.
pub async fn decide_pending(
    State(console): State<Arc<Console>>,
    reviewer: Reviewer,
    Path((id, decision)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !reviewer.csrf_ok(&console, &form.csrf) {
        return super::bad_csrf();
    }
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return problem(StatusCode::NOT_FOUND, "Not found", "No such decision."),
    };
    let Some(request) = pending(&console, &id).await else {
        return problem(
            StatusCode::CONFLICT,
            "Already decided",
            "This request is not pending.",
        );
    };
    let by = reviewer.requester();
    let ip = by.client_ip.map(|i| i.to_string());
    if !approve {
        if decide(&console, &id, false, &by.actor, ip, None).await {
            tell_sender(&console.notifier, &request, RequestState::Rejected);
        }
        return Redirect::to("/requests").into_response();
    }
    let released = match console.api.quarantine.release(&id, &by).await {
        Ok(released) => released,
        Err(e) => {
            let store = console.api.store.clone();
            let (wanted, error, actor) = (id.clone(), e.to_string(), by.actor.clone());
            let _ = store_call::run(move || {
                let by = Actor {
                    name: &actor,
                    client_ip: ip,
                };
                store.audit_failed_decision(&wanted, true, &by, &error)
            })
            .await;
            return problem(StatusCode::BAD_GATEWAY, "Not released", &e.to_string());
        }
    };
    let detail = Some(if released.pending.is_empty() {
        "released".to_owned()
    } else {
        format!("released; pending: {}", released.pending.join(", "))
    });
    if decide(&console, &id, true, &by.actor, ip, detail).await {
        tell_sender(&console.notifier, &request, RequestState::Approved);
    }
    let page = pages::released(
        &reviewer.chrome(),
        &id,
        &released.recipients,
        &released.pending,
    );
    Html(page.into_string()).into_response()
}

/// The request for `id` when it is pending.
async fn pending(console: &Console, id: &str) -> Option<ReleaseRequest> {
    let store = console.api.store.clone();
    let wanted = id.to_owned();
    store_call::run(move || store.release_request(&wanted))
        .await
        .ok()?
        .filter(|r| r.state == RequestState::Pending)
}

/// Marks the request decided; false when someone decided first or the
/// store failed (logged).
async fn decide(
    console: &Console,
    id: &str,
    approved: bool,
    actor: &str,
    client_ip: Option<String>,
    detail: Option<String>,
) -> bool {
    let store = console.api.store.clone();
    let (wanted, actor) = (id.to_owned(), actor.to_owned());
    let result = store_call::run(move || {
        let by = Actor {
            name: &actor,
            client_ip,
        };
        store.decide_request(&wanted, approved, &by, detail)
    })
    .await;
    result.unwrap_or_else(|e| {
        tracing::error!(quarantine = %id, "release request: {e}");
        false
    })
}

/// Mails the sender where their request now stands.
pub fn tell_sender(notifier: &Notifier, request: &ReleaseRequest, state: RequestState) {
    if request.sender.is_empty() {
        return;
    }
    let subject = request.subject.as_deref().unwrap_or("(no subject)");
    notifier.mail(
        &request.sender,
        &format!("Release request {}: {subject}", state.name()),
        &format!(
            "Your request to release the message\n\n  Subject: {subject}\n\nwas {}.{}\n\n\
             This is an automatic message; replies are not read.\n",
            state.name(),
            pages::outcome_text(state)
        ),
    );
}

/// Expires the requests whose message left the quarantine undecided, and
/// tells their senders.
pub async fn expire_and_tell(console: &Console) {
    let store = console.api.store.clone();
    match store_call::run(move || store.expire_requests()).await {
        Ok(expired) => {
            for r in &expired {
                tell_sender(&console.notifier, r, RequestState::Expired);
            }
        }
        Err(e) => tracing::error!("release requests: {e}"),
    }
}

/// What a link's page needs: the held message's subject and its request.
struct LinkTarget {
    quarantine_id: String,
    subject: String,
    request: Option<ReleaseRequest>,
}

/// Opens a link token; a refused one is the response to give.
async fn open_link(console: &Console, token: &str) -> Result<LinkTarget, Response> {
    let id = match console.secret.open_release_link(token, super::now()) {
        Ok(id) => id,
        Err(LinkError::Invalid) => {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "Invalid link",
                "This link is not valid.",
            ))
        }
        Err(LinkError::Expired) => {
            return Err(problem(
                StatusCode::GONE,
                "Expired link",
                "This link has expired.",
            ))
        }
    };
    let store = console.api.store.clone();
    let wanted = id.clone();
    let found =
        store_call::run(move || Ok((store.held_entry(&wanted)?, store.release_request(&wanted)?)))
            .await;
    let (held, request) = match found {
        Ok(pair) => pair,
        _ => {
            return Err(problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "Try again later.",
            ))
        }
    };
    let subject = held
        .and_then(|h| h.subject)
        .or_else(|| request.as_ref().and_then(|r| r.subject.clone()));
    if subject.is_none() && request.is_none() {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "Not held",
            "This message is no longer held.",
        ));
    }
    Ok(LinkTarget {
        quarantine_id: id,
        subject: subject.unwrap_or_else(|| "(no subject)".into()),
        request,
    })
}

/// The sender's page: the subject and the justification form, or where
/// the request stands.
pub async fn link_page(State(console): State<Arc<Console>>, Path(token): Path<String>) -> Response {
    match open_link(&console, &token).await {
        Ok(t) => {
            let csrf = console.secret.csrf(&format!("request:{token}"));
            Html(pages::request_link(&t.subject, t.request.as_ref(), &csrf, None).into_string())
                .into_response()
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct AskForm {
    csrf: String,
    justification: String,
}

/// Records the sender's request (once per message) and tells the
/// reviewers in `[console] notify`.
pub async fn ask(
    State(console): State<Arc<Console>>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Form(form): Form<AskForm>,
) -> Response {
    if !console
        .secret
        .csrf_matches(&format!("request:{token}"), &form.csrf)
    {
        return super::bad_csrf();
    }
    let target = match open_link(&console, &token).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let justification: String = form
        .justification
        .trim()
        .chars()
        .take(MAX_JUSTIFICATION)
        .collect();
    if justification.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "Reason needed",
            "Give a business reason.",
        );
    }
    let store = console.api.store.clone();
    let id = target.quarantine_id.clone();
    let ip = peer.0.ip().to_string();
    let reason = justification.clone();
    let made = store_call::run(move || store.request_release(&id, &reason, Some(ip))).await;
    let notice = match made {
        Ok(Ok(request)) => {
            tell_reviewers(&console, &request);
            "Your request was recorded."
        }
        Ok(Err(RequestRefused::AlreadyRequested)) => {
            "A release of this message was already requested."
        }
        Ok(Err(RequestRefused::NotHeld)) => {
            return problem(
                StatusCode::NOT_FOUND,
                "Not held",
                "This message is no longer held.",
            )
        }
        _ => {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "Try again later.",
            )
        }
    };
    let store = console.api.store.clone();
    let id = target.quarantine_id.clone();
    let request = store_call::run(move || store.release_request(&id))
        .await
        .ok()
        .flatten();
    Html(pages::request_link(&target.subject, request.as_ref(), "", Some(notice)).into_string())
        .into_response()
}

/// Mails `[console] notify` about a new request.
fn tell_reviewers(console: &Console, r: &ReleaseRequest) {
    let subject = r.subject.as_deref().unwrap_or("(no subject)");
    let link = console
        .console_url
        .as_deref()
        .map(|u| format!("\nDecide at {}/requests\n", u.trim_end_matches('/')))
        .unwrap_or_default();
    for to in &console.notify {
        console.notifier.mail(
            to,
            &format!("Release requested: {subject}"),
            &format!(
                "{sender} asks for the release of a held message.\n\n  Subject: {subject}\n  \
                 Incident: {incident}\n  Reason:  {reason}\n{link}",
                sender = r.sender,
                incident = r.incident_id,
                reason = r.justification.replace('\n', " "),
            ),
        );
    }
}
