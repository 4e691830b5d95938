//! Configuration errors: each names the file, the key path and what was
//! expected; every problem of a file is reported.

use std::path::PathBuf;

use sluice_config::{Config, ConfigErrors, EntityKind};
use sluice_policy::Inspector;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("terms.csv"),
            "Customer\nAccount Manager\nSales Engineer\n",
        )
        .unwrap();
        Dir(d)
    }

    fn load(&self, toml: &str) -> Result<Config, ConfigErrors> {
        let path = self.file();
        std::fs::write(&path, toml).unwrap();
        Config::load(&path)
    }

    fn file(&self) -> PathBuf {
        self.0.path().join("sluice.toml")
    }

    /// The errors, with the file name stripped for readable assertions.
    fn errors(&self, toml: &str) -> Vec<String> {
        let prefix = format!("{}: ", self.file().display());
        let errors = match self.load(toml).and_then(Inspector::new) {
            Ok(_) => return Vec::new(),
            Err(e) => e,
        };
        errors
            .0
            .iter()
            .map(|e| {
                e.to_string()
                    .strip_prefix(&prefix)
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.to_string())
            })
            .collect()
    }
}

const BASE: &str = r#"
[[entity]]
name = "terms"
type = "dictionary"
path = "terms.csv"

[[rule]]
name = "Cards"
entities = ["terms"]

[[profile]]
name = "P"
rules = ["Cards"]
"#;

#[test]
fn a_valid_file_loads_with_paths_relative_to_it() {
    let d = Dir::new();
    let c = d
        .load(&format!(
            "{BASE}\n[[policy]]\nname = \"x\"\nprofiles = [\"P\"]\naction = \"alert\"\n"
        ))
        .unwrap();
    assert_eq!(
        c.entity[0].kind,
        EntityKind::Dictionary {
            path: d.0.path().join("terms.csv"),
            case_sensitive: false
        }
    );
    assert_eq!(c.limits.max_part_bytes.0, 64 << 20);
    assert_eq!(c.proxy.command_timeout, std::time::Duration::from_secs(300));
    assert!(Inspector::new(c).is_ok());
}

#[test]
fn identifier_keywords_exclude_and_min_confidence() {
    let d = Dir::new();
    std::fs::write(
        d.0.path().join("allow.txt"),
        "# test cards\n4111 1111 1111 1111\n\n",
    )
    .unwrap();
    let ok = format!(
        "{BASE}\n[[entity]]\nname = \"cards\"\ntype = \"credit-card\"\nkeywords = [\"Kartennummer\"]\nexclude = [\"5555 5555 5555 4444\"]\nexclude_path = \"allow.txt\"\n\n[[rule]]\nname = \"C\"\nentities = [\"cards\"]\nmin_confidence = \"high\"\n"
    );
    let c = d.load(&ok).unwrap();
    let cards = c.entity.iter().find(|e| e.name == "cards").unwrap();
    assert!(matches!(
        &cards.kind,
        EntityKind::Identifier { keywords, exclude_path: Some(p), .. }
            if keywords == &["Kartennummer"] && p == &d.0.path().join("allow.txt")
    ));
    let inspector = Inspector::new(c).unwrap();
    let scan = inspector
        .engine()
        .scan_str("Kartennummer 4000 0566 5566 5556, 4111 1111 1111 1111");
    assert_eq!(
        scan.rule("C").unwrap().count,
        1,
        "the excluded card does not count"
    );
    let e = d.errors(&ok.replace("5555 5555 5555 4444", "5555 5555 5555 4445"));
    assert!(
        e.iter().any(|m| m.starts_with(
            "entity \"cards\".exclude: \"5555 5555 5555 4445\" is not one valid credit-card value"
        )),
        "{e:?}"
    );
    let e = d.errors(&format!("{BASE}\n").replace(
        "path = \"terms.csv\"",
        "path = \"terms.csv\"\nkeywords = [\"x\"]",
    ));
    assert!(
        e.iter().any(|m| m.starts_with(
            "entity \"terms\".keywords: keywords does not apply to type = \"dictionary\""
        )),
        "{e:?}"
    );
}

#[test]
fn the_console_needs_the_api_and_release_links_need_the_console() {
    let d = Dir::new();
    let e = d.errors(&format!(
        "{BASE}\n[notify]\nconsole_url = \"dlp.example.com\"\n[console]\nusers_file = \"console.users\"\nsession_ttl = \"8h\"\n"
    ));
    assert!(
        e.iter().any(|m| m.starts_with("console: needs [api]")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("notify.console_url: expected an http:// or https:// URL")),
        "{e:?}"
    );
    let e = d.errors(&format!(
        "{BASE}\n[notify]\nconsole_url = \"https://dlp.example.com/\"\nlink_ttl = \"3d\"\n"
    ));
    assert!(
        e.iter()
            .any(|m| m.starts_with("notify.console_url: release-request links need [console]")),
        "{e:?}"
    );
    let e = d.errors(&BASE.replace(
        "entities = [\"terms\"]",
        "entities = [\"terms\"]\nmin_confidence = \"high\"",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "rule \"Cards\".min_confidence: applies to identifier entities, and the rule has none"
        ),
        "{e:?}"
    );
    // Keys that are built load.
    let c = d
        .load(&format!(
            "{BASE}\n[proxy]\nsession_timeout = \"10m\"\nmax_connections_per_client = 20\n[limits]\nmax_extractor_memory = \"512MiB\"\nextractor_workers = 2\nmax_inflight_bytes = \"1GiB\"\n"
        ))
        .unwrap();
    assert_eq!(c.proxy.max_connections_per_client, 20);
    assert_eq!(c.limits.max_extractor_memory.0, 512 << 20);
    let e = d.errors(&format!(
        "{BASE}\n[limits]\nmax_extractor_memory = \"16MiB\"\n"
    ));
    assert!(
        e.iter()
            .any(|m| m.starts_with("limits.max_extractor_memory: must be at least 256MiB")),
        "{e:?}"
    );
}

#[test]
fn files_the_proxy_reads_are_checked_with_the_config() {
    let d = Dir::new();
    std::fs::write(d.0.path().join("cert.pem"), "not a certificate").unwrap();
    let e = d.errors(&format!(
        "{BASE}\n[proxy.tls]\ncert = \"cert.pem\"\nkey = \"missing.key\"\n[notify]\nwebhook = \"ftp://x\"\ntemplate = \"nope.txt\"\n"
    ));
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(
        e.iter()
            .any(|m| m.starts_with("proxy.tls.cert: ") && m.contains("no PEM CERTIFICATE")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("proxy.tls.key: cannot read")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("notify.webhook: expected an http")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("notify.template: cannot read")),
        "{e:?}"
    );
}

#[test]
fn every_parse_error_is_listed_not_only_the_first() {
    let d = Dir::new();
    let e = d.errors(&format!(
        "{BASE}\n[proxy]\nlisten_addr = \"x\"\nmax_recipients = \"many\"\n[limits]\nmax_dpeth = 3\n"
    ));
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e.iter()
            .any(|m| m.starts_with("proxy.listen_addr: unknown field")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.starts_with("proxy.max_recipients: ")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("limits.max_dpeth: unknown field")),
        "{e:?}"
    );
}

#[test]
fn unknown_keys_are_rejected_in_every_table() {
    let d = Dir::new();
    let e = d.errors(&format!(
        "{BASE}\n[proxy]\nlisten_addr = \"127.0.0.1:25\"\n"
    ));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(
            "proxy.listen_addr: unknown field `listen_addr`, expected one of `listen`"
        ),
        "{e:?}"
    );
    assert!(e[0].ends_with("(line 16)"), "{e:?}");
    let e = d.errors(&BASE.replace(
        "entities = [\"terms\"]",
        "entities = [\"terms\"]\ncout = \"total\"",
    ));
    assert!(
        e[0].starts_with("rule \"Cards\".cout: unknown field `cout`"),
        "{e:?}"
    );
    let e = d.errors(&format!("{BASE}\n[limits]\nmax_dpeth = 3\n"));
    assert!(
        e[0].starts_with("limits.max_dpeth: unknown field `max_dpeth`"),
        "{e:?}"
    );
}

#[test]
fn sizes_durations_and_networks() {
    let d = Dir::new();
    let c = d.load(&format!("{BASE}\n[proxy]\nmax_message_size = \"10MiB\"\ncommand_timeout = \"90s\"\nallowed_clients = [\"10.0.0.0/8\"]\n[store]\nretention = \"30d\"\naudit_retention = \"730d\"\n")).unwrap();
    assert_eq!(c.proxy.max_message_size.0, 10 << 20);
    assert_eq!(c.store.retention.as_secs(), 30 * 86400);
    assert!(c.store.audit_retention.as_secs() > 365 * 86400);
    assert_eq!(d.errors(&format!("{BASE}\n[proxy]\nmax_message_size = \"10 lots\"\n")), ["proxy.max_message_size: unknown size unit \"lots\" in \"10 lots\" (use B, KiB, MiB, GiB, KB, MB, GB) (line 16)"]);
    assert_eq!(d.errors(&format!("{BASE}\n[limits]\nmax_scan_time = \"soon\"\n")), ["limits.max_scan_time: expected a duration such as \"90s\", \"5m\", \"2h\" or \"90d\", found \"soon\" (line 16)"]);
    assert_eq!(
        d.errors(&format!(
            "{BASE}\n[proxy]\nallowed_clients = [\"10.0.0.0/33\"]\n"
        )),
        ["proxy.allowed_clients[1]: prefix length in \"10.0.0.0/33\" must be 0 to 32 (line 16)"]
    );
}

#[test]
fn thresholds_must_rise() {
    let d = Dir::new();
    let toml = BASE.replace(
        "entities = [\"terms\"]",
        "entities = [\"terms\"]\nseverity = { low = 2, medium = 2, high = 1 }",
    );
    assert_eq!(
        d.errors(&toml),
        [
            "rule \"Cards\".severity.medium: thresholds must rise with the level: medium = 2 is not above low = 2",
            "rule \"Cards\".severity.high: thresholds must rise with the level: high = 1 is not above medium = 2",
        ]
    );
    let toml = BASE.replace(
        "entities = [\"terms\"]",
        "entities = [\"terms\"]\nseverity = { low = 1, extreme = 9 }",
    );
    let e = d.errors(&toml);
    assert!(
        e[0].starts_with("rule \"Cards\".severity.extreme: unknown field `extreme`"),
        "{e:?}"
    );
}

#[test]
fn cross_references_and_duplicates() {
    let d = Dir::new();
    let toml = format!(
        "{BASE}\n[[rule]]\nname = \"Cards\"\nentities = [\"nope\"]\n\n[[profile]]\nname = \"Q\"\nrules = [\"Missing\"]\n\n[[policy]]\nname = \"x\"\nprofiles = [\"Nope\"]\naction = \"alert\"\n"
    );
    assert_eq!(
        d.errors(&toml),
        [
            "rule \"Cards\".name: duplicate rule name",
            "rule \"Cards\".entities: no entity named \"nope\"",
            "profile \"Q\".rules: no rule named \"Missing\"",
            "policy \"x\".profiles: no profile named \"Nope\"",
        ]
    );
}

#[test]
fn actions_headers_and_patterns() {
    let d = Dir::new();
    let policy =
        |extra: &str| format!("{BASE}\n[[policy]]\nname = \"Hold\"\nprofiles = [\"P\"]\n{extra}\n");
    assert_eq!(
        d.errors(&policy("action = \"add-header\"")),
        ["policy \"Hold\".header: action = \"add-header\" needs header = \"Name: value\""]
    );
    assert_eq!(d.errors(&policy("action = \"add-header\"\nheader = \"X-Hold customer\"")), ["policy \"Hold\".header: expected a header line \"Name: value\", found \"X-Hold customer\""]);
    let e = d.errors(&policy("action = \"delete\""));
    assert!(e[0].starts_with("policy \"Hold\".action: unknown variant `delete`, expected one of `allow`, `alert`, `add-header`, `block`, `quarantine`"), "{e:?}");
    assert_eq!(
        d.errors(&policy("action = \"alert\"\nto = { exclude = [\"example.com\"] }")),
        ["policy \"Hold\".to.exclude[1]: expected \"user@domain\", \"*@domain\", \"*@*.domain\" or \"*\", found \"example.com\" (line 19)"]
    );
    assert_eq!(
        d.errors(&policy("action = \"alert\"\nmin_severity = \"severe\""))[0]
            .split(',')
            .next()
            .unwrap(),
        "policy \"Hold\".min_severity: unknown variant `severe`"
    );
}

#[test]
fn entity_types_and_files() {
    let d = Dir::new();
    let e = d.errors("[[entity]]\nname = \"codes\"\ntype = \"regex\"\npattern = \"PRJ-[0-9\"\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("entity \"codes\".pattern: invalid regex: regex parse error:"),
        "{e:?}"
    );
    let e = d.errors("[[entity]]\nname = \"x\"\ntype = \"passport\"\n");
    assert!(e[0].starts_with("entity \"x\".type: unknown type \"passport\"; expected dictionary, regex, fingerprint, edm or one of credit-card"), "{e:?}");
    let e = d.errors("[[entity]]\nname = \"x\"\ntype = \"dictionary\"\npath = \"missing.csv\"\n");
    assert!(
        e[0].starts_with("entity \"x\".path: cannot read ") && e[0].contains("missing.csv"),
        "{e:?}"
    );
    std::fs::write(d.0.path().join("bad.fp"), "{\"format\": \"zip\"}").unwrap();
    let e = d.errors("[[entity]]\nname = \"fp\"\ntype = \"fingerprint\"\npath = \"bad.fp\"\n");
    assert!(
        e[0].starts_with("entity \"fp\".path: ") && e[0].contains("not a fingerprint file"),
        "{e:?}"
    );
    assert_eq!(
        d.errors("[[entity]]\nname = \"c\"\ntype = \"credit-card\"\npattern = \"x\"\n"),
        ["entity \"c\".pattern: pattern does not apply to type = \"credit-card\""]
    );
}

#[test]
fn upstream_and_syntax_errors() {
    let d = Dir::new();
    assert_eq!(
        d.errors("[upstream]\nstarttls = \"off\"\n"),
        ["upstream: needs address or maildir"]
    );
    assert_eq!(d.errors("[upstream]\naddress = \"10.0.0.1:25\"\nstarttls = \"required\"\n"), ["upstream.tls_name: needed with starttls = \"required\" when the address is an IP (10.0.0.1:25)"]);
    assert_eq!(
        d.errors("[upstream]\naddress = [\"mx1:25\", \"mx2\"]\n"),
        ["upstream.address: expected host:port, found \"mx2\""]
    );
    let e = d.errors("[[rule]\nname = 1");
    assert!(
        !e[0].starts_with(':') && e[0].ends_with("(line 1)"),
        "a whole-file problem has no empty key path: {e:?}"
    );
    let missing = Config::load(&d.0.path().join("missing.toml")).unwrap_err();
    assert!(
        missing
            .to_string()
            .ends_with("missing.toml: cannot read: No such file or directory (os error 2)"),
        "{missing}"
    );
}

#[test]
fn the_milter_table_and_a_milter_only_deployment() {
    let d = Dir::new();
    let c = d
        .load(&format!(
            "{BASE}\n[proxy]\nlisten = \"\"\n[milter]\nlisten = \"unix:/run/sluice/milter.sock\"\n"
        ))
        .unwrap();
    let m = c.milter.unwrap();
    assert_eq!(m.listen, "unix:/run/sluice/milter.sock");
    assert_eq!(m.allowed_clients.len(), 2);
    assert_eq!(
        d.errors(&format!("{BASE}\n[proxy]\nlisten = \"\"\n")),
        ["proxy.listen: empty (no SMTP listener) needs a [milter] to listen instead"]
    );
    let e = d.errors(&format!("{BASE}\n[milter]\nlisten = \"localhost\"\n"));
    assert!(
        e[0].starts_with("milter.listen: expected an address such as \"127.0.0.1:8891\""),
        "{e:?}"
    );
    let e = d.errors(&format!(
        "{BASE}\n[milter]\nlisten = \"127.0.0.1:8891\"\nallowed = []\n"
    ));
    assert!(e[0].starts_with("milter.allowed: unknown field"), "{e:?}");
}

#[test]
fn api_tokens_bare_and_named() {
    let d = Dir::new();
    std::fs::write(d.0.path().join("soar.token"), "s0ar\n").unwrap();
    let c = d
        .load(&format!(
            "{BASE}\n[api]\ntokens = [\"bare\", {{name = \"soar\", token_file = \"soar.token\"}}, {{name = \"ci\", token = \"c1\"}}]\n"
        ))
        .unwrap();
    assert_eq!(c.api.unwrap().tokens.len(), 3);
    let e = d.errors(&format!(
        "{BASE}\n[api]\ntokens = [{{name = \"x\", token = \"a\", token_file = \"soar.token\"}}, {{name = \"x\", token_file = \"missing\"}}]\n"
    ));
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].starts_with("api.tokens \"x\": needs exactly one of token or token_file"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("api.tokens \"x\": duplicate token name"),
        "{e:?}"
    );
    assert!(
        e[2].starts_with("api.tokens \"x\".token_file: cannot read"),
        "{e:?}"
    );
}

#[test]
fn edm_entities_and_their_index() {
    let d = Dir::new();
    let table = "name,account\nAnne Example,ACC-1001\nBen Example,ACC-1002\n";
    let salt = d.0.path().join("t.salt");
    let (key, created) = sluice_dlp::read_or_create_salt(&salt).unwrap();
    assert!(created);
    let mut index = Vec::new();
    sluice_dlp::build_edm_index(table.as_bytes(), &key, &[], 10, &mut index).unwrap();
    std::fs::write(d.0.path().join("t.edm"), &index).unwrap();
    let entity = |extra: &str| {
        format!("[[entity]]\nname = \"customers\"\ntype = \"edm\"\npath = \"t.edm\"\n{extra}\n")
    };
    let c = d
        .load(&entity("salt_file = \"t.salt\"\nprimary = \"account\""))
        .unwrap();
    // Both files are found beside the configuration.
    let expected = EntityKind::Edm {
        path: d.0.path().join("t.edm"),
        salt_file: salt.clone(),
        min_columns: 2,
        primary: Some("account".into()),
        max_value_rows: 10,
    };
    assert_eq!(c.entity[0].kind, expected);
    assert_eq!(
        d.errors(&entity("salt_file = \"t.salt\"")),
        Vec::<String>::new()
    );
    assert_eq!(
        d.errors(&entity("")),
        ["entity \"customers\".salt_file: an edm entity needs salt_file, the salt its index was built with"]
    );
    assert_eq!(
        d.errors(&entity(
            "salt_file = \"t.salt\"\nmin_columns = 0\nmax_value_rows = 0"
        )),
        [
            "entity \"customers\".min_columns: expected 1 to 64, found 0",
            "entity \"customers\".max_value_rows: expected 1 to 10000, found 0"
        ]
    );
    assert_eq!(
        d.errors("[[entity]]\nname = \"c\"\ntype = \"credit-card\"\nsalt_file = \"t.salt\"\n"),
        ["entity \"c\".salt_file: salt_file does not apply to type = \"credit-card\""]
    );
    // The settings are checked against the index's columns.
    let e = d.errors(&entity("salt_file = \"t.salt\"\nmin_columns = 3"));
    assert!(
        e[0].contains("min_columns = 3 but the index has 2 columns (name, account)"),
        "{e:?}"
    );
    let e = d.errors(&entity("salt_file = \"t.salt\"\nprimary = \"email\""));
    assert!(
        e[0].contains("primary = \"email\" is not a column of the index (name, account)"),
        "{e:?}"
    );
    // Another salt is detected by the index's check value.
    std::fs::write(
        d.0.path().join("other.salt"),
        "another secret salt of 32 bytes!",
    )
    .unwrap();
    let e = d.errors(&entity("salt_file = \"other.salt\""));
    assert!(
        e[0].starts_with("entity \"customers\".path: ") && e[0].contains("built with another salt"),
        "{e:?}"
    );
    std::fs::write(d.0.path().join("t.edm"), &index[..index.len() - 1]).unwrap();
    let e = d.errors(&entity("salt_file = \"t.salt\""));
    assert!(e[0].contains("truncated or oversized"), "{e:?}");
}
