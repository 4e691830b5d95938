//! The console's HTML, as maud templates: checked when the proxy is
//! compiled, and everything interpolated is escaped, so a subject or a
//! file name of `<script>` is text on the page (SPEC §9). No script runs on
//! any page; the one stylesheet is served by Sluice itself.

use maud::{html, Markup, DOCTYPE};
use sluice_store::{AuditEntry, Held, Incident, ReleaseRequest, RequestState, TriageState};

use super::users::{Role, User};
use crate::delivery::RecipientReply;

/// The signed-in reviewer, as every page's header shows them.
pub struct Chrome<'a> {
    /// Their name.
    pub user: &'a str,
    /// Their role: admins see two more links.
    pub role: Role,
    /// The session's CSRF token, for the sign-out form.
    pub csrf: &'a str,
}

/// A whole page: header with navigation when signed in, then `body`.
pub fn page(title: &str, chrome: Option<&Chrome<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Sluice" }
                link rel="stylesheet" href="/console.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Console" {
                        span.brand { "Sluice" }
                        @if let Some(c) = chrome {
                            a href="/incidents" { "Incidents" }
                            a href="/quarantine" { "Quarantine" }
                            a href="/requests" { "Release requests" }
                            @if c.role == Role::Admin {
                                a href="/audit" { "Audit log" }
                                a href="/users" { "Users" }
                            }
                            form.signout method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(c.csrf);
                                span.who { (c.user) " (" (c.role.name()) ")" }
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The sign-in form; `error` above it when the last try failed.
pub fn sign_in(csrf: &str, next: &str, error: Option<&str>) -> Markup {
    let body = html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.signin method="post" action="/login" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="next" value=(next);
            label for="username" { "User name" }
            input #username name="username" autocomplete="username" required autofocus;
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
    };
    page("Sign in", None, body)
}

/// A short page saying what went wrong (403, 404, 429, ...).
pub fn problem(title: &str, chrome: Option<&Chrome<'_>>, message: &str) -> Markup {
    page(title, chrome, html! { p.error role="alert" { (message) } })
}

/// Time as reviewers read it: UTC to the second.
fn when(t: &jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The incidents page's controls and what they hold.
pub struct IncidentsView<'a> {
    pub query: &'a str,
    /// The policy picked from the list (`""`: any).
    pub policy: &'a str,
    /// The configured policies, to pick from.
    pub policies: &'a [String],
    pub period: &'a str,
    pub offset: u32,
    pub page_size: u32,
    /// The query's error and its 1-based position.
    pub error: Option<(String, usize)>,
    pub incidents: &'a [Incident],
}

/// Periods the incidents page offers, in seconds (`""`: all time).
pub const PERIODS: [(&str, &str); 5] = [
    ("3600", "Last hour"),
    ("86400", "Last 24 hours"),
    ("604800", "Last 7 days"),
    ("2592000", "Last 30 days"),
    ("", "All time"),
];

/// Incidents, newest first, with the query form and paging.
pub fn incidents(chrome: &Chrome<'_>, v: &IncidentsView<'_>) -> Markup {
    let link = |offset: u32| {
        format!(
            "/incidents?query={}&policy={}&period={}&offset={offset}",
            url_encode(v.query),
            url_encode(v.policy),
            url_encode(v.period)
        )
    };
    let body = html! {
        form.filters method="get" action="/incidents" {
            label for="policy" { "Policy" }
            select #policy name="policy" {
                option value="" selected[v.policy.is_empty()] { "Any policy" }
                @for p in v.policies {
                    option value=(p) selected[p == v.policy] { (p) }
                }
            }
            label for="query" { "Query" }
            input #query name="query" value=(v.query) size="60"
                placeholder="(policy in ['Customer email Hold']) and severity eq 'high'";
            label for="period" { "Period" }
            select #period name="period" {
                @for (value, label) in PERIODS {
                    option value=(value) selected[value == v.period] { (label) }
                }
            }
            button type="submit" { "Filter" }
        }
        p.note {
            "Query examples: " code { "severity eq 'high'" } " · " code { "sender like '*@example.com'" }
            " · " code { "recipient in ['bob@partner.org'] and not action eq 'alert'" }
            " (fields: policy, action, severity, sender, recipient, rule, profile, subject)"
        }
        @if let Some((message, position)) = &v.error {
            div.error role="alert" {
                p { "Query error at position " (position) ": " (message) }
                pre.caret { (v.query) "\n" (" ".repeat(position.saturating_sub(1))) "^" }
            }
        } @else if v.incidents.is_empty() {
            p { "No incidents." }
        } @else {
            div.scroll { table {
                thead { tr { th { "Time" } th { "Severity" } th { "Policy" } th { "Action" }
                    th { "Sender" } th { "Subject" } th { "Triage" } } }
                tbody { @for i in v.incidents { tr {
                    td { a href={ "/incidents/" (i.id) } { (when(&i.time)) } }
                    td { span class={ "sev sev-" (i.severity.name()) } { (i.severity.name()) } }
                    td { (i.policy) }
                    td { (i.action.name()) @if i.monitor { " (monitor)" } }
                    td { (i.sender) }
                    td { (i.subject.as_deref().unwrap_or("")) }
                    td { (i.triage.as_ref().map_or("new", |t| t.state.name())) }
                } } }
            } }
            nav.pages aria-label="Pages" {
                @if v.offset > 0 {
                    a href=(link(v.offset.saturating_sub(v.page_size))) { "← Newer" }
                }
                @if v.incidents.len() as u32 == v.page_size {
                    a href=(link(v.offset + v.page_size)) { "Older →" }
                }
            }
        }
    };
    page("Incidents", Some(chrome), body)
}

/// One incident: rules, evidence, quarantine, triage and its trail.
pub fn incident(chrome: &Chrome<'_>, i: &Incident, trail: &[AuditEntry]) -> Markup {
    let body = html! {
        dl.facts {
            dt { "Time" } dd { (when(&i.time)) }
            dt { "Policy" } dd { (i.policy) }
            dt { "Action" } dd { (i.action.name()) @if i.monitor { " (monitor: not applied)" } }
            dt { "Severity" } dd { span class={ "sev sev-" (i.severity.name()) } { (i.severity.name()) } }
            dt { "Sender" } dd { (i.sender) }
            dt { "Recipients" } dd { (i.recipients.join(", ")) }
            dt { "Subject" } dd { (i.subject.as_deref().unwrap_or("")) }
            dt { "Client" } dd { (i.client_ip.as_deref().unwrap_or("")) " " (i.client_helo.as_deref().unwrap_or("")) }
            dt { "Incident id" } dd { code { (i.id) } }
        }
        (why(i))
        h2 { "Quarantine" }
        @match &i.quarantine {
            None => p { "Not quarantined." },
            Some(q) => p {
                (format!("{:?}", q.state).to_lowercase())
                @if let Some(t) = &q.time { " since " (when(t)) }
                @if let Some(a) = &q.actor { " by " (a) }
                @if !q.pending.is_empty() { " — pending: " (q.pending.join(", ")) }
                @if q.state == sluice_store::HoldState::Held { " " a href={ "/quarantine/" (q.id) } { "Review the held message" } }
            },
        }
        h2 { "Triage" }
        @if let Some(t) = &i.triage {
            p { (t.state.name()) " by " (t.actor) " at " (when(&t.time)) @if !t.note.is_empty() { ": " (t.note) } }
        }
        form.triage method="post" action={ "/incidents/" (i.id) "/triage" } {
            input type="hidden" name="csrf" value=(chrome.csrf);
            label for="state" { "Verdict" }
            select #state name="state" {
                @for s in TriageState::ALL {
                    option value=(s.name()) selected[i.triage.as_ref().is_some_and(|t| t.state == s)] { (s.name()) }
                }
            }
            label for="note" { "Note" }
            input #note name="note" maxlength="1000" size="50";
            button type="submit" { "Save triage" }
        }
        h2 { "Audit trail" }
        (trail_table(trail))
    };
    page("Incident", Some(chrome), body)
}

/// Why an incident happened: its rules with their counts, and the masked
/// evidence with locations (the incident page and a held message's page).
pub fn why(i: &Incident) -> Markup {
    html! {
        h2 { "Rules" }
        table { thead { tr { th { "Rule" } th { "Profile" } th { "Severity" } th { "Count" } } }
            tbody { @for r in &i.rules { tr { td { (r.rule) } td { (r.profile) } td { (r.severity.name()) } td { (r.count) } } } } }
        h2 { "Evidence" }
        @if i.evidence.is_empty() { p { "No evidence kept (forensics = \"none\")." } }
        @else { div.scroll { table {
            thead { tr { th { "Rule" } th { "Entity" } th { "What matched" } th { "Location" } th { "Excerpt" } } }
            tbody { @for e in &i.evidence { tr {
                td { (e.rule) }
                td { (e.entity) }
                td {
                    (e.identifier.as_deref().unwrap_or("")) @if let Some(c) = e.confidence { " (" (c.name()) ")" }
                    @if let Some(d) = &e.document {
                        "document " (d)
                        @if let Some(s) = e.similarity { ", " (s) "% similar" }
                        @if let Some(w) = e.passage_words { ", a passage of " (w) " words" }
                    }
                    @if let Some(row) = e.row {
                        "table row " (row)
                        @if let Some(c) = &e.columns { " (" (c.join(", ")) ")" }
                    }
                }
                td { (location_text(&e.location)) }
                td { (e.excerpt) }
            } } }
        } } }
    }
}

/// Audit entries as a table.
pub fn trail_table(trail: &[AuditEntry]) -> Markup {
    html! {
        @if trail.is_empty() { p { "Nothing recorded." } }
        @else { div.scroll { table {
            thead { tr { th { "Time" } th { "Actor" } th { "Action" } th { "Message" } th { "Incident" } th { "Client" } th { "Result" } th { "Detail" } } }
            tbody { @for e in trail { tr {
                td { (when(&e.time)) }
                td { (e.actor) }
                td { (e.action.name()) }
                td { (e.quarantine_id.as_deref().unwrap_or("")) }
                td { @if let Some(id) = &e.incident_id { a href={ "/incidents/" (id) } { (id) } } }
                td { (e.client_ip.as_deref().unwrap_or("")) }
                td { (e.result) }
                td { (e.detail.as_deref().unwrap_or("")) }
            } } }
        } } }
    }
}

/// The held messages.
pub fn quarantine(chrome: &Chrome<'_>, held: &[Held]) -> Markup {
    let body = html! {
        @if held.is_empty() { p { "No held messages." } }
        @else { div.scroll { table {
            thead { tr { th { "Held since" } th { "Sender" } th { "Recipients" } th { "Subject" } th { "Size" } } }
            tbody { @for h in held { tr {
                td { a href={ "/quarantine/" (h.id) } { (when(&h.time)) } }
                td { (h.sender) }
                td { (h.recipients.join(", ")) }
                td { (h.subject.as_deref().unwrap_or("")) }
                td { (h.size) " bytes" }
            } } }
        } } }
    };
    page("Quarantine", Some(chrome), body)
}

/// Most characters of extracted text a preview shows.
pub const PREVIEW_CHARS: usize = 20_000;

/// One held message: envelope, the safe preview (extracted, masked text in
/// a `<pre>`), and the buttons that lead to the confirmations.
pub fn held(
    chrome: &Chrome<'_>,
    h: &Held,
    incident: Option<&Incident>,
    preview: &[(String, String)],
) -> Markup {
    let body = html! {
        dl.facts {
            dt { "Held since" } dd { (when(&h.time)) }
            dt { "Sender" } dd { (h.sender) }
            dt { "Pending recipients" } dd { (h.recipients.join(", ")) }
            dt { "Subject" } dd { (h.subject.as_deref().unwrap_or("")) }
            dt { "Size" } dd { (h.size) " bytes" }
            dt { "Incident" } dd { a href={ "/incidents/" (h.incident_id) } { (h.incident_id) } }
        }
        p.actions {
            a.button href={ "/quarantine/" (h.id) "/release" } { "Release…" }
            " "
            a.button.danger href={ "/quarantine/" (h.id) "/delete" } { "Delete…" }
        }
        @if let Some(i) = incident {
            p { "Held by the policy " strong { (i.policy) } " (severity " (i.severity.name()) ")." }
            (why(i))
        }
        h2 { "Text of the message" }
        p.note { "Extracted text only, identifiers masked; the message's own HTML, images and attachments are never shown." }
        @for (location, text) in preview {
            h3 { (location) }
            pre.preview { (text) }
        }
    };
    page("Held message", Some(chrome), body)
}

/// The confirmation before a release or a delete.
pub fn confirm(chrome: &Chrome<'_>, h: &Held, release: bool) -> Markup {
    let (verb, what) = if release {
        ("Release", "relay it upstream to its pending recipients")
    } else {
        ("Delete", "remove it for good, without relaying it")
    };
    let body = html! {
        p { (verb) " the message from " strong { (h.sender) } " to " strong { (h.recipients.join(", ")) }
            ", subject " strong { (h.subject.as_deref().unwrap_or("(none)")) } "? This will " (what) "." }
        form method="post" action={ "/quarantine/" (h.id) "/" (verb.to_lowercase()) } {
            input type="hidden" name="csrf" value=(chrome.csrf);
            button type="submit" class=[(!release).then_some("danger")] { (verb) }
            " "
            a href={ "/quarantine/" (h.id) } { "Cancel" }
        }
    };
    page(&format!("{verb} this message?"), Some(chrome), body)
}

/// What a release did, recipient by recipient.
pub fn released(
    chrome: &Chrome<'_>,
    id: &str,
    replies: &[RecipientReply],
    pending: &[String],
) -> Markup {
    let body = html! {
        @if pending.is_empty() { p.ok role="status" { "Released to every recipient." } }
        @else { p.error role="status" { "Not released to every recipient: " (pending.join(", ")) " still pending." } }
        table { thead { tr { th { "Recipient" } th { "Upstream reply" } } }
            tbody { @for r in replies { tr { td { (r.address) } td { code { (r.reply.to_string()) } } } } } }
        p { a href="/quarantine" { "Back to the quarantine" } " · " code { (id) } }
    };
    page("Release result", Some(chrome), body)
}

/// Release requests, pending first, with their decisions.
pub fn requests(chrome: &Chrome<'_>, list: &[ReleaseRequest]) -> Markup {
    let body = html! {
        @if list.is_empty() { p { "No release requests." } }
        @else { div.scroll { table {
            thead { tr { th { "Asked" } th { "Sender" } th { "Subject" } th { "Justification" } th { "State" } th { "Decision" } } }
            tbody { @for r in list { tr {
                td { (when(&r.time)) }
                td { (r.sender) }
                td { (r.subject.as_deref().unwrap_or("")) }
                td { (r.justification) }
                td { (r.state.name()) @if let Some(a) = &r.actor { " by " (a) } }
                td {
                    @if r.state == RequestState::Pending {
                        a href={ "/quarantine/" (r.quarantine_id) } { "Review" }
                        form.inline method="post" action={ "/requests/" (r.quarantine_id) "/approve" } {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            button type="submit" { "Approve and release" }
                        }
                        form.inline method="post" action={ "/requests/" (r.quarantine_id) "/reject" } {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            button.danger type="submit" { "Reject" }
                        }
                    }
                }
            } } }
        } } }
    };
    page("Release requests", Some(chrome), body)
}

/// The audit log, newest first, with paging.
pub fn audit(chrome: &Chrome<'_>, trail: &[AuditEntry], offset: u32, page_size: u32) -> Markup {
    let body = html! {
        (trail_table(trail))
        nav.pages aria-label="Pages" {
            @if offset > 0 { a href={ "/audit?offset=" (offset.saturating_sub(page_size)) } { "← Newer" } }
            @if trail.len() as u32 == page_size { a href={ "/audit?offset=" (offset + page_size) } { "Older →" } }
        }
    };
    page("Audit log", Some(chrome), body)
}

/// The users (read-only: `sluice-proxy user` changes them).
pub fn users(chrome: &Chrome<'_>, users: &[User]) -> Markup {
    let body = html! {
        p.note { "Managed with " code { "sluice-proxy user add|remove|passwd" } " on the server." }
        table { thead { tr { th { "Name" } th { "Role" } } }
            tbody { @for u in users { tr { td { (u.name) } td { (u.role.name()) } } } } }
    };
    page("Users", Some(chrome), body)
}

/// The sender's page behind a release-request link: the subject and a
/// justification form, or, once asked, only where the request stands.
pub fn request_link(
    subject: &str,
    state: Option<&ReleaseRequest>,
    csrf: &str,
    notice: Option<&str>,
) -> Markup {
    let body = html! {
        p { "Message: " strong { (subject) } }
        @if let Some(n) = notice { p.ok role="status" { (n) } }
        @match state {
            Some(r) => p { "Your release request is " strong { (r.state.name()) } "." (outcome_text(r.state)) },
            None => form method="post" {
                input type="hidden" name="csrf" value=(csrf);
                label for="justification" { "Business reason for sending it" }
                textarea #justification name="justification" rows="6" cols="60" maxlength="2000" required {}
                button type="submit" { "Ask for release" }
            },
        }
    };
    page("Ask for release", None, body)
}

/// What a request's state means to its sender.
pub fn outcome_text(state: RequestState) -> &'static str {
    match state {
        RequestState::Pending => " A reviewer will decide; you will get the outcome by mail.",
        RequestState::Approved => " The message was released to its recipients.",
        RequestState::Rejected => " The message stays held and will not be sent.",
        RequestState::Expired => " The message left the quarantine before a decision.",
    }
}

/// A location (SPEC §8's JSON object) as a reviewer reads it: `part 2 ·
/// call-notes.docx · application/…`, `subject`.
pub fn location_text(location: &serde_json::Value) -> String {
    let get = |key: &str| location.get(key).and_then(|v| v.as_str());
    let mut bits = Vec::new();
    if let Some(part) = get("part") {
        bits.push(format!("part {part}"));
    }
    if let Some(name) = get("filename") {
        bits.push(name.to_owned());
    }
    if let Some(path) = get("archive_path") {
        bits.push(format!("in the archive: {path}"));
    }
    if let Some(kind) = get("content_type") {
        bits.push(kind.to_owned());
    }
    match get("field") {
        Some("filename") => bits.push("its file name".to_owned()),
        Some(field) => bits.push(field.to_owned()),
        None => {}
    }
    if bits.is_empty() {
        "the message".to_owned()
    } else {
        bits.join(" · ")
    }
}

/// `s` for a URL's query string.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(subject: &str) -> Incident {
        serde_json::from_value(serde_json::json!({
            "id": "01JD0000000000000000000000", "time": "2026-11-28T09:14:03Z",
            "policy": "P<b>", "action": "block", "monitor": false, "severity": "high",
            "rules": [], "sender": "<script>@x.org", "recipients": ["r@y.org"],
            "subject": subject, "message_id": null, "client_ip": null, "quarantine": null,
            "evidence": [{"rule": "R", "entity": "e", "excerpt": "<i>x</i>",
                          "location": {"part": "2", "filename": "<svg onload=alert(1)>.txt",
                                       "content_type": "text/plain", "field": null,
                                       "archive_path": null}}]
        }))
        .unwrap()
    }

    #[test]
    fn everything_from_a_message_is_escaped() {
        let chrome = Chrome {
            user: "ana",
            role: Role::Admin,
            csrf: "t",
        };
        let i = sample("<img src=x onerror=alert(1)>");
        let pages = [
            incident_page(&chrome, &i),
            incidents(
                &chrome,
                &IncidentsView {
                    query: "subject eq '<b>'",
                    policy: "",
                    policies: &["<script>".to_owned()],
                    period: "",
                    offset: 0,
                    page_size: 50,
                    error: None,
                    incidents: std::slice::from_ref(&i),
                },
            )
            .into_string(),
        ];
        for page in pages {
            for raw in ["<img", "<script>", "<svg", "<i>", "P<b>", "'<b>'"] {
                assert!(!page.contains(raw), "{raw} unescaped in {page}");
            }
            assert!(
                page.contains("&lt;img src=x onerror=alert(1)&gt;"),
                "{page}"
            );
        }
    }

    fn incident_page(chrome: &Chrome<'_>, i: &Incident) -> String {
        incident(chrome, i, &[]).into_string()
    }

    #[test]
    fn locations_read_as_text_and_urls_are_encoded() {
        let location = serde_json::json!({"part": "2", "filename": "a.docx",
            "content_type": "application/pdf", "archive_path": "x/y.txt", "field": "filename"});
        assert_eq!(
            location_text(&location),
            "part 2 · a.docx · in the archive: x/y.txt · application/pdf · its file name"
        );
        assert_eq!(
            location_text(&serde_json::json!({"field": "subject"})),
            "subject"
        );
        assert_eq!(location_text(&serde_json::json!({})), "the message");
        assert_eq!(url_encode("a b&c=/'é"), "a%20b%26c%3D%2F%27%C3%A9");
    }
}
