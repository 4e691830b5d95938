//! PATH arguments to messages: .eml files, folders (recursive), mbox files,
//! Maildirs and `-` (stdin), in a stable order.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sluice_mime::mailbox::split_mbox;

/// One message to scan, or the reason it could not be read.
pub struct Input {
    /// Display name: the file path, `box.mbox#N` for mbox messages, `-`.
    pub name: String,
    pub bytes: Result<Vec<u8>, String>,
}

/// Expands PATH arguments, in argument order; folders are walked in sorted
/// order so output is reproducible.
pub fn expand(paths: &[String]) -> Vec<Input> {
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            let mut bytes = Vec::new();
            match std::io::stdin().lock().read_to_end(&mut bytes) {
                Ok(_) => push_file(&mut out, "-".to_owned(), bytes, false),
                Err(e) => out.push(Input {
                    name: "-".into(),
                    bytes: Err(format!("cannot read standard input: {e}")),
                }),
            }
            continue;
        }
        let path = Path::new(p);
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => walk_dir(path, &mut out),
            Ok(_) => read_file(path, &mut out, true),
            Err(e) => out.push(Input {
                name: p.clone(),
                bytes: Err(format!("cannot read {p}: {e}")),
            }),
        }
    }
    out
}

fn read_file(path: &Path, out: &mut Vec<Input>, explicit: bool) {
    let name = path.display().to_string();
    match fs::read(path) {
        Ok(bytes) => {
            let is_eml = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("eml"));
            let in_maildir = path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == "cur" || d == "new");
            if explicit || is_eml || in_maildir || bytes.starts_with(b"From ") {
                push_file(out, name, bytes, is_eml || in_maildir);
            }
        }
        Err(e) => out.push(Input {
            name: name.clone(),
            bytes: Err(format!("cannot read {name}: {e}")),
        }),
    }
}

/// A file that starts with `From ` is an mbox unless it is named `*.eml`
/// (or is a Maildir file): then it is one message with a leading
/// envelope line, which extraction skips.
fn push_file(out: &mut Vec<Input>, name: String, bytes: Vec<u8>, single: bool) {
    if !single && bytes.starts_with(b"From ") {
        for (i, m) in split_mbox(&bytes).into_iter().enumerate() {
            out.push(Input {
                name: format!("{name}#{}", i + 1),
                bytes: Ok(m),
            });
        }
    } else {
        out.push(Input {
            name,
            bytes: Ok(bytes),
        });
    }
}

fn walk_dir(dir: &Path, out: &mut Vec<Input>) {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            let name = dir.display().to_string();
            out.push(Input {
                name: name.clone(),
                bytes: Err(format!("cannot read {name}: {e}")),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        // Maildir `tmp` holds messages still being delivered.
        let maildir_tmp = path.file_name().is_some_and(|n| n == "tmp") && dir.join("cur").is_dir();
        if hidden || maildir_tmp {
            continue;
        }
        if path.is_dir() {
            walk_dir(&path, out);
        } else {
            read_file(&path, out, false);
        }
    }
}
