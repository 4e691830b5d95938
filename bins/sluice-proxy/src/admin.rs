//! The administration subcommands (`incidents`, `audit`, `quarantine`):
//! the store directly, releases through the configured upstream (the same
//! path as the API's), every change audited as `cli:<login>`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use sluice_config::{Config, LogFormat};
use sluice_store::{AuditQuery, HoldState, Store};

use crate::incidents::IncidentParams;
use crate::metrics::Metrics;
use crate::quarantine::{Quarantine, Requester};
use crate::{destination, init_logging, load, Command, Listing, QuarantineCommand};

/// Runs one administration subcommand against the configuration's store.
pub fn administer(config_path: PathBuf, command: Command) -> anyhow::Result<()> {
    let config = load(&config_path)?;
    // Releases and deletes are logged with their actor, from here too.
    init_logging(config.proxy.log_format == LogFormat::Json);
    let store = Arc::new(Store::open(&config.store.path)?);
    let mut out = std::io::stdout().lock();
    match command {
        Command::Run | Command::User { .. } => unreachable!("handled by main"),
        Command::Incidents { query, listing } => {
            let params = IncidentParams {
                query,
                ..params(&listing)
            };
            incidents(&store, &params, listing.json, &mut out)
        }
        Command::Audit {
            quarantine,
            listing,
        } => audit(
            &store,
            &params(&listing),
            quarantine,
            listing.json,
            &mut out,
        ),
        Command::Quarantine { action } => quarantine(&config, store, action, &mut out),
    }
}

/// The time and paging of a listing, checked like the API's.
fn params(listing: &Listing) -> IncidentParams {
    IncidentParams {
        timeperiod: listing.timeperiod,
        limit: listing.limit.map(u64::from),
        offset: listing.offset.map(u64::from),
        ..IncidentParams::default()
    }
}

/// `incidents`: JSON lines, or a table whose action column says where a
/// held message is now.
fn incidents(
    store: &Store,
    params: &IncidentParams,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let q = params.query().map_err(|e| anyhow::anyhow!(e.join("; ")))?;
    let found = store.incidents(&q)?;
    if json {
        for i in &found {
            writeln!(out, "{}", serde_json::to_string(i)?)?;
        }
        return Ok(());
    }
    if found.is_empty() {
        writeln!(out, "no incidents")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<26}  {:<20}  {:<24} {:<21} {:<8} SENDER -> RECIPIENTS  SUBJECT",
        "ID", "TIME", "POLICY", "ACTION", "SEVERITY"
    )?;
    for i in &found {
        let mut action = i.action.to_string();
        if i.monitor {
            action.push_str(" (monitor)");
        }
        if let Some(q) = i.quarantine.as_ref().filter(|q| q.state != HoldState::Held) {
            action.push_str(match q.state {
                HoldState::Released => " (released)",
                HoldState::Deleted => " (deleted)",
                _ => " (expired)",
            });
        }
        writeln!(
            out,
            "{:<26}  {:<20}  {:<24} {:<21} {:<8} <{}> -> {}  {}",
            i.id,
            i.time,
            i.policy,
            action,
            i.severity,
            i.sender,
            i.recipients.join(","),
            i.subject.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

/// `audit`: the trail, newest first, as JSON lines or a table.
fn audit(
    store: &Store,
    params: &IncidentParams,
    quarantine_id: Option<String>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let q = params.query().map_err(|e| anyhow::anyhow!(e.join("; ")))?;
    let entries = store.audit_log(&AuditQuery {
        since: q.since,
        until: q.until,
        limit: q.limit,
        offset: q.offset,
        quarantine_id,
        incident_id: None,
    })?;
    if json {
        for e in &entries {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        }
        return Ok(());
    }
    if entries.is_empty() {
        writeln!(out, "no audit entries")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<24}  {:<20}  {:<16} {:<26}  RESULT",
        "TIME", "ACTOR", "ACTION", "QUARANTINE"
    )?;
    for e in &entries {
        writeln!(
            out,
            "{:<24}  {:<20}  {:<16} {:<26}  {}{}",
            e.time,
            e.actor,
            e.action.name(),
            e.quarantine_id.as_deref().unwrap_or("-"),
            e.result,
            e.detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// `quarantine list|release|delete`.
fn quarantine(
    config: &Config,
    store: Arc<Store>,
    action: QuarantineCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let quarantine = Quarantine::new(
        store,
        Arc::new(destination(config)?),
        config.proxy.hostname.clone(),
        Arc::new(Metrics::new()),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match action {
        QuarantineCommand::List => {
            let held = runtime.block_on(quarantine.list())?;
            if held.is_empty() {
                writeln!(out, "no held messages")?;
            } else {
                writeln!(
                    out,
                    "{:<26}  {:<20}  {:>11}  SENDER -> RECIPIENTS  SUBJECT",
                    "ID", "TIME", "SIZE"
                )?;
            }
            for h in held {
                writeln!(
                    out,
                    "{:<26}  {:<20}  {:>9} B  <{}> -> {}  {}",
                    h.id,
                    h.time,
                    h.size,
                    h.sender,
                    h.recipients.join(","),
                    h.subject.as_deref().unwrap_or("")
                )?;
            }
        }
        QuarantineCommand::Delete { id } => {
            runtime.block_on(quarantine.delete(&id, &Requester::cli(cli_actor())))?;
            writeln!(out, "deleted {id}")?;
        }
        QuarantineCommand::Release { id } => {
            let released =
                runtime.block_on(quarantine.release(&id, &Requester::cli(cli_actor())))?;
            let state = if released.pending.is_empty() {
                "released"
            } else {
                "partly released (kept for the pending recipients)"
            };
            writeln!(out, "{state} {id}")?;
            for r in &released.recipients {
                writeln!(out, "  {}: {}", r.address, r.reply)?;
            }
        }
    }
    Ok(())
}

/// Who runs an administration command: `cli:<login name>` (SPEC §8).
fn cli_actor() -> String {
    let login = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    format!("cli:{login}")
}

/// `--timeperiod` as seconds: a plain number, or a duration as the
/// configuration writes them.
pub fn period(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(seconds) => Ok(seconds),
        Err(_) => sluice_config::parse_duration(value).map(|d| d.as_secs()),
    }
}
