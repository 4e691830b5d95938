//! Sender and recipient constraints (SPEC §5): `user@domain`, `*@domain`,
//! `*@*.domain` (subdomains only), `*`; case-insensitive.

use serde::Deserialize;

/// One address pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressPattern {
    /// `*`: every address (including the empty sender).
    Any,
    /// `user@domain`.
    Exact(String),
    /// `*@domain`.
    Domain(String),
    /// `*@*.domain`: any subdomain of `domain`, not `domain` itself.
    Subdomains(String),
}

impl AddressPattern {
    /// Parses a pattern.
    ///
    /// ```
    /// use sluice_config::AddressPattern;
    /// let p = AddressPattern::parse("*@*.Example.com").unwrap();
    /// assert!(p.matches("bob@eu.example.COM"));
    /// assert!(!p.matches("bob@example.com"));
    /// assert!(AddressPattern::parse("example.com").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<AddressPattern, String> {
        let p = s.trim().to_ascii_lowercase();
        let invalid = || {
            format!("expected \"user@domain\", \"*@domain\", \"*@*.domain\" or \"*\", found {s:?}")
        };
        if p == "*" {
            return Ok(AddressPattern::Any);
        }
        let (local, domain) = p.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = |d: &str| {
            !d.is_empty()
                && !d.contains(['*', '@', ' '])
                && !d.starts_with('.')
                && !d.ends_with('.')
        };
        match (local, domain.strip_prefix("*.")) {
            ("*", Some(parent)) if domain_ok(parent) => {
                Ok(AddressPattern::Subdomains(parent.to_owned()))
            }
            ("*", None) if domain_ok(domain) => Ok(AddressPattern::Domain(domain.to_owned())),
            (l, None) if !l.is_empty() && !l.contains(['*', ' ']) && domain_ok(domain) => {
                Ok(AddressPattern::Exact(p.clone()))
            }
            _ => Err(invalid()),
        }
    }

    /// Whether `address` (a bare `local@domain`) matches.
    pub fn matches(&self, address: &str) -> bool {
        // Patterns are lower case (`parse`): comparing without case needs
        // no lower-cased copy of the address (every policy asks this of
        // every recipient of every message).
        let a = address.trim().as_bytes();
        let domain = || a.iter().rposition(|&b| b == b'@').map(|at| &a[at + 1..]);
        match self {
            AddressPattern::Any => true,
            AddressPattern::Exact(e) => a.eq_ignore_ascii_case(e.as_bytes()),
            AddressPattern::Domain(d) => {
                domain().is_some_and(|ad| ad.eq_ignore_ascii_case(d.as_bytes()))
            }
            AddressPattern::Subdomains(d) => domain().is_some_and(|ad| {
                ad.len() > d.len() + 1
                    && ad[ad.len() - d.len()..].eq_ignore_ascii_case(d.as_bytes())
                    && ad[ad.len() - d.len() - 1] == b'.'
            }),
        }
    }
}

impl std::fmt::Display for AddressPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddressPattern::Any => f.write_str("*"),
            AddressPattern::Exact(e) => f.write_str(e),
            AddressPattern::Domain(d) => write!(f, "*@{d}"),
            AddressPattern::Subdomains(d) => write!(f, "*@*.{d}"),
        }
    }
}

impl<'de> Deserialize<'de> for AddressPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AddressPattern::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A `from` or `to` constraint: an address matches when it matches some
/// `include` (default `["*"]`) and no `exclude`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// Patterns an address must match one of (empty: `*`).
    #[serde(default)]
    pub include: Vec<AddressPattern>,
    /// Patterns an address must match none of.
    #[serde(default)]
    pub exclude: Vec<AddressPattern>,
}

impl Constraint {
    /// Whether `address` satisfies the constraint.
    pub fn matches(&self, address: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.matches(address)))
            && !self.exclude.iter().any(|p| p.matches(address))
    }

    /// The pattern that decides `address`, for explanations.
    pub fn explain(&self, address: &str) -> String {
        if let Some(p) = self.exclude.iter().find(|p| p.matches(address)) {
            return format!("{address} is excluded by {p}");
        }
        match self.include.iter().find(|p| p.matches(address)) {
            Some(p) => format!("{address} matches {p}"),
            None if self.include.is_empty() => {
                format!("{address} matches * (no include) and no exclude")
            }
            None => format!("{address} matches no include pattern"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `matches` means: the address lower-cased, then compared.
    fn matches_lowered(p: &AddressPattern, address: &str) -> bool {
        let a = address.trim().to_ascii_lowercase();
        let domain = a.rsplit_once('@').map(|(_, d)| d);
        match p {
            AddressPattern::Any => true,
            AddressPattern::Exact(e) => a == *e,
            AddressPattern::Domain(d) => domain == Some(d.as_str()),
            // A subdomain: a non-empty label before `.domain`.
            AddressPattern::Subdomains(d) => {
                domain.is_some_and(|ad| ad.len() > d.len() + 1 && ad.ends_with(&format!(".{d}")))
            }
        }
    }

    #[test]
    fn matching_ignores_ascii_case_only() {
        let patterns = [
            "Bob@Example.com",
            "*@example.com",
            "*@*.example.com",
            "*@exämple.com",
            "*",
        ];
        let addresses = [
            "bob@example.com",
            " BOB@EXAMPLE.COM ",
            "bob@eu.Example.Com",
            "b@x@example.com",
            "bob@example.com.evil",
            "bob@.example.com",
            "bob@EXÄMPLE.com",
            "bob@exämple.com",
            "bob@ä.example.com",
            "@example.com",
            "example.com",
            "",
        ];
        for p in patterns {
            let p = AddressPattern::parse(p).unwrap();
            for a in addresses {
                assert_eq!(p.matches(a), matches_lowered(&p, a), "{p} {a:?}");
            }
        }
    }

    #[test]
    fn patterns() {
        let exact = AddressPattern::parse("Alice@Example.com").unwrap();
        assert!(exact.matches("alice@example.COM"));
        assert!(!exact.matches("alice@example.org"));
        let domain = AddressPattern::parse("*@example.com").unwrap();
        assert!(domain.matches("x@EXAMPLE.com"));
        assert!(!domain.matches("x@eu.example.com"));
        assert!(!domain.matches("x@badexample.com"));
        let sub = AddressPattern::parse("*@*.example.com").unwrap();
        assert!(sub.matches("x@eu.example.com") && sub.matches("x@a.b.example.com"));
        assert!(!sub.matches("x@example.com") && !sub.matches("x@badexample.com"));
        assert!(AddressPattern::Any.matches(""));
        for bad in [
            "",
            "example.com",
            "a*@example.com",
            "*@",
            "*@*.",
            "*@.example.com",
            "@example.com",
        ] {
            assert!(AddressPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn constraints() {
        let outside = Constraint {
            include: vec![],
            exclude: vec![
                AddressPattern::parse("*@example.com").unwrap(),
                AddressPattern::parse("*@*.example.com").unwrap(),
            ],
        };
        assert!(outside.matches("bob@partner.org"));
        assert!(!outside.matches("bob@example.com"));
        assert!(!outside.matches("bob@eu.example.com"));
        assert_eq!(
            outside.explain("bob@eu.example.com"),
            "bob@eu.example.com is excluded by *@*.example.com"
        );
    }
}
