//! Policy semantics (SPEC §5): constraints, order, first trigger, monitor
//! mode, unscannable, actions.

use sluice_config::{Action, Config};
use sluice_policy::{plan, Decision, Disposition, Envelope, Excerpts, Inspector};

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
        (d.policy(), d.action()),
        (Some("Hold"), Some(Action::AddHeader))
    );
    let p = plan(&d);
    assert_eq!(
        p.disposition,
        Disposition::Relay {
            header: Some("X-Hold: yes".into())
        }
    );
    assert!(p.notify_sender);
    // All recipients inside (domain and subdomain, any case): not applied.
    let d = i.inspect(
        &env(
            "alice@example.com",
            &["carol@EXAMPLE.com", "dan@eu.example.com"],
        ),
        CUSTOMER,
    );
    assert_eq!(d.policy(), None);
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
    assert_eq!(d.policy(), Some("Hold"));
    // Sender outside the include.
    assert_eq!(
        i.inspect(&env("mallory@evil.org", &["bob@partner.org"]), CUSTOMER)
            .policy(),
        None
    );
    // Below ceil(4/2) = 2 distinct terms: rule not reached.
    let d = i.inspect(
        &env("alice@example.com", &["bob@partner.org"]),
        b"Subject: x\r\n\r\nthe Customer\r\n",
    );
    assert_eq!(d.policy(), None);
    assert!(d.rules.is_empty());
}

#[test]
fn envelope_defaults_to_headers() {
    let (_d, i) = inspector(HOLD);
    let raw = b"From: Alice <alice@example.com>\r\nTo: \"Bob\" <bob@partner.org>\r\nCc: carol@example.com\r\nSubject: s\r\n\r\nCustomer Account Manager\r\n";
    let d = i.inspect(&Envelope::default(), raw);
    assert_eq!(d.sender, "alice@example.com");
    assert_eq!(d.recipients, ["bob@partner.org", "carol@example.com"]);
    assert_eq!(d.policy(), Some("Hold"));
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
        (d.policy(), d.action()),
        (Some("Cards high"), Some(Action::Quarantine))
    );
    let d = i.inspect(&e, b"Subject: c\r\n\r\n4242 4242 4242 4242\r\n");
    assert_eq!(
        (d.policy(), d.action()),
        (Some("Cards any"), Some(Action::Block))
    );
    assert_eq!(
        plan(&d).disposition,
        Disposition::Reject {
            text: "no cards".into()
        }
    );
    let d = i.inspect(
        &e,
        b"Subject: c\r\n\r\n4242 4242 4242 4242 Customer Account Manager\r\n",
    );
    assert_eq!(d.policy(), Some("Cards any"));
    // Both rules are reported even though one policy decided.
    assert_eq!(d.rules.len(), 2);
    let d = i.inspect(&e, CUSTOMER);
    assert_eq!(
        (d.policy(), d.action()),
        (Some("Customer"), Some(Action::Alert))
    );
    let d = i.inspect(&e, b"Subject: nothing\r\n\r\nhello\r\n");
    assert_eq!((d.policy(), d.action()), (None, None));
}

#[test]
fn monitor_mode_records_without_applying() {
    let (_d, i) = inspector(&HOLD.replace(
        "notify_sender = true",
        "notify_sender = true\nmode = \"monitor\"",
    ));
    let d = i.inspect(&env("alice@example.com", &["bob@partner.org"]), CUSTOMER);
    assert_eq!(
        (d.policy(), d.action(), d.is_monitor()),
        (Some("Hold"), Some(Action::AddHeader), true)
    );
    let p = plan(&d);
    assert_eq!(
        (p.disposition, p.notify_sender),
        (Disposition::Relay { header: None }, false)
    );
    assert_eq!(p.incidents.len(), 1);
    // Global monitor mode wins over an enforcing policy.
    let (_d, i) = inspector(&format!("[proxy]\nmode = \"monitor\"\n{HOLD}"));
    let d = i.inspect(&env("alice@example.com", &["bob@partner.org"]), CUSTOMER);
    assert!(d.is_monitor());
    assert_eq!(plan(&d).disposition, Disposition::Relay { header: None });
}

#[test]
fn a_monitor_policy_never_shields_the_policies_after_it() {
    // SPEC §5: trying a new policy in monitor mode at the top of the file
    // changes nothing for the mail.
    let policies = format!(
        r#"
[[policy]]
name = "Try quarantine"
profiles = ["Payment", "Customer data"]
action = "quarantine"
mode = "monitor"
{HOLD}
[[policy]]
name = "Cards"
profiles = ["Payment"]
action = "block"
"#
    );
    let (_d, i) = inspector(&policies);
    let e = env("alice@example.com", &["bob@partner.org"]);
    let d = i.inspect(&e, CUSTOMER);
    assert_eq!(
        (d.policy(), d.action(), d.is_monitor()),
        (Some("Hold"), Some(Action::AddHeader), false)
    );
    let monitored: Vec<(&str, Action)> = d
        .monitored
        .iter()
        .map(|t| (t.policy.as_str(), t.action))
        .collect();
    assert_eq!(monitored, [("Try quarantine", Action::Quarantine)]);
    let p = plan(&d);
    assert_eq!(
        p.disposition,
        Disposition::Relay {
            header: Some("X-Hold: yes".into())
        }
    );
    let incidents: Vec<(&str, bool)> = p
        .incidents
        .iter()
        .map(|i| (i.triggered.policy.as_str(), i.deciding))
        .collect();
    assert_eq!(incidents, [("Try quarantine", false), ("Hold", true)]);
    // Cards go past the monitor policy to the block.
    let d = i.inspect(&e, CARDS);
    assert_eq!(d.policy(), Some("Cards"));
    assert!(matches!(plan(&d).disposition, Disposition::Reject { .. }));
    assert!(d.trace[0].contains("evaluation goes on"), "{:?}", d.trace);
    // Only monitor policies triggered: the first is reported.
    let d = i.inspect(&env("mallory@evil.org", &["bob@partner.org"]), CUSTOMER);
    assert_eq!((d.policy(), d.is_monitor()), (Some("Try quarantine"), true));
    assert_eq!(plan(&d).disposition, Disposition::Relay { header: None });
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
    assert_eq!(d.policy(), Some("Unscannable"));
    let image = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n";
    let d = i.inspect(&e, image);
    assert_eq!(d.unsupported.len(), 1);
    assert_eq!(d.policy(), None);
}

#[test]
fn no_notification_for_null_sender_or_auto_replies() {
    let (_d, i) = inspector(&HOLD.replace("from = { include = [\"*@example.com\"] }\n", ""));
    let d = i.inspect(&env("", &["bob@partner.org"]), CUSTOMER);
    assert_eq!(d.policy(), Some("Hold"));
    assert!(!plan(&d).notify_sender);
    let auto = b"Auto-Submitted: auto-replied\r\nSubject: re\r\n\r\nCustomer Account Manager\r\n";
    assert!(!plan(&i.inspect(&env("alice@example.com", &["bob@partner.org"]), auto)).notify_sender);
    let bulk = b"Precedence: bulk\r\nSubject: re\r\n\r\nCustomer Account Manager\r\n";
    assert!(!plan(&i.inspect(&env("alice@example.com", &["bob@partner.org"]), bulk)).notify_sender);
}

/// Card numbers blocked in monitor mode: recorded, never applied.
const MONITOR_CARDS: &str = r#"
[[policy]]
name = "Cards"
profiles = ["Payment"]
action = "block"
mode = "monitor"
"#;

#[test]
fn decisions_without_explanations_differ_only_by_their_empty_trace() {
    let (_d, explaining) = inspector(&format!("{MONITOR_CARDS}{HOLD}"));
    let (_e, terse) = inspector(&format!("{MONITOR_CARDS}{HOLD}"));
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

/// Each match's excerpt, rule by rule.
fn excerpts(d: &Decision) -> Vec<(String, Vec<String>)> {
    d.rules
        .iter()
        .map(|r| {
            let cut = r.matches.iter().map(|m| m.excerpt.clone()).collect();
            (r.rule.clone(), cut)
        })
        .collect()
}

#[test]
fn excerpts_are_cut_for_what_is_shown_and_decisions_are_otherwise_the_same() {
    let policies = format!("{MONITOR_CARDS}{HOLD}");
    let (_d, every) = inspector(&policies);
    let (_e, triggered) = inspector(&policies);
    let triggered = triggered.with_excerpts(Excerpts::Triggered);
    let (_f, none) = inspector(&policies);
    let none = none.with_excerpts(Excerpts::None);
    let both = [CUSTOMER, CARDS].concat();
    // Outside, both policies trigger; inside, only the cards' (the hold
    // is for mail leaving the company).
    for (to, customer_shown) in [("bob@partner.org", true), ("carol@example.com", false)] {
        let envelope = env("alice@example.com", &[to]);
        let full = every.inspect(&envelope, &both);
        let cut = excerpts(&full);
        assert_eq!(cut.len(), 2, "{to}: both rules match");
        for (rule, excerpts) in &cut {
            assert!(
                !excerpts.is_empty() && excerpts.iter().all(|e| !e.is_empty()),
                "{to} {rule}: {excerpts:?}"
            );
        }
        let cards_shown = cut
            .iter()
            .find(|(rule, _)| rule == "Cards")
            .map(|(_, e)| e.clone())
            .unwrap();
        assert!(
            cards_shown
                .iter()
                .all(|e| e.contains("4444") && !e.contains("5555555555554444")),
            "the card is masked in its excerpt: {cards_shown:?}"
        );

        let mut some = triggered.inspect(&envelope, &both);
        for (rule, excerpts) in excerpts(&some) {
            let shown = rule == "Cards" || customer_shown;
            assert!(
                excerpts.iter().all(|e| e.is_empty() != shown),
                "{to} {rule}: {excerpts:?}"
            );
        }
        let mut nothing = none.inspect(&envelope, &both);
        assert!(excerpts(&nothing)
            .iter()
            .all(|(_, e)| e.iter().all(String::is_empty)));

        // What is decided is the same whichever excerpts are cut.
        for d in [&mut some, &mut nothing] {
            for (r, full_rule) in d.rules.iter_mut().zip(&full.rules) {
                for (m, full_match) in r.matches.iter_mut().zip(&full_rule.matches) {
                    m.excerpt = full_match.excerpt.clone();
                }
            }
            assert_eq!(*d, full);
        }
    }
}
