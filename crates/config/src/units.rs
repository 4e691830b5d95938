//! Value types of the configuration: sizes, durations, networks, header
//! lines, as SPEC §2 writes them.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A byte size: `"50MiB"`, `"512KiB"`, `"10MB"` or plain bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Size {
    /// Parses `"50MiB"`, `"512 KiB"`, `"2GB"`, `"1000"`.
    ///
    /// ```
    /// use sluice_config::Size;
    /// assert_eq!(Size::parse("50MiB"), Ok(Size(50 << 20)));
    /// assert_eq!(Size::parse("10kB"), Ok(Size(10_000)));
    /// assert!(Size::parse("lots").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Size, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num.parse().map_err(|_| {
            format!("expected a size such as \"50MiB\" or a number of bytes, found {s:?}")
        })?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" | "k" => 1000,
            "kib" => 1 << 10,
            "mb" | "m" => 1_000_000,
            "mib" => 1 << 20,
            "gb" | "g" => 1_000_000_000,
            "gib" => 1 << 30,
            _ => {
                return Err(format!(
                    "unknown size unit {:?} in {s:?} (use B, KiB, MiB, GiB, KB, MB, GB)",
                    unit.trim()
                ))
            }
        };
        n.checked_mul(mult)
            .map(Size)
            .ok_or_else(|| format!("size {s:?} is too large"))
    }
}

/// A value written as a plain number or as text with a unit; `expected`
/// is the error when it is neither.
fn number_or_text<'de, D: Deserializer<'de>, T>(
    d: D,
    expected: &'static str,
    number: impl FnOnce(u64) -> T,
    text: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }
    match Raw::deserialize(d).map_err(|_| serde::de::Error::custom(expected))? {
        Raw::Int(n) => Ok(number(n)),
        Raw::Text(s) => text(&s).map_err(serde::de::Error::custom),
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        number_or_text(
            d,
            "expected a size such as \"50MiB\" or a number of bytes",
            Size,
            Size::parse,
        )
    }
}

/// Parses `"90s"`, `"5m"`, `"2h"`, `"90d"`, `"250ms"`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(sluice_config::parse_duration("5m"), Ok(Duration::from_secs(300)));
/// assert!(sluice_config::parse_duration("5 parsecs").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("expected a duration such as \"90s\", \"5m\", \"2h\" or \"90d\", found {s:?}")
    })?;
    let secs = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} in {s:?} (use ms, s, m, h, d)"
            ))
        }
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

/// Serde adapter for durations written as strings (or plain seconds).
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    number_or_text(
        d,
        "expected a duration such as \"90s\", \"5m\", \"2h\" or \"90d\"",
        Duration::from_secs,
        parse_duration,
    )
}

/// An IP network (`"127.0.0.0/8"`, `"::1/128"`, or one address), matched
/// by `ipnet`. IPv4 and IPv4-mapped IPv6 (`::ffff:10.1.2.3`) are the same
/// client: an IPv4 client matches a mapped network and a mapped client an
/// IPv4 network, exactly as far as the prefix reaches and no further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(ipnet::IpNet);

impl Cidr {
    /// Parses CIDR notation.
    ///
    /// ```
    /// use sluice_config::Cidr;
    /// let net = Cidr::parse("10.1.0.0/16").unwrap();
    /// assert!(net.contains("10.1.200.3".parse().unwrap()));
    /// assert!(!net.contains("10.2.0.1".parse().unwrap()));
    /// assert!(Cidr::parse("10.0.0.0/33").is_err());
    /// let mapped = Cidr::parse("::ffff:10.1.2.3").unwrap();
    /// assert!(mapped.contains("10.1.2.3".parse().unwrap()));
    /// assert!(!mapped.contains("127.0.0.1".parse().unwrap()));
    /// ```
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("expected a network such as \"127.0.0.0/8\", found {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("prefix length in {s:?} must be 0 to {max}"))?,
        };
        ipnet::IpNet::new(addr, prefix)
            .map(Cidr)
            .map_err(|_| format!("prefix length in {s:?} must be 0 to {max}"))
    }

    /// Whether `ip` is inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v4, v6) = match ip {
            IpAddr::V4(v4) => (Some(v4), v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => (v6.to_ipv4_mapped(), v6),
        };
        v4.is_some_and(|v4| self.0.contains(&IpAddr::V4(v4))) || self.0.contains(&IpAddr::V6(v6))
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Cidr::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Checks a header line to add: `Name: value`, name of printable ASCII
/// without colon, value without line breaks.
pub fn check_header_line(line: &str) -> Result<(), String> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!(
            "expected a header line \"Name: value\", found {line:?}"
        ));
    };
    if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(format!(
            "header name {name:?} must be printable ASCII without spaces"
        ));
    }
    if value.trim().is_empty() || value.contains(['\r', '\n']) {
        return Err(format!("header {name:?} needs a value on one line"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_edges_and_mapped_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let net = |s: &str| Cidr::parse(s).unwrap();
        // The audit's open relay: a mapped host entry admitted 127.0.0.1.
        assert!(!net("::ffff:10.1.2.3").contains(ip("127.0.0.1")));
        assert!(!net("::ffff:10.1.2.3/128").contains(ip("::ffff:127.0.0.1")));
        assert!(net("::ffff:10.1.2.3").contains(ip("10.1.2.3")));
        assert!(net("::ffff:10.1.2.3").contains(ip("::ffff:10.1.2.3")));
        assert!(net("::ffff:10.0.0.0/104").contains(ip("10.200.0.1")));
        assert!(!net("::ffff:10.0.0.0/104").contains(ip("11.0.0.1")));
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.9.9.9")));
        assert!(!net("10.0.0.0/8").contains(ip("::10.9.9.9")));
        // Every prefix length, at its edges.
        for prefix in 0..=32u8 {
            let n = net(&format!("192.168.255.255/{prefix}"));
            let base = u32::from(std::net::Ipv4Addr::new(192, 168, 255, 255));
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            let first = std::net::Ipv4Addr::from(base & mask);
            let last = std::net::Ipv4Addr::from(base | !mask);
            assert!(n.contains(IpAddr::V4(first)), "{prefix}");
            assert!(n.contains(IpAddr::V4(last)), "{prefix}");
            if prefix > 0 {
                let outside = std::net::Ipv4Addr::from((base & mask).wrapping_sub(1));
                assert!(!n.contains(IpAddr::V4(outside)), "{prefix}");
            }
        }
        for prefix in 0..=128u8 {
            let n = net(&format!("2001:db8::ffff/{prefix}"));
            assert!(n.contains(ip("2001:db8::ffff")), "{prefix}");
            if prefix >= 16 {
                assert!(!n.contains(ip("2002::1")), "{prefix}");
            }
        }
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.5")));
        assert!(!net("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(net("::/0").contains(ip("2001:db8::1")));
        assert!(!net("::1/128").contains(ip("127.0.0.1")));
        assert!(Cidr::parse("::1/129").is_err());
        assert!(Cidr::parse("10.0.0.0/-1").is_err());
    }
}
