//! What reviewers and senders do in the console (SPEC §9): triage verdicts
//! on incidents and release requests for held messages. Each change is
//! committed with its audit entry in one transaction, so the trail never
//! misses a step that happened nor shows one that did not.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditAction, AuditEntry};
use crate::incident::{Triage, TriageState};
use crate::{lock, Store, StoreError};

/// A sender's request to release a held message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// The held message.
    pub quarantine_id: String,
    /// The incident that holds it.
    pub incident_id: String,
    /// Who asked (the held message's envelope sender).
    pub sender: String,
    /// The held message's (masked) subject.
    pub subject: Option<String>,
    /// The business reason the sender gave.
    pub justification: String,
    /// Where the request stands.
    pub state: RequestState,
    /// When it was made.
    pub time: jiff::Timestamp,
    /// When it was decided or expired.
    pub decided: Option<jiff::Timestamp>,
    /// Who decided (`user:<name>`, `system` for an expiry).
    pub actor: Option<String>,
}

/// The states of SPEC §9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    /// Waiting for a reviewer.
    Pending,
    /// Approved: the message was released.
    Approved,
    /// Rejected: the message stays held until retention or deletion.
    Rejected,
    /// The message left the quarantine before anyone decided.
    Expired,
}

impl RequestState {
    /// Its name in JSON and pages.
    pub fn name(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Expired => "expired",
        }
    }

    fn parse(name: &str) -> RequestState {
        match name {
            "approved" => RequestState::Approved,
            "rejected" => RequestState::Rejected,
            "expired" => RequestState::Expired,
            _ => RequestState::Pending,
        }
    }
}

/// Why a release request was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestRefused {
    /// One request per message (SPEC §9).
    #[error("a release of this message was already requested")]
    AlreadyRequested,
    /// Nothing to release.
    #[error("the message is no longer held")]
    NotHeld,
}

/// Who did something, from where: what an audit entry needs of the actor.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    /// `user:<name>`, `sender:<address>`, ...
    pub name: &'a str,
    /// The address the request came from.
    pub client_ip: Option<String>,
}

impl Store {
    /// Sets an incident's triage verdict and audits it; `false` if there
    /// is no such incident.
    pub fn set_triage(
        &self,
        incident_id: &str,
        state: TriageState,
        note: &str,
        by: &Actor<'_>,
    ) -> Result<bool, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM incidents WHERE id = ?1",
                [incident_id],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Ok(false);
        }
        let now = jiff::Timestamp::now();
        tx.execute(
            "INSERT INTO triage (incident_id, state, note, actor, time_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (incident_id) DO UPDATE SET state = ?2, note = ?3, actor = ?4, time_ms = ?5",
            params![incident_id, state.name(), note, by.name, now.as_millisecond()],
        )?;
        let mut entry = AuditEntry::now(by.name, AuditAction::Triage);
        entry.time = now;
        entry.incident_id = Some(incident_id.to_owned());
        entry.client_ip = by.client_ip.clone();
        entry.detail = Some(if note.is_empty() {
            state.name().to_owned()
        } else {
            format!("{}: {note}", state.name())
        });
        audit::insert(&tx, &entry)?;
        tx.commit()?;
        Ok(true)
    }

    /// Records a sender's release request for held message `quarantine_id`
    /// and audits it (`release-request`, by `sender:<address>`).
    pub fn request_release(
        &self,
        quarantine_id: &str,
        justification: &str,
        client_ip: Option<String>,
    ) -> Result<Result<ReleaseRequest, RequestRefused>, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        let held: Option<(String, String, Option<String>)> = tx
            .query_row(
                "SELECT incident_id, sender, subject FROM quarantine WHERE id = ?1",
                [quarantine_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((incident_id, sender, subject)) = held else {
            return Ok(Err(RequestRefused::NotHeld));
        };
        let now = jiff::Timestamp::now();
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO release_requests
                 (quarantine_id, incident_id, sender, subject, justification, state, time_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
            params![
                quarantine_id,
                incident_id,
                sender,
                subject,
                justification,
                now.as_millisecond()
            ],
        )?;
        if inserted == 0 {
            return Ok(Err(RequestRefused::AlreadyRequested));
        }
        let mut entry = AuditEntry::now(format!("sender:{sender}"), AuditAction::ReleaseRequest);
        entry.time = now;
        entry.quarantine_id = Some(quarantine_id.to_owned());
        entry.incident_id = Some(incident_id.clone());
        entry.client_ip = client_ip;
        audit::insert(&tx, &entry)?;
        tx.commit()?;
        Ok(Ok(ReleaseRequest {
            quarantine_id: quarantine_id.to_owned(),
            incident_id,
            sender,
            subject,
            justification: justification.to_owned(),
            state: RequestState::Pending,
            time: now,
            decided: None,
            actor: None,
        }))
    }

    /// The release request for held message `quarantine_id`, if one was
    /// made.
    pub fn release_request(
        &self,
        quarantine_id: &str,
    ) -> Result<Option<ReleaseRequest>, StoreError> {
        let conn = lock(&self.reader);
        Ok(conn
            .query_row(
                &format!("{REQUEST_COLUMNS} WHERE quarantine_id = ?1"),
                [quarantine_id],
                request_of_row,
            )
            .optional()?)
    }

    /// Release requests, pending ones first, then newest first; at most
    /// `limit`.
    pub fn release_requests(&self, limit: u32) -> Result<Vec<ReleaseRequest>, StoreError> {
        let conn = lock(&self.reader);
        let mut statement = conn.prepare(&format!(
            // Within one millisecond, the later made first (a CI run
            // listed two requests of the same millisecond either way).
            "{REQUEST_COLUMNS} ORDER BY state != 'pending', time_ms DESC, rowid DESC LIMIT {limit}"
        ))?;
        let rows = statement.query_map([], request_of_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks a pending request decided (`approved` after its release, or
    /// `rejected`) and audits it; `false` if it was not pending (someone
    /// decided first).
    pub fn decide_request(
        &self,
        quarantine_id: &str,
        approved: bool,
        by: &Actor<'_>,
        detail: Option<String>,
    ) -> Result<bool, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        let now = jiff::Timestamp::now();
        let state = if approved {
            RequestState::Approved
        } else {
            RequestState::Rejected
        };
        let changed = tx.execute(
            "UPDATE release_requests SET state = ?2, decided_ms = ?3, actor = ?4
             WHERE quarantine_id = ?1 AND state = 'pending'",
            params![quarantine_id, state.name(), now.as_millisecond(), by.name],
        )?;
        if changed == 0 {
            return Ok(false);
        }
        let incident_id: Option<String> = tx
            .query_row(
                "SELECT incident_id FROM release_requests WHERE quarantine_id = ?1",
                [quarantine_id],
                |r| r.get(0),
            )
            .optional()?;
        let action = if approved {
            AuditAction::RequestApprove
        } else {
            AuditAction::RequestReject
        };
        let mut entry = AuditEntry::now(by.name, action);
        entry.time = now;
        entry.quarantine_id = Some(quarantine_id.to_owned());
        entry.incident_id = incident_id;
        entry.client_ip = by.client_ip.clone();
        entry.detail = detail;
        audit::insert(&tx, &entry)?;
        tx.commit()?;
        Ok(true)
    }

    /// A decision that failed (the release did not happen), audited with
    /// its error; the request stays pending.
    pub fn audit_failed_decision(
        &self,
        quarantine_id: &str,
        approved: bool,
        by: &Actor<'_>,
        error: &str,
    ) -> Result<(), StoreError> {
        let action = if approved {
            AuditAction::RequestApprove
        } else {
            AuditAction::RequestReject
        };
        let mut entry = AuditEntry::now(by.name, action);
        entry.quarantine_id = Some(quarantine_id.to_owned());
        entry.client_ip = by.client_ip.clone();
        entry.result = error.to_owned();
        self.record_audit(&entry)
    }

    /// Expires the pending requests whose message left the quarantine
    /// without a decision (deleted, or removed by retention), auditing
    /// each as `request-expire` by `system`; the requests expired.
    pub fn expire_requests(&self) -> Result<Vec<ReleaseRequest>, StoreError> {
        let conn = lock(&self.writer);
        expire_orphans(&conn)
    }
}

/// [`Store::expire_requests`] inside a caller's transaction.
pub(crate) fn expire_orphans(
    conn: &rusqlite::Connection,
) -> Result<Vec<ReleaseRequest>, StoreError> {
    let orphans: Vec<ReleaseRequest> = conn
        .prepare(&format!(
            "{REQUEST_COLUMNS} WHERE state = 'pending'
             AND quarantine_id NOT IN (SELECT id FROM quarantine)"
        ))?
        .query_map([], request_of_row)?
        .collect::<Result<_, _>>()?;
    let now = jiff::Timestamp::now();
    let mut expired = Vec::with_capacity(orphans.len());
    for mut request in orphans {
        conn.execute(
            "UPDATE release_requests SET state = 'expired', decided_ms = ?2, actor = 'system'
             WHERE quarantine_id = ?1",
            params![request.quarantine_id, now.as_millisecond()],
        )?;
        let mut entry = AuditEntry::now("system", AuditAction::RequestExpire);
        entry.time = now;
        entry.quarantine_id = Some(request.quarantine_id.clone());
        entry.incident_id = Some(request.incident_id.clone());
        entry.detail = Some("the message left the quarantine undecided".into());
        audit::insert(conn, &entry)?;
        request.state = RequestState::Expired;
        request.decided = Some(now);
        request.actor = Some("system".into());
        expired.push(request);
    }
    Ok(expired)
}

const REQUEST_COLUMNS: &str = "SELECT quarantine_id, incident_id, sender, subject, justification,
     state, time_ms, decided_ms, actor FROM release_requests";

fn request_of_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReleaseRequest> {
    let state: String = r.get(5)?;
    let decided: Option<i64> = r.get(7)?;
    Ok(ReleaseRequest {
        quarantine_id: r.get(0)?,
        incident_id: r.get(1)?,
        sender: r.get(2)?,
        subject: r.get(3)?,
        justification: r.get(4)?,
        state: RequestState::parse(&state),
        time: jiff::Timestamp::from_millisecond(r.get(6)?).unwrap_or_default(),
        decided: decided.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
        actor: r.get(8)?,
    })
}

/// Fills an incident's `triage` from its row, if a reviewer set one.
pub(crate) fn refresh_triage(
    conn: &rusqlite::Connection,
    incident: &mut crate::Incident,
) -> Result<(), StoreError> {
    let row: Option<(String, String, String, i64)> = conn
        .query_row(
            "SELECT state, note, actor, time_ms FROM triage WHERE incident_id = ?1",
            [&incident.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    incident.triage = row.map(|(state, note, actor, time_ms)| Triage {
        state: TriageState::parse(&state).unwrap_or(TriageState::New),
        note,
        actor,
        time: jiff::Timestamp::from_millisecond(time_ms).unwrap_or_default(),
    });
    Ok(())
}
