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
    /// use sluice_policy::Size;
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
/// assert_eq!(sluice_policy::parse_duration("5m"), Ok(Duration::from_secs(300)));
/// assert!(sluice_policy::parse_duration("5 parsecs").is_err());
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

/// An IP network (`"127.0.0.0/8"`, `"::1/128"`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl Cidr {
    /// Parses CIDR notation.
    ///
    /// ```
    /// use sluice_policy::Cidr;
    /// let net = Cidr::parse("10.1.0.0/16").unwrap();
    /// assert!(net.contains("10.1.200.3".parse().unwrap()));
    /// assert!(!net.contains("10.2.0.1".parse().unwrap()));
    /// assert!(Cidr::parse("10.0.0.0/33").is_err());
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
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u8) {
            match ip {
                IpAddr::V4(v) => (u32::from(v) as u128, 32),
                IpAddr::V6(v) => match v.to_ipv4_mapped() {
                    Some(v4) => (u32::from(v4) as u128, 32),
                    None => (u128::from(v), 128),
                },
            }
        };
        let (net, width) = bits(self.addr);
        let (ip, ip_width) = bits(ip);
        if width != ip_width {
            return false;
        }
        if self.prefix == 0 {
            return true;
        }
        let shift = width - self.prefix;
        (net >> shift) == (ip >> shift)
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
