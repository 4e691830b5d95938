//! PATH arguments to messages: .eml files, folders (recursive), mbox files,
//! Maildirs and `-` (stdin), in a stable order.
//!
//! Single-message files are only listed here and read when their turn
//! comes ([`Input::with_bytes`], on the worker that decides them), so a folder of
//! any size costs memory for one batch, and reading is as parallel as
//! scanning. An mbox file is read and split when it is listed.

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_mime::mailbox::split_mbox;

/// One message to scan.
pub struct Input {
    /// Display name: the file path, `box.mbox#N` for mbox messages, `-`.
    pub name: String,
    source: Source,
}

enum Source {
    /// A one-message file, read on demand: opened by its name in its
    /// folder's descriptor when there is one (the kernel then looks up one
    /// name, not every folder of the path again for each file), else by
    /// its path.
    File(PathBuf, Option<Arc<OwnedFd>>),
    /// Bytes already read (mbox messages, stdin), or why they could not be.
    Loaded(Result<Vec<u8>, String>),
}

impl Input {
    fn loaded(name: String, bytes: Result<Vec<u8>, String>) -> Input {
        Input {
            name,
            source: Source::Loaded(bytes),
        }
    }

    /// Calls `f` with the message's bytes, or returns a one-line reason
    /// naming the path.
    ///
    /// Files are read into a buffer kept per thread: a folder of small
    /// messages then costs no allocation and no size query per file.
    pub fn with_bytes<T>(&self, f: impl FnOnce(&[u8]) -> T) -> Result<T, String> {
        thread_local! {
            static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        match &self.source {
            Source::File(path, folder) => BUFFER.with_borrow_mut(|buffer| {
                buffer.clear();
                buffer.reserve(64 << 10);
                let room = buffer.capacity() as u64;
                open(path, folder.as_deref())
                    .and_then(|mut file| {
                        // Up to the buffer's room through `Take`:
                        // `File::read_to_end` would first ask the file's
                        // size and position (two more system calls).
                        if (&mut file).take(room).read_to_end(buffer)? as u64 == room {
                            // A larger file: `File::read_to_end` sizes the
                            // buffer from the file's size once, where
                            // doubling would copy a 50 MB message on the
                            // way and leave it in a 64 MB buffer.
                            file.read_to_end(buffer)?;
                        }
                        Ok(())
                    })
                    .map_err(|e| format!("cannot read {}: {e}", self.name))?;
                let result = f(buffer);
                // One huge message must not keep its buffer for the run.
                if buffer.capacity() > 4 << 20 {
                    *buffer = Vec::new();
                }
                Ok(result)
            }),
            Source::Loaded(bytes) => bytes.as_deref().map(f).map_err(Clone::clone),
        }
    }
}

/// Opens `path` for reading, by its file name in `folder` when given.
fn open(path: &Path, folder: Option<&OwnedFd>) -> std::io::Result<fs::File> {
    use rustix::fs::{openat, Mode, OFlags};
    match (folder, path.file_name()) {
        (Some(folder), Some(name)) => Ok(openat(
            folder,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?
        .into()),
        _ => fs::File::open(path),
    }
}

/// Most folder descriptors [`expand`] keeps open for the run (one per
/// folder holding messages, and while walking, one per folder on the path
/// down): a tree of more folders has its files past this many opened by
/// path, so that the descriptors never near the process's limit.
const MAX_FOLDERS: usize = 64;

/// Expands PATH arguments, in argument order; folders are walked in sorted
/// order so output is reproducible.
pub fn expand(paths: &[String]) -> Vec<Input> {
    let mut out = Vec::new();
    let mut folders = 0;
    for p in paths {
        if p == "-" {
            let mut bytes = Vec::new();
            match std::io::stdin().lock().read_to_end(&mut bytes) {
                Ok(_) => push_bytes(&mut out, "-".to_owned(), bytes),
                Err(e) => out.push(Input::loaded(
                    "-".into(),
                    Err(format!("cannot read standard input: {e}")),
                )),
            }
            continue;
        }
        let path = Path::new(p);
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => walk_dir(path, &mut out, &mut folders),
            Ok(_) => list_file(path, None, &mut out, true),
            Err(e) => out.push(Input::loaded(
                p.clone(),
                Err(format!("cannot read {p}: {e}")),
            )),
        }
    }
    out
}

/// A file named `*.eml` (or in a Maildir's cur/new) is one message; another
/// file that starts with `From ` is an mbox; other files inside folders are
/// not mail and are skipped, while a file named explicitly is one message.
fn list_file(path: &Path, folder: Option<&Arc<OwnedFd>>, out: &mut Vec<Input>, explicit: bool) {
    let name = path.display().to_string();
    let is_eml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("eml"));
    let in_maildir = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "cur" || d == "new");
    if is_eml || in_maildir {
        out.push(Input {
            name,
            source: Source::File(path.to_path_buf(), folder.cloned()),
        });
        return;
    }
    let mut head = [0u8; 5];
    let starts_with_from = fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"From ";
    if starts_with_from {
        match fs::read(path) {
            Ok(bytes) => push_bytes(out, name, bytes),
            Err(e) => out.push(Input::loaded(
                name.clone(),
                Err(format!("cannot read {name}: {e}")),
            )),
        }
    } else if explicit {
        out.push(Input {
            name,
            source: Source::File(path.to_path_buf(), folder.cloned()),
        });
    }
}

/// Bytes that start with `From ` are an mbox (messages `name#N`); others one
/// message.
fn push_bytes(out: &mut Vec<Input>, name: String, bytes: Vec<u8>) {
    if bytes.starts_with(b"From ") {
        for (i, m) in split_mbox(&bytes).into_iter().enumerate() {
            out.push(Input::loaded(format!("{name}#{}", i + 1), Ok(m)));
        }
    } else {
        out.push(Input::loaded(name, Ok(bytes)));
    }
}

fn walk_dir(dir: &Path, out: &mut Vec<Input>, folders: &mut usize) {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            let name = dir.display().to_string();
            out.push(Input::loaded(
                name.clone(),
                Err(format!("cannot read {name}: {e}")),
            ));
            return;
        }
    };
    // The entry's type comes with the directory listing on most file
    // systems: no stat per file (a symlink is followed with one).
    let mut paths: Vec<(std::ffi::OsString, PathBuf, bool)> = entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let is_dir = match e.file_type() {
                Ok(t) if t.is_symlink() => e.path().is_dir(),
                Ok(t) => t.is_dir(),
                Err(_) => e.path().is_dir(),
            };
            (e.file_name(), e.path(), is_dir)
        })
        .collect();
    // By name: the same order as by path within one folder, and a byte
    // comparison instead of a component-wise one (thousands of files).
    paths.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let folder = (*folders < MAX_FOLDERS)
        .then(|| {
            use rustix::fs::{open, Mode, OFlags};
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            open(dir, flags, Mode::empty()).ok()
        })
        .flatten()
        .map(Arc::new);
    *folders += usize::from(folder.is_some());
    for (_, path, is_dir) in paths {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        // Maildir `tmp` holds messages still being delivered.
        let maildir_tmp = path.file_name().is_some_and(|n| n == "tmp") && dir.join("cur").is_dir();
        if hidden || maildir_tmp {
            continue;
        }
        if is_dir {
            walk_dir(&path, out, folders);
        } else {
            list_file(&path, folder.as_ref(), out, false);
        }
    }
    // A folder none of whose files is a message keeps no descriptor.
    if folder.is_some_and(|f| Arc::strong_count(&f) == 1) {
        *folders -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_every_size_around_the_buffer_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let room = 64 << 10;
        // One thread reads them all, so the buffer is reused, grown and
        // dropped along the way.
        for size in [0, 1, room - 1, room, room + 1, 3 * room + 7, 5 << 20, 17] {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("{size}.eml"));
            std::fs::write(&path, &bytes).unwrap();
            let input = Input {
                name: path.display().to_string(),
                source: Source::File(path.clone(), None),
            };
            assert!(input.with_bytes(|b| b == bytes).unwrap(), "{size} bytes");
            let mut listed = Vec::new();
            walk_dir(dir.path(), &mut listed, &mut 0);
            let by_folder = listed
                .iter()
                .find(|i| i.name == input.name)
                .expect("listed");
            assert!(matches!(&by_folder.source, Source::File(_, Some(_))));
            assert!(
                by_folder.with_bytes(|b| b == bytes).unwrap(),
                "{size} bytes by folder"
            );
        }
        let folder = rustix::fs::open(
            dir.path(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .map(Arc::new)
        .ok();
        for folder in [None, folder] {
            let missing = Input {
                name: "missing.eml".into(),
                source: Source::File(dir.path().join("missing.eml"), folder),
            };
            let error = missing.with_bytes(|_| ()).unwrap_err();
            assert!(error.starts_with("cannot read missing.eml: "), "{error}");
        }
    }

    #[test]
    fn folder_descriptors_are_kept_for_at_most_max_folders() {
        let dir = tempfile::tempdir().unwrap();
        // Folders without messages first: they keep no descriptor.
        for i in 0..MAX_FOLDERS + 6 {
            std::fs::create_dir(dir.path().join(format!("a{i:03}"))).unwrap();
        }
        for i in 0..MAX_FOLDERS + 6 {
            let folder = dir.path().join(format!("b{i:03}"));
            std::fs::create_dir(&folder).unwrap();
            std::fs::write(folder.join("m.eml"), format!("Subject: {i}\n\nbody")).unwrap();
        }
        let inputs = expand(&[dir.path().display().to_string()]);
        assert_eq!(inputs.len(), MAX_FOLDERS + 6);
        let by_folder = inputs
            .iter()
            .filter(|i| matches!(&i.source, Source::File(_, Some(_))))
            .count();
        // The top folder's descriptor is open while its folders are walked.
        assert_eq!(by_folder, MAX_FOLDERS - 1);
        for (i, input) in inputs.iter().enumerate() {
            let expected = format!("Subject: {i}\n\nbody");
            assert!(
                input.with_bytes(|b| b == expected.as_bytes()).unwrap(),
                "{}",
                input.name
            );
        }
    }
}
