//! `[console] users_file` (SPEC §9): one reviewer a line, `name:role:hash`,
//! the hash argon2id in PHC form. `sluice-proxy user add|remove|passwd`
//! writes it; the console re-reads it when it changes, so a removed user or
//! a changed password takes effect at the next request without a restart.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// View, triage, release, delete, decide requests.
    Reviewer,
    /// A reviewer who also reads the audit log and the users.
    Admin,
}

impl Role {
    /// Its name in the file and on pages.
    pub fn name(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "reviewer" => Some(Role::Reviewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// One line of the users file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Sign-in name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// argon2id hash, PHC string.
    pub hash: String,
}

/// Longest user name.
const MAX_NAME: usize = 64;

/// Whether `name` can be a user name: letters, digits and `._@-`, at most
/// [`MAX_NAME`] characters (no `:`, the file's separator, nor anything a
/// log line or a cookie would have to escape).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

/// The users in `text`; every bad line is an error naming it.
pub fn parse(text: &str) -> Result<Vec<User>, String> {
    let mut users: Vec<User> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("line {}: {why}", i + 1);
        let mut fields = line.splitn(3, ':');
        let (Some(name), Some(role), Some(hash)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad("expected name:role:hash"));
        };
        if !valid_name(name) {
            return Err(bad("bad user name"));
        }
        let role = Role::parse(role).ok_or_else(|| bad("role must be reviewer or admin"))?;
        match PasswordHash::new(hash) {
            Ok(h) if h.algorithm.as_str() == "argon2id" => {}
            _ => return Err(bad("the hash is not an argon2id PHC string")),
        }
        if users.iter().any(|u| u.name == name) {
            return Err(bad("duplicate user"));
        }
        users.push(User {
            name: name.to_owned(),
            role,
            hash: hash.to_owned(),
        });
    }
    Ok(users)
}

/// The file's text for `users`.
pub fn render(users: &[User]) -> String {
    let mut out =
        String::from("# Sluice console users: name:role:argon2id hash (sluice-proxy user ...)\n");
    for u in users {
        out.push_str(&format!("{}:{}:{}\n", u.name, u.role.name(), u.hash));
    }
    out
}

/// An argon2id hash of `password` with a fresh salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&super::signing::random_bytes::<16>()?)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hash: {e}"))?
        .to_string())
}

/// Whether `password` matches `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to check wrong names against, so a sign-in takes as long for a
/// name that does not exist as for a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy").unwrap_or_default())
}

/// The users file as last read, re-read when its modification time or
/// size changes.
pub struct Users {
    path: PathBuf,
    state: RwLock<Loaded>,
}

struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    users: Vec<User>,
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Users {
    /// Reads `path`; a broken or unreadable file is an error at start, a
    /// missing one means no users yet (the first `sluice-proxy user add`
    /// creates it, and is seen without a restart).
    pub fn load(path: &Path) -> anyhow::Result<Users> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(
                    "console.users_file {} does not exist: nobody can sign in until \
                     `sluice-proxy user add NAME --role admin` creates it",
                    path.display()
                );
                String::new()
            }
            Err(e) => anyhow::bail!("console.users_file {}: {e}", path.display()),
        };
        let users = parse(&text)
            .map_err(|e| anyhow::anyhow!("console.users_file {}: {e}", path.display()))?;
        Ok(Users {
            path: path.to_owned(),
            state: RwLock::new(Loaded {
                stamp: stamp(path),
                users,
            }),
        })
    }

    /// The current users. A file that changed is read again; one that
    /// became unreadable or broken keeps the last good list (and says so
    /// in the log), except that a removed file means no users.
    pub fn current(&self) -> Vec<User> {
        let now = stamp(&self.path);
        {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            if state.stamp == now {
                return state.users.clone();
            }
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.stamp = now;
        match std::fs::read_to_string(&self.path) {
            Ok(text) => match parse(&text) {
                Ok(users) => state.users = users,
                Err(e) => tracing::error!(
                    "console.users_file {}: {e}; keeping the previous users",
                    self.path.display()
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(
                    "console.users_file {} removed: no users",
                    self.path.display()
                );
                state.users.clear();
            }
            Err(e) => tracing::error!(
                "console.users_file {}: {e}; keeping the previous users",
                self.path.display()
            ),
        }
        state.users.clone()
    }

    /// The user named `name`.
    pub fn find(&self, name: &str) -> Option<User> {
        self.current().into_iter().find(|u| u.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify_only_their_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn the_file_round_trips_and_bad_lines_are_named() {
        let users = vec![User {
            name: "ana".into(),
            role: Role::Admin,
            hash: hash_password("pw").unwrap(),
        }];
        assert_eq!(parse(&render(&users)).unwrap(), users);
        let hash = &users[0].hash;
        for (text, error) in [
            (
                "ana:root:x\n".to_owned(),
                "line 1: role must be reviewer or admin",
            ),
            (format!("a b:admin:{hash}\n"), "line 1: bad user name"),
            (
                "# c\nana:admin:$2b$10$abc\n".to_owned(),
                "line 2: the hash is not an argon2id PHC string",
            ),
            (
                format!("ana:admin:{hash}\nana:reviewer:{hash}\n"),
                "line 2: duplicate user",
            ),
            ("ana\n".to_owned(), "line 1: expected name:role:hash"),
        ] {
            assert_eq!(parse(&text).unwrap_err(), error, "{text}");
        }
    }

    #[test]
    fn a_changed_file_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.users");
        let ana = User {
            name: "ana".into(),
            role: Role::Reviewer,
            hash: hash_password("pw").unwrap(),
        };
        std::fs::write(&path, render(std::slice::from_ref(&ana))).unwrap();
        let users = Users::load(&path).unwrap();
        assert_eq!(users.find("ana"), Some(ana.clone()));
        let bo = User {
            name: "bo".into(),
            ..ana.clone()
        };
        // A different length, so the change is seen within one mtime tick.
        std::fs::write(&path, render(&[bo.clone(), ana.clone()])).unwrap();
        assert_eq!(users.find("bo"), Some(bo));
        std::fs::write(&path, "broken line with a longer text\n").unwrap();
        assert!(users.find("ana").is_some(), "the last good list is kept");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(users.find("ana"), None);
    }
}
