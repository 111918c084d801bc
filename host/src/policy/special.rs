//! The addresses that are not globally reachable, from IANA's IPv4 and IPv6 Special-Purpose
//! Address Registries (RFC 6890 and the RFCs each row cites), plus multicast: what Python's
//! `ipaddress` calls not `is_global`, and more where the registry says so. A wildcard rule
//! never grants one of these; only a rule naming the address, its name, or a range at
//! least as narrow does.
//!
//! An IPv6 address that carries an IPv4 address (IPv4-mapped and -compatible, SIIT, NAT64
//! in both its prefixes, 6to4, Teredo) reaches that IPv4 address on a network that
//! translates it, so it is judged by the IPv4 address as well as by its own range.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A range of the registries: why an address in it is not globally reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialRange {
    /// What the registry calls it, in words ("loopback", "benchmarking").
    pub name: &'static str,
    /// The RFC that assigns it.
    pub rfc: &'static str,
    /// The length of the prefix that makes an address special: a rule for a range must be at
    /// least this narrow to grant it.
    pub prefix_len: u8,
}

/// What the registry says of a range's reach ("Globally Reachable").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// True: an exception inside a special range (an anycast service).
    Global,
    /// False, or N/A.
    Special,
}
use Reach::{Global, Special};

/// One row of a registry: a prefix, its reach, what it is, its RFC.
struct Row<N> {
    net: N,
    len: u8,
    reach: Reach,
    name: &'static str,
    rfc: &'static str,
}

const fn v4(net: [u8; 4], len: u8, reach: Reach, name: &'static str, rfc: &'static str) -> Row<u32> {
    Row {
        net: u32::from_be_bytes(net),
        len,
        reach,
        name,
        rfc,
    }
}

const fn v6(net: u128, len: u8, reach: Reach, name: &'static str, rfc: &'static str) -> Row<u128> {
    Row {
        net,
        len,
        reach,
        name,
        rfc,
    }
}

/// IANA IPv4 Special-Purpose Address Registry (rows with "Globally Reachable" false or N/A),
/// the globally reachable exceptions inside them, and multicast. The longest matching row
/// decides.
const IPV4: &[Row<u32>] = &[
    v4([0, 0, 0, 0], 8, Special, "\"this network\"", "RFC 791"),
    v4([10, 0, 0, 0], 8, Special, "private", "RFC 1918"),
    v4([100, 64, 0, 0], 10, Special, "shared (carrier-grade NAT)", "RFC 6598"),
    v4([127, 0, 0, 0], 8, Special, "loopback", "RFC 1122"),
    v4([169, 254, 0, 0], 16, Special, "link-local", "RFC 3927"),
    v4([172, 16, 0, 0], 12, Special, "private", "RFC 1918"),
    v4([192, 0, 0, 0], 24, Special, "IETF protocol assignments", "RFC 6890"),
    v4([192, 0, 0, 0], 29, Special, "IPv4 service continuity", "RFC 7335"),
    v4([192, 0, 0, 8], 32, Special, "IPv4 dummy address", "RFC 7600"),
    v4([192, 0, 0, 9], 32, Global, "port control protocol anycast", "RFC 7723"),
    v4(
        [192, 0, 0, 10],
        32,
        Global,
        "traversal using relays around NAT anycast",
        "RFC 8155",
    ),
    v4([192, 0, 0, 170], 31, Special, "NAT64/DNS64 discovery", "RFC 8880"),
    v4([192, 0, 2, 0], 24, Special, "documentation (TEST-NET-1)", "RFC 5737"),
    v4(
        [192, 88, 99, 0],
        24,
        Special,
        "deprecated 6to4 relay anycast",
        "RFC 7526",
    ),
    v4([192, 168, 0, 0], 16, Special, "private", "RFC 1918"),
    v4([198, 18, 0, 0], 15, Special, "benchmarking", "RFC 2544"),
    v4([198, 51, 100, 0], 24, Special, "documentation (TEST-NET-2)", "RFC 5737"),
    v4([203, 0, 113, 0], 24, Special, "documentation (TEST-NET-3)", "RFC 5737"),
    v4([224, 0, 0, 0], 4, Special, "multicast", "RFC 5771"),
    v4([240, 0, 0, 0], 4, Special, "reserved", "RFC 1112"),
    v4([255, 255, 255, 255], 32, Special, "limited broadcast", "RFC 8190"),
];

/// IANA IPv6 Special-Purpose Address Registry (rows with "Globally Reachable" false or N/A),
/// the globally reachable exceptions inside them, deprecated site-local and multicast.
const IPV6: &[Row<u128>] = &[
    v6(0, 128, Special, "unspecified", "RFC 4291"),
    v6(1, 128, Special, "loopback", "RFC 4291"),
    v6(0, 96, Special, "deprecated IPv4-compatible", "RFC 4291"),
    v6(0xffff << 32, 96, Special, "IPv4-mapped", "RFC 4291"),
    v6(0xffff << 48, 96, Special, "IPv4-translated (SIIT)", "RFC 7915"),
    v6(
        0x0064_ff9b_0001 << 80,
        48,
        Special,
        "local-use IPv4/IPv6 translation",
        "RFC 8215",
    ),
    v6(0x0100 << 112, 64, Special, "discard-only", "RFC 6666"),
    v6(
        (0x0100 << 112) | (1 << 64),
        64,
        Special,
        "dummy IPv6 prefix",
        "RFC 9780",
    ),
    v6(0x2001 << 112, 23, Special, "IETF protocol assignments", "RFC 2928"),
    v6(0x2001 << 112, 32, Special, "Teredo", "RFC 4380"),
    v6(
        (0x2001_0001 << 96) | 1,
        128,
        Global,
        "port control protocol anycast",
        "RFC 7723",
    ),
    v6(
        (0x2001_0001 << 96) | 2,
        128,
        Global,
        "traversal using relays around NAT anycast",
        "RFC 8155",
    ),
    v6(
        (0x2001_0001 << 96) | 3,
        128,
        Global,
        "DNS-SD service registration protocol anycast",
        "RFC 9665",
    ),
    v6(0x2001_0002 << 96, 48, Special, "benchmarking", "RFC 5180"),
    v6(
        0x2001_0003 << 96,
        32,
        Global,
        "automatic multicast tunneling",
        "RFC 7450",
    ),
    v6(0x2001_0004_0112 << 80, 48, Global, "AS112-v6", "RFC 7535"),
    v6(0x2001_0010 << 96, 28, Special, "deprecated ORCHID", "RFC 4843"),
    v6(0x2001_0020 << 96, 28, Global, "ORCHIDv2", "RFC 7343"),
    v6(0x2001_0030 << 96, 28, Global, "drone remote ID", "RFC 9374"),
    v6(0x2001_0db8 << 96, 32, Special, "documentation", "RFC 3849"),
    v6(0x3fff << 112, 20, Special, "documentation", "RFC 9637"),
    v6(0x5f00 << 112, 16, Special, "segment routing SIDs", "RFC 9602"),
    v6(0xfc00 << 112, 7, Special, "unique local", "RFC 4193"),
    v6(0xfe80 << 112, 10, Special, "link-local", "RFC 4291"),
    v6(0xfec0 << 112, 10, Special, "deprecated site-local", "RFC 3879"),
    v6(0xff00 << 112, 8, Special, "multicast", "RFC 4291"),
];

/// The longest row of `rows` that holds `bits` (of `width` bits).
fn longest<N: Copy + Into<u128>>(rows: &[Row<N>], bits: u128, width: u32) -> Option<&Row<N>> {
    let holds = |row: &&Row<N>| {
        let shift = width - u32::from(row.len);
        let mask = if row.len == 0 {
            0
        } else {
            (u128::MAX >> (128 - width)) >> shift << shift
        };
        bits & mask == row.net.into() & mask
    };
    rows.iter().filter(holds).max_by_key(|row| row.len)
}

/// The special range `ip` lies in, if any (see the module).
pub fn special_range(ip: IpAddr) -> Option<SpecialRange> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return special_v4(v4);
            }
            let own = longest(IPV6, u128::from(v6), 128)
                .filter(|row| row.reach == Special)
                .map(|row| SpecialRange {
                    name: row.name,
                    rfc: row.rfc,
                    prefix_len: row.len,
                });
            own.or_else(|| {
                embedded_v4(v6)
                    .into_iter()
                    .find_map(|(v4, offset)| special_v4(v4).map(|s| embedded(s, offset)))
            })
        }
    }
}

/// An IPv4 address's special range.
fn special_v4(ip: Ipv4Addr) -> Option<SpecialRange> {
    longest(IPV4, u128::from(u32::from(ip)), 32)
        .filter(|row| row.reach == Special)
        .map(|row| SpecialRange {
            name: row.name,
            rfc: row.rfc,
            prefix_len: row.len,
        })
}

/// A special IPv4 range met inside an IPv6 address whose IPv4 part starts at bit `offset`:
/// a rule must name the IPv6 range down to the IPv4 range's prefix to grant it.
fn embedded(inner: SpecialRange, offset: u8) -> SpecialRange {
    SpecialRange {
        prefix_len: offset.saturating_add(inner.prefix_len).min(128),
        ..inner
    }
}

/// The IPv4 addresses an IPv6 address carries, each with the bit where it starts (128 when
/// it is not a contiguous prefix: a rule must name the whole address).
fn embedded_v4(ip: Ipv6Addr) -> Vec<(Ipv4Addr, u8)> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from(bits as u32);
    let in_prefix = |net: u128, len: u32| bits >> (128 - len) == net >> (128 - len);
    let mut carried = Vec::new();
    // IPv4-compatible (::a.b.c.d), SIIT (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96, RFC 6052)
    // and its local-use prefix in the /96 form (64:ff9b:1::a.b.c.d, RFC 8215).
    if in_prefix(0, 96) || in_prefix(0xffff << 48, 96) || in_prefix(0x0064_ff9b << 96, 96) {
        carried.push((low, 96));
    }
    if in_prefix(0x0064_ff9b_0001 << 80, 48) {
        carried.push((low, 96));
        // RFC 6052's /48 form: the IPv4 address in bits 48-63 and 72-87.
        let high = ((bits >> 64) & 0xffff) as u32;
        let rest = ((bits >> 40) & 0xffff) as u32;
        carried.push((Ipv4Addr::from((high << 16) | rest), 128));
    }
    // 6to4 (2002:a.b.c.d::/48, RFC 3056).
    if in_prefix(0x2002 << 112, 16) {
        carried.push((Ipv4Addr::from((bits >> 80) as u32), 16));
    }
    // Teredo (2001:0::/32, RFC 4380): the server's address in bits 32-63, the client's
    // inverted in the last 32.
    if in_prefix(0x2001 << 112, 32) {
        carried.push((Ipv4Addr::from((bits >> 64) as u32), 32));
        carried.push((Ipv4Addr::from(!(bits as u32)), 128));
    }
    carried
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address inside `row`'s prefix (its first one, and one past it where it is wider).
    fn inside<N: Copy + Into<u128>>(row: &Row<N>, width: u32) -> Vec<u128> {
        let net: u128 = row.net.into();
        let mut at = vec![net];
        if u32::from(row.len) < width {
            at.push(net | 1);
        }
        at
    }

    #[test]
    fn every_ipv4_row_is_special_unless_the_registry_says_globally_reachable() {
        for row in IPV4 {
            for bits in inside(row, 32) {
                let ip = Ipv4Addr::from(bits as u32);
                let got = special_range(IpAddr::V4(ip));
                if row.reach == Global {
                    assert_eq!(got, None, "{ip} ({}, {})", row.name, row.rfc);
                } else {
                    let got = got.unwrap_or_else(|| panic!("{ip} ({}) not special", row.name));
                    // This row, or a narrower one inside it (192.0.0.0/29 in 192.0.0.0/24).
                    assert!(got.prefix_len >= row.len, "{ip}: {got:?} for {}", row.name);
                    if got.prefix_len == row.len {
                        assert_eq!((got.name, got.rfc), (row.name, row.rfc), "{ip}");
                    }
                    // The same address mapped into IPv6 is judged the same.
                    let mapped = IpAddr::V6(ip.to_ipv6_mapped());
                    assert_eq!(special_range(mapped), Some(got), "{mapped}");
                }
            }
        }
    }

    #[test]
    fn every_ipv6_row_is_special_unless_the_registry_says_globally_reachable() {
        for row in IPV6 {
            for bits in inside(row, 128) {
                let ip = Ipv6Addr::from(bits);
                let got = special_range(IpAddr::V6(ip));
                match (row.reach == Global, got) {
                    (true, None) => {}
                    (true, Some(s)) => panic!("{ip} ({}) is globally reachable, not {}", row.name, s.name),
                    (false, Some(_)) => {}
                    (false, None) => panic!("{ip} ({}, {}) not special", row.name, row.rfc),
                }
            }
        }
    }

    #[test]
    fn addresses_that_carry_ipv4_are_judged_by_it() {
        for (ip, what) in [
            // The findings: each reaches 169.254.169.254 where it is translated.
            ("64:ff9b:1::a9fe:a9fe", "local-use IPv4/IPv6 translation"),
            ("2002:a9fe:a9fe::1", "link-local"),
            ("::ffff:0:a9fe:a9fe", "IPv4-translated (SIIT)"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b::7f00:1", "loopback"),
            ("2002:c612:1::1", "benchmarking"),
            ("::a9fe:a9fe", "deprecated IPv4-compatible"),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(special_range(ip).map(|s| s.name), Some(what), "{ip}");
        }
        // Teredo is special as a range, and carries both its server and its client.
        let teredo: Ipv6Addr = "2001:0:4136:e378:8000:63bf:3fff:fdd2".parse().unwrap();
        assert_eq!(special_range(IpAddr::V6(teredo)).map(|s| s.name), Some("Teredo"));
        let carried = embedded_v4(teredo);
        assert!(carried.contains(&(Ipv4Addr::new(65, 54, 227, 120), 32)), "{carried:?}");
        assert!(carried.contains(&(Ipv4Addr::new(192, 0, 2, 45), 128)), "{carried:?}");
        // Global addresses stay global, carried or not.
        for ip in [
            "2002:808:808::1",
            "64:ff9b::808:808",
            "8.8.8.8",
            "2606:4700::1111",
            "93.184.216.34",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(special_range(ip), None, "{ip}");
        }
    }

    #[test]
    fn a_carried_range_needs_a_rule_as_narrow_as_it() {
        let six_to_four: IpAddr = "2002:a9fe:a9fe::1".parse().unwrap();
        assert_eq!(special_range(six_to_four).unwrap().prefix_len, 16 + 16);
        let nat64: IpAddr = "64:ff9b::a9fe:a9fe".parse().unwrap();
        assert_eq!(special_range(nat64).unwrap().prefix_len, 96 + 16);
    }
}
