//! Encoding a client request head, with http.client's validation: nothing illegal is ever
//! written (CPython `putrequest`, `putheader`, `_validate_method`, `_validate_path`).

use super::ProtoError;
use super::headers::{is_legal_name, is_legal_value};
use super::pyrepr::py_repr;

/// The HTTP version a client's requests say (CPython's `_http_vsn_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// "HTTP/1.0" (curl's `-0`; Python 2's `HTTP` class).
    Http10,
    /// "HTTP/1.1", http.client's.
    #[default]
    Http11,
}

impl HttpVersion {
    /// "HTTP/1.0" or "HTTP/1.1".
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http10 => "HTTP/1.0",
            HttpVersion::Http11 => "HTTP/1.1",
        }
    }

    /// The version `text` names ("HTTP/1.0", "HTTP/1.1"); other versions are not a client's.
    pub fn parse(text: &str) -> Result<Self, ProtoError> {
        match text {
            "HTTP/1.0" => Ok(HttpVersion::Http10),
            "HTTP/1.1" => Ok(HttpVersion::Http11),
            _ => Err(ProtoError::InvalidArgument(format!(
                "unsupported HTTP version {}: HTTP/1.0 or HTTP/1.1",
                py_repr(text)
            ))),
        }
    }
}

/// The request line `METHOD target HTTP/1.1\r\n`, after validating both parts.
pub fn request_line(method: &str, url: &str) -> Result<Vec<u8>, ProtoError> {
    request_line_for(method, url, HttpVersion::Http11)
}

/// The request line with `version`, after validating method and target.
pub fn request_line_for(method: &str, url: &str, version: HttpVersion) -> Result<Vec<u8>, ProtoError> {
    validate_method(method)?;
    validate_path(url)?;
    Ok(format!("{method} {url} {}\r\n", version.as_str()).into_bytes())
}

/// CPython `_validate_method`: no control characters (and, stricter, a token).
pub fn validate_method(method: &str) -> Result<(), ProtoError> {
    if let Some(c) = method.chars().find(|c| (*c as u32) < 0x20) {
        return Err(ProtoError::InvalidArgument(format!(
            "method can't contain control characters. {} (found at least {})",
            py_repr(method),
            py_repr(&c.to_string())
        )));
    }
    if method.is_empty() || !method.bytes().all(super::headers::is_tchar) {
        return Err(ProtoError::InvalidArgument(format!(
            "invalid method {}",
            py_repr(method)
        )));
    }
    Ok(())
}

/// CPython `_validate_path`: no control characters, space or DEL in the target; ASCII only.
pub fn validate_path(url: &str) -> Result<(), ProtoError> {
    validate_no_ctl("URL", url)?;
    if !url.is_ascii() {
        return Err(ProtoError::InvalidUrl(format!(
            "URL can't contain non-ASCII characters. {}",
            py_repr(url)
        )));
    }
    Ok(())
}

/// CPython `_validate_host`: no control characters, space or DEL in the host.
pub fn validate_host(host: &str) -> Result<(), ProtoError> {
    validate_no_ctl("URL", host)
}

fn validate_no_ctl(what: &str, s: &str) -> Result<(), ProtoError> {
    match s.chars().find(|c| (*c as u32) <= 0x20 || *c as u32 == 0x7f) {
        Some(c) => Err(ProtoError::InvalidUrl(format!(
            "{what} can't contain control characters. {} (found at least {})",
            py_repr(s),
            py_repr(&c.to_string())
        ))),
        None => Ok(()),
    }
}

/// One header line `Name: v1\r\n\tv2\r\n` (CPython `putheader`: several values joined by "\r\n\t").
pub fn header_line(name: &str, values: &[&[u8]]) -> Result<Vec<u8>, ProtoError> {
    if !is_legal_name(name.as_bytes()) {
        return Err(ProtoError::InvalidHeader(format!(
            "Invalid header name {}",
            py_repr(name)
        )));
    }
    let mut line = Vec::with_capacity(name.len() + 4 + values.iter().map(|v| v.len() + 3).sum::<usize>());
    line.extend_from_slice(name.as_bytes());
    line.extend_from_slice(b": ");
    for (i, value) in values.iter().enumerate() {
        if !is_legal_value(value) {
            return Err(ProtoError::InvalidHeader(format!(
                "Invalid header value {}",
                py_repr(&super::latin1(value))
            )));
        }
        if i > 0 {
            line.extend_from_slice(b"\r\n\t");
        }
        line.extend_from_slice(value);
    }
    line.extend_from_slice(b"\r\n");
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(request_line("GET", "/x?y=1").unwrap(), b"GET /x?y=1 HTTP/1.1\r\n");
        let v10 = HttpVersion::parse("HTTP/1.0").unwrap();
        assert_eq!(request_line_for("GET", "/", v10).unwrap(), b"GET / HTTP/1.0\r\n");
        assert!(HttpVersion::parse("HTTP/2").is_err());
        assert_eq!(header_line("X-A", &[b"1", b"2"]).unwrap(), b"X-A: 1\r\n\t2\r\n");
    }

    #[test]
    fn refusals() {
        assert!(matches!(request_line("GET", "/a b"), Err(ProtoError::InvalidUrl(_))));
        assert!(matches!(
            request_line("GET", "/a\r\nX: y"),
            Err(ProtoError::InvalidUrl(_))
        ));
        assert!(matches!(request_line("GET", "/\u{e9}"), Err(ProtoError::InvalidUrl(_))));
        assert!(matches!(
            request_line("GET\r\n", "/"),
            Err(ProtoError::InvalidArgument(_))
        ));
        assert!(matches!(request_line("G T", "/"), Err(ProtoError::InvalidArgument(_))));
        assert!(matches!(validate_host("exa mple.com"), Err(ProtoError::InvalidUrl(_))));
        assert!(matches!(
            header_line("Bad:Name", &[b"v"]),
            Err(ProtoError::InvalidHeader(_))
        ));
        assert!(matches!(
            header_line("X", &[b"v\r\nInjected: 1"]),
            Err(ProtoError::InvalidHeader(_))
        ));
        let e = request_line("GET", "/\x7f").unwrap_err();
        assert_eq!(
            e,
            ProtoError::InvalidUrl("URL can't contain control characters. '/\\x7f' (found at least '\\x7f')".into())
        );
    }
}
