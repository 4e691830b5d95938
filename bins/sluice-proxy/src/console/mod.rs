//! The reviewers' web console (SPEC §9), served on the API listener:
//! server-rendered pages ([`pages`]), signed sessions and CSRF tokens
//! ([`signing`]), argon2id users ([`users`]), sign-in throttling
//! ([`signin`]), the reviewers' routes ([`routes`]) and release requests
//! ([`requests`]).
//!
//! Every response carries a strict Content-Security-Policy (no script at
//! all, styles from this server only, no framing) and `no-store`; every
//! POST must come from a page of this console (`Origin` or
//! `Sec-Fetch-Site`, plus the form's CSRF token). `/api/v1` keeps taking
//! tokens only: a session cookie opens none of it, and a token opens no
//! page.

pub mod accounts;
pub mod pages;
pub mod requests;
mod routes;
pub mod signin;
pub mod signing;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::{Api, Peer};
use crate::notify::Notifier;
use crate::quarantine::Requester;
use crate::relay::Proxy;
use signin::SignInLimiter;
use signing::{Revoked, Secret, Session};
use users::{Role, User, Users};

/// The session cookie's name.
const SESSION_COOKIE: &str = "sluice_session";

/// The CSP of every console response: nothing but this server's own
/// stylesheet and forms posting back to it.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The console's stylesheet, served at `/console.css`.
const STYLESHEET: &str = include_str!("console.css");

/// What the console's handlers share.
pub struct Console {
    /// The store and the quarantine, as the API has them.
    pub api: Arc<Api>,
    /// The live policies: the preview masks with their EDM cells.
    pub proxy: Arc<Proxy>,
    /// `users_file`.
    pub users: Users,
    /// `secret_file`.
    pub secret: Secret,
    /// `session_ttl`.
    pub session_ttl: Duration,
    /// Served over TLS: cookies get `Secure`, and the expected origin is
    /// `https://`.
    pub tls: bool,
    /// Failed sign-ins.
    pub limiter: SignInLimiter,
    /// Sessions signed out here.
    pub revoked: Revoked,
    /// Mail to senders and to `[console] notify`.
    pub notifier: Notifier,
    /// `[console] notify`: told of new release requests.
    pub notify: Vec<String>,
    /// `[notify] console_url`, for links in mail to reviewers.
    pub console_url: Option<String>,
}

/// The console's routes, to be merged with the API's.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/incidents") }))
        .route("/console.css", get(stylesheet))
        .route("/login", get(routes::sign_in_page).post(routes::sign_in))
        .route("/logout", post(routes::sign_out))
        .route("/incidents", get(routes::incidents))
        .route("/incidents/{id}", get(routes::incident))
        .route("/incidents/{id}/triage", post(routes::triage))
        .route("/quarantine", get(routes::quarantine))
        .route("/quarantine/{id}", get(routes::held))
        .route(
            "/quarantine/{id}/{action}",
            get(routes::confirm).post(routes::act),
        )
        .route("/requests", get(requests::list))
        .route("/requests/{id}/{decision}", post(requests::decide_pending))
        .route(
            "/request/{token}",
            get(requests::link_page).post(requests::ask),
        )
        .route("/audit", get(routes::audit))
        .route("/users", get(routes::users))
        .layer(middleware::from_fn(guard))
        .with_state(console)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Refuses cross-site posts, and puts the security headers on every
/// response.
async fn guard(request: Request, next: Next) -> Response {
    let cross_site = request.method() == Method::POST && !same_origin(request.headers());
    let mut response = if cross_site {
        problem(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form was posted from another site.",
        )
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Release-request links carry their token in the path: never sent
        // to another site. (Not `no-referrer`: browsers then send
        // `Origin: null` with our own forms.)
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Whether a POST comes from this console's own pages: its `Origin` names
/// the host the request was sent to, or, from a browser that sends none,
/// `Sec-Fetch-Site` says same-origin. A client that sends neither (not a
/// browser) still needs the form's CSRF token.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    match headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or(""))
    {
        // Either scheme: behind a proxy that terminates TLS the browser's
        // origin is https:// while this listener speaks plain HTTP. What
        // matters is that the page came from the host the form posts to.
        Some(origin) => {
            let site = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            !host.is_empty() && site == Some(host)
        }
        None => headers
            .get("sec-fetch-site")
            .is_none_or(|s| matches!(s.to_str(), Ok("same-origin") | Ok("none"))),
    }
}

/// A page with `message`, and its status.
fn problem(status: StatusCode, title: &str, message: &str) -> Response {
    (
        status,
        Html(pages::problem(title, None, message).into_string()),
    )
        .into_response()
}

/// A refused form: its CSRF token is not this session's (or this link's).
fn bad_csrf() -> Response {
    problem(
        StatusCode::FORBIDDEN,
        "Refused",
        "This form has expired or was not made by this console; go back, reload and try again.",
    )
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: never readable by scripts, never sent with a
/// request another site starts, `Secure` over TLS.
fn set_cookie(console: &Console, name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if console.tls {
        c.push_str("; Secure");
    }
    c
}

/// The address a request came from.
fn client_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0 .0.ip())
}

/// Unix seconds now.
fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A signed-in reviewer (or admin). Extracting it from a request without a
/// valid session redirects to the sign-in page.
pub struct Reviewer {
    pub user: User,
    pub session: Session,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
    pub client_ip: Option<std::net::IpAddr>,
}

impl Reviewer {
    /// The page header's view of them.
    pub fn chrome(&self) -> pages::Chrome<'_> {
        pages::Chrome {
            user: &self.user.name,
            role: self.user.role,
            csrf: &self.csrf,
        }
    }

    /// Who they are to the quarantine and the audit trail.
    pub fn requester(&self) -> Requester {
        Requester {
            actor: format!("user:{}", self.user.name),
            client_ip: self.client_ip,
        }
    }

    /// Whether `token` (a form's `csrf` field) belongs to this session.
    pub fn csrf_ok(&self, console: &Console, token: &str) -> bool {
        console.secret.csrf_matches(&self.session.nonce, token)
    }
}

impl FromRequestParts<Arc<Console>> for Reviewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        let to_sign_in = || {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/incidents", |p| p.as_str());
            // Only a GET is worth coming back to.
            let next = if parts.method == Method::GET {
                next
            } else {
                "/incidents"
            };
            Redirect::to(&format!("/login?next={}", pages::url_encode(next))).into_response()
        };
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let Some(session) = console.secret.open_session(value, now()) else {
            return Err(to_sign_in());
        };
        // The user must still exist with the same password, and the
        // session must not have been signed out.
        let user = console.users.find(&session.user);
        let Some(user) = user.filter(|u| signing::password_tag(&u.hash) == session.tag) else {
            return Err(to_sign_in());
        };
        if console.revoked.contains(&session) {
            return Err(to_sign_in());
        }
        Ok(Reviewer {
            csrf: console.secret.csrf(&session.nonce),
            user,
            session,
            client_ip: client_ip(parts),
        })
    }
}

/// A signed-in admin: a reviewer gets 403.
pub struct Admin(pub Reviewer);

impl FromRequestParts<Arc<Console>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        let reviewer = Reviewer::from_request_parts(parts, console).await?;
        if reviewer.user.role != Role::Admin {
            let page = pages::problem(
                "Not allowed",
                Some(&reviewer.chrome()),
                "This page is for admins.",
            );
            return Err((StatusCode::FORBIDDEN, Html(page.into_string())).into_response());
        }
        Ok(Admin(reviewer))
    }
}
