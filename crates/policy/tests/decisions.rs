//! Policy semantics (SPEC §5): constraints, order, first trigger, monitor
//! mode, unscannable, actions.

use sluice_policy::{Action, Config, Envelope, Inspector};

fn inspector(policies: &str) -> (tempfile::TempDir, Inspector) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("terms.csv"),
        "Customer\nAccount Manager\nSales Engineer\nPurchase date\n",
    )
    .unwrap();
    let toml = format!(
        r#"
[[entity]]
name = "terms"
type = "dictionary"
path = "terms.csv"

[[entity]]
name = "cards"
type = "credit-card"

[[rule]]
name = "Customer entitlement"
entities = ["terms"]

[[rule]]
name = "Cards"
entities = ["cards"]
severity = {{ low = 1, high = 3 }}

[[profile]]
name = "Customer data"
rules = ["Customer entitlement"]

[[profile]]
name = "Payment"
rules = ["Cards"]
{policies}
"#
    );
    std::fs::write(d.path().join("sluice.toml"), toml).unwrap();
    let i = Inspector::new(Config::load(&d.path().join("sluice.toml")).unwrap()).unwrap();
    (d, i)
}

fn env(from: &str, to: &[&str]) -> Envelope {
    Envelope {
        sender: Some(from.into()),
        recipients: Some(to.iter().map(|s| s.to_string()).collect()),
    }
}

const CUSTOMER: &[u8] =
    b"Subject: team\r\n\r\nYour Account Manager and Sales Engineer for the Customer.\r\n";
const CARDS: &[u8] =
    b"Subject: cards\r\n\r\n4242 4242 4242 4242 5555555555554444 378282246310005\r\n";

const HOLD: &str = r#"
[[policy]]
name = "Hold"
profiles = ["Customer data"]
from = { include = ["*@example.com"] }
to = { exclude = ["*@example.com", "*@*.example.com"] }
action = "add-header"
header = "X-Hold: yes"
notify_sender = true
"#;

#[test]
fn constraints_decide_whether_a_policy_applies() {
    let (_d, i) = inspector(HOLD);
    let d = i.inspect(&env("alice@example.com", &["bob@partner.org"]), CUSTOMER);
    assert_eq!(
        (d.policy.as_deref(), d.action),
        (Some("Hold"), Some(Action::AddHeader))
    );
    assert_eq!(d.header.as_deref(), Some("X-Hold: yes"));
    assert!(d.notify_sender);
    // All recipients inside (domain and subdomain, any case): not applied.
    let d = i.inspect(
        &env(
            "alice@example.com",
            &["carol@EXAMPLE.com", "dan@eu.example.com"],
        ),
        CUSTOMER,
    );
    assert_eq!(d.policy, None);
    assert!(
        d.trace[0].contains("no recipient matches to"),
        "{:?}",
        d.trace
    );
    // One outside recipient is enough.
    let d = i.inspect(
        &env(
            "Alice@Example.COM",
            &["carol@example.com", "bob@partner.org"],
        ),
        CUSTOMER,
    );
    assert_eq!(d.policy.as_deref(), Some("Hold"));
    // Sender outside the include.
    assert_eq!(
        i.inspect(&env("mallory@evil.org", &["bob@partner.org"]), CUSTOMER)
            .policy,
        None
    );
    // Below ceil(4/2) = 2 distinct terms: rule not reached.
    let d = i.inspect(
        &env("alice@example.com", &["bob@partner.org"]),
        b"Subject: x\r\n\r\nthe Customer\r\n",
    );
    assert_eq!(d.policy, None);
    assert!(d.rules.is_empty());
}

#[test]
fn envelope_defaults_to_headers() {
    let (_d, i) = inspector(HOLD);
    let raw = b"From: Alice <alice@example.com>\r\nTo: \"Bob\" <bob@partner.org>\r\nCc: carol@example.com\r\nSubject: s\r\n\r\nCustomer Account Manager\r\n";
    let d = i.inspect(&Envelope::default(), raw);
    assert_eq!(d.sender, "alice@example.com");
    assert_eq!(d.recipients, ["bob@partner.org", "carol@example.com"]);
    assert_eq!(d.policy.as_deref(), Some("Hold"));
}

#[test]
fn first_triggered_policy_decides_in_file_order() {
    let policies = r#"
[[policy]]
name = "Cards high"
profiles = ["Payment"]
min_severity = "high"
action = "quarantine"

[[policy]]
name = "Cards any"
profiles = ["Payment"]
action = "block"
reject_message = "no cards"

[[policy]]
name = "Customer"
profiles = ["Customer data"]
action = "alert"
"#;
    let (_d, i) = inspector(policies);
    let e = env("a@example.com", &["b@partner.org"]);
    let d = i.inspect(&e, CARDS);
    assert_eq!(
        (d.policy.as_deref(), d.action),
        (Some("Cards high"), Some(Action::Quarantine))
    );
    let d = i.inspect(&e, b"Subject: c\r\n\r\n4242 4242 4242 4242\r\n");
    assert_eq!(
        (d.policy.as_deref(), d.action),
        (Some("Cards any"), Some(Action::Block))
    );
    assert_eq!(d.reject_message.as_deref(), Some("no cards"));
    let d = i.inspect(
        &e,
        b"Subject: c\r\n\r\n4242 4242 4242 4242 Customer Account Manager\r\n",
    );
    assert_eq!(d.policy.as_deref(), Some("Cards any"));
    // Both rules are reported even though one policy decided.
    assert_eq!(d.rules.len(), 2);
    let d = i.inspect(&e, CUSTOMER);
    assert_eq!(
        (d.policy.as_deref(), d.action),
        (Some("Customer"), Some(Action::Alert))
    );
    let d = i.inspect(&e, b"Subject: nothing\r\n\r\nhello\r\n");
    assert_eq!((d.policy, d.action), (None, None));
}

#[test]
fn monitor_mode_records_without_applying() {
    let (_d, i) = inspector(&HOLD.replace(
        "notify_sender = true",
        "notify_sender = true\nmode = \"monitor\"",
    ));
    let d = i.inspect(&env("alice@example.com", &["bob@partner.org"]), CUSTOMER);
    assert_eq!(
        (d.policy.as_deref(), d.action, d.monitor),
        (Some("Hold"), Some(Action::AddHeader), true)
    );
    assert_eq!((d.header, d.notify_sender), (None, false));
    // Global monitor mode wins over an enforcing policy.
    let (_d, i) = inspector(&format!("[proxy]\nmode = \"monitor\"\n{HOLD}"));
    let d = i.inspect(&env("alice@example.com", &["bob@partner.org"]), CUSTOMER);
    assert!(d.monitor);
    assert_eq!(d.header, None);
}

#[test]
fn unscannable_triggers_only_when_asked_and_unsupported_never() {
    let policies = r#"
[[policy]]
name = "Unscannable"
unscannable = true
action = "quarantine"
"#;
    let (_d, i) = inspector(policies);
    let e = env("a@example.com", &["b@partner.org"]);
    let encrypted = b"Content-Type: multipart/encrypted; boundary=b\r\n\r\n--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--b--\r\n";
    let d = i.inspect(&e, encrypted);
    assert_eq!(d.policy.as_deref(), Some("Unscannable"));
    let image = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n";
    let d = i.inspect(&e, image);
    assert_eq!(d.unsupported.len(), 1);
    assert_eq!(d.policy, None);
}

#[test]
fn no_notification_for_null_sender_or_auto_replies() {
    let (_d, i) = inspector(&HOLD.replace("from = { include = [\"*@example.com\"] }\n", ""));
    let d = i.inspect(&env("", &["bob@partner.org"]), CUSTOMER);
    assert_eq!(d.policy.as_deref(), Some("Hold"));
    assert!(!d.notify_sender);
    let auto = b"Auto-Submitted: auto-replied\r\nSubject: re\r\n\r\nCustomer Account Manager\r\n";
    assert!(
        !i.inspect(&env("alice@example.com", &["bob@partner.org"]), auto)
            .notify_sender
    );
    let bulk = b"Precedence: bulk\r\nSubject: re\r\n\r\nCustomer Account Manager\r\n";
    assert!(
        !i.inspect(&env("alice@example.com", &["bob@partner.org"]), bulk)
            .notify_sender
    );
}

#[test]
fn decisions_without_explanations_differ_only_by_their_empty_trace() {
    let monitor_cards = r#"
[[policy]]
name = "Cards"
profiles = ["Payment"]
action = "block"
mode = "monitor"
"#;
    let (_d, explaining) = inspector(&format!("{monitor_cards}{HOLD}"));
    let (_e, terse) = inspector(&format!("{monitor_cards}{HOLD}"));
    let terse = terse.without_explanations();
    for (message, to) in [
        (CUSTOMER, &["bob@partner.org"][..]),
        (CUSTOMER, &["carol@example.com"][..]),
        (CARDS, &["bob@partner.org"][..]),
    ] {
        let envelope = env("alice@example.com", to);
        let full = explaining.inspect(&envelope, message);
        let mut short = terse.inspect(&envelope, message);
        assert!(!full.trace.is_empty());
        assert!(short.trace.is_empty());
        short.trace = full.trace.clone();
        assert_eq!(short, full);
    }
}
