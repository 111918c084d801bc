//! Which HTTP proxy a request goes through, as curl chooses it: `-x` given explicitly, else the
//! proxy environment variables (`http_proxy`, `https_proxy`, `all_proxy`, each with its
//! upper-case spelling but `HTTP_PROXY`), with `no_proxy` naming the hosts that go direct.

use super::ProtoError;
use super::url::get_hostport;
use percent_encoding::percent_decode_str;
use std::net::IpAddr;

/// The port of a proxy URL that names none (curl's `CURL_DEFAULT_PROXY_PORT`).
pub const DEFAULT_PROXY_PORT: u16 = 1080;

/// An HTTP proxy: where to connect, and the credentials its URL carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAddress {
    /// The proxy's host, without brackets.
    pub host: String,
    /// Its port (1080 when the URL named none, as curl).
    pub port: u16,
    /// "user:password" from the proxy URL, percent-decoded.
    pub userinfo: Option<String>,
}

/// Read a proxy as curl's `-x` and the environment variables spell it: `host[:port]`, or
/// `http://[user[:password]@]host[:port][/]`. Other schemes (https, socks) are refused: this
/// client speaks to a proxy in plain HTTP only.
pub fn parse_proxy(text: &str) -> Result<ProxyAddress, ProtoError> {
    let bad = |why: &str| ProtoError::InvalidUrl(format!("{why}: {text:?}"));
    let rest = match text.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) => return Err(bad(&format!("unsupported proxy scheme {scheme:?}"))),
        None => text,
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((info, hostport)) => (
            Some(percent_decode_str(info).decode_utf8_lossy().into_owned()),
            hostport,
        ),
        None => (None, authority),
    };
    let (host, port) = get_hostport(hostport, None, DEFAULT_PROXY_PORT)?;
    if host.is_empty() {
        return Err(bad("no proxy host"));
    }
    Ok(ProxyAddress { host, port, userinfo })
}

/// The proxy the environment names for a `scheme` URL to `host:port`, as curl reads it: for
/// http `http_proxy` (never `HTTP_PROXY`, which a CGI request can set: "httpoxy"), for https
/// `https_proxy` or `HTTPS_PROXY`, else `all_proxy` or `ALL_PROXY`; none when `no_proxy`
/// (or `NO_PROXY`) matches the host or a variable is empty. The lower-case spelling wins.
pub fn from_environment(
    env: &[(String, String)],
    scheme: &str,
    host: &str,
    port: u16,
) -> Result<Option<ProxyAddress>, ProtoError> {
    let var = |names: &[&str]| -> Option<&str> {
        names
            .iter()
            .find_map(|name| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()))
    };
    if let Some(list) = var(&["no_proxy", "NO_PROXY"])
        && no_proxy_matches(list, host, port)
    {
        return Ok(None);
    }
    let named = match scheme {
        "http" => var(&["http_proxy"]),
        _ => var(&["https_proxy", "HTTPS_PROXY"]),
    };
    match named.or_else(|| var(&["all_proxy", "ALL_PROXY"])) {
        Some(proxy) if !proxy.trim().is_empty() => parse_proxy(proxy.trim()).map(Some),
        _ => Ok(None),
    }
}

/// Whether a `no_proxy` list (curl's `--noproxy`) sends `host:port` direct: entries are
/// comma-separated; `*` alone matches every host; a name matches itself and its subdomains
/// (a leading dot is the same name); an IP address or CIDR range (`10.0.0.0/8`, `::1/128`)
/// matches the addresses it covers; an entry with `:port` matches that port only (as urllib).
pub fn no_proxy_matches(list: &str, host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip: Option<IpAddr> = host.parse().ok();
    list.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        let (name, entry_port) = split_entry_port(entry);
        if entry_port.is_some_and(|p| p != port) {
            return false;
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(ip) = host_ip {
            return ip_matches(&name, ip);
        }
        let name = name.trim_start_matches('.');
        !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
    })
}

/// "host:port" or "[v6]:port" into the name and port; a bare IPv6 address has no port.
fn split_entry_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((addr, tail)) => (addr, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (entry, None),
        };
    }
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

/// Whether `ip` is the address `entry` names, or in the range it names.
fn ip_matches(entry: &str, ip: IpAddr) -> bool {
    let (addr, bits) = match entry.split_once('/') {
        Some((addr, bits)) => match bits.parse::<u32>() {
            Ok(bits) => (addr, Some(bits)),
            Err(_) => return false,
        },
        None => (entry, None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    let (net, ip, width) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        _ => return false,
    };
    let bits = bits.unwrap_or(width).min(width);
    // The top `bits` of a `width`-bit number.
    let mask = match bits {
        0 => 0,
        _ => (u128::MAX >> (128 - bits)) << (width - bits),
    };
    net & mask == ip & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn proxies_as_curl_spells_them() {
        let p = parse_proxy("127.0.0.1:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port, p.userinfo), ("127.0.0.1", 3128, None));
        assert_eq!(parse_proxy("proxy.example").unwrap().port, DEFAULT_PROXY_PORT);
        let p = parse_proxy("HTTP://u%40x:pw@[::1]:8/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 8));
        assert_eq!(p.userinfo.as_deref(), Some("u@x:pw"));
        assert!(parse_proxy("socks5://h:1").is_err());
        assert!(parse_proxy("https://h:1").is_err());
        assert!(parse_proxy("http://:1").is_err());
    }

    #[test]
    fn the_environment_as_curl_reads_it() {
        let e = env(&[("http_proxy", "h1:1"), ("HTTPS_PROXY", "h2:2"), ("ALL_PROXY", "h3:3")]);
        assert_eq!(from_environment(&e, "http", "x", 80).unwrap().unwrap().host, "h1");
        assert_eq!(from_environment(&e, "https", "x", 443).unwrap().unwrap().host, "h2");
        // HTTP_PROXY is never read (httpoxy); all_proxy serves in its place.
        let e = env(&[("HTTP_PROXY", "h1:1"), ("all_proxy", "h3:3")]);
        assert_eq!(from_environment(&e, "http", "x", 80).unwrap().unwrap().host, "h3");
        let e = env(&[("https_proxy", "lower:1"), ("HTTPS_PROXY", "upper:2")]);
        assert_eq!(from_environment(&e, "https", "x", 443).unwrap().unwrap().host, "lower");
        let e = env(&[("http_proxy", "h:1"), ("NO_PROXY", "example.com")]);
        assert_eq!(from_environment(&e, "http", "www.example.com", 80).unwrap(), None);
        assert!(from_environment(&e, "http", "example.org", 80).unwrap().is_some());
        assert_eq!(
            from_environment(&env(&[("http_proxy", "")]), "http", "x", 80).unwrap(),
            None
        );
        assert_eq!(from_environment(&[], "http", "x", 80).unwrap(), None);
    }

    #[test]
    fn no_proxy_lists() {
        assert!(no_proxy_matches("*", "anything", 1));
        assert!(no_proxy_matches("a, .example.com", "example.com", 80));
        assert!(no_proxy_matches("example.com", "WWW.Example.COM.", 80));
        assert!(!no_proxy_matches("example.com", "badexample.com", 80));
        assert!(!no_proxy_matches("*.example.com", "www.example.com", 80));
        assert!(no_proxy_matches("localhost:8080", "localhost", 8080));
        assert!(!no_proxy_matches("localhost:8080", "localhost", 80));
        assert!(no_proxy_matches("127.0.0.0/8", "127.1.2.3", 80));
        assert!(!no_proxy_matches("127.0.0.0/8", "128.0.0.1", 80));
        assert!(no_proxy_matches("10.1.2.3", "10.1.2.3", 80));
        assert!(no_proxy_matches("::1", "::1", 80));
        assert!(no_proxy_matches("[::1]:81", "::1", 81));
        assert!(no_proxy_matches("fd00::/8", "fd12::1", 80));
        assert!(!no_proxy_matches("fd00::/8", "fe80::1", 80));
        assert!(!no_proxy_matches("0.0.0.0/0", "::1", 80));
        assert!(no_proxy_matches("0.0.0.0/0", "8.8.8.8", 80));
        assert!(!no_proxy_matches("", "x", 80));
    }
}
