//! Everything serde cannot check, one function per table: values that
//! depend on each other, cross references, duplicate names, and the files,
//! certificates and URLs the proxy reads at start — so `sluice-scan check`
//! passes exactly when the proxy would start. Every problem is listed.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

use crate::model::MIN_EXTRACTOR_MEMORY;
use crate::units::check_header_line;
use crate::{Action, ApiToken, Config, ConfigError, ConfigErrors, Starttls};

/// Problems found so far, each at its key path.
struct Problems {
    file: String,
    errors: Vec<ConfigError>,
}

impl Problems {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            path: path.into(),
            message: message.into(),
        });
    }

    /// `path` must be readable; with `pem`, it must hold a PEM block with
    /// one of these labels (the first names it in the message).
    fn readable(&mut self, key: &str, path: &Path, pem: Option<&[&str]>) {
        match std::fs::read(path) {
            Err(e) => self.push(key, format!("cannot read {}: {e}", path.display())),
            Ok(bytes) => {
                let Some(labels) = pem else { return };
                let text = String::from_utf8_lossy(&bytes);
                if !labels
                    .iter()
                    .any(|l| text.contains(&format!("-----BEGIN {l}-----")))
                {
                    self.push(
                        key,
                        format!("{} holds no PEM {}", path.display(), labels[0]),
                    );
                }
            }
        }
    }

    /// `value` must be a socket address such as `example`.
    /// An `http://` or `https://` URL with a host.
    fn http_url(&mut self, key: &str, url: &str) {
        let host = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
        if host.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace)) {
            self.push(
                key,
                format!("expected an http:// or https:// URL with a host, found {url:?}"),
            );
        }
    }

    fn socket_address(&mut self, key: &str, value: &str, example: &str) {
        if value.parse::<SocketAddr>().is_err() {
            self.push(
                key,
                format!("expected an address such as {example:?}, found {value:?}"),
            );
        }
    }
}

/// PEM labels a private key may carry.
const PRIVATE_KEYS: &[&str] = &["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

impl Config {
    /// Checks what serde cannot, table by table; every problem is reported.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut p = Problems {
            file: self.file.display().to_string(),
            errors: Vec::new(),
        };
        self.validate_proxy(&mut p);
        self.validate_upstream(&mut p);
        self.validate_milter(&mut p);
        self.validate_limits(&mut p);
        self.validate_store(&mut p);
        self.validate_api(&mut p);
        self.validate_console(&mut p);
        self.validate_notify(&mut p);
        let entities = self.validate_entities(&mut p);
        let rules = self.validate_rules(&mut p, &entities);
        let profiles = self.validate_profiles(&mut p, &rules);
        self.validate_policies(&mut p, &profiles);
        if p.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(p.errors))
        }
    }

    fn validate_proxy(&self, p: &mut Problems) {
        if self.proxy.listen.is_empty() {
            if self.milter.is_none() {
                p.push(
                    "proxy.listen",
                    "empty (no SMTP listener) needs a [milter] to listen instead",
                );
            }
        } else {
            p.socket_address("proxy.listen", &self.proxy.listen, "127.0.0.1:2525");
        }
        if self.proxy.max_message_size.0 == 0 {
            p.push("proxy.max_message_size", "must be more than 0");
        }
        if let Some(tls) = &self.proxy.tls {
            p.readable("proxy.tls.cert", &tls.cert, Some(&["CERTIFICATE"]));
            p.readable("proxy.tls.key", &tls.key, Some(PRIVATE_KEYS));
            if let Some(ca) = &tls.client_ca {
                p.readable("proxy.tls.client_ca", ca, Some(&["CERTIFICATE"]));
            }
        }
    }

    fn validate_upstream(&self, p: &mut Problems) {
        let Some(u) = &self.upstream else { return };
        match (&u.address, &u.maildir) {
            (None, None) => p.push("upstream", "needs address or maildir"),
            (Some(_), Some(_)) => p.push("upstream", "address and maildir are exclusive"),
            _ => {}
        }
        if let Some(a) = &u.address {
            let list = a.to_vec();
            if list.is_empty() {
                p.push("upstream.address", "needs at least one host:port");
            }
            for addr in list {
                let Some((host, port)) = addr.rsplit_once(':') else {
                    p.push(
                        "upstream.address",
                        format!("expected host:port, found {addr:?}"),
                    );
                    continue;
                };
                if host.is_empty() || !port.parse::<u16>().is_ok_and(|p| p > 0) {
                    p.push(
                        "upstream.address",
                        format!("expected host:port, found {addr:?}"),
                    );
                } else if u.starttls == Starttls::Required
                    && u.tls_name.is_none()
                    && host
                        .trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok()
                {
                    p.push(
                        "upstream.tls_name",
                        format!("needed with starttls = \"required\" when the address is an IP ({addr})"),
                    );
                }
            }
        }
        if u.username.is_some() != u.password_file.is_some() {
            p.push(
                "upstream.username",
                "username and password_file go together",
            );
        }
        if let Some(f) = &u.password_file {
            p.readable("upstream.password_file", f, None);
        }
    }

    fn validate_milter(&self, p: &mut Problems) {
        let Some(m) = &self.milter else { return };
        match m.listen.strip_prefix("unix:") {
            Some("") => p.push("milter.listen", "unix: needs a socket path"),
            Some(_) => {}
            None => p.socket_address("milter.listen", &m.listen, "127.0.0.1:8891"),
        }
    }

    fn validate_limits(&self, p: &mut Problems) {
        // A worker maps its own program, a 64 MiB extractor stack and its
        // allocator's arenas before it reads a byte: below this it could
        // not extract anything.
        if self.limits.max_extractor_memory.0 < MIN_EXTRACTOR_MEMORY {
            p.push(
                "limits.max_extractor_memory",
                format!(
                    "must be at least 256MiB, found {} bytes",
                    self.limits.max_extractor_memory.0
                ),
            );
        }
        if self.limits.max_inflight_bytes.0 < self.proxy.max_message_size.0 {
            p.push(
                "limits.max_inflight_bytes",
                format!(
                    "must be at least proxy.max_message_size ({} bytes), found {} bytes",
                    self.proxy.max_message_size.0, self.limits.max_inflight_bytes.0
                ),
            );
        }
    }

    fn validate_store(&self, p: &mut Problems) {
        // The store's file is created at start; its folder must exist or
        // be creatable under an existing one.
        let folder = self.store.path.parent().unwrap_or(Path::new("."));
        let existing = folder.ancestors().find(|a| a.exists());
        if existing.is_some_and(|a| !a.is_dir()) {
            p.push(
                "store.path",
                format!("{} is not inside a folder", self.store.path.display()),
            );
        }
    }

    fn validate_api(&self, p: &mut Problems) {
        let Some(a) = &self.api else { return };
        p.socket_address("api.listen", &a.listen, "127.0.0.1:8025");
        if a.tokens.is_empty() && a.token_file.is_none() {
            p.push("api", "needs tokens or token_file");
        }
        let mut names = HashSet::new();
        for t in &a.tokens {
            let ApiToken::Named(named) = t else { continue };
            let at = format!("api.tokens {:?}", named.name);
            if !names.insert(named.name.as_str()) {
                p.push(&at, "duplicate token name");
            }
            match (&named.token, &named.token_file) {
                (Some(_), None) => {}
                (None, Some(f)) => p.readable(&format!("{at}.token_file"), f, None),
                _ => p.push(&at, "needs exactly one of token or token_file"),
            }
        }
        if let Some(f) = &a.token_file {
            p.readable("api.token_file", f, None);
        }
        if let Some(tls) = &a.tls {
            p.readable("api.tls.cert", &tls.cert, Some(&["CERTIFICATE"]));
            p.readable("api.tls.key", &tls.key, Some(PRIVATE_KEYS));
        }
    }

    fn validate_notify(&self, p: &mut Problems) {
        let Some(n) = &self.notify else { return };
        if let Some(f) = &n.template {
            p.readable("notify.template", f, None);
        }
        if let Some(f) = &n.webhook_secret_file {
            p.readable("notify.webhook_secret_file", f, None);
        }
        if let Some(url) = &n.webhook {
            p.http_url("notify.webhook", url);
        }
        if let Some(url) = &n.console_url {
            p.http_url("notify.console_url", url);
            if self.console.is_none() {
                p.push(
                    "notify.console_url",
                    "release-request links need [console], which serves their page",
                );
            }
        }
    }

    fn validate_console(&self, p: &mut Problems) {
        let Some(c) = &self.console else { return };
        if self.api.is_none() {
            p.push(
                "console",
                "needs [api]: the console is served on its listener",
            );
        }
        if c.session_ttl.is_zero() {
            p.push("console.session_ttl", "must be longer than 0s");
        }
        for (i, address) in c.notify.iter().enumerate() {
            if !address.contains('@') || address.contains(char::is_whitespace) {
                p.push(
                    format!("console.notify[{i}]"),
                    format!("expected a mail address, found {address:?}"),
                );
            }
        }
    }

    /// Entity names. Each entity's keys were checked when it was read
    /// ([`crate::EntityConfig`]).
    fn validate_entities(&self, p: &mut Problems) -> HashSet<&str> {
        let mut names = HashSet::new();
        for e in &self.entity {
            if !names.insert(e.name.as_str()) {
                p.push(format!("entity {:?}.name", e.name), "duplicate entity name");
            }
        }
        names
    }

    fn validate_rules<'a>(
        &'a self,
        p: &mut Problems,
        entities: &HashSet<&str>,
    ) -> HashSet<&'a str> {
        let mut names = HashSet::new();
        for r in &self.rule {
            let at = format!("rule {:?}", r.name);
            if !names.insert(r.name.as_str()) {
                p.push(format!("{at}.name"), "duplicate rule name");
            }
            if r.entities.is_empty() {
                p.push(format!("{at}.entities"), "needs at least one entity");
            }
            for (key, list) in [("entities", &r.entities), ("require", &r.require)] {
                for name in list {
                    if !entities.contains(name.as_str()) {
                        p.push(format!("{at}.{key}"), format!("no entity named {name:?}"));
                    }
                }
            }
            let identifiers = r.entities.iter().chain(&r.require).any(|name| {
                self.entity.iter().any(|e| {
                    &e.name == name && matches!(e.kind, crate::EntityKind::Identifier { .. })
                })
            });
            if r.min_confidence.is_some() && !identifiers {
                p.push(
                    format!("{at}.min_confidence"),
                    "applies to identifier entities, and the rule has none",
                );
            }
            if r.proximity.is_some() && r.require.is_empty() {
                p.push(format!("{at}.proximity"), "proximity needs require");
            }
            // The engine's own check, so a file passes exactly when the
            // engine accepts its thresholds.
            for (level, message) in r.severity.map(|s| s.problems()).unwrap_or_default() {
                match level {
                    Some(level) => p.push(format!("{at}.severity.{level}"), message),
                    None => p.push(format!("{at}.severity"), message),
                }
            }
        }
        names
    }

    fn validate_profiles<'a>(
        &'a self,
        p: &mut Problems,
        rules: &HashSet<&str>,
    ) -> HashSet<&'a str> {
        let mut names = HashSet::new();
        for profile in &self.profile {
            let at = format!("profile {:?}", profile.name);
            if !names.insert(profile.name.as_str()) {
                p.push(format!("{at}.name"), "duplicate profile name");
            }
            for r in &profile.rules {
                if !rules.contains(r.as_str()) {
                    p.push(format!("{at}.rules"), format!("no rule named {r:?}"));
                }
            }
        }
        names
    }

    fn validate_policies(&self, p: &mut Problems, profiles: &HashSet<&str>) {
        let mut names = HashSet::new();
        for policy in &self.policy {
            let at = format!("policy {:?}", policy.name);
            if !names.insert(policy.name.as_str()) {
                p.push(format!("{at}.name"), "duplicate policy name");
            }
            if policy.profiles.is_empty() && !policy.unscannable {
                p.push(
                    format!("{at}.profiles"),
                    "needs at least one profile (or unscannable = true)",
                );
            }
            for pr in &policy.profiles {
                if !profiles.contains(pr.as_str()) {
                    p.push(format!("{at}.profiles"), format!("no profile named {pr:?}"));
                }
            }
            match (&policy.action, &policy.header) {
                (Action::AddHeader, None) => p.push(
                    format!("{at}.header"),
                    "action = \"add-header\" needs header = \"Name: value\"",
                ),
                (Action::AddHeader, Some(h)) => {
                    if let Err(m) = check_header_line(h) {
                        p.push(format!("{at}.header"), m);
                    }
                }
                (_, Some(_)) => p.push(
                    format!("{at}.header"),
                    format!(
                        "header only applies to action = \"add-header\", not {:?}",
                        policy.action.name()
                    ),
                ),
                _ => {}
            }
            if policy.reject_message.contains(['\r', '\n']) {
                p.push(format!("{at}.reject_message"), "must be one line");
            }
        }
    }
}
