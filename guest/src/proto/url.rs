//! URLs and host:port strings as http.client reads them (`_get_hostport`, the Host header).

use super::ProtoError;
use super::limits::{HTTP_PORT, HTTPS_PORT};
use super::pyrepr::py_repr;
use percent_encoding::{AsciiSet, percent_decode_str, utf8_percent_encode};

/// Nothing but non-ASCII (which `utf8_percent_encode` always encodes).
const NON_ASCII: &AsciiSet = &AsciiSet::EMPTY;

/// An absolute http(s) URL split for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// `http` or `https`.
    pub scheme: String,
    /// The host, without brackets or port.
    pub host: String,
    /// The explicit port, or the scheme's default.
    pub port: u16,
    /// Path and query; "/" when the URL has no path. The fragment is dropped.
    pub target: String,
    /// What stood before "@" in the authority, percent-decoded ("user:password").
    pub userinfo: Option<String>,
}

/// Split `http://[user[:password]@]host[:port]/path?query#frag` (or https).
pub fn split_url(url: &str) -> Result<UrlParts, ProtoError> {
    let bad = |why: &str| ProtoError::InvalidUrl(format!("{why}: {}", py_repr(url)));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("not an absolute URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => HTTP_PORT,
        "https" => HTTPS_PORT,
        _ => return Err(bad("unsupported scheme")),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, authority) = match authority.rsplit_once('@') {
        Some((info, hostport)) => (
            Some(percent_decode_str(info).decode_utf8_lossy().into_owned()),
            hostport,
        ),
        None => (None, authority),
    };
    // urllib.parse.urlsplit's check: a bracket without its partner is no host at all.
    if authority.contains('[') != authority.contains(']') {
        return Err(bad("invalid IPv6 URL"));
    }
    let (host, port) = get_hostport(authority, None, default_port)?;
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let tail = tail.split_once('#').map_or(tail, |(t, _)| t);
    // Non-ASCII is percent-encoded as UTF-8, as curl and browsers do (http.client would refuse
    // it); everything else goes as written.
    let tail = utf8_percent_encode(tail, NON_ASCII).to_string();
    let target = if tail.starts_with('/') {
        tail
    } else {
        format!("/{tail}")
    };
    Ok(UrlParts {
        scheme,
        host,
        port,
        target,
        userinfo,
    })
}

/// CPython `HTTPConnection._get_hostport`: take the port from "host:port" when none is given,
/// unwrap "[v6]"; a non-numeric port is `InvalidURL("nonnumeric port: '...'")`.
pub fn get_hostport(host: &str, port: Option<u16>, default_port: u16) -> Result<(String, u16), ProtoError> {
    let mut host = host;
    let port = match port {
        Some(p) => p,
        None => {
            let colon = host.rfind(':');
            let bracket = host.rfind(']');
            match colon {
                Some(i) if bracket.is_none_or(|j| i > j) => {
                    let digits = &host[i + 1..];
                    let port = if digits.is_empty() {
                        default_port
                    } else if digits.bytes().all(|b| b.is_ascii_digit()) {
                        digits
                            .parse::<u16>()
                            .map_err(|_| ProtoError::InvalidUrl(format!("port out of range: '{digits}'")))?
                    } else {
                        return Err(ProtoError::InvalidUrl(format!("nonnumeric port: '{digits}'")));
                    };
                    host = &host[..i];
                    port
                }
                _ => default_port,
            }
        }
    };
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Ok((host.to_string(), port))
}

/// The Host header http.client sends for a connection to `host:port`: IPv6 in brackets with
/// any zone id stripped, the port left out when it is the scheme's default.
pub fn host_header(host: &str, port: u16, default_port: u16) -> String {
    let host = if host.contains(':') {
        let bare = host.split_once('%').map_or(host, |(h, _)| h);
        format!("[{bare}]")
    } else {
        host.to_string()
    };
    if port == default_port {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// The Host header for an absolute-form target ("http://netloc/..."), as CPython takes it from
/// the URL's netloc, with an IPv6 zone id stripped; `None` when the URL has no netloc.
pub fn host_from_absolute_url(url: &str) -> Option<String> {
    if !url.starts_with("http") {
        return None;
    }
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let netloc = &rest[..end];
    if netloc.is_empty() {
        return None;
    }
    if let (true, Some(pct), Some(close)) = (netloc.starts_with('['), netloc.find('%'), netloc.find(']'))
        && pct < close
    {
        return Some(format!("{}{}", &netloc[..pct], &netloc[close..]));
    }
    Some(netloc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostport() {
        assert_eq!(
            get_hostport("www.python.org", None, 80).unwrap(),
            ("www.python.org".into(), 80)
        );
        assert_eq!(
            get_hostport("www.python.org:8080", None, 80).unwrap(),
            ("www.python.org".into(), 8080)
        );
        assert_eq!(
            get_hostport("www.python.org:", None, 80).unwrap(),
            ("www.python.org".into(), 80)
        );
        assert_eq!(get_hostport("[::1]:8000", None, 80).unwrap(), ("::1".into(), 8000));
        assert_eq!(get_hostport("[::1]", None, 80).unwrap(), ("::1".into(), 80));
        assert_eq!(
            get_hostport("example.com:99", Some(81), 80).unwrap(),
            ("example.com:99".into(), 81)
        );
        assert_eq!(
            get_hostport("www.python.org:abc", None, 80),
            Err(ProtoError::InvalidUrl("nonnumeric port: 'abc'".into()))
        );
        assert!(get_hostport("h:65536", None, 80).is_err());
    }

    #[test]
    fn host_headers() {
        assert_eq!(host_header("example.com", 80, 80), "example.com");
        assert_eq!(host_header("example.com", 8080, 80), "example.com:8080");
        assert_eq!(host_header("::1", 80, 80), "[::1]");
        assert_eq!(host_header("fe80::1%eth0", 8000, 80), "[fe80::1]:8000");
        assert_eq!(
            host_from_absolute_url("http://[fe80::1%25eth0]:81/x").as_deref(),
            Some("[fe80::1]:81")
        );
        assert_eq!(host_from_absolute_url("/relative"), None);
    }

    #[test]
    fn urls() {
        let u = split_url("http://127.0.0.1:8000/a/b?c=d#frag").unwrap();
        assert_eq!(
            u,
            UrlParts {
                scheme: "http".into(),
                host: "127.0.0.1".into(),
                port: 8000,
                target: "/a/b?c=d".into(),
                userinfo: None,
            }
        );
        // Non-ASCII is sent percent-encoded (as curl does); ASCII, controls included, as given.
        let u = split_url("http://h/caf\u{e9}/%41?q=\u{fc}&r=a b").unwrap();
        assert_eq!(u.target, "/caf%C3%A9/%41?q=%C3%BC&r=a b");
        let u = split_url("HTTPS://user:p%40w@example.com").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str(), u.port, u.target.as_str()),
            ("https", "example.com", 443, "/")
        );
        assert_eq!(u.userinfo.as_deref(), Some("user:p@w"));
        let u = split_url("http://[::1]:9/?q").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.target.as_str()), ("::1", 9, "/?q"));
        assert!(split_url("ftp://example.com/").is_err());
        assert!(split_url("example.com/").is_err());
        assert!(split_url("http://:80/").is_err());
        assert!(split_url("http://h:x/").is_err());
        for broken in ["http://[::1", "http://[::1/x", "http://::1]:80/"] {
            assert!(
                matches!(split_url(broken), Err(ProtoError::InvalidUrl(m)) if m.starts_with("invalid IPv6 URL")),
                "{broken}"
            );
        }
    }
}
