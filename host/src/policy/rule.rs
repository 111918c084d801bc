//! One allow rule of a destination policy, `[scheme://]host[:port]`, and what it grants.

use super::address::{Host, canonical, parse_ip};
use super::special::special_range;
use std::net::IpAddr;

/// Whether a connection carries TLS (`https`) or not (`http`); a proxy connection is `http`,
/// the target of a tunnel through it is what the guest will speak there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain TCP.
    Http,
    /// TLS.
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// "http" or "https".
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The hosts a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// `*`: any host, except special addresses.
    Any,
    /// `*.example.com`: names under the domain (".example.com" kept), except special addresses.
    Suffix(String),
    /// `example.com`: that name, whatever it resolves to.
    Name(String),
    /// `127.0.0.1`, `[::1]`: that address, however spelled.
    Ip(IpAddr),
    /// `10.0.0.0/8`, `[fc00::/7]`: a range; special addresses in it only when the range is at
    /// least as narrow as their special range.
    Net(IpAddr, u8),
}

/// One rule: which scheme, hosts and port it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    scheme: Option<Scheme>,
    host: HostPattern,
    /// None: any port.
    port: Option<u16>,
}

impl std::str::FromStr for Rule {
    type Err = String;

    /// `[http://|https://]HOST[:PORT]`. HOST is `*`, `*.domain`, a name, an IP address
    /// (IPv6 in brackets) or a CIDR range (`10.0.0.0/8`, `[fc00::/7]`, or `fc00::/7` with no
    /// port). PORT is a number or `*`; left out, it is the scheme's default when a scheme is
    /// given, else any port.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("bad destination rule {text:?}: {why}");
        let (scheme, rest) = match text.split_once("://") {
            Some((s, rest)) => match s.to_ascii_lowercase().as_str() {
                "http" => (Some(Scheme::Http), rest),
                "https" => (Some(Scheme::Https), rest),
                _ => return Err(bad("the scheme is http or https")),
            },
            None => (None, text),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        // An unbracketed IPv6 range has colons of its own and no port.
        let (host, port) = if !rest.starts_with('[') && rest.contains('/') && rest.matches(':').count() > 1 {
            (rest, None)
        } else {
            match rest.rfind(':') {
                Some(i) if !rest[i..].contains(']') => (&rest[..i], Some(&rest[i + 1..])),
                _ => (rest, None),
            }
        };
        let port = match port {
            Some("*") => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad("the port is a number or *"))?),
            None => scheme.map(Scheme::default_port),
        };
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let host = if bare == "*" {
            HostPattern::Any
        } else if let Some(domain) = bare.strip_prefix("*.") {
            if domain.is_empty() || domain.contains('*') {
                return Err(bad("a wildcard is `*` or `*.domain`"));
            }
            HostPattern::Suffix(format!(".{}", domain.trim_end_matches('.').to_ascii_lowercase()))
        } else if let Some((net, len)) = bare.split_once('/') {
            let ip = parse_ip(net).ok_or_else(|| bad("a range is ADDRESS/LENGTH"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len: u8 = len
                .parse()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| bad("bad prefix length"))?;
            HostPattern::Net(ip, len)
        } else if bare.is_empty() || bare.contains(['*', '/', ' ']) {
            return Err(bad("no host"));
        } else {
            match Host::parse(bare) {
                Host::Ip(ip) => HostPattern::Ip(ip),
                Host::Name(name) => HostPattern::Name(name),
            }
        };
        Ok(Rule { scheme, host, port })
    }
}

impl Rule {
    fn covers(&self, port: u16, scheme: Scheme) -> bool {
        self.scheme.is_none_or(|s| s == scheme) && self.port.is_none_or(|p| p == port)
    }

    /// Whether this rule lets a connection reach `addr` (resolved from, or written as, `host`)
    /// on `port` with `scheme`.
    pub fn grants(&self, host: &Host, addr: IpAddr, port: u16, scheme: Scheme) -> bool {
        if !self.covers(port, scheme) {
            return false;
        }
        let addr = canonical(addr);
        let special = special_range(addr);
        match &self.host {
            HostPattern::Any => special.is_none(),
            HostPattern::Suffix(domain) => {
                special.is_none() && matches!(host, Host::Name(n) if n.ends_with(domain.as_str()))
            }
            HostPattern::Name(name) => matches!(host, Host::Name(n) if n == name),
            HostPattern::Ip(ip) => canonical(*ip) == addr,
            HostPattern::Net(net, len) => in_net(addr, *net, *len) && special.is_none_or(|s| *len >= s.prefix_len),
        }
    }

    /// Whether this rule could grant `host` on `port` with `scheme` once resolved: a rule for
    /// another name, domain, port or scheme never can, so such a name is refused without a
    /// lookup (no DNS query for a name the policy refuses anyway).
    pub fn may_grant(&self, host: &Host, port: u16, scheme: Scheme) -> bool {
        self.covers(port, scheme)
            && match (&self.host, host) {
                (HostPattern::Suffix(domain), Host::Name(n)) => n.ends_with(domain.as_str()),
                (HostPattern::Name(name), Host::Name(n)) => n == name,
                // `*`, an address or a range: any name may resolve to what it grants.
                _ => true,
            }
    }

    /// Whether this rule names `host` itself (the name, or the address it is written as):
    /// such a rule grants it wherever it resolves.
    pub fn names(&self, host: &Host, port: u16, scheme: Scheme) -> bool {
        self.covers(port, scheme)
            && match (&self.host, host) {
                (HostPattern::Name(name), Host::Name(n)) => n == name,
                (HostPattern::Ip(ip), Host::Ip(a)) => canonical(*ip) == canonical(*a),
                _ => false,
            }
    }
}

fn in_net(addr: IpAddr, net: IpAddr, len: u8) -> bool {
    match (addr, canonical(net)) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Rule {
        text.parse().unwrap()
    }

    fn grants(rule_text: &str, host: &str, addr: &str, port: u16, scheme: Scheme) -> bool {
        rule(rule_text).grants(&Host::parse(host), addr.parse().unwrap(), port, scheme)
    }

    #[test]
    fn only_rules_that_could_match_a_name_ask_for_its_lookup() {
        let name = Host::parse("metadata.internal");
        assert!(!rule("http://example.com").may_grant(&name, 80, Scheme::Http));
        assert!(!rule("http://*.example.com").may_grant(&name, 80, Scheme::Http));
        assert!(!rule("https://*:*").may_grant(&name, 80, Scheme::Http));
        assert!(!rule("metadata.internal:443").may_grant(&name, 80, Scheme::Http));
        assert!(rule("metadata.internal:*").may_grant(&name, 80, Scheme::Http));
        assert!(rule("*.internal").may_grant(&name, 80, Scheme::Http));
        assert!(rule("http://*:*").may_grant(&name, 80, Scheme::Http));
        assert!(rule("10.0.0.0/8").may_grant(&name, 80, Scheme::Http));
        assert!(rule("127.0.0.1:80").may_grant(&name, 80, Scheme::Http));
    }

    #[test]
    fn parses_the_forms() {
        assert_eq!(
            rule("https://*.example.com"),
            Rule {
                scheme: Some(Scheme::Https),
                host: HostPattern::Suffix(".example.com".into()),
                port: Some(443)
            }
        );
        assert_eq!(rule("localhost:*").port, None);
        assert_eq!(rule("[::1]:8080").host, HostPattern::Ip("::1".parse().unwrap()));
        assert_eq!(rule("fc00::/7").host, HostPattern::Net("fc00::".parse().unwrap(), 7));
        assert_eq!(rule("[fc00::/7]:443").port, Some(443));
        assert_eq!(
            rule("10.0.0.0/8").host,
            HostPattern::Net("10.0.0.0".parse().unwrap(), 8)
        );
        assert_eq!(
            rule("http://127.1:8080").host,
            HostPattern::Ip("127.0.0.1".parse().unwrap())
        );
        for bad in ["ftp://x", "x:port", "*.", "a.*.b", "10.0.0.0/33", "", "http://:80"] {
            assert!(bad.parse::<Rule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn wildcards_never_reach_special_addresses() {
        use Scheme::*;
        assert!(grants("*", "example.com", "93.184.216.34", 80, Http));
        assert!(!grants("*", "evil.example", "127.0.0.1", 80, Http));
        assert!(!grants("*:*", "localhost", "127.0.0.1", 8080, Http));
        assert!(!grants(
            "*.example.com",
            "rebind.example.com",
            "169.254.169.254",
            80,
            Http
        ));
        assert!(grants("*.example.com", "api.example.com", "93.184.216.34", 80, Http));
        assert!(!grants("*.example.com", "example.com", "93.184.216.34", 80, Http));
        assert!(!grants("0.0.0.0/0", "x", "127.0.0.1", 80, Http));
        assert!(grants("0.0.0.0/0", "x", "8.8.8.8", 80, Http));
        assert!(!grants("::/0", "x", "::1", 80, Http));
        // Each address the third hardening review connected to under http://*:*, and the
        // rule that names it.
        for (addr, naming) in [
            ("64:ff9b:1::a9fe:a9fe", "[64:ff9b:1::a9fe:a9fe]"),
            ("2002:a9fe:a9fe::1", "2002:a9fe:a9fe::/48"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/32"),
            ("::ffff:0:a9fe:a9fe", "[::ffff:0:a9fe:a9fe]"),
            ("198.18.0.1", "198.18.0.0/15"),
            ("192.0.0.1", "192.0.0.1"),
            ("192.0.2.1", "192.0.2.0/24"),
            ("203.0.113.7", "203.0.113.7"),
            ("2001:db8::1", "2001:db8::/32"),
            ("100::1", "[100::1]"),
        ] {
            assert!(!grants("*:*", "x", addr, 80, Http), "{addr}");
            assert!(!grants("0.0.0.0/0", "x", addr, 80, Http), "{addr}");
            assert!(!grants("::/0", "x", addr, 80, Http), "{addr}");
            assert!(grants(naming, "x", addr, 80, Http), "{naming} names {addr}");
        }
        // A range wider than the special one does not name it.
        assert!(!grants("2002::/16", "x", "2002:a9fe:a9fe::1", 80, Http));
        assert!(!grants("198.0.0.0/8", "x", "198.18.0.1", 80, Http));
        // Rules that name the address, its name, or its range grant it.
        assert!(grants("localhost:8080", "localhost", "127.0.0.1", 8080, Http));
        assert!(grants("localhost:8080", "LOCALHOST.", "::1", 8080, Http));
        assert!(grants("127.0.0.1:8080", "localhost", "127.0.0.1", 8080, Http));
        assert!(grants("127.0.0.1:8080", "2130706433", "127.0.0.1", 8080, Http));
        assert!(grants("127.0.0.1:8080", "x", "::ffff:127.0.0.1", 8080, Http));
        assert!(grants("[::1]:8080", "[::1]", "::1", 8080, Http));
        assert!(grants("127.0.0.0/8", "x", "127.0.0.2", 1, Http));
        assert!(grants("10.0.0.0/8", "x", "10.1.1.1", 1, Http));
        assert!(!grants("10.0.0.0/7", "x", "10.1.1.1", 1, Http));
        // Port and scheme.
        assert!(!grants("localhost:8080", "localhost", "127.0.0.1", 8081, Http));
        assert!(!grants("127.0.0.1:8080", "127.0.0.1", "127.0.0.2", 8080, Http));
        assert!(!grants(
            "https://example.com",
            "example.com",
            "93.184.216.34",
            443,
            Http
        ));
        assert!(!grants(
            "https://example.com",
            "example.com",
            "93.184.216.34",
            80,
            Https
        ));
        assert!(grants(
            "https://example.com",
            "example.com",
            "93.184.216.34",
            443,
            Https
        ));
        assert!(!grants("localhost:8080", "127.1", "127.0.0.1", 8080, Http));
    }
}
