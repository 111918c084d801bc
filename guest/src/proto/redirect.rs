//! Following redirects (RFC 9110 15.4), for a client that chooses to (curl `-L`, urllib's
//! `HTTPRedirectHandler`; http.client itself never does): which statuses send the client on,
//! with which method and body, and the `Location` reference resolved against the URL just
//! requested (RFC 3986 5.2).

use super::ProtoError;
use super::url::split_url;

/// The next request of a redirect chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The absolute URL to request.
    pub url: String,
    /// Its method.
    pub method: String,
    /// Whether the request body is sent again (the method was kept).
    pub keep_body: bool,
    /// Whether `url` has the scheme, host and port of the URL redirected from (credentials
    /// given for one origin are sent only to it, as curl and urllib do).
    pub same_origin: bool,
    /// The headers of the next request: those of the last, less the body's own
    /// (`Content-Type`, `Content-Length`, `Transfer-Encoding`) when the body is dropped, and
    /// less `Authorization` and `Cookie` on another origin (as curl and urllib).
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Request headers that describe the body, dropped with it.
const BODY_HEADERS: [&str; 3] = ["content-type", "content-length", "transfer-encoding"];
/// Request headers that carry credentials, kept to their origin.
const CREDENTIAL_HEADERS: [&str; 2] = ["authorization", "cookie"];

/// Where a response with `status` and `location` sends a client that follows redirects after
/// `method url`; none for a status that is not one it follows (304 and 305 among them) or a
/// redirect without a Location.
///
/// Methods, as curl, browsers and urllib do (RFC 9110 15.4.2-15.4.4 allow it): 303 turns
/// anything but HEAD into GET; 301 and 302 turn POST into GET; 300, 307 and 308 keep the
/// method and the body.
pub fn follow(
    url: &str,
    method: &str,
    status: u16,
    location: Option<&str>,
    headers: &[(String, Vec<u8>)],
) -> Result<Option<Redirect>, ProtoError> {
    if !matches!(status, 300 | 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = location.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    // A space is written as %20, as curl does: a request target cannot carry one.
    let location = location.replace(' ', "%20");
    let next = resolve(url, &location)?;
    let new_method = match status {
        303 if method != "HEAD" => "GET",
        301 | 302 if method == "POST" => "GET",
        _ => method,
    };
    let from = split_url(url)?;
    let to = split_url(&next)?;
    let same_origin = from.scheme == to.scheme && from.host.eq_ignore_ascii_case(&to.host) && from.port == to.port;
    let keep_body = new_method == method;
    let dropped = |name: &str| {
        let name = name.to_ascii_lowercase();
        (!keep_body && BODY_HEADERS.contains(&name.as_str()))
            || (!same_origin && CREDENTIAL_HEADERS.contains(&name.as_str()))
    };
    let headers = headers.iter().filter(|(n, _)| !dropped(n)).cloned().collect();
    Ok(Some(Redirect {
        same_origin,
        keep_body,
        headers,
        method: new_method.to_string(),
        url: next,
    }))
}

/// `reference` (a Location value) resolved against the absolute http(s) URL `base`
/// (RFC 3986 5.2.2, as urllib.parse.urljoin), without the fragment. A reference with a scheme
/// other than http or https is an `InvalidURL`.
pub fn resolve(base: &str, reference: &str) -> Result<String, ProtoError> {
    let reference = reference.split_once('#').map_or(reference, |(r, _)| r);
    if let Some(scheme) = scheme_of(reference) {
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(ProtoError::InvalidUrl(format!(
                "redirect to an unsupported scheme: {reference:?}"
            )));
        }
        let (authority, path, query) = split(&reference[scheme.len() + 1..]);
        return Ok(join(&scheme, authority, &remove_dot_segments(path), query));
    }
    let base = base.split_once('#').map_or(base, |(b, _)| b);
    let scheme = scheme_of(base).ok_or_else(|| ProtoError::InvalidUrl(format!("not an absolute URL: {base:?}")))?;
    let (base_authority, base_path, base_query) = split(&base[scheme.len() + 1..]);
    let scheme = scheme.to_ascii_lowercase();
    if reference.starts_with("//") {
        let (authority, path, query) = split(reference);
        return Ok(join(&scheme, authority, &remove_dot_segments(path), query));
    }
    let (path, query) = match reference.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (reference, None),
    };
    let (path, query) = if path.is_empty() {
        (base_path.to_string(), query.or(base_query))
    } else if path.starts_with('/') {
        (remove_dot_segments(path), query)
    } else {
        // Merge: the base path up to its last "/", then the reference.
        let dir = match base_path.rfind('/') {
            Some(i) => &base_path[..=i],
            None => "/",
        };
        (remove_dot_segments(&format!("{dir}{path}")), query)
    };
    Ok(join(&scheme, base_authority, &path, query))
}

/// The scheme of an absolute reference ("http" of "http://..."), none for a relative one.
fn scheme_of(s: &str) -> Option<&str> {
    let colon = s.find(':')?;
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))).then_some(scheme)
}

/// "//authority/path?query" into its parts (the authority is empty when absent).
fn split(after_scheme: &str) -> (&str, &str, Option<&str>) {
    let rest = after_scheme.strip_prefix("//").unwrap_or(after_scheme);
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    match rest.find('/') {
        Some(i) if after_scheme.starts_with("//") => (&rest[..i], &rest[i..], query),
        None if after_scheme.starts_with("//") => (rest, "", query),
        _ => ("", rest, query),
    }
}

fn join(scheme: &str, authority: &str, path: &str, query: Option<&str>) -> String {
    let path = if path.is_empty() { "/" } else { path };
    match query {
        Some(q) => format!("{scheme}://{authority}{path}?{q}"),
        None => format!("{scheme}://{authority}{path}"),
    }
}

/// RFC 3986 5.2.4: "." and ".." segments taken out of a path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i == segments.len() - 1;
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if path.starts_with('/') && !joined.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3986 5.4's examples (those with an http base), with the fragment dropped.
    #[test]
    fn resolves_rfc_3986_examples() {
        let base = "http://a/b/c/d;p?q";
        for (reference, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("https://other:8443/x?y", "https://other:8443/x?y"),
            ("HTTP://Other", "http://Other/"),
        ] {
            assert_eq!(resolve(base, reference).unwrap(), want, "{reference:?}");
        }
        assert_eq!(resolve("http://h:81", "x").unwrap(), "http://h:81/x");
        assert!(resolve(base, "ftp://a/").is_err());
        assert!(resolve(base, "javascript:alert(1)").is_err());
    }

    #[test]
    fn methods_and_bodies_follow_curl_and_rfc_9110() {
        let url = "http://h/form";
        let go = |method: &str, status: u16| follow(url, method, status, Some("/next"), &[]).unwrap();
        for status in [301, 302] {
            let r = go("POST", status).unwrap();
            assert_eq!((r.method.as_str(), r.keep_body), ("GET", false), "{status}");
            let r = go("PUT", status).unwrap();
            assert_eq!((r.method.as_str(), r.keep_body), ("PUT", true), "{status}");
        }
        let r = go("PUT", 303).unwrap();
        assert_eq!((r.method.as_str(), r.keep_body), ("GET", false));
        assert_eq!(go("HEAD", 303).unwrap().method, "HEAD");
        for status in [300, 307, 308] {
            let r = go("POST", status).unwrap();
            assert_eq!(
                (r.method.as_str(), r.keep_body, r.url.as_str()),
                ("POST", true, "http://h/next")
            );
        }
        for status in [200, 304, 305, 306, 404] {
            assert_eq!(go("GET", status), None, "{status}");
        }
        assert_eq!(follow(url, "GET", 302, None, &[]).unwrap(), None);
        assert_eq!(follow(url, "GET", 302, Some("  "), &[]).unwrap(), None);
    }

    #[test]
    fn origin_and_spaces() {
        let r = follow("http://h/a", "GET", 302, Some("http://H:80/b c"), &[])
            .unwrap()
            .unwrap();
        assert_eq!(r.url, "http://H:80/b%20c");
        assert!(r.same_origin);
        for other in ["https://h/", "http://h:81/", "http://g/"] {
            let r = follow("http://h/a", "GET", 302, Some(other), &[]).unwrap().unwrap();
            assert!(!r.same_origin, "{other}");
        }
    }

    #[test]
    fn headers_that_go_on() {
        let h = |pairs: &[&str]| -> Vec<(String, Vec<u8>)> {
            pairs.iter().map(|n| (n.to_string(), b"v".to_vec())).collect()
        };
        let sent = h(&["Content-Type", "Content-Length", "Authorization", "Cookie", "Accept"]);
        let names = |r: Redirect| r.headers.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        let r = follow("http://h/a", "POST", 302, Some("/b"), &sent).unwrap().unwrap();
        assert_eq!(names(r), ["Authorization", "Cookie", "Accept"]);
        let r = follow("http://h/a", "POST", 307, Some("http://g/b"), &sent)
            .unwrap()
            .unwrap();
        assert_eq!(names(r), ["Content-Type", "Content-Length", "Accept"]);
        let r = follow("http://h/a", "POST", 303, Some("https://h/b"), &h(&["cookie", "X"]));
        assert_eq!(names(r.unwrap().unwrap()), ["X"]);
    }
}
