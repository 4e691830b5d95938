//! Passages of long documents (SPEC §3.5), with real public long texts:
//! the licences Debian ships in /usr/share/common-licenses (package
//! base-files, on every Debian system). A paragraph of a fingerprinted
//! licence is found in every shape a person mails it in; other licences,
//! and text sharing only vocabulary, are not; boilerplate given to
//! `--exclude` matches nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

const LICENSES: &str = "/usr/share/common-licenses";

fn sluice_scan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sluice-scan"))
        .args(args)
        .output()
        .unwrap()
}

fn license(name: &str) -> String {
    std::fs::read_to_string(Path::new(LICENSES).join(name))
        .unwrap_or_else(|e| panic!("{LICENSES}/{name} (Debian's base-files): {e}"))
}

/// A folder with `docs` fingerprinted (less `exclude`) and a config
/// matching them at similarity 30 or by a passage of 50 words.
struct Fingerprinted(tempfile::TempDir);

impl Fingerprinted {
    fn new(docs: &[&str], exclude: &[&str]) -> Fingerprinted {
        Fingerprinted::with_filler(docs, exclude, 0)
    }

    /// As [`Fingerprinted::new`], with one more document of `filler`
    /// generated words (sharing no phrase with anything mailed here): a
    /// library large enough that messages are tested the way a large
    /// library's are (each k-gram's filter word prefetched, tested later).
    fn with_filler(docs: &[&str], exclude: &[&str], filler: usize) -> Fingerprinted {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["fingerprint".to_owned(), "--out".into()];
        args.push(dir.path().join("docs.fp").display().to_string());
        for name in exclude {
            let path = dir.path().join(format!("{name}.txt"));
            std::fs::write(&path, license(name)).unwrap();
            args.extend(["--exclude".into(), path.display().to_string()]);
        }
        for name in docs {
            let path = dir.path().join(format!("{name}.txt"));
            std::fs::write(&path, license(name)).unwrap();
            args.push(path.display().to_string());
        }
        if filler > 0 {
            let path = dir.path().join("filler.txt");
            let mut seed = 1u64;
            let words: Vec<String> = (0..filler)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    format!("zq{}", (seed >> 33) % 50_000)
                })
                .collect();
            std::fs::write(&path, words.join(" ")).unwrap();
            args.push(path.display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sluice_scan(&args);
        assert!(out.status.success(), "{out:?}");
        if filler > 0 {
            // More kept hashes than a 512 KiB filter holds at 16 bits each.
            let file: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.path().join("docs.fp")).unwrap())
                    .unwrap();
            let packed = file["documents"][docs.len()]["hashes"].as_str().unwrap();
            assert!(packed.len() / 4 * 3 / 8 > 1 << 18, "{}", packed.len());
        }
        std::fs::write(
            dir.path().join("sluice.toml"),
            "[[entity]]\nname = \"licences\"\ntype = \"fingerprint\"\npath = \"docs.fp\"\nsimilarity = 30\n\n\
             [[rule]]\nname = \"Licences\"\nentities = [\"licences\"]\nseverity = { low = 1 }\n\n\
             [[profile]]\nname = \"P\"\nrules = [\"Licences\"]\n\n\
             [[policy]]\nname = \"Block\"\nprofiles = [\"P\"]\naction = \"block\"\n",
        )
        .unwrap();
        Fingerprinted(dir)
    }

    /// The documents matched in a message with `body` (plain, or HTML),
    /// with their similarity and passage length.
    fn matches(&self, body: &str, html: bool) -> Vec<(String, u64, Option<u64>)> {
        let kind = if html { "text/html" } else { "text/plain" };
        self.matches_in(format!("From: a@example.com\r\nTo: b@example.org\r\nSubject: fyi\r\nContent-Type: {kind}; charset=utf-8\r\n\r\n{body}\r\n"))
    }

    /// The documents matched in a message with `file` attached (a short
    /// note in the body).
    fn matches_in_attachment(&self, file: &Path, kind: &str) -> Vec<(String, u64, Option<u64>)> {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(std::fs::read(file).unwrap());
        let lines: Vec<&str> = data
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let name = file.file_name().unwrap().to_str().unwrap();
        self.matches_in(format!(
            "From: a@example.com\r\nTo: b@example.org\r\nSubject: notes\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
             --b\r\nContent-Type: {kind}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            lines.join("\r\n")
        ))
    }

    /// What `sluice-scan check` reports on the config.
    fn check(&self) -> String {
        let config = self.0.path().join("sluice.toml");
        let out = sluice_scan(&["check", "--config", config.to_str().unwrap()]);
        String::from_utf8(out.stdout).unwrap()
    }

    fn matches_in(&self, message_text: String) -> Vec<(String, u64, Option<u64>)> {
        let message: PathBuf = self.0.path().join("m.eml");
        std::fs::write(&message, message_text).unwrap();
        let out = sluice_scan(&[
            "scan",
            "--config",
            self.0.path().join("sluice.toml").to_str().unwrap(),
            "--format",
            "json",
            message.to_str().unwrap(),
        ]);
        let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        d["rules"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["matches"].as_array().unwrap().clone())
            .map(|m| {
                (
                    m["value"].as_str().unwrap().to_owned(),
                    m["similarity"].as_u64().unwrap(),
                    m["passage_words"].as_u64(),
                )
            })
            .collect()
    }
}

/// Text about something else, in the same kind of words.
const UNRELATED: &str = "We met on Tuesday to review the roadmap and the hiring plan for the next quarter. \
    The budget is tight, but the team is confident about the launch and the terms of the new contract. ";

/// `n` words of a licence from `at` (a share of its length).
fn paragraph(name: &str, at: f64, n: usize) -> Vec<String> {
    let text = license(name);
    let words: Vec<&str> = text.split_whitespace().collect();
    let start = (words.len() as f64 * at) as usize;
    words[start..start + n]
        .iter()
        .map(|w| w.to_string())
        .collect()
}

/// A paragraph of `doc` from `at` in every shape SPEC §3.5 names: (shape,
/// body, whether the body is HTML).
fn shapes(doc: &str, at: f64) -> Vec<(&'static str, String, bool)> {
    let p = paragraph(doc, at, 60);
    let mut edited = p.clone();
    for w in edited.iter_mut().skip(5).step_by(10) {
        *w = "banana".into();
    }
    vec![
        (
            "verbatim",
            format!("{UNRELATED}{}\n{UNRELATED}", p.join(" ")),
            false,
        ),
        (
            "reflowed",
            p.chunks(7)
                .map(|c| c.join(" "))
                .collect::<Vec<_>>()
                .join("\n"),
            false,
        ),
        ("re-cased", p.join(" ").to_uppercase(), false),
        (
            "quoted",
            p.chunks(9)
                .map(|c| format!("> {}", c.join(" ")))
                .collect::<Vec<_>>()
                .join("\n"),
            false,
        ),
        (
            "no punctuation",
            p.join(" ").replace(|c: char| c.is_ascii_punctuation(), ""),
            false,
        ),
        (
            "one word in ten changed",
            format!("{UNRELATED}{} {UNRELATED}", edited.join(" ")),
            false,
        ),
        (
            "html",
            format!(
                "<p>{UNRELATED}</p><p><b>{}</b> {}</p>",
                p[..20].join(" "),
                p[20..].join(" ")
            ),
            true,
        ),
    ]
}

/// Every shape of a paragraph of `doc` from `at` is found by its passage.
fn every_shape_found(fp: &Fingerprinted, doc: &str, at: f64) {
    for (shape, body, html) in shapes(doc, at) {
        let found = fp.matches(&body, html);
        assert_eq!(found.len(), 1, "{doc} at {at}, {shape}: {found:?}");
        let (name, similarity, passage) = &found[0];
        assert_eq!(name, &format!("{doc}.txt"), "{shape}");
        assert!(similarity < &30, "found by its passage, not similarity");
        assert!(
            passage.is_some_and(|w| (35..=70).contains(&w)),
            "{doc} {shape}: {passage:?}"
        );
    }
}

#[test]
fn a_paragraph_is_found_in_every_shape() {
    let docs = ["GPL-3", "Apache-2.0", "MPL-2.0", "GFDL-1.3"];
    let fp = Fingerprinted::new(&docs, &[]);
    for doc in docs {
        for at in [0.25, 0.5, 0.75] {
            every_shape_found(&fp, doc, at);
        }
    }
    // The whole document: by similarity, with its longest passage too.
    let whole = fp.matches(&license("MPL-2.0"), false);
    assert_eq!(whole.len(), 1);
    assert!(
        whole[0].1 >= 90 && whole[0].2.is_some_and(|w| w > 1000),
        "{whole:?}"
    );
}

#[test]
fn a_paragraph_is_found_in_every_shape_in_a_large_library() {
    // 800,000 more words: more kept k-grams than a 512 KiB filter holds.
    let docs = ["GPL-3", "Apache-2.0", "MPL-2.0", "GFDL-1.3"];
    let fp = Fingerprinted::with_filler(&docs, &[], 800_000);
    for doc in docs {
        every_shape_found(&fp, doc, 0.5);
    }
    let whole = fp.matches(&license("MPL-2.0"), false);
    assert_eq!(whole.len(), 1);
    assert!(whole[0].1 >= 90, "{whole:?}");
    for other in ["Artistic", "BSD", "CC0-1.0"] {
        assert_eq!(fp.matches(&license(other), false), [], "{other}");
    }
}

#[test]
fn other_texts_and_shorter_shared_runs_do_not_match() {
    let fp = Fingerprinted::new(&["GPL-3", "Apache-2.0"], &[]);
    // Licences sharing vocabulary and a few phrases.
    for other in ["Artistic", "BSD", "CC0-1.0", "MPL-2.0"] {
        assert_eq!(fp.matches(&license(other), false), [], "{other}");
    }
    assert_eq!(fp.matches(&UNRELATED.repeat(20), false), []);
    // Under 50 words of a document, even verbatim, is no passage.
    let short = paragraph("GPL-3", 0.5, 30).join(" ");
    assert_eq!(
        fp.matches(&format!("{UNRELATED}{short} {UNRELATED}"), false),
        []
    );
}

#[test]
fn excluded_boilerplate_matches_nothing() {
    // GPL-2 and GPL-3 share their no-warranty clause word for word.
    let warranty = "THERE IS NO WARRANTY FOR THE PROGRAM, TO THE EXTENT PERMITTED BY APPLICABLE LAW. \
        EXCEPT WHEN OTHERWISE STATED IN WRITING THE COPYRIGHT HOLDERS AND/OR OTHER PARTIES PROVIDE THE PROGRAM \
        \"AS IS\" WITHOUT WARRANTY OF ANY KIND, EITHER EXPRESSED OR IMPLIED, INCLUDING, BUT NOT LIMITED TO, \
        THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE. THE ENTIRE RISK AS TO \
        THE QUALITY AND PERFORMANCE OF THE PROGRAM IS WITH YOU.";
    assert!(license("GPL-3")
        .contains("THERE IS NO WARRANTY FOR THE PROGRAM, TO THE EXTENT PERMITTED BY"));
    let plain = Fingerprinted::new(&["GPL-3"], &[]);
    assert_eq!(
        plain.matches(warranty, false).len(),
        1,
        "the clause is a passage of GPL-3"
    );
    let excluding = Fingerprinted::new(&["GPL-3"], &["GPL-2"]);
    assert_eq!(excluding.matches(warranty, false), []);
    // GPL-3's own paragraphs still match.
    let own = paragraph("GPL-3", 0.4, 60).join(" ");
    assert_eq!(excluding.matches(&own, false).len(), 1);
}

#[test]
fn check_asks_to_rebuild_an_older_file() {
    let fp = Fingerprinted::new(&["Apache-2.0"], &[]);
    let path = fp.0.path().join("docs.fp");
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    file["version"] = 2.into();
    std::fs::write(&path, file.to_string()).unwrap();
    let report = fp.check();
    assert!(
        report.contains("built by an earlier version") && report.contains("rebuild it"),
        "{report}"
    );
    // It still loads and matches by similarity, not by passage.
    let p = paragraph("Apache-2.0", 0.5, 60).join(" ");
    assert_eq!(fp.matches(&p, false), []);
    assert_eq!(fp.matches(&license("Apache-2.0"), false).len(), 1);
}

#[test]
fn a_paragraph_is_found_in_a_docx_and_a_pdf() {
    // fixtures/passages (make_fixtures.py passages): 70 words from the
    // middle of GPL-3 between unrelated text, split over two paragraphs of
    // a python-docx document and over seven lines of a reportlab PDF.
    let fp = Fingerprinted::new(&["GPL-3", "Apache-2.0"], &[]);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/passages");
    for (file, kind) in [
        (
            "notes.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("notes.pdf", "application/pdf"),
    ] {
        let found = fp.matches_in_attachment(&fixtures.join(file), kind);
        assert_eq!(found.len(), 1, "{file}: {found:?}");
        let (document, _, words) = &found[0];
        assert_eq!(document, "GPL-3.txt", "{file}");
        assert!(
            words.is_some_and(|w| (55..=80).contains(&w)),
            "{file}: {found:?}"
        );
    }
}
