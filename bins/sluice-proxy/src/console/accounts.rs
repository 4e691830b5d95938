//! `sluice-proxy user add|remove|passwd` (SPEC §9): the console's users
//! file, written whole to a new file then renamed over the old one, so a
//! proxy reading it never sees half of it. The first `add` also creates
//! `secret_file`. A running console picks the change up at its next
//! request; a removed user's or a changed password's sessions end then.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use sluice_config::Config;

use super::signing::Secret;
use super::users::{self, Role, User};

/// Shortest password taken.
const MIN_PASSWORD: usize = 10;

/// What to do to a user.
#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Add a user (the password is asked for, or read from stdin).
    Add {
        name: String,
        /// reviewer or admin.
        #[arg(long, value_parser = role)]
        role: RoleArg,
        /// Read the password from stdin's first line even at a terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a user (their sessions end).
    Remove { name: String },
    /// Set a user's password (their sessions end).
    Passwd {
        name: String,
        /// Read the password from stdin's first line even at a terminal.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// A role given on the command line.
#[derive(Clone, Copy)]
pub struct RoleArg(Role);

fn role(s: &str) -> Result<RoleArg, String> {
    Role::parse(s)
        .map(RoleArg)
        .ok_or_else(|| "expected reviewer or admin".into())
}

/// Runs one `user` subcommand; `out` gets what was done.
pub fn run(config: &Config, command: UserCommand, out: &mut impl Write) -> anyhow::Result<()> {
    let Some(console) = &config.console else {
        anyhow::bail!("the configuration has no [console] section");
    };
    let path = &console.users_file;
    let mut list = match std::fs::read_to_string(path) {
        Ok(text) => users::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => anyhow::bail!("{}: {e}", path.display()),
    };
    match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            if !users::valid_name(&name) {
                anyhow::bail!("a user name is 1-64 letters, digits or ._@-");
            }
            if list.iter().any(|u| u.name == name) {
                anyhow::bail!("user {name} exists (use passwd to change the password)");
            }
            let hash = users::hash_password(&password(password_stdin)?)?;
            list.push(User {
                name: name.clone(),
                role: role.0,
                hash,
            });
            write(path, &list)?;
            if Secret::create_if_missing(&console.secret_file)? {
                writeln!(out, "created {}", console.secret_file.display())?;
            }
            writeln!(out, "added {name} ({})", role.0.name())?;
        }
        UserCommand::Remove { name } => {
            let before = list.len();
            list.retain(|u| u.name != name);
            if list.len() == before {
                anyhow::bail!("no user {name}");
            }
            write(path, &list)?;
            writeln!(out, "removed {name}")?;
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let hash = users::hash_password(&password(password_stdin)?)?;
            let Some(user) = list.iter_mut().find(|u| u.name == name) else {
                anyhow::bail!("no user {name}");
            };
            user.hash = hash;
            write(path, &list)?;
            writeln!(out, "password of {name} changed")?;
        }
    }
    Ok(())
}

/// The new password: asked twice without echo at a terminal, else (or
/// with `--password-stdin`) the first line of stdin, for scripts.
fn password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() && !from_stdin {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            anyhow::bail!("the passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.chars().count() < MIN_PASSWORD {
        anyhow::bail!("a password has at least {MIN_PASSWORD} characters");
    }
    Ok(password)
}

/// Replaces the users file with `list`, readable by owner and group only.
fn write(path: &Path, list: &[User]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| anyhow::anyhow!("cannot write in {}: {e}", dir.display()))?;
    tmp.write_all(users::render(list).as_bytes())?;
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o640))?;
        // The service reads the file through its group (root:sluice 0640 in
        // the package): the new file keeps the old one's owner and group, or
        // takes the folder's group, whoever runs this command.
        let (uid, gid) = match std::fs::metadata(path) {
            Ok(old) => (Some(old.uid()), Some(old.gid())),
            Err(_) => (None, std::fs::metadata(dir).ok().map(|d| d.gid())),
        };
        std::os::unix::fs::fchown(tmp.as_file(), uid, gid)
            .map_err(|e| anyhow::anyhow!("cannot set the owner of {}: {e}", path.display()))?;
    }
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot replace {}: {e}", path.display()))?;
    Ok(())
}
