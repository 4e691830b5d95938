//! `sluice-scan scan`, `check` and `test` through the built binary, on the
//! demo configuration (fixtures/demo).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice-scan"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

/// The demo configuration, edited, with its dictionary and fingerprint
/// beside it in `dir`; the path of its `sluice.toml`.
fn demo_config_with(dir: &std::path::Path, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let demo = repo().join("fixtures/demo");
    let toml = edit(std::fs::read_to_string(demo.join("sluice.toml")).unwrap());
    std::fs::copy(demo.join("board.fp"), dir.join("board.fp")).unwrap();
    std::fs::create_dir(dir.join("dictionaries")).unwrap();
    std::fs::copy(
        demo.join("dictionaries/customer.csv"),
        dir.join("dictionaries/customer.csv"),
    )
    .unwrap();
    std::fs::write(dir.join("sluice.toml"), toml).unwrap();
    dir.join("sluice.toml")
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const CONFIG: &str = "fixtures/demo/sluice.toml";

#[test]
fn json_decisions_match_the_spec_shape_and_order() {
    let out = run(&[
        "scan",
        "--config",
        CONFIG,
        "--format",
        "json",
        "--jobs",
        "2",
        "fixtures/demo/messages",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = lines(&out);
    let names: Vec<&str> = l
        .iter()
        .map(|m| m["path"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "below-threshold.eml",
            "board-excerpt.eml",
            "card-number.eml",
            "hold-partner.eml",
            "internal-subdomain.eml",
            "locked-zip.eml"
        ]
    );
    let hold = &l[3];
    let keys: Vec<&str> = hold
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "path",
            "message_id",
            "subject",
            "from",
            "recipients",
            "policy",
            "action",
            "rules",
            "unscannable",
            "unsupported",
            "error"
        ]
    );
    assert_eq!(hold["policy"], "Customer email Hold");
    assert_eq!(hold["action"], "add-header");
    assert_eq!(hold["from"], "alice@example.com");
    assert_eq!(hold["recipients"], serde_json::json!(["bob@partner.org"]));
    let rule = &hold["rules"][0];
    assert_eq!(
        (
            rule["rule"].as_str(),
            rule["profile"].as_str(),
            rule["severity"].as_str(),
            rule["count"].as_u64()
        ),
        (
            Some("Customer entitlement"),
            Some("Customer data"),
            Some("low"),
            Some(3)
        )
    );
    // HTML evidence keeps the original text; the location is the html part.
    let html_match = rule["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["location"]["content_type"] == "text/html")
        .unwrap();
    assert_eq!(html_match["location"]["part"], "2");
    assert_eq!(l[0]["policy"], Value::Null);
    assert_eq!(l[0]["rules"], serde_json::json!([]));
    assert_eq!(l[2]["action"], "block");
    assert_eq!(l[5]["unscannable"][0]["reason"], "encrypted archive entry");
    assert_eq!(l[5]["action"], "alert");
}

#[test]
fn envelope_flags_override_headers() {
    let out = run(&[
        "scan",
        "--config",
        CONFIG,
        "--format",
        "json",
        "--from",
        "mallory@elsewhere.org",
        "fixtures/demo/messages/hold-partner.eml",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(lines(&out)[0]["policy"], Value::Null);
    let out = run(&[
        "scan",
        "--config",
        CONFIG,
        "--format",
        "json",
        "--to",
        "x@partner.org",
        "--to",
        "y@example.com",
        "fixtures/demo/messages/internal-subdomain.eml",
    ]);
    assert_eq!(
        lines(&out)[0]["recipients"],
        serde_json::json!(["x@partner.org", "y@example.com"])
    );
    assert_eq!(lines(&out)[0]["action"], "add-header");
}

#[test]
fn monitor_mode_adds_the_flag_and_keeps_the_action() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config_with(dir.path(), |toml| {
        toml.replace("mode = \"enforce\"", "mode = \"monitor\"")
    });
    let out = run(&[
        "scan",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
        "fixtures/demo/messages/card-number.eml",
    ]);
    let l = &lines(&out)[0];
    assert_eq!(
        (l["action"].as_str(), l["monitor"].as_bool()),
        (Some("block"), Some(true))
    );
}

#[test]
fn dictionary_mode_uses_the_half_of_n_default() {
    let dir = tempfile::tempdir().unwrap();
    // A path TOML would need escaping for must not matter.
    let folder = dir.path().join("dïr \"q\"");
    std::fs::create_dir(&folder).unwrap();
    let csv = folder.join("terms.csv");
    std::fs::write(&csv, "alpha\nbravo\ncharlie\ndelta\necho\n").unwrap();
    let two = dir.path().join("two.eml");
    std::fs::write(&two, "Subject: x\n\nalpha bravo\n").unwrap();
    let three = dir.path().join("three.eml");
    std::fs::write(&three, "Subject: x\n\nalpha bravo charlie\n").unwrap();
    let out = run(&[
        "scan",
        "--dictionary",
        csv.to_str().unwrap(),
        "--format",
        "json",
        two.to_str().unwrap(),
        three.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let l = lines(&out);
    assert_eq!(
        l[0]["rules"],
        serde_json::json!([]),
        "2 of 5 terms is below ceil(5/2) = 3"
    );
    assert_eq!(l[1]["rules"][0]["count"], 3);
    assert_eq!(l[1]["rules"][0]["rule"], "terms");
    assert_eq!(l[1]["policy"], Value::Null);
    let out = run(&[
        "scan",
        "--dictionary",
        csv.to_str().unwrap(),
        "--format",
        "json",
        two.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn profile_mode_evaluates_only_named_profiles() {
    let out = run(&[
        "scan",
        "--config",
        CONFIG,
        "--profile",
        "Payment data",
        "--format",
        "json",
        "fixtures/demo/messages/card-number.eml",
        "fixtures/demo/messages/hold-partner.eml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let l = lines(&out);
    assert_eq!(l[0]["policy"], Value::Null);
    assert_eq!(l[0]["rules"][0]["rule"], "Card numbers");
    assert_eq!(l[1]["rules"], serde_json::json!([]));
    let out = run(&[
        "scan",
        "--config",
        CONFIG,
        "--profile",
        "Nope",
        "fixtures/demo/messages",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no profile named \"Nope\""));
}

#[test]
fn mbox_stdin_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("box.mbox");
    let card = std::fs::read_to_string(repo().join("fixtures/demo/messages/card-number.eml"))
        .unwrap()
        .replace("\r\n", "\n");
    std::fs::write(&mbox, format!("From a@b Sat Nov 28 09:14:03 2026\nSubject: hi\n\nnothing\n\nFrom a@b Sat Nov 28 09:14:04 2026\n{card}")).unwrap();
    let out = run(&[
        "scan",
        "--config",
        CONFIG,
        "--format",
        "json",
        mbox.to_str().unwrap(),
        "missing.eml",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unreadable path beats a finding"
    );
    let l = lines(&out);
    assert!(l[0]["path"].as_str().unwrap().ends_with("box.mbox#1"));
    assert!(l[1]["path"].as_str().unwrap().ends_with("box.mbox#2"));
    assert_eq!(l[1]["action"], "block");
    assert_eq!(l[2]["path"], "missing.eml");
    assert!(l[2]["error"].as_str().unwrap().contains("missing.eml"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice-scan"))
        .args(["scan", "--config", CONFIG, "--format", "json", "-"])
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(card.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out)[0]["path"], "-");

    let out = run(&["scan", "fixtures/demo/messages"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--config or --dictionary is required"
    );
}

#[test]
fn human_output_explains_the_decision() {
    let out = run(&[
        "scan",
        "--config",
        CONFIG,
        "fixtures/demo/messages/hold-partner.eml",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("DECISION: add-header by policy \"Customer email Hold\""),
        "{text}"
    );
    assert!(
        text.contains("recipient bob@partner.org matches * (no include) and no exclude"),
        "{text}"
    );
    assert!(text.contains("rule \"Customer entitlement\" (profile \"Customer data\"): count 3 -> low (thresholds: low 3)"), "{text}");
    assert!(text.contains("customer-terms \"Account Manager\" at [part 2 text/html]: Hi Bob, your Account Manager is Dana"), "{text}");
}

#[test]
fn check_reports_every_error_and_the_lints() {
    let out = run(&["check", "--config", CONFIG]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(
        "ok: fixtures/demo/sluice.toml: 3 entities, 3 rules, 3 profiles, 4 policies, 0 warning(s)"
    ));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "a1\nb2\nc3\nd4\ne5\nf6\n").unwrap();
    let lints = r#"
[[entity]]
name = "t"
type = "dictionary"
path = "t.csv"

[[rule]]
name = "Loose"
entities = ["t"]
count = "total"
severity = { low = 2 }

[[profile]]
name = "P"
rules = ["Loose"]

[[profile]]
name = "Empty"

[[policy]]
name = "First"
profiles = ["P"]
action = "alert"

[[policy]]
name = "Shadowed"
profiles = ["P"]
min_severity = "medium"
action = "block"

[[policy]]
name = "Nothing"
profiles = ["Empty"]
action = "block"
"#;
    let config = dir.path().join("sluice.toml");
    std::fs::write(&config, lints).unwrap();
    let out = run(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("rule \"Loose\".count: a dictionary rule counting \"total\""),
        "{text}"
    );
    assert!(text.contains("rule \"Loose\".severity.low: low = 2 is below ceil(n/2) = 3 for the n = 6 distinct terms of its dictionaries; advised: low = 3"), "{text}");
    assert!(
        text.contains("policy \"Shadowed\": can never trigger: earlier policy \"First\""),
        "{text}"
    );
    assert!(
        text.contains(
            "policy \"Nothing\".profiles: can never trigger: profile(s) [\"Empty\"] have no rules"
        ),
        "{text}"
    );
    assert!(text.contains("4 warning(s)"), "{text}");

    std::fs::write(
        &config,
        lints
            .replace("count = \"total\"", "count = \"all\"")
            .replace("profiles = [\"Empty\"]", "profiles = [\"Gone\"]"),
    )
    .unwrap();
    let out = run(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("rule \"Loose\".count: unknown variant `all`"),
        "{err}"
    );
}

#[test]
fn test_command_runs_cases_and_explains_failures() {
    let out = run(&["test", "--config", CONFIG, "fixtures/demo/CASES.toml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("8 passed, 0 failed\n"));

    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("CASES.toml");
    let msg = repo().join("fixtures/demo/messages/hold-partner.eml");
    std::fs::write(&cases, format!("[[case]]\nmessage = {:?}\nexpect = {{ policy = \"Card block\", action = \"block\" }}\n", msg.to_str().unwrap())).unwrap();
    let out = run(&["test", "--config", CONFIG, cases.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("expected: policy \"Card block\" action \"block\""),
        "{text}"
    );
    assert!(
        text.contains("actual:   policy \"Customer email Hold\" action \"add-header\""),
        "{text}"
    );
    assert!(text.contains("TRIGGERED"), "{text}");
}

#[test]
fn many_messages_on_several_workers_keep_input_order() {
    // More messages than the scan runs ahead of its output, with findings
    // at irregular places, so workers finish out of order and wait.
    let dir = tempfile::tempdir().unwrap();
    let demo = repo().join("fixtures/demo/messages");
    let sources = ["card-number.eml", "below-threshold.eml", "hold-partner.eml"];
    for i in 0..700 {
        let source = sources[(i * 7 / 3) % sources.len()];
        std::fs::copy(demo.join(source), dir.path().join(format!("{i:04}.eml"))).unwrap();
    }
    let folder = dir.path().to_str().unwrap();
    let one = run(&[
        "scan", "--config", CONFIG, "--format", "json", "--jobs", "1", folder,
    ]);
    let four = run(&[
        "scan", "--config", CONFIG, "--format", "json", "--jobs", "4", folder,
    ]);
    assert_eq!(lines(&one).len(), 700);
    assert_eq!(one.stdout, four.stdout);
    assert_eq!(one.status.code(), four.status.code());
}

#[test]
fn a_monitor_policy_is_listed_and_does_not_shield_the_block_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config_with(dir.path(), |toml| {
        toml.replacen(
            "[[policy]]",
            "[[policy]]\nname = \"Try quarantine\"\nprofiles = [\"Payment data\"]\naction = \"quarantine\"\nmode = \"monitor\"\n\n[[policy]]",
            1,
        )
    });
    let out = run(&[
        "scan",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
        "fixtures/demo/messages/card-number.eml",
        "fixtures/demo/messages/below-threshold.eml",
    ]);
    let l = lines(&out);
    assert_eq!(l[0]["policy"], "Card block");
    assert_eq!(l[0]["action"], "block");
    assert!(l[0].get("monitor").is_none(), "{}", l[0]);
    assert_eq!(
        l[0]["monitored"],
        serde_json::json!([{"policy": "Try quarantine", "action": "quarantine"}])
    );
    assert!(l[1].get("monitored").is_none(), "{}", l[1]);
    assert_eq!(out.status.code(), Some(1));
    // The human form says so too.
    let out = run(&[
        "scan",
        "--config",
        config.to_str().unwrap(),
        "fixtures/demo/messages/card-number.eml",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DECISION: block by policy \"Card block\""),
        "{text}"
    );
    assert!(
        text.contains("MONITORED: quarantine by policy \"Try quarantine\""),
        "{text}"
    );
}

#[test]
fn identifiers_lists_every_type_with_its_confidence_and_keywords() {
    let out = run(&["identifiers", "--format", "json"]);
    assert!(out.status.success());
    let types = lines(&out);
    assert_eq!(types.len(), 59);
    let of = |name: &str| {
        types
            .iter()
            .find(|t| t["type"] == name)
            .unwrap_or_else(|| panic!("{name} listed"))
    };
    assert_eq!(of("us-ssn")["confidence"], "medium");
    assert_eq!(of("nl-bsn")["confidence"], "low");
    assert_eq!(of("github-token")["confidence"], "medium");
    assert!(of("nl-bsn")["keywords"]
        .as_array()
        .unwrap()
        .contains(&Value::from("burgerservicenummer")));
    assert!(of("jp-my-number")["keywords"]
        .as_array()
        .unwrap()
        .contains(&Value::from("マイナンバー")));
    for t in &types {
        assert!(!t["validates"].as_str().unwrap().is_empty(), "{t}");
    }
    let human = run(&["identifiers"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("de-tax-id"));
}

#[test]
fn identifier_evidence_carries_type_and_confidence() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config_with(dir.path(), |toml| {
        toml + "\n[[entity]]\nname = \"bsn\"\ntype = \"nl-bsn\"\n\n[[rule]]\nname = \"BSN\"\nentities = [\"bsn\"]\n\n[[profile]]\nname = \"Dutch ids\"\nrules = [\"BSN\"]\n\n[[policy]]\nname = \"BSN alert\"\nprofiles = [\"Dutch ids\"]\naction = \"alert\"\n"
    });
    let message = dir.path().join("m.eml");
    std::fs::write(
        &message,
        "From: a@example.com\r\nTo: b@partner.org\r\nSubject: gegevens\r\n\r\nMijn BSN is 1112.22.333, mijn ordernummer 111222333.\r\n",
    )
    .unwrap();
    let out = run(&[
        "scan",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
        message.to_str().unwrap(),
    ]);
    let decision = &lines(&out)[0];
    assert_eq!(decision["policy"], "BSN alert", "{decision}");
    let matches = decision["rules"][0]["matches"].as_array().unwrap();
    // The second number is the same BSN, but a keyword is near it too.
    assert_eq!(matches[0]["type"], "nl-bsn", "{decision}");
    assert_eq!(matches[0]["confidence"], "high", "{decision}");
    let human = run(&[
        "scan",
        "--config",
        config.to_str().unwrap(),
        message.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("(nl-bsn, high confidence)"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );
}

#[test]
fn check_warns_when_a_rule_counts_nothing_without_a_keyword() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "[[entity]]\nname = \"bsn\"\ntype = \"nl-bsn\"\n\n[[rule]]\nname = \"BSN\"\nentities = [\"bsn\"]\n";
    let config = dir.path().join("sluice.toml");
    std::fs::write(&config, toml).unwrap();
    let out = run(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "rule \"BSN\".min_confidence: counts nothing without a keyword near: \"bsn\" (nl-bsn)"
        ),
        "{text}"
    );
    std::fs::write(&config, format!("{toml}min_confidence = \"low\"\n")).unwrap();
    let out = run(&["check", "--config", config.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("min_confidence"), "{text}");
}

/// A reader that has gone before the report is written (`| grep -q ok`)
/// leaves the verdict as it was: no panic, no "cannot write" message.
#[test]
fn reports_to_a_closed_pipe_keep_the_verdict() {
    for (args, code) in [
        (&["check", "--config", "fixtures/demo/sluice.toml"][..], 0),
        (
            &[
                "test",
                "--config",
                "fixtures/demo/sluice.toml",
                "fixtures/demo/CASES.toml",
            ][..],
            0,
        ),
        (&["identifiers"][..], 0),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_sluice-scan"))
            .args(args)
            .current_dir(repo())
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[test]
fn timings_go_to_stderr_and_leave_the_report_alone() {
    let messages = "fixtures/demo/messages";
    let plain = run(&["scan", "--config", CONFIG, "--format", "json", messages]);
    let timed = run(&[
        "scan",
        "--config",
        CONFIG,
        "--format",
        "json",
        "--timings",
        messages,
    ]);
    assert_eq!(plain.stdout, timed.stdout);
    assert_eq!(plain.status.code(), timed.status.code());
    let stderr = String::from_utf8(timed.stderr).unwrap();
    let line = stderr
        .lines()
        .find(|l| l.starts_with("sluice-scan: loaded in "))
        .unwrap_or_else(|| panic!("no timings in {stderr:?}"));
    let numbers: Vec<u64> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
    assert_eq!(numbers.len(), 2, "{line}");
    assert!(!String::from_utf8(plain.stderr)
        .unwrap()
        .contains("loaded in"));
}
