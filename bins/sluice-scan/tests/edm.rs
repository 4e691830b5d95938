//! Exact data match end to end (SPEC §3.6): `sluice-scan edm` indexes
//! `fixtures/edm/customers.csv` (made by `fixtures/make_fixtures.py edm`),
//! the index holds no cell text, and `sluice-scan scan` finds the rows
//! mailed in a body, quoted, reflowed, in HTML, in a .docx (python-docx)
//! and in a PDF (reportlab), but not cells of different rows, a lone cell,
//! or one row's cells far apart; cells never show in the output.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn sluice_scan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice-scan"))
        .args(args)
        .output()
        .unwrap()
}

/// A folder with the index, its salt and a config using them.
struct Indexed {
    dir: tempfile::TempDir,
}

impl Indexed {
    fn new(extra: &str) -> Indexed {
        let dir = tempfile::tempdir().unwrap();
        let out = sluice_scan(&[
            "edm",
            "--out",
            dir.path().join("customers.edm").to_str().unwrap(),
            "--salt-file",
            dir.path().join("customers.salt").to_str().unwrap(),
            repo().join("fixtures/edm/customers.csv").to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{out:?}");
        let config = format!(
            "[[entity]]\nname = \"customers\"\ntype = \"edm\"\npath = \"customers.edm\"\nsalt_file = \"customers.salt\"\n{extra}\n\
             [[rule]]\nname = \"Customer records\"\nentities = [\"customers\"]\nseverity = {{ low = 1 }}\n\n\
             [[profile]]\nname = \"Records\"\nrules = [\"Customer records\"]\n\n\
             [[policy]]\nname = \"Block records\"\nprofiles = [\"Records\"]\naction = \"block\"\n"
        );
        std::fs::write(dir.path().join("sluice.toml"), config).unwrap();
        Indexed { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("sluice.toml")
    }

    /// The decision's JSON for one message of fixtures/edm.
    fn scan(&self, message: &str) -> serde_json::Value {
        let out = sluice_scan(&[
            "scan",
            "--config",
            self.config().to_str().unwrap(),
            "--format",
            "json",
            repo().join("fixtures/edm").join(message).to_str().unwrap(),
        ]);
        let text = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

/// The table's cells, and the rows the messages carry (row numbers).
fn table() -> (Vec<Vec<String>>, Vec<u64>) {
    let text = std::fs::read_to_string(repo().join("fixtures/edm/customers.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let mailed = std::fs::read_to_string(repo().join("fixtures/edm/rows.txt"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    (rows, mailed)
}

#[test]
fn the_index_and_its_salt_hold_no_cell_and_the_salt_is_private() {
    let indexed = Indexed::new("");
    let salt = indexed.dir.path().join("customers.salt");
    let mode = std::fs::metadata(&salt).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the salt is readable by owner and group only");
    let index = std::fs::read(indexed.dir.path().join("customers.edm")).unwrap();
    let (rows, mailed) = table();
    // The rows mailed and every 25th other one (a search per needle over
    // the whole index is slow in a debug build).
    let sample = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 25 == 0 || mailed.contains(&(*i as u64 + 1)))
        .flat_map(|(_, row)| row);
    for cell in sample {
        let lower = cell.to_lowercase();
        let digits: String = cell.chars().filter(char::is_ascii_digit).collect();
        let words: Vec<String> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() >= 4)
            .map(str::to_owned)
            .collect();
        for needle in [cell.clone(), lower.clone(), digits]
            .into_iter()
            .chain(words)
            .filter(|n| n.len() >= 4)
        {
            assert!(
                memchr::memmem::find(&index, needle.as_bytes()).is_none(),
                "{needle:?} is in the index"
            );
        }
    }
    // A second build with the same salt keeps it, and check accepts both.
    let again = sluice_scan(&[
        "edm",
        "--out",
        indexed.dir.path().join("again.edm").to_str().unwrap(),
        "--salt-file",
        salt.to_str().unwrap(),
        "--columns",
        "name,account",
        repo().join("fixtures/edm/customers.csv").to_str().unwrap(),
    ]);
    assert!(again.status.success(), "{again:?}");
    let report = String::from_utf8(again.stdout).unwrap();
    assert!(
        report.contains("2005 rows, columns name, account"),
        "{report}"
    );
    let check = sluice_scan(&["check", "--config", indexed.config().to_str().unwrap()]);
    assert!(check.status.success(), "{check:?}");
    assert!(!String::from_utf8_lossy(&check.stdout).contains("readable by anyone"));
    std::fs::set_permissions(&salt, std::fs::Permissions::from_mode(0o644)).unwrap();
    let check = sluice_scan(&["check", "--config", indexed.config().to_str().unwrap()]);
    let report = String::from_utf8(check.stdout).unwrap();
    assert!(
        report.contains("entity \"customers\".salt_file: ")
            && report.contains("customers.salt is readable by anyone (mode 0644)"),
        "{report}"
    );
}

#[test]
fn rows_are_found_in_every_shape_and_cells_never_show() {
    let indexed = Indexed::new("");
    let (rows, mailed) = table();
    let expect = [
        ("verbatim.eml", mailed[0], 4),
        ("reflowed.eml", mailed[1], 3),
        ("quoted.eml", mailed[2], 2),
        ("html.eml", mailed[3], 3),
        ("docx.eml", mailed[4], 2),
        ("pdf.eml", mailed[0], 3),
    ];
    for (message, row, columns) in expect {
        let d = indexed.scan(message);
        assert_eq!(d["action"], "block", "{message}: {d}");
        let m = &d["rules"][0]["matches"][0];
        assert_eq!(m["value"], format!("row {row}"), "{message}: {d}");
        assert_eq!(m["row"], row, "{message}");
        assert_eq!(
            m["columns"].as_array().unwrap().len(),
            columns,
            "{message}: {m}"
        );
        assert_eq!(d["rules"][0]["count"], 1, "{message}");
        // What the message showed of itself: envelope fields are shown as
        // they are (SPEC §8), so the domain of an address may be there.
        let text = format!("{} {}", d["rules"], d["subject"]).to_lowercase();
        for cell in &rows[row as usize - 1] {
            for word in cell.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
                assert!(
                    word.len() < 4 || !text.contains(word),
                    "{message}: {word:?} shows in {d}"
                );
            }
        }
    }
    for message in ["mixed-rows.eml", "lone-cell.eml", "far-apart.eml"] {
        let d = indexed.scan(message);
        assert_eq!(d["rules"], serde_json::json!([]), "{message}: {d}");
    }
}

#[test]
fn primary_and_min_columns_decide_what_is_a_row() {
    // The docx carries name and email, not the account.
    let primary = Indexed::new("primary = \"account\"");
    assert_eq!(primary.scan("docx.eml")["rules"], serde_json::json!([]));
    assert_eq!(primary.scan("verbatim.eml")["action"], "block");
    let three = Indexed::new("min_columns = 3");
    assert_eq!(three.scan("quoted.eml")["rules"], serde_json::json!([]));
    assert_eq!(three.scan("html.eml")["action"], "block");
    // The human report names the row and columns and masks the cells.
    let out = sluice_scan(&[
        "scan",
        "--config",
        three.config().to_str().unwrap(),
        repo().join("fixtures/edm/html.eml").to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("customers \"row 2004\" (columns name, phone, account)"),
        "{text}"
    );
    assert!(
        !text.contains("Dolores") && !text.contains("20202020"),
        "{text}"
    );
}

#[test]
fn another_salt_and_a_damaged_index_are_refused_by_check() {
    let indexed = Indexed::new("");
    std::fs::write(
        indexed.dir.path().join("customers.salt"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let out = sluice_scan(&["check", "--config", indexed.config().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("built with another salt"), "{err}");
    std::fs::write(
        indexed.dir.path().join("customers.edm"),
        b"SLUICEDM garbage",
    )
    .unwrap();
    let out = sluice_scan(&["check", "--config", indexed.config().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("customers.edm: EDM index:"), "{err}");
}
