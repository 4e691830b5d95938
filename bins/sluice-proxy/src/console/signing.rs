//! What the console signs with `[console] secret_file` (SPEC §9): session
//! cookies, CSRF tokens and release-request links.
//!
//! Sessions are signed, not stored: several proxies behind one name that
//! share the secret accept each other's sessions and links. A session
//! names its user and carries a tag of that user's password hash, so a
//! password change or a removal from `users_file` ends it everywhere; a
//! sign-out is remembered by the proxy that served it until the session
//! would have expired anyway.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Bytes of a new secret.
const SECRET_BYTES: usize = 32;

/// The console's signing key.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Reads the key from `path` (its first line, hex or any text of at
    /// least 16 bytes).
    pub fn load(path: &Path) -> anyhow::Result<Secret> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "console.secret_file {}: {e} (`sluice-proxy user add` creates it)",
                path.display()
            )
        })?;
        let key = text.lines().next().unwrap_or_default().trim();
        if key.len() < 16 {
            anyhow::bail!(
                "console.secret_file {}: shorter than 16 characters",
                path.display()
            );
        }
        Ok(Secret(key.as_bytes().to_vec()))
    }

    /// Creates `path` with a new random key, readable by owner and group
    /// only, unless it exists; whether it was created.
    pub fn create_if_missing(path: &Path) -> anyhow::Result<bool> {
        if path.exists() {
            return Ok(false);
        }
        let key: String = random_bytes::<SECRET_BYTES>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
        let mut file = options
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
        writeln!(file, "{key}")?;
        file.sync_all()?;
        Ok(true)
    }

    /// A key from bytes, for tests.
    #[cfg(test)]
    pub fn from_bytes(bytes: &[u8]) -> Secret {
        Secret(bytes.to_vec())
    }

    /// HMAC-SHA256 of `purpose` and `message`: a signature made for one
    /// purpose never verifies for another.
    fn sign(&self, purpose: &str, message: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\n");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Whether `signature` is [`Secret::sign`] of the same input, compared
    /// in constant time.
    fn verify(&self, purpose: &str, message: &[u8], signature: &[u8]) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\n");
        mac.update(message);
        mac.verify_slice(signature).is_ok()
    }

    /// The CSRF token of a session (or of a sign-in form's nonce): forms
    /// carry it, and a post without the right one is refused.
    pub fn csrf(&self, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(&self.sign("csrf", nonce.as_bytes())[..18])
    }

    /// Whether `token` is the CSRF token of `nonce`.
    pub fn csrf_matches(&self, nonce: &str, token: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        bytes.len() == 18 && self.verify_prefix("csrf", nonce.as_bytes(), &bytes)
    }

    /// [`Secret::verify`] of a truncated signature.
    fn verify_prefix(&self, purpose: &str, message: &[u8], prefix: &[u8]) -> bool {
        let full = self.sign(purpose, message);
        full[..prefix.len()]
            .iter()
            .zip(prefix)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// A session cookie's value.
    pub fn session(&self, s: &Session) -> String {
        let payload = format!("{}\n{}\n{}\n{}", s.user, s.expires, s.nonce, s.tag);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.sign("session", payload.as_bytes()))
        )
    }

    /// The session a cookie value carries, when its signature is right and
    /// it has not expired at `now` (Unix seconds). The caller still checks
    /// the user and the tag against `users_file`.
    pub fn open_session(&self, cookie: &str, now: i64) -> Option<Session> {
        let (payload, signature) = cookie.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        if !self.verify("session", &payload, &signature) {
            return None;
        }
        let text = String::from_utf8(payload).ok()?;
        let mut fields = text.split('\n');
        let session = Session {
            user: fields.next()?.to_owned(),
            expires: fields.next()?.parse().ok()?,
            nonce: fields.next()?.to_owned(),
            tag: fields.next()?.to_owned(),
        };
        (fields.next().is_none() && session.expires > now).then_some(session)
    }

    /// The token of a release-request link for held message
    /// `quarantine_id`, valid until `expires` (Unix seconds).
    pub fn release_link(&self, quarantine_id: &str, expires: i64) -> String {
        let payload = format!("{quarantine_id}\n{expires}");
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.sign("release-link", payload.as_bytes()))
        )
    }

    /// The held message a link token names, when it is signed by this key
    /// and not expired at `now`.
    pub fn open_release_link(&self, token: &str, now: i64) -> Result<String, LinkError> {
        let bad = || LinkError::Invalid;
        let (payload, signature) = token.split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| bad())?;
        if !self.verify("release-link", &payload, &signature) {
            return Err(bad());
        }
        let text = String::from_utf8(payload).map_err(|_| bad())?;
        let (id, expires) = text.split_once('\n').ok_or_else(bad)?;
        let expires: i64 = expires.parse().map_err(|_| bad())?;
        if expires <= now {
            return Err(LinkError::Expired);
        }
        Ok(id.to_owned())
    }
}

/// Why a release-request link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Not signed by this console's key (tampered with, or made up).
    Invalid,
    /// Past its `link_ttl`.
    Expired,
}

/// A signed-in reviewer's session, as the cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The user's name in `users_file`.
    pub user: String,
    /// Unix seconds.
    pub expires: i64,
    /// Random, per sign-in: the CSRF token is derived from it, and a
    /// sign-out revokes it.
    pub nonce: String,
    /// [`password_tag`] of the user's hash at sign-in.
    pub tag: String,
}

/// A short digest of a user's password hash: sessions carry it, so a new
/// hash (password change) or none (user removed) ends them.
pub fn password_tag(hash: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(hash.as_bytes())[..9])
}

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(bytes)
}

/// A random nonce, URL-safe.
pub fn nonce() -> anyhow::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<18>()?))
}

/// Sessions signed out on this proxy, until they would have expired: at
/// most [`REVOKED_MAX`] of them.
pub struct Revoked {
    /// Nonce → when its session would have expired.
    sessions: Mutex<HashMap<String, i64>>,
    max: usize,
}

/// Sign-outs remembered at most. Each needs a session, so each cost a
/// sign-in (an argon2 check); past this many, the sign-out whose session
/// ends soonest is forgotten first: it has the least time left in which a
/// stolen copy of its cookie could be used.
const REVOKED_MAX: usize = 100_000;

impl Default for Revoked {
    fn default() -> Self {
        Revoked::at_most(REVOKED_MAX)
    }
}

impl Revoked {
    fn at_most(max: usize) -> Revoked {
        Revoked {
            sessions: Mutex::new(HashMap::new()),
            max,
        }
    }

    /// Remembers `session` as signed out.
    pub fn revoke(&self, session: &Session, now: i64) {
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        // Expired entries are dropped as new ones come, so the map holds
        // at most the sessions of one `session_ttl`.
        map.retain(|_, expires| *expires > now);
        if map.len() >= self.max {
            let soonest = map.iter().min_by_key(|(_, e)| **e).map(|(n, _)| n.clone());
            if let Some(nonce) = soonest {
                map.remove(&nonce);
            }
        }
        map.insert(session.nonce.clone(), session.expires);
    }

    /// Whether `session` was signed out.
    pub fn contains(&self, session: &Session) -> bool {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&session.nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            user: "ana".into(),
            expires: 2_000,
            nonce: "n1".into(),
            tag: password_tag("$argon2id$x"),
        }
    }

    #[test]
    fn a_session_opens_only_unaltered_unexpired_and_with_its_own_key() {
        let key = Secret::from_bytes(b"0123456789abcdef0123");
        let cookie = key.session(&session());
        assert_eq!(key.open_session(&cookie, 1_000), Some(session()));
        assert_eq!(key.open_session(&cookie, 2_000), None, "expired");
        let other = Secret::from_bytes(b"another key, just as long");
        assert_eq!(other.open_session(&cookie, 1_000), None);
        // Another user's name in the payload breaks the signature.
        let (_, signature) = cookie.split_once('.').unwrap();
        let forged = format!(
            "{}.{signature}",
            URL_SAFE_NO_PAD.encode(format!("root\n2000\nn1\n{}", session().tag))
        );
        assert_eq!(key.open_session(&forged, 1_000), None);
        assert_eq!(key.open_session("garbage", 1_000), None);
        assert_eq!(key.open_session("a.b.c", 1_000), None);
    }

    #[test]
    fn csrf_tokens_belong_to_one_nonce_and_signatures_to_one_purpose() {
        let key = Secret::from_bytes(b"0123456789abcdef0123");
        let token = key.csrf("n1");
        assert!(key.csrf_matches("n1", &token));
        assert!(!key.csrf_matches("n2", &token));
        assert!(!key.csrf_matches("n1", ""));
        assert!(!key.csrf_matches("n1", "%%%"));
        // A link's signature is not a session's.
        let link = key.release_link("Q1", 2_000);
        assert_eq!(key.open_session(&link, 1_000), None);
    }

    #[test]
    fn release_links_are_refused_when_tampered_with_or_expired() {
        let key = Secret::from_bytes(b"0123456789abcdef0123");
        let link = key.release_link("01JQ", 2_000);
        assert_eq!(key.open_release_link(&link, 1_000), Ok("01JQ".into()));
        assert_eq!(key.open_release_link(&link, 2_001), Err(LinkError::Expired));
        let (_, signature) = link.split_once('.').unwrap();
        let other = format!(
            "{}.{signature}",
            URL_SAFE_NO_PAD.encode("01JR\n2000".as_bytes())
        );
        assert_eq!(
            key.open_release_link(&other, 1_000),
            Err(LinkError::Invalid)
        );
        let later = format!(
            "{}.{signature}",
            URL_SAFE_NO_PAD.encode("01JQ\n9000".as_bytes())
        );
        assert_eq!(
            key.open_release_link(&later, 1_000),
            Err(LinkError::Invalid)
        );
    }

    /// Every token a browser or a mail client hands back is hostile: a
    /// cookie, link or CSRF token with any one character changed,
    /// removed or doubled, cut short, or made up, opens nothing and
    /// panics nowhere.
    #[test]
    fn altered_and_made_up_tokens_open_nothing() {
        let key = Secret::from_bytes(b"0123456789abcdef0123");
        let cookie = key.session(&session());
        let link = key.release_link("01JQ", 2_000);
        let csrf = key.csrf("n1");
        let opens = |token: &str| {
            key.open_session(token, 1_000).is_some()
                || key.open_release_link(token, 1_000).is_ok()
                || key.csrf_matches("n1", token)
        };
        let replacements = ['A', 'z', '0', '-', '_', '.', '=', '\n', ' ', '%', 'é', '\0'];
        for token in [&cookie, &link, &csrf] {
            assert!(opens(token), "the unaltered token opens");
            let chars: Vec<char> = token.chars().collect();
            let mut altered = Vec::new();
            for i in 0..chars.len() {
                for &r in &replacements {
                    let mut c = chars.clone();
                    c[i] = r;
                    altered.push(c);
                }
                let mut removed = chars.clone();
                removed.remove(i);
                altered.push(removed);
                let mut doubled = chars.clone();
                doubled.insert(i, chars[i]);
                altered.push(doubled);
                altered.push(chars[..i].to_vec());
            }
            for c in altered {
                let text: String = c.into_iter().collect();
                if text != **token {
                    assert!(!opens(&text), "{text:?} opened");
                }
            }
        }
        // Made up: random strings over the tokens' alphabet and the
        // separators, of every length up to 200.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let alphabet: Vec<char> =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.\n=é"
                .chars()
                .collect();
        for n in 0..20_000usize {
            let len = n % 201;
            let text: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            assert!(!opens(&text), "{text:?} opened");
        }
    }

    #[test]
    fn a_new_secret_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.secret");
        assert!(Secret::create_if_missing(&path).unwrap());
        let first = std::fs::read_to_string(&path).unwrap();
        assert_eq!(first.trim().len(), 64);
        assert!(!Secret::create_if_missing(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        Secret::load(&path).unwrap();
    }

    #[test]
    fn sign_outs_are_bounded_and_the_soonest_ending_is_forgotten_first() {
        let revoked = Revoked::at_most(3);
        let out = |nonce: &str, expires: i64| Session {
            nonce: nonce.into(),
            expires,
            ..session()
        };
        for (nonce, expires) in [("a", 500), ("b", 300), ("c", 400)] {
            revoked.revoke(&out(nonce, expires), 100);
        }
        revoked.revoke(&out("d", 600), 100);
        assert!(!revoked.contains(&out("b", 300)), "ends soonest: forgotten");
        for nonce in ["a", "c", "d"] {
            assert!(revoked.contains(&out(nonce, 0)), "{nonce}");
        }
        // Expired ones leave first, without forgetting a live one.
        revoked.revoke(&out("e", 700), 450);
        assert!(!revoked.contains(&out("c", 0)));
        for nonce in ["a", "d", "e"] {
            assert!(revoked.contains(&out(nonce, 0)), "{nonce}");
        }
    }
}
