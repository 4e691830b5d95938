//! `sluice-store`: incidents, forensics, the quarantine, the audit trail,
//! triage verdicts and release requests in one SQLite file (SPEC §8, §9).
//! Every reviewer's change is committed with its audit entry in one
//! transaction, so the trail never misses a step nor shows one that did
//! not happen.
//!
//! Two kinds of writes with opposite needs share the file:
//!
//! * **Incidents** must never hold up mail. They go through an
//!   [`IncidentQueue`]: a bounded channel drained by one writer thread that
//!   commits batches. When the queue is full the incident is dropped and
//!   counted, and the SMTP session goes on.
//! * **Quarantined messages** must never be acknowledged before they are
//!   durable. [`Store::quarantine`] commits the message, its envelope and
//!   its incident in one transaction with `synchronous = FULL` before it
//!   returns; any error (disk full, I/O, a locked file past the busy
//!   timeout) is returned so the proxy can answer `451 4.3.0`.
//!
//! The file runs in WAL mode so API reads never wait for writers. The schema
//! is versioned in code ([`SCHEMA_VERSION`], append-only migrations applied
//! on open). Incidents are stored as their §8 JSON plus a search table of
//! lower-cased field values, which the [`Filter`] query language compiles
//! to; that keeps comparisons case-insensitive for all of Unicode (SQLite's
//! own `lower()` is ASCII-only).
//!
//! ```
//! use sluice_store::{Filter, Incident, IncidentQuery, Store};
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(&dir.path().join("sluice.db")).unwrap();
//! let incident = Incident {
//!     id: ulid::Ulid::new().to_string(), time: jiff::Timestamp::now(),
//!     policy: "Customer email Hold".into(), action: sluice_config::Action::AddHeader, monitor: false,
//!     severity: sluice_dlp::Severity::Medium, rules: vec![], sender: "alice@example.com".into(),
//!     recipients: vec!["bob@partner.org".into()], subject: Some("Renewal".into()),
//!     message_id: None, client_ip: None, client_name: None, client_helo: None,
//!     auth_user: None, quarantine: None, triage: None, evidence: vec![],
//! };
//! store.insert(&[sluice_store::IncidentRecord { incident, message: None }]).unwrap();
//! let query = IncidentQuery {
//!     filter: Filter::parse("policy in ['customer EMAIL hold']").unwrap(),
//!     ..IncidentQuery::default()
//! };
//! assert_eq!(store.incidents(&query).unwrap().len(), 1);
//! ```
#![deny(missing_docs)]

mod audit;
mod incident;
mod query;
mod queue;
mod review;
mod schema;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

pub use audit::{AuditAction, AuditEntry, AuditQuery};
pub use incident::{
    EvidenceItem, Held, HoldState, Incident, IncidentRule, QuarantineState, Triage, TriageState,
};
pub use query::{Field, Filter, QueryError};
pub use queue::{IncidentQueue, QueueStats};
pub use review::{Actor, ReleaseRequest, RequestRefused, RequestState};
pub use schema::SCHEMA_VERSION;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused (I/O error, disk full, locked past the busy timeout...).
    #[error("incident store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The folder or a file could not be created or read.
    #[error("incident store: {0}")]
    Io(#[from] std::io::Error),
    /// The file was written by a newer Sluice.
    #[error(
        "incident store: schema version {found} is newer than this Sluice supports ({supported})"
    )]
    NewerSchema {
        /// Version in the file.
        found: u32,
        /// Newest version this code knows.
        supported: u32,
    },
    /// A stored incident could not be read back.
    #[error("incident store: incident {id} is unreadable: {reason}")]
    Corrupt {
        /// Incident id.
        id: String,
        /// Why.
        reason: String,
    },
}

/// An incident to record, with the whole message when `forensics = "full"`.
#[derive(Debug, Clone)]
pub struct IncidentRecord {
    /// The incident.
    pub incident: Incident,
    /// The message, kept deflated for review.
    pub message: Option<Arc<Vec<u8>>>,
}

/// Which incidents to list: newest first.
#[derive(Debug, Clone)]
pub struct IncidentQuery {
    /// The §8 filter.
    pub filter: Filter,
    /// Inclusive lower bound.
    pub since: Option<jiff::Timestamp>,
    /// Exclusive upper bound.
    pub until: Option<jiff::Timestamp>,
    /// At most this many.
    pub limit: u32,
    /// Skipped first.
    pub offset: u32,
}

impl Default for IncidentQuery {
    fn default() -> Self {
        IncidentQuery {
            filter: Filter::All,
            since: None,
            until: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// What [`Store::prune`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pruned {
    /// Incidents removed.
    pub incidents: usize,
    /// Held messages removed.
    pub quarantined: usize,
    /// Pending release requests whose message retention removed, now
    /// expired (their senders are to be told).
    pub requests_expired: Vec<ReleaseRequest>,
}

/// How long a write waits for another writer's lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An open store. `Send + Sync`: share it behind an `Arc`.
///
/// Invariant: the file's schema is [`SCHEMA_VERSION`] for as long as the
/// value lives (migrated in [`Store::open`]).
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    /// Synchronous writes (quarantine, deletes, pruning).
    writer: Mutex<Connection>,
    /// API reads; separate so a long listing never delays a quarantine.
    reader: Mutex<Connection>,
}

impl Store {
    /// Opens (creating the folder and file if needed) and migrates.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_at_version(path, SCHEMA_VERSION)
    }

    /// Opens with the schema brought only to `version` (tests of
    /// migrations from older schemas).
    #[doc(hidden)]
    pub fn open_at_version(path: &Path, version: u32) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut writer = connect(path)?;
        schema::migrate(&mut writer, version)?;
        let reader = connect(path)?;
        Ok(Store {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    /// Caps the file's size for writes through this store, as a full disk
    /// would (tests of what a full disk does to the quarantine).
    #[doc(hidden)]
    pub fn limit_size(&self, bytes: u64) -> Result<(), StoreError> {
        let conn = lock(&self.writer);
        let page_size: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.pragma_update(None, "max_page_count", bytes / page_size)?;
        Ok(())
    }

    /// The SQLite file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(lock(&self.reader).query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Records incidents in one transaction.
    pub fn insert(&self, records: &[IncidentRecord]) -> Result<(), StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        for record in records {
            insert_incident(&tx, record)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Holds a message: the message, its envelope and its incident are
    /// committed durably (`synchronous = FULL`) before this returns `Ok`.
    pub fn quarantine(
        &self,
        held: &Held,
        message: &[u8],
        incident: &IncidentRecord,
    ) -> Result<(), StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO quarantine (id, incident_id, time_ms, sender, recipients, subject, size, message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                held.id,
                held.incident_id,
                held.time.as_millisecond(),
                held.sender,
                serde_json::to_string(&held.recipients).unwrap_or_default(),
                held.subject,
                message.len() as i64,
                message
            ],
        )?;
        insert_incident(&tx, incident)?;
        tx.commit()?;
        Ok(())
    }

    /// Incidents matching `query`, newest first.
    pub fn incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>, StoreError> {
        let mut params = Vec::new();
        let condition = query.filter.to_sql(&mut params);
        let mut sql = format!("SELECT id, body FROM incidents WHERE ({condition})");
        if let Some(since) = query.since {
            sql.push_str(&format!(" AND time_ms >= {}", since.as_millisecond()));
        }
        if let Some(until) = query.until {
            sql.push_str(&format!(" AND time_ms < {}", until.as_millisecond()));
        }
        sql.push_str(&format!(
            " ORDER BY time_ms DESC, id DESC LIMIT {} OFFSET {}",
            query.limit, query.offset
        ));
        let conn = lock(&self.reader);
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map(params_from_iter(params.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row?;
            let mut incident = parse_incident(&id, &body)?;
            audit::refresh_quarantine(&conn, &mut incident)?;
            review::refresh_triage(&conn, &mut incident)?;
            out.push(incident);
        }
        Ok(out)
    }

    /// One incident.
    pub fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let conn = lock(&self.reader);
        let body: Option<String> = conn
            .query_row("SELECT body FROM incidents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(body) = body else {
            return Ok(None);
        };
        let mut incident = parse_incident(id, &body)?;
        audit::refresh_quarantine(&conn, &mut incident)?;
        review::refresh_triage(&conn, &mut incident)?;
        Ok(Some(incident))
    }

    /// The whole message kept with an incident (`forensics = "full"`).
    pub fn forensic_message(&self, incident_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let conn = lock(&self.reader);
        let deflated: Option<Vec<u8>> = conn
            .query_row(
                "SELECT deflated FROM forensic_messages WHERE incident_id = ?1",
                [incident_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(deflated) = deflated else {
            return Ok(None);
        };
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&deflated[..]).read_to_end(&mut out)?;
        Ok(Some(out))
    }

    /// Held messages, oldest first.
    pub fn held(&self) -> Result<Vec<Held>, StoreError> {
        let conn = lock(&self.reader);
        let mut statement = conn.prepare(
            "SELECT id, incident_id, time_ms, sender, recipients, subject, size
             FROM quarantine ORDER BY time_ms, id",
        )?;
        let rows = statement.query_map([], held_of_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A held message and its bytes.
    pub fn held_message(&self, id: &str) -> Result<Option<(Held, Vec<u8>)>, StoreError> {
        let conn = lock(&self.reader);
        Ok(conn
            .query_row(
                "SELECT id, incident_id, time_ms, sender, recipients, subject, size, message
                 FROM quarantine WHERE id = ?1",
                [id],
                |r| Ok((held_of_row(r)?, r.get::<_, Vec<u8>>(7)?)),
            )
            .optional()?)
    }

    /// A held message's entry, without its bytes.
    pub fn held_entry(&self, id: &str) -> Result<Option<Held>, StoreError> {
        let conn = lock(&self.reader);
        Ok(conn
            .query_row(
                "SELECT id, incident_id, time_ms, sender, recipients, subject, size
                 FROM quarantine WHERE id = ?1",
                [id],
                held_of_row,
            )
            .optional()?)
    }

    /// Keeps a held message for `pending` recipients only (a release that
    /// delivered to the others); `false` if there was none with this id.
    pub fn keep_held_for(&self, id: &str, pending: &[String]) -> Result<bool, StoreError> {
        let conn = lock(&self.writer);
        let recipients = serde_json::to_string(pending).unwrap_or_default();
        Ok(conn.execute(
            "UPDATE quarantine SET recipients = ?2 WHERE id = ?1",
            rusqlite::params![id, recipients],
        )? > 0)
    }

    /// Removes a held message; `false` if there was none with this id.
    pub fn delete_held(&self, id: &str) -> Result<bool, StoreError> {
        let conn = lock(&self.writer);
        Ok(conn.execute("DELETE FROM quarantine WHERE id = ?1", [id])? > 0)
    }

    /// Held messages and their total size in bytes.
    pub fn quarantine_size(&self) -> Result<(u64, u64), StoreError> {
        let conn = lock(&self.reader);
        Ok(conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM quarantine",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    /// Removes incidents, kept messages and held messages older than
    /// `before` (`[store] retention`).
    pub fn prune(&self, before: jiff::Timestamp) -> Result<Pruned, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        let old = "SELECT id FROM incidents WHERE time_ms < ?1";
        tx.execute(
            &format!("DELETE FROM incident_fields WHERE incident_id IN ({old})"),
            [before.as_millisecond()],
        )?;
        tx.execute(
            &format!("DELETE FROM forensic_messages WHERE incident_id IN ({old})"),
            [before.as_millisecond()],
        )?;
        tx.execute(
            &format!("DELETE FROM triage WHERE incident_id IN ({old})"),
            [before.as_millisecond()],
        )?;
        tx.execute(
            "DELETE FROM release_requests WHERE time_ms < ?1 AND state != 'pending'",
            [before.as_millisecond()],
        )?;
        let incidents = tx.execute(
            "DELETE FROM incidents WHERE time_ms < ?1",
            [before.as_millisecond()],
        )?;
        // Each held message retention removes is an `expire` in the audit
        // trail, committed with its removal.
        let expired: Vec<(String, String)> = tx
            .prepare("SELECT id, incident_id FROM quarantine WHERE time_ms < ?1")?
            .query_map([before.as_millisecond()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, incident_id) in &expired {
            let mut entry = AuditEntry::now("system", AuditAction::Expire);
            entry.quarantine_id = Some(id.clone());
            entry.incident_id = Some(incident_id.clone());
            entry.detail = Some("retention".into());
            audit::insert(&tx, &entry)?;
        }
        let quarantined = tx.execute(
            "DELETE FROM quarantine WHERE time_ms < ?1",
            [before.as_millisecond()],
        )?;
        // Requests for what retention removed can never be decided now.
        let requests_expired = review::expire_orphans(&tx)?;
        tx.commit()?;
        Ok(Pruned {
            incidents,
            quarantined,
            requests_expired,
        })
    }
}

/// A connection with the store's settings.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers never block the writer. FULL: a commit is on disk (WAL
    // fsynced) before it returns, which the quarantine's 250 relies on.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// A poisoned lock only means another thread panicked mid-call; SQLite's
/// own transaction rollback keeps the file consistent, so go on.
fn lock(m: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn insert_incident(
    tx: &rusqlite::Transaction<'_>,
    record: &IncidentRecord,
) -> Result<(), StoreError> {
    let incident = &record.incident;
    let body = serde_json::to_string(incident).map_err(|e| StoreError::Corrupt {
        id: incident.id.clone(),
        reason: e.to_string(),
    })?;
    // The id's own time when it is a ULID, else now: `time` is for display.
    tx.execute(
        "INSERT INTO incidents (id, time_ms, body) VALUES (?1, ?2, ?3)",
        params![incident.id, time_of(incident), body],
    )?;
    let mut statement = tx.prepare_cached(
        "INSERT INTO incident_fields (incident_id, field, value) VALUES (?1, ?2, ?3)",
    )?;
    for (field, value) in incident.search_values() {
        statement.execute(params![incident.id, field.name(), value])?;
    }
    if let Some(message) = &record.message {
        let mut deflater =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        deflater.write_all(message)?;
        tx.execute(
            "INSERT INTO forensic_messages (incident_id, deflated) VALUES (?1, ?2)",
            params![incident.id, deflater.finish()?],
        )?;
    }
    Ok(())
}

/// Milliseconds of an incident's `time`, the column queries and retention
/// compare.
fn time_of(incident: &Incident) -> i64 {
    incident.time.as_millisecond()
}

fn parse_incident(id: &str, body: &str) -> Result<Incident, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    };
    let mut value: serde_json::Value = serde_json::from_str(body).map_err(corrupt)?;
    // Incidents written before the `quarantine` object name only the id;
    // the state is filled in from the quarantine and the audit trail.
    if let Some(fields) = value.as_object_mut() {
        if let Some(old) = fields.remove("quarantine_id") {
            let state = old.as_str().map(|held| {
                serde_json::json!({"id": held, "state": "held", "time": null, "actor": null, "pending": []})
            });
            fields
                .entry("quarantine")
                .or_insert(state.unwrap_or_default());
        }
    }
    serde_json::from_value(value).map_err(corrupt)
}

fn held_of_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Held> {
    let recipients: String = r.get(4)?;
    Ok(Held {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        time: jiff::Timestamp::from_millisecond(r.get(2)?).unwrap_or_default(),
        sender: r.get(3)?,
        recipients: serde_json::from_str(&recipients).unwrap_or_default(),
        subject: r.get(5)?,
        size: r.get::<_, i64>(6)? as u64,
    })
}
