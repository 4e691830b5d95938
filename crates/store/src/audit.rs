//! The audit trail (SPEC §8): who released, deleted or let expire a held
//! message, and the other reviewer actions, with their outcome. Entries are
//! only ever appended (and pruned after `[store] audit_retention`); nothing
//! in the API edits them.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::{lock, HoldState, Store, StoreError};

/// What an entry records. The names are SPEC §8's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// A held message relayed (wholly or for some recipients).
    Release,
    /// A held message deleted.
    Delete,
    /// A held message removed by retention.
    Expire,
    /// A sender asked for a release.
    ReleaseRequest,
    /// A reviewer approved a release request.
    RequestApprove,
    /// A reviewer rejected a release request.
    RequestReject,
    /// A release request ran out of time.
    RequestExpire,
    /// An incident's triage state changed.
    Triage,
    /// A console user signed in.
    SignIn,
    /// A console sign-in was refused.
    SignInFailed,
}

impl AuditAction {
    /// The action's name, as the API shows it.
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::Release => "release",
            AuditAction::Delete => "delete",
            AuditAction::Expire => "expire",
            AuditAction::ReleaseRequest => "release-request",
            AuditAction::RequestApprove => "request-approve",
            AuditAction::RequestReject => "request-reject",
            AuditAction::RequestExpire => "request-expire",
            AuditAction::Triage => "triage",
            AuditAction::SignIn => "sign-in",
            AuditAction::SignInFailed => "sign-in-failed",
        }
    }

    fn from_name(name: &str) -> Option<AuditAction> {
        ALL_ACTIONS.iter().copied().find(|a| a.name() == name)
    }
}

const ALL_ACTIONS: [AuditAction; 10] = [
    AuditAction::Release,
    AuditAction::Delete,
    AuditAction::Expire,
    AuditAction::ReleaseRequest,
    AuditAction::RequestApprove,
    AuditAction::RequestReject,
    AuditAction::RequestExpire,
    AuditAction::Triage,
    AuditAction::SignIn,
    AuditAction::SignInFailed,
];

/// One entry of the audit trail, as `GET /api/v1/audit` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When it happened.
    pub time: jiff::Timestamp,
    /// Who: `token:<name>`, `token:#N`, `user:<name>`, `cli:<login>`,
    /// `sender:<address>` or `system`.
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// The held message concerned.
    pub quarantine_id: Option<String>,
    /// The incident concerned.
    pub incident_id: Option<String>,
    /// The address the request came from, when it came over the network.
    pub client_ip: Option<String>,
    /// `"ok"`, or the error.
    pub result: String,
    /// More about the outcome (pending recipients, a note).
    pub detail: Option<String>,
}

impl AuditEntry {
    /// An entry stamped now, with the outcome `"ok"` and nothing else
    /// known yet.
    pub fn now(actor: impl Into<String>, action: AuditAction) -> AuditEntry {
        AuditEntry {
            time: jiff::Timestamp::now(),
            actor: actor.into(),
            action,
            quarantine_id: None,
            incident_id: None,
            client_ip: None,
            result: "ok".into(),
            detail: None,
        }
    }
}

/// Which entries to list: newest first.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// Inclusive lower bound.
    pub since: Option<jiff::Timestamp>,
    /// Exclusive upper bound.
    pub until: Option<jiff::Timestamp>,
    /// At most this many.
    pub limit: u32,
    /// Skipped first.
    pub offset: u32,
    /// Only the entries about this held message.
    pub quarantine_id: Option<String>,
    /// Only the entries about this incident.
    pub incident_id: Option<String>,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            since: None,
            until: None,
            limit: 100,
            offset: 0,
            quarantine_id: None,
            incident_id: None,
        }
    }
}

pub(crate) fn insert(tx: &rusqlite::Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit (time_ms, actor, action, quarantine_id, incident_id, client_ip, result, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            entry.time.as_millisecond(),
            entry.actor,
            entry.action.name(),
            entry.quarantine_id,
            entry.incident_id,
            entry.client_ip,
            entry.result,
            entry.detail
        ],
    )?;
    Ok(())
}

impl Store {
    /// Appends `entry` to the audit trail (committed when this returns).
    pub fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        insert(&lock(&self.writer), entry)
    }

    /// Audit entries matching `query`, newest first.
    pub fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = String::from(
            "SELECT time_ms, actor, action, quarantine_id, incident_id, client_ip, result, detail
             FROM audit WHERE 1",
        );
        if let Some(since) = query.since {
            sql.push_str(&format!(" AND time_ms >= {}", since.as_millisecond()));
        }
        if let Some(until) = query.until {
            sql.push_str(&format!(" AND time_ms < {}", until.as_millisecond()));
        }
        let mut params: Vec<&str> = Vec::new();
        if let Some(id) = &query.quarantine_id {
            params.push(id);
            sql.push_str(&format!(" AND quarantine_id = ?{}", params.len()));
        }
        if let Some(id) = &query.incident_id {
            params.push(id);
            sql.push_str(&format!(" AND incident_id = ?{}", params.len()));
        }
        sql.push_str(&format!(
            " ORDER BY time_ms DESC, id DESC LIMIT {} OFFSET {}",
            query.limit, query.offset
        ));
        let conn = lock(&self.reader);
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map(rusqlite::params_from_iter(params), |r| {
            let action: String = r.get(2)?;
            Ok((
                AuditEntry {
                    time: jiff::Timestamp::from_millisecond(r.get(0)?).unwrap_or_default(),
                    actor: r.get(1)?,
                    // Replaced below when the name is known.
                    action: AuditAction::Release,
                    quarantine_id: r.get(3)?,
                    incident_id: r.get(4)?,
                    client_ip: r.get(5)?,
                    result: r.get(6)?,
                    detail: r.get(7)?,
                },
                action,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut entry, action) = row?;
            entry.action = AuditAction::from_name(&action).ok_or_else(|| StoreError::Corrupt {
                id: format!("audit entry at {}", entry.time),
                reason: format!("unknown action {action:?}"),
            })?;
            out.push(entry);
        }
        Ok(out)
    }

    /// Removes audit entries older than `before` (`[store]
    /// audit_retention`); how many.
    pub fn prune_audit(&self, before: jiff::Timestamp) -> Result<usize, StoreError> {
        Ok(lock(&self.writer).execute(
            "DELETE FROM audit WHERE time_ms < ?1",
            [before.as_millisecond()],
        )?)
    }
}

/// Brings an incident's `quarantine` up to date: held (since when, for
/// whom) while its row is in the quarantine, else how it left, from the
/// audit entry that took it out. A message that left before the audit
/// trail existed reads as `deleted`, with no time or actor.
pub(crate) fn refresh_quarantine(
    conn: &rusqlite::Connection,
    incident: &mut crate::Incident,
) -> Result<(), StoreError> {
    use rusqlite::OptionalExtension;
    let Some(q) = incident.quarantine.as_mut() else {
        return Ok(());
    };
    let held: Option<(i64, String)> = conn
        .query_row(
            "SELECT time_ms, recipients FROM quarantine WHERE id = ?1",
            [&q.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((time_ms, recipients)) = held {
        q.state = HoldState::Held;
        q.time = jiff::Timestamp::from_millisecond(time_ms).ok();
        q.actor = None;
        q.pending = serde_json::from_str(&recipients).unwrap_or_default();
        return Ok(());
    }
    let left: Option<(i64, String, String)> = conn
        .query_row(
            "SELECT time_ms, actor, action FROM audit
             WHERE quarantine_id = ?1 AND result = 'ok' AND action IN ('release', 'delete', 'expire')
             ORDER BY time_ms DESC, id DESC LIMIT 1",
            [&q.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    q.pending.clear();
    match left {
        Some((time_ms, actor, action)) => {
            q.state = match action.as_str() {
                "release" => HoldState::Released,
                "delete" => HoldState::Deleted,
                _ => HoldState::Expired,
            };
            q.time = jiff::Timestamp::from_millisecond(time_ms).ok();
            q.actor = Some(actor);
        }
        None => {
            q.state = HoldState::Deleted;
            q.time = None;
            q.actor = None;
        }
    }
    Ok(())
}
