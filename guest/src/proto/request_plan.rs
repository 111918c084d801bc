//! What a client sends for a URL, decided here so that a host only applies it (curl's and
//! urllib's rules): where to connect (the URL's host, an HTTP proxy, or a CONNECT tunnel
//! through one), the request target (origin-form, or absolute-form to a proxy: RFC 9112
//! 3.2.2), and the headers that credentials add (Basic `Authorization` and
//! `Proxy-Authorization`, RFC 7617).

use super::ProtoError;
use super::limits::HTTP_PORT;
use super::proxy::{ProxyAddress, from_environment, parse_proxy};
use super::url::{UrlParts, host_header, split_url};

/// One header: the name as sent and the value's bytes.
pub type Header = (String, Vec<u8>);

/// Which proxy the caller asked for.
#[derive(Debug, Clone, Copy)]
pub enum ProxySetting<'a> {
    /// None: straight to the URL's host.
    Direct,
    /// This one (curl's `-x`); an empty string means none, the environment included.
    Url(&'a str),
    /// The one the environment names (its variables as name and value; see `proxy`).
    Environment(&'a [(String, String)]),
}

/// Where the request's connection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To the URL's host and port.
    Direct,
    /// To a proxy, which is asked for the absolute URL (plain http).
    Forward(ProxyAddress),
    /// To a proxy, then a CONNECT tunnel to the URL's host and port (https).
    Tunnel(ProxyAddress),
}

/// A request as it is to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPlan {
    /// The URL, split.
    pub url: UrlParts,
    /// Where to connect.
    pub route: Route,
    /// The target of the request line.
    pub target: String,
    /// The request's headers: those given, then those credentials add.
    pub headers: Vec<Header>,
    /// The headers of the CONNECT request, for a tunnel.
    pub tunnel_headers: Vec<Header>,
}

/// Plan a request for `url` through `proxy`, with the given `headers`, and `credentials`
/// ("user:password", curl's `-u`) or else the URL's own `user:password@` as Basic
/// authorization, unless the headers already hold an `Authorization`.
pub fn plan(
    url: &str,
    proxy: ProxySetting<'_>,
    credentials: Option<&str>,
    headers: &[Header],
) -> Result<RequestPlan, ProtoError> {
    let parts = split_url(url)?;
    let proxy = match proxy {
        ProxySetting::Direct => None,
        ProxySetting::Url(p) if p.trim().is_empty() => None,
        ProxySetting::Url(p) => Some(parse_proxy(p.trim())?),
        ProxySetting::Environment(env) => from_environment(env, &parts.scheme, &parts.host, parts.port)?,
    };
    let mut headers = headers.to_vec();
    let mut tunnel_headers = Vec::new();
    if let Some(credentials) = credentials.or(parts.userinfo.as_deref())
        && !has(&headers, "authorization")
    {
        headers.push(("Authorization".into(), basic(credentials)));
    }
    let (route, target) = match proxy {
        None => (Route::Direct, parts.target.clone()),
        Some(p) => {
            let auth = p
                .userinfo
                .as_deref()
                .map(|c| ("Proxy-Authorization".to_string(), basic(c)));
            if parts.scheme == "https" {
                tunnel_headers.extend(auth);
                (Route::Tunnel(p), parts.target.clone())
            } else {
                if !has(&headers, "proxy-authorization") {
                    headers.extend(auth);
                }
                // The authority as the Host header says it: the default port left out, as curl.
                let authority = host_header(&parts.host, parts.port, HTTP_PORT);
                (Route::Forward(p), format!("http://{authority}{}", parts.target))
            }
        }
    };
    Ok(RequestPlan {
        url: parts,
        route,
        target,
        headers,
        tunnel_headers,
    })
}

/// A Basic credentials value (RFC 7617) for "user:password"; a user alone has an empty password.
pub fn basic(credentials: &str) -> Vec<u8> {
    use base64::Engine;
    let credentials = match credentials.contains(':') {
        true => credentials.to_string(),
        false => format!("{credentials}:"),
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
    format!("Basic {encoded}").into_bytes()
}

fn has(headers: &[Header], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(plan: &'a RequestPlan, name: &str) -> Option<&'a [u8]> {
        plan.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    #[test]
    fn direct_with_credentials() {
        let p = plan("http://u:p%40ss@h:8/x?y", ProxySetting::Direct, None, &[]).unwrap();
        assert_eq!((&p.route, p.target.as_str()), (&Route::Direct, "/x?y"));
        assert_eq!(header(&p, "Authorization"), Some(&b"Basic dTpwQHNz"[..]));
        // -u wins over the URL's; a given Authorization wins over both.
        let p = plan("http://u:p@h/", ProxySetting::Direct, Some("me"), &[]).unwrap();
        assert_eq!(header(&p, "Authorization"), Some(&b"Basic bWU6"[..]));
        let given = [("authorization".to_string(), b"Bearer t".to_vec())];
        let p = plan("http://u:p@h/", ProxySetting::Direct, Some("me"), &given).unwrap();
        assert_eq!(p.headers, given);
    }

    #[test]
    fn through_a_proxy() {
        let p = plan("http://h/x", ProxySetting::Url("pu:pp@127.0.0.1:3128"), None, &[]).unwrap();
        assert_eq!(p.target, "http://h/x");
        let Route::Forward(proxy) = &p.route else {
            panic!("{:?}", p.route)
        };
        assert_eq!((proxy.host.as_str(), proxy.port), ("127.0.0.1", 3128));
        assert_eq!(header(&p, "Proxy-Authorization"), Some(&b"Basic cHU6cHA="[..]));
        let p = plan("http://[::1]:81/", ProxySetting::Url("p"), None, &[]).unwrap();
        assert_eq!(p.target, "http://[::1]:81/");
        let p = plan("https://h/x", ProxySetting::Url("http://pu:pp@p:1"), None, &[]).unwrap();
        assert!(matches!(p.route, Route::Tunnel(_)));
        assert_eq!(p.target, "/x");
        assert_eq!(header(&p, "Proxy-Authorization"), None);
        assert_eq!(p.tunnel_headers[0].0, "Proxy-Authorization");
        // An empty -x is no proxy.
        assert_eq!(
            plan("http://h/", ProxySetting::Url(""), None, &[]).unwrap().route,
            Route::Direct
        );
        let env = [
            ("http_proxy".to_string(), "p:1".to_string()),
            ("no_proxy".into(), "h".into()),
        ];
        assert_eq!(
            plan("http://h/", ProxySetting::Environment(&env), None, &[])
                .unwrap()
                .route,
            Route::Direct
        );
        assert!(matches!(
            plan("http://g/", ProxySetting::Environment(&env), None, &[])
                .unwrap()
                .route,
            Route::Forward(_)
        ));
    }
}
