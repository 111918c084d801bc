//! How long a message body is: the client's rules for responses (CPython `HTTPResponse.begin`)
//! and the server's strict rules for requests (RFC 9112 section 6, against request smuggling).

use super::Headers;

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseFraming {
    pub chunked: bool,
    /// Body length when known; `Some(0)` for bodiless responses.
    pub length: Option<u64>,
    /// The connection closes after this response.
    pub will_close: bool,
}

/// CPython's `_check_close`: whether the server will close after this response.
pub fn check_close(version: u8, headers: &Headers) -> bool {
    let contains = |name: &str, word: &str| {
        headers
            .get(name)
            .map(|v| super::latin1(v).to_ascii_lowercase().contains(word))
            .unwrap_or(false)
    };
    if version == 11 {
        return contains("connection", "close");
    }
    !(headers.get("keep-alive").is_some_and(|v| !v.is_empty())
        || contains("connection", "keep-alive")
        || contains("proxy-connection", "keep-alive"))
}

/// Decide a response's framing from its status, version, headers and the request method.
pub fn response_framing(version: u8, status: u16, method: &str, headers: &Headers) -> ResponseFraming {
    // RFC 9112 6.3 rule 1: these have no body whatever their header fields say (CPython would
    // still read a chunked body after a 204 or 304).
    let bodiless = status == 204 || status == 304 || (100..200).contains(&status) || method == "HEAD";
    let chunked = !bodiless
        && headers
            .get("transfer-encoding")
            .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"chunked"));
    let mut will_close = check_close(version, headers);
    let mut length = if chunked {
        None
    } else {
        headers.get("content-length").and_then(parse_content_length)
    };
    if bodiless {
        length = Some(0);
    }
    if !will_close && !chunked && length.is_none() {
        will_close = true;
    }
    ResponseFraming {
        chunked,
        length,
        will_close,
    }
}

/// A Content-Length value: ASCII digits only, and it must fit a u64 (no overflow, no sign).
pub fn parse_content_length(value: &[u8]) -> Option<u64> {
    let v = value.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    None,
    Length(u64),
    Chunked,
}

/// Why a request's framing is refused (answered 400, then the connection closes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingError(pub &'static str);

/// The server's framing of a request, refusing anything ambiguous (RFC 9112 6.1, 6.3):
/// Content-Length together with Transfer-Encoding, a Content-Length that is invalid or repeated
/// with different values, a Transfer-Encoding whose last coding is not chunked.
pub fn request_body(headers: &Headers) -> Result<RequestBody, FramingError> {
    // One pass over the fields: the last coding of every Transfer-Encoding, and every
    // Content-Length value agreeing with the first.
    let (mut te, mut cl) = (false, false);
    let mut last_coding: Option<&[u8]> = None;
    let mut length = None;
    for (name, value) in headers.iter() {
        if name.eq_ignore_ascii_case("transfer-encoding") {
            te = true;
            if let Some(c) = value
                .split(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .rfind(|c| !c.is_empty())
            {
                last_coding = Some(c);
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            cl = true;
            for part in value.split(|&b| b == b',') {
                let n = parse_content_length(part).ok_or(FramingError("invalid Content-Length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(FramingError("conflicting Content-Length"));
                }
                length = Some(n);
            }
        }
    }
    if te {
        if cl {
            return Err(FramingError("Content-Length with Transfer-Encoding"));
        }
        return match last_coding {
            Some(c) if c.eq_ignore_ascii_case(b"chunked") => Ok(RequestBody::Chunked),
            _ => Err(FramingError("Transfer-Encoding does not end in chunked")),
        };
    }
    Ok(match length {
        None | Some(0) => RequestBody::None,
        Some(n) => RequestBody::Length(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in pairs {
            h.push(*n, v.as_bytes());
        }
        h
    }

    #[test]
    fn response_rules() {
        let f = response_framing(11, 200, "GET", &headers(&[("Content-Length", "10")]));
        assert_eq!(
            f,
            ResponseFraming {
                chunked: false,
                length: Some(10),
                will_close: false
            }
        );
        let f = response_framing(
            11,
            200,
            "GET",
            &headers(&[("Transfer-Encoding", "chunked"), ("Content-Length", "10")]),
        );
        assert_eq!(
            f,
            ResponseFraming {
                chunked: true,
                length: None,
                will_close: false
            }
        );
        let f = response_framing(11, 200, "GET", &headers(&[]));
        assert_eq!(
            f,
            ResponseFraming {
                chunked: false,
                length: None,
                will_close: true
            }
        );
        let f = response_framing(11, 200, "HEAD", &headers(&[("Content-Length", "10")]));
        assert_eq!(f.length, Some(0));
        for status in [204, 304, 101] {
            assert_eq!(response_framing(11, status, "GET", &headers(&[])).length, Some(0));
        }
        // No body, whatever Transfer-Encoding says (found by the response_head fuzz target:
        // the chunked decoder ran against a length of 0 and overflowed it).
        let chunked = headers(&[("Transfer-Encoding", "chunked")]);
        for (status, method) in [(200, "HEAD"), (204, "GET"), (304, "GET")] {
            let f = response_framing(11, status, method, &chunked);
            assert_eq!((f.chunked, f.length), (false, Some(0)), "{status} {method}");
        }
        let f = response_framing(11, 200, "GET", &headers(&[("Content-Length", "-5")]));
        assert_eq!((f.length, f.will_close), (None, true));
        let f = response_framing(
            11,
            200,
            "GET",
            &headers(&[("Content-Length", "99999999999999999999999")]),
        );
        assert_eq!((f.length, f.will_close), (None, true));
    }

    #[test]
    fn close_rules() {
        assert!(check_close(11, &headers(&[("Connection", "close")])));
        assert!(!check_close(11, &headers(&[])));
        assert!(check_close(10, &headers(&[])));
        assert!(!check_close(10, &headers(&[("Connection", "Keep-Alive")])));
        assert!(!check_close(10, &headers(&[("Keep-Alive", "timeout=5")])));
        assert!(!check_close(10, &headers(&[("Proxy-Connection", "keep-alive")])));
    }

    #[test]
    fn request_rules() {
        assert_eq!(request_body(&headers(&[])), Ok(RequestBody::None));
        assert_eq!(
            request_body(&headers(&[("Content-Length", "5")])),
            Ok(RequestBody::Length(5))
        );
        assert_eq!(
            request_body(&headers(&[("Content-Length", "5"), ("content-length", "5")])),
            Ok(RequestBody::Length(5))
        );
        assert!(request_body(&headers(&[("Content-Length", "5"), ("Content-Length", "6")])).is_err());
        assert!(request_body(&headers(&[("Content-Length", "5, 6")])).is_err());
        assert!(request_body(&headers(&[("Content-Length", "+5")])).is_err());
        assert!(request_body(&headers(&[("Content-Length", "5"), ("Transfer-Encoding", "chunked")])).is_err());
        assert_eq!(
            request_body(&headers(&[("Transfer-Encoding", "gzip, chunked")])),
            Ok(RequestBody::Chunked)
        );
        assert!(request_body(&headers(&[("Transfer-Encoding", "chunked, gzip")])).is_err());
    }
}
