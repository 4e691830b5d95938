//! Schema migrations, versioned in code with SQLite's `user_version`.
//!
//! Each entry of [`MIGRATIONS`] takes the schema from version `i` to
//! `i + 1`; a file is brought up to date in one transaction per step when
//! opened. Migrations are append-only: a released one is never edited.

use rusqlite::Connection;

use crate::StoreError;

/// Step `i` migrates schema version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: incidents as their §8 JSON, a search table of lower-cased field
    //    values for the query language, and the quarantine.
    "CREATE TABLE incidents (
         id TEXT PRIMARY KEY,
         time_ms INTEGER NOT NULL,
         body TEXT NOT NULL
     );
     CREATE INDEX incidents_by_time ON incidents (time_ms, id);
     CREATE TABLE incident_fields (
         incident_id TEXT NOT NULL,
         field TEXT NOT NULL,
         value TEXT NOT NULL
     );
     CREATE INDEX incident_fields_by_incident ON incident_fields (incident_id);
     CREATE TABLE quarantine (
         id TEXT PRIMARY KEY,
         incident_id TEXT NOT NULL,
         time_ms INTEGER NOT NULL,
         sender TEXT NOT NULL,
         recipients TEXT NOT NULL,
         subject TEXT,
         size INTEGER NOT NULL,
         message BLOB NOT NULL
     );",
    // 2: whole messages kept for review (`forensics = \"full\"`), deflated;
    //    field lookups by value for selective queries.
    "CREATE TABLE forensic_messages (
         incident_id TEXT PRIMARY KEY,
         deflated BLOB NOT NULL
     );
     CREATE INDEX incident_fields_by_value ON incident_fields (field, value);",
    // 3: the audit trail (SPEC §8), appended to and pruned only.
    "CREATE TABLE audit (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         time_ms INTEGER NOT NULL,
         actor TEXT NOT NULL,
         action TEXT NOT NULL,
         quarantine_id TEXT,
         incident_id TEXT,
         client_ip TEXT,
         result TEXT NOT NULL,
         detail TEXT
     );
     CREATE INDEX audit_by_time ON audit (time_ms, id);
     CREATE INDEX audit_by_quarantine ON audit (quarantine_id);",
    // 4: incident triage and release requests (SPEC §9), one of each per
    //    incident and per held message.
    "CREATE TABLE triage (
         incident_id TEXT PRIMARY KEY,
         state TEXT NOT NULL,
         note TEXT NOT NULL,
         actor TEXT NOT NULL,
         time_ms INTEGER NOT NULL
     );
     CREATE TABLE release_requests (
         quarantine_id TEXT PRIMARY KEY,
         incident_id TEXT NOT NULL,
         sender TEXT NOT NULL,
         subject TEXT,
         justification TEXT NOT NULL,
         state TEXT NOT NULL,
         time_ms INTEGER NOT NULL,
         decided_ms INTEGER,
         actor TEXT
     );
     CREATE INDEX release_requests_by_state ON release_requests (state, time_ms);",
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings `conn` to [`SCHEMA_VERSION`], or to `target` in tests of older
/// schemas.
pub(crate) fn migrate(conn: &mut Connection, target: u32) -> Result<(), StoreError> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for version in current..target {
        let tx = conn.transaction()?;
        tx.execute_batch(MIGRATIONS[version as usize])?;
        // PRAGMA takes no parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
        tx.commit()?;
    }
    Ok(())
}
