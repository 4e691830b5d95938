//! The store through its public API: migrations, concurrent writers, the
//! query language over stored incidents, a full disk, retention.

use std::sync::Arc;

use sluice_store::{
    Actor, AuditAction, AuditEntry, AuditQuery, EvidenceItem, Filter, Held, HoldState, Incident,
    IncidentQuery, IncidentQueue, IncidentRecord, IncidentRule, QuarantineState, RequestRefused,
    RequestState, Store, TriageState, SCHEMA_VERSION,
};

/// A time `seconds` before now, in whole seconds as incidents hold it.
fn ago(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - seconds).unwrap()
}

fn ulid() -> String {
    ulid::Ulid::new().to_string()
}

fn level(name: &str) -> sluice_dlp::Severity {
    sluice_dlp::Severity::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .unwrap()
}

fn incident(
    policy: &str,
    severity: &str,
    sender: &str,
    recipients: &[&str],
    rule: &str,
) -> Incident {
    Incident {
        id: ulid(),
        time: ago(0),
        policy: policy.into(),
        action: sluice_config::Action::AddHeader,
        monitor: false,
        severity: level(severity),
        rules: vec![IncidentRule {
            rule: rule.into(),
            profile: "Customer data".into(),
            severity: level(severity),
            count: 3,
        }],
        sender: sender.into(),
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
        subject: Some("Renewal for Ünïcode Corp".into()),
        message_id: Some("<m@example.com>".into()),
        client_ip: Some("127.0.0.1".into()),
        client_name: None,
        client_helo: Some("client.test".into()),
        auth_user: None,
        quarantine: None,
        triage: None,
        evidence: vec![EvidenceItem {
            rule: rule.into(),
            entity: "customer-terms".into(),
            location: serde_json::json!({"part": "1"}),
            excerpt: "…the Account Manager for…".into(),
            ..Default::default()
        }],
    }
}

fn record(i: Incident) -> IncidentRecord {
    IncidentRecord {
        incident: i,
        message: None,
    }
}

/// The quarantine entry of an incident's message of `size` bytes.
fn held(inc: &Incident, size: usize) -> Held {
    Held {
        id: inc.id.clone(),
        incident_id: inc.id.clone(),
        time: inc.time,
        sender: inc.sender.clone(),
        recipients: inc.recipients.clone(),
        subject: inc.subject.clone(),
        size: size as u64,
    }
}

/// The policies of the incidents `query` finds, in the order returned.
fn policies(store: &Store, query: &IncidentQuery) -> Vec<String> {
    store
        .incidents(query)
        .unwrap()
        .into_iter()
        .map(|i| i.policy)
        .collect()
}

fn ids(store: &Store, q: &str) -> Vec<String> {
    let query = IncidentQuery {
        filter: Filter::parse(q).unwrap(),
        ..IncidentQuery::default()
    };
    policies(store, &query)
}

#[test]
fn a_new_file_gets_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sub/sluice.db")).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    // Opening again is a no-op migration.
    drop(store);
    let store = Store::open(&dir.path().join("sub/sluice.db")).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn a_file_of_the_previous_schema_is_migrated_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.db");
    let old = Store::open_at_version(&path, SCHEMA_VERSION - 1).unwrap();
    assert_eq!(old.schema_version().unwrap(), SCHEMA_VERSION - 1);
    let kept = incident(
        "Customer email Hold",
        "medium",
        "alice@example.com",
        &["bob@partner.org"],
        "Customer entitlement",
    );
    old.insert(&[record(kept.clone())]).unwrap();
    drop(old);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.incident(&kept.id).unwrap(), Some(kept.clone()));
    assert_eq!(
        ids(&store, "policy eq 'customer email hold'"),
        ["Customer email Hold"]
    );
    // What the new version added works on the migrated file.
    let full = IncidentRecord {
        incident: incident(
            "Card block",
            "high",
            "a@example.com",
            &["x@y.org"],
            "Card numbers",
        ),
        message: Some(Arc::new(b"Subject: kept\r\n\r\nwhole message\r\n".to_vec())),
    };
    store.insert(std::slice::from_ref(&full)).unwrap();
    assert_eq!(
        store
            .forensic_message(&full.incident.id)
            .unwrap()
            .as_deref(),
        Some(&b"Subject: kept\r\n\r\nwhole message\r\n"[..])
    );
}

#[test]
fn a_file_from_a_newer_sluice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.db");
    // Closing the last connection checkpoints the WAL into the main file.
    drop(Store::open(&path).unwrap());
    // SQLite's user_version is the big-endian u32 at offset 60 of the header.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[60..64].copy_from_slice(&(SCHEMA_VERSION + 7).to_be_bytes());
    std::fs::write(&path, bytes).unwrap();
    let err = Store::open(&path).unwrap_err().to_string();
    assert!(err.contains("newer than this Sluice supports"), "{err}");
}

#[test]
fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("sluice.db")).unwrap());
    let (queue, writer) =
        IncidentQueue::start(store.clone(), 10_000, |e, n| panic!("{n}: {e}")).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let queue = queue.clone();
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let p = format!("P{t}");
                    if i % 10 == 0 {
                        // Synchronous writers (quarantine) interleave with the queue.
                        let inc = incident(&p, "low", "s@example.com", &["r@partner.org"], "R");
                        store
                            .quarantine(&held(&inc, 5), b"hello", &record(inc))
                            .unwrap();
                    } else {
                        assert!(queue.submit(record(incident(
                            &p,
                            "low",
                            "s@example.com",
                            &["r@partner.org"],
                            "R"
                        ))));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(queue);
    writer.join().unwrap();
    let all = IncidentQuery {
        limit: 1000,
        ..IncidentQuery::default()
    };
    assert_eq!(store.incidents(&all).unwrap().len(), 800);
    assert_eq!(store.held().unwrap().len(), 80);
    assert_eq!(store.quarantine_size().unwrap(), (80, 400));
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("sluice.db")).unwrap());
    let (queue, writer) = IncidentQueue::start(store.clone(), 2, |_, _| {}).unwrap();
    let started = std::time::Instant::now();
    let accepted = (0..1000)
        .filter(|_| queue.submit(record(incident("P", "low", "s@x.org", &["r@y.org"], "R"))))
        .count();
    // 1,000 submissions into a queue of 2 return at once.
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let dropped = queue
        .stats()
        .dropped
        .load(std::sync::atomic::Ordering::Relaxed) as usize;
    assert_eq!(accepted + dropped, 1000);
    assert!(dropped > 0);
    drop(queue);
    writer.join().unwrap();
    let all = IncidentQuery {
        limit: 1000,
        ..IncidentQuery::default()
    };
    assert_eq!(store.incidents(&all).unwrap().len(), accepted);
}

#[test]
fn queries_compare_exactly_but_case_insensitively() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sluice.db")).unwrap();
    store
        .insert(&[
            record(incident(
                "Customer email Hold",
                "medium",
                "Alice@Example.com",
                &["bob@partner.org", "carol@other.net"],
                "Customer entitlement",
            )),
            record(incident(
                "Card block",
                "high",
                "dave@example.com",
                &["eve@partner.org"],
                "Card numbers",
            )),
            record(incident(
                "Card block",
                "low",
                "frank@example.com",
                &["x@partner.org"],
                "Card numbers",
            )),
        ])
        .unwrap();
    let sorted = |q: &str| {
        let mut v = ids(&store, q);
        v.sort();
        v
    };
    assert_eq!(
        sorted("(policy in ['Customer email Hold'])"),
        ["Customer email Hold"]
    );
    assert_eq!(sorted("severity eq 'HIGH'"), ["Card block"]);
    assert_eq!(sorted("severity eq 'hig'"), Vec::<String>::new());
    assert_eq!(
        sorted("severity ne 'high'"),
        ["Card block", "Customer email Hold"]
    );
    assert_eq!(
        sorted("sender eq 'alice@example.com'"),
        ["Customer email Hold"]
    );
    assert_eq!(
        sorted("recipient eq 'CAROL@other.net'"),
        ["Customer email Hold"]
    );
    assert_eq!(
        sorted("recipient like '*@partner.org' and not rule eq 'card numbers'"),
        ["Customer email Hold"]
    );
    assert_eq!(
        sorted("rule like 'card*' or profile eq 'nothing'"),
        ["Card block", "Card block"]
    );
    assert_eq!(
        sorted("subject like '*ünïcode*'"),
        ["Card block", "Card block", "Customer email Hold"]
    );
    assert_eq!(sorted("subject eq 'RENEWAL FOR ÜNÏCODE CORP'").len(), 3);
    assert_eq!(
        sorted("policy in ['card block', 'x'] and (severity eq 'low' or severity eq 'medium')"),
        ["Card block"]
    );
}

#[test]
fn newest_first_with_time_windows_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sluice.db")).unwrap();
    let mut records = Vec::new();
    for (n, age_s) in [(0, 7200), (1, 1800), (2, 60), (3, 10)] {
        let mut i = incident(&format!("P{n}"), "low", "s@x.org", &["r@y.org"], "R");
        i.time = ago(age_s);
        records.push(record(i));
    }
    store.insert(&records).unwrap();
    let q = |since: Option<i64>, limit: u32, offset: u32| {
        let query = IncidentQuery {
            since: since.map(ago),
            limit,
            offset,
            ..IncidentQuery::default()
        };
        policies(&store, &query)
    };
    assert_eq!(q(None, 100, 0), ["P3", "P2", "P1", "P0"]);
    assert_eq!(q(Some(3600), 100, 0), ["P3", "P2", "P1"]);
    assert_eq!(q(None, 2, 1), ["P2", "P1"]);
    assert_eq!(q(None, 2, 4), Vec::<String>::new());
}

#[test]
fn a_full_disk_fails_the_quarantine_write_and_keeps_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sluice.db")).unwrap();
    store.limit_size(256 * 1024).unwrap();
    let hold = |size: usize| {
        let inc = incident(
            "Board papers quarantine",
            "low",
            "s@x.org",
            &["r@y.org"],
            "Board papers",
        );
        store.quarantine(&held(&inc, size), &vec![b'x'; size], &record(inc))
    };
    hold(10_000).unwrap();
    let err = hold(1_000_000).unwrap_err();
    assert!(err.to_string().contains("full"), "{err}");
    // The failed transaction left neither the message nor its incident.
    assert_eq!(store.held().unwrap().len(), 1);
    let all = IncidentQuery::default();
    assert_eq!(store.incidents(&all).unwrap().len(), 1);
}

#[test]
fn retention_prunes_old_incidents_and_held_messages() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sluice.db")).unwrap();
    let mut old = incident("Old", "low", "s@x.org", &["r@y.org"], "R");
    old.time = ago(100 * 86_400);
    let new = incident("New", "low", "s@x.org", &["r@y.org"], "R");
    store
        .insert(&[record(old.clone()), record(new.clone())])
        .unwrap();
    let pruned = store.prune(ago(90 * 86_400)).unwrap();
    assert_eq!(pruned.incidents, 1);
    assert_eq!(store.incident(&old.id).unwrap(), None);
    assert!(store.incident(&new.id).unwrap().is_some());
    // The search rows went with it: no query finds the pruned incident.
    assert_eq!(ids(&store, "policy eq 'old'"), Vec::<String>::new());
}

/// An audit entry by `actor` about held message `quarantine_id`, `age`
/// seconds ago.
fn entry(actor: &str, action: AuditAction, quarantine_id: &str, age: i64) -> AuditEntry {
    let mut e = AuditEntry::now(actor, action);
    e.time = ago(age);
    e.quarantine_id = Some(quarantine_id.into());
    e
}

#[test]
fn the_audit_trail_lists_newest_first_pages_and_filters_by_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sluice.db")).unwrap();
    let mut failed = entry("token:ops", AuditAction::Release, "Q1", 300);
    failed.result = "release of Q1 failed, the message is kept: refused".into();
    failed.client_ip = Some("192.0.2.7".into());
    for e in [
        failed.clone(),
        entry("cli:root", AuditAction::Delete, "Q2", 200),
        entry("token:ops", AuditAction::Release, "Q1", 100),
    ] {
        store.record_audit(&e).unwrap();
    }
    let all = store.audit_log(&AuditQuery::default()).unwrap();
    let order: Vec<(&str, AuditAction)> = all
        .iter()
        .map(|e| (e.quarantine_id.as_deref().unwrap(), e.action))
        .collect();
    assert_eq!(
        order,
        [
            ("Q1", AuditAction::Release),
            ("Q2", AuditAction::Delete),
            ("Q1", AuditAction::Release)
        ]
    );
    // Stored and read back whole, the time to the millisecond.
    assert_eq!(all[2], failed);
    let page = AuditQuery {
        limit: 1,
        offset: 1,
        ..AuditQuery::default()
    };
    assert_eq!(store.audit_log(&page).unwrap()[0].actor, "cli:root");
    let since = AuditQuery {
        since: Some(ago(250)),
        ..AuditQuery::default()
    };
    assert_eq!(store.audit_log(&since).unwrap().len(), 2);
    let one = AuditQuery {
        quarantine_id: Some("Q1".into()),
        ..AuditQuery::default()
    };
    assert_eq!(store.audit_log(&one).unwrap().len(), 2);
    // The JSON of SPEC §8.
    let json = serde_json::to_value(&all[1]).unwrap();
    assert_eq!(json["action"], "delete");
    assert_eq!(json["result"], "ok");
    assert_eq!(json["client_ip"], serde_json::Value::Null);
    assert_eq!(
        serde_json::to_value(AuditAction::SignInFailed).unwrap(),
        "sign-in-failed"
    );
}

#[test]
fn retention_audits_each_expired_message_and_the_trail_has_its_own_retention() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sluice.db")).unwrap();
    let mut old = incident("Old", "low", "s@x.org", &["r@y.org"], "R");
    old.time = ago(100 * 86_400);
    store
        .quarantine(&held(&old, 5), b"hello", &record(old.clone()))
        .unwrap();
    assert_eq!(store.prune(ago(90 * 86_400)).unwrap().quarantined, 1);
    let trail = store.audit_log(&AuditQuery::default()).unwrap();
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(trail[0].action, AuditAction::Expire);
    assert_eq!(trail[0].actor, "system");
    assert_eq!(trail[0].quarantine_id.as_deref(), Some(old.id.as_str()));
    assert_eq!(trail[0].incident_id.as_deref(), Some(old.id.as_str()));
    // Nothing more to expire: no second entry.
    store.prune(ago(90 * 86_400)).unwrap();
    assert_eq!(store.audit_log(&AuditQuery::default()).unwrap().len(), 1);

    store
        .record_audit(&entry("token:ops", AuditAction::Delete, "Q9", 500 * 86_400))
        .unwrap();
    assert_eq!(store.prune_audit(ago(400 * 86_400)).unwrap(), 1);
    assert_eq!(store.audit_log(&AuditQuery::default()).unwrap().len(), 1);
}

#[test]
fn an_incident_shows_where_its_held_message_is_now() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sluice.db")).unwrap();
    let state = |id: &str| store.incident(id).unwrap().unwrap().quarantine.unwrap();
    let hold = |name: &str| {
        let mut inc = incident(name, "high", "s@x.org", &["a@y.org", "b@y.org"], "R");
        inc.quarantine = Some(QuarantineState {
            id: inc.id.clone(),
            state: HoldState::Held,
            time: Some(inc.time),
            actor: None,
            pending: inc.recipients.clone(),
        });
        store
            .quarantine(&held(&inc, 5), b"hello", &record(inc.clone()))
            .unwrap();
        inc.id
    };
    let (released, partly, deleted) = (hold("A"), hold("B"), hold("C"));
    assert_eq!(state(&released).state, HoldState::Held);
    assert_eq!(state(&released).pending, ["a@y.org", "b@y.org"]);

    let done = |id: &str, actor: &str, action: AuditAction| {
        let mut e = AuditEntry::now(actor, action);
        e.quarantine_id = Some(id.into());
        store.record_audit(&e).unwrap();
    };
    // A failed release changes nothing; a release that reached everyone
    // removes it.
    let mut failed = AuditEntry::now("token:ops", AuditAction::Release);
    failed.quarantine_id = Some(released.clone());
    failed.result = "upstream down".into();
    store.record_audit(&failed).unwrap();
    assert_eq!(state(&released).state, HoldState::Held);
    store.delete_held(&released).unwrap();
    done(&released, "token:ops", AuditAction::Release);
    let s = state(&released);
    assert_eq!(s.state, HoldState::Released);
    assert_eq!(s.actor.as_deref(), Some("token:ops"));
    assert!(s.pending.is_empty() && s.time.is_some());
    // A partial release: still held, for the one left.
    store.keep_held_for(&partly, &["b@y.org".into()]).unwrap();
    done(&partly, "token:ops", AuditAction::Release);
    assert_eq!(state(&partly).state, HoldState::Held);
    assert_eq!(state(&partly).pending, ["b@y.org"]);
    store.delete_held(&deleted).unwrap();
    done(&deleted, "cli:dana", AuditAction::Delete);
    assert_eq!(state(&deleted).state, HoldState::Deleted);
    assert_eq!(state(&deleted).actor.as_deref(), Some("cli:dana"));
    // Listing shows the same, and the JSON names the state in lower case.
    let listed = store.incidents(&IncidentQuery::default()).unwrap();
    let json = serde_json::to_value(&listed).unwrap();
    let states: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["quarantine"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 3);
    assert!(
        states.contains(&"released") && states.contains(&"deleted") && states.contains(&"held")
    );
}

#[test]
fn an_incident_stored_with_a_quarantine_id_reads_as_a_quarantine_object() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.db");
    let inc = incident("Old", "high", "s@x.org", &["r@y.org"], "R");
    let store = Store::open(&path).unwrap();
    store
        .quarantine(&held(&inc, 5), b"hello", &record(inc.clone()))
        .unwrap();
    drop(store);
    // The body as an earlier version wrote it.
    let mut body = serde_json::to_value(&inc).unwrap();
    let fields = body.as_object_mut().unwrap();
    fields.remove("quarantine");
    fields.insert("quarantine_id".into(), inc.id.clone().into());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE incidents SET body = ?1 WHERE id = ?2",
        rusqlite::params![body.to_string(), inc.id],
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    let q = store
        .incident(&inc.id)
        .unwrap()
        .unwrap()
        .quarantine
        .unwrap();
    assert_eq!(q.id, inc.id);
    assert_eq!(q.state, HoldState::Held);
    assert_eq!(q.pending, ["r@y.org"]);
}

#[test]
fn triage_is_set_read_back_with_the_incident_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sluice.db")).unwrap();
    let inc = incident("P", "high", "s@x.org", &["r@y.org"], "R");
    store.insert(&[record(inc.clone())]).unwrap();
    assert_eq!(store.incident(&inc.id).unwrap().unwrap().triage, None);
    let by = Actor {
        name: "user:ana",
        client_ip: Some("192.0.2.7".into()),
    };
    assert!(store
        .set_triage(&inc.id, TriageState::FalsePositive, "test data", &by)
        .unwrap());
    assert!(!store
        .set_triage("NO-SUCH", TriageState::Reviewed, "", &by)
        .unwrap());
    let triage = store.incident(&inc.id).unwrap().unwrap().triage.unwrap();
    assert_eq!(triage.state, TriageState::FalsePositive);
    assert_eq!(triage.note, "test data");
    assert_eq!(triage.actor, "user:ana");
    let json = serde_json::to_value(store.incident(&inc.id).unwrap().unwrap()).unwrap();
    assert_eq!(json["triage"]["state"], "false-positive");
    let trail = store.audit_log(&AuditQuery::default()).unwrap();
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(trail[0].action, AuditAction::Triage);
    assert_eq!(trail[0].incident_id.as_deref(), Some(inc.id.as_str()));
    assert_eq!(
        trail[0].detail.as_deref(),
        Some("false-positive: test data")
    );
    assert_eq!(trail[0].client_ip.as_deref(), Some("192.0.2.7"));
}

#[test]
fn a_message_takes_one_release_request_decided_once_and_expires_when_it_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sluice.db")).unwrap();
    let hold = || {
        let inc = incident("Q", "low", "s@x.org", &["r@y.org"], "R");
        store
            .quarantine(&held(&inc, 5), b"hello", &record(inc.clone()))
            .unwrap();
        inc.id
    };
    let (first, second) = (hold(), hold());
    let request = store
        .request_release(&first, "board asked for it", None)
        .unwrap()
        .unwrap();
    assert_eq!(request.state, RequestState::Pending);
    assert_eq!(request.sender, "s@x.org");
    assert_eq!(
        store.request_release(&first, "again", None).unwrap(),
        Err(RequestRefused::AlreadyRequested)
    );
    assert_eq!(
        store.request_release("NO-SUCH", "x", None).unwrap(),
        Err(RequestRefused::NotHeld)
    );
    let by = Actor {
        name: "user:ana",
        client_ip: None,
    };
    assert!(store.decide_request(&first, false, &by, None).unwrap());
    // Decided once: a second decision changes nothing.
    assert!(!store.decide_request(&first, true, &by, None).unwrap());
    let got = store.release_request(&first).unwrap().unwrap();
    assert_eq!(got.state, RequestState::Rejected);
    assert_eq!(got.actor.as_deref(), Some("user:ana"));

    store
        .request_release(&second, "urgent", None)
        .unwrap()
        .unwrap();
    assert_eq!(store.expire_requests().unwrap(), vec![]);
    store.delete_held(&second).unwrap();
    let expired = store.expire_requests().unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(
        store.release_request(&second).unwrap().unwrap().state,
        RequestState::Expired
    );
    let actions: Vec<AuditAction> = store
        .audit_log(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            AuditAction::RequestExpire,
            AuditAction::ReleaseRequest,
            AuditAction::RequestReject,
            AuditAction::ReleaseRequest
        ]
    );
    // Pending first, then newest first.
    let listed: Vec<String> = store
        .release_requests(10)
        .unwrap()
        .into_iter()
        .map(|r| r.quarantine_id)
        .collect();
    assert_eq!(listed, [second, first]);
}
