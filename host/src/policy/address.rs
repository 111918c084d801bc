//! Addresses as the policy compares them: every spelling the system resolver accepts for an
//! IP literal brought to one `IpAddr` (the ranges a wildcard rule never grants are `special`'s).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host as written in a URL or rule, normalised: brackets and one trailing dot gone,
/// lower case, and an IP literal in any spelling the C library's `inet_aton` takes (`127.1`,
/// `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`) or IPv4-mapped IPv6 (`::ffff:127.0.0.1`) parsed
/// to the address it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A name to resolve (lower case, no trailing dot).
    Name(String),
    /// An address (an IPv4-mapped IPv6 address is its IPv4 address).
    Ip(IpAddr),
}

impl Host {
    /// Normalise `host` (see the type).
    pub fn parse(host: &str) -> Host {
        let bare = host.trim();
        let bare = bare.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(bare);
        let bare = bare.strip_suffix('.').unwrap_or(bare);
        if let Some(ip) = parse_ip(bare) {
            return Host::Ip(ip);
        }
        Host::Name(bare.to_ascii_lowercase())
    }

    /// The host as it is written back in messages (IPv6 in brackets).
    pub fn display(&self) -> String {
        match self {
            Host::Name(n) => n.clone(),
            Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
            Host::Ip(ip) => ip.to_string(),
        }
    }
}

/// An IP literal in any spelling the resolver accepts, IPv4-mapped IPv6 made IPv4.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    if let Some(v4) = inet_aton(text) {
        return Some(IpAddr::V4(v4));
    }
    // A zone (`fe80::1%eth0`) names an interface, not another address.
    let without_zone = text.split_once('%').map_or(text, |(a, _)| a);
    let v6: Ipv6Addr = without_zone.parse().ok()?;
    Some(canonical(IpAddr::V6(v6)))
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it reaches.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// glibc's `inet_aton`: one to four parts, each decimal, octal (leading 0) or hex (0x); the
/// last part fills the remaining bytes (`127.1` is 127.0.0.1, `2130706433` is too).
fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b'x' || b == b'X')
    {
        return None;
    }
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for part in &parts {
        let (digits, radix) = if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (*part, 10)
        };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let value = if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, radix).ok()?
        };
        values.push(value);
    }
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|&v| v > 0xff) {
        return None;
    }
    let last_bits = 8 * (4 - leading.len() as u32);
    if last_bits < 32 && *last >= 1 << last_bits {
        return None;
    }
    let mut addr = 0u32;
    for (i, v) in leading.iter().enumerate() {
        addr |= v << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from(addr | last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_loopback_is_one_address() {
        let loopback = Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for spelling in [
            "127.0.0.1",
            "127.1",
            "127.0.1",
            "2130706433",
            "0x7f000001",
            "0x7f.0.0.1",
            "0177.0.0.1",
            "0x7F.1",
            "[::ffff:127.0.0.1]",
            "::ffff:7f00:1",
            "127.0.0.1.",
        ] {
            assert_eq!(Host::parse(spelling), loopback, "{spelling}");
        }
        assert_eq!(Host::parse("[::1]"), Host::Ip("::1".parse().unwrap()));
        assert_eq!(Host::parse("LocalHost."), Host::Name("localhost".into()));
        for name in [
            "example.com",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.0x100",
            "08.1.1.1",
            "deadbeef",
        ] {
            assert!(matches!(Host::parse(name), Host::Name(_)), "{name}");
        }
        assert_eq!(Host::parse("0xdeadbeef"), Host::Ip("222.173.190.239".parse().unwrap()));
    }
}
