//! How long a message body is: the client's rules for responses (CPython `HTTPResponse.begin`)
//! and the server's strict rules for requests (RFC 9112 section 6, against request smuggling).

use super::Headers;

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseFraming {
    /// Whether the body is chunk-encoded.
    pub chunked: bool,
    /// Body length when known; `Some(0)` for bodiless responses.
    pub length: Option<u64>,
    /// The connection closes after this response.
    pub will_close: bool,
}

/// The fields a response's framing looks at: the first of each, as `headers.get` reads them,
/// found in one pass (a name's length and first letter are looked at before all of it).
#[derive(Default)]
struct FramingFields<'a> {
    transfer_encoding: Option<&'a [u8]>,
    content_length: Option<&'a [u8]>,
    connection: Option<&'a [u8]>,
    keep_alive: Option<&'a [u8]>,
    proxy_connection: Option<&'a [u8]>,
}

impl<'a> FramingFields<'a> {
    fn of(headers: &'a Headers) -> Self {
        let mut found = Self::default();
        for (name, value) in headers.iter_raw() {
            let is = |wanted: &[u8]| name.eq_ignore_ascii_case(wanted);
            let slot = match (name.len(), name.first().map(u8::to_ascii_lowercase)) {
                (17, Some(b't')) if is(b"transfer-encoding") => &mut found.transfer_encoding,
                (14, Some(b'c')) if is(b"content-length") => &mut found.content_length,
                (10, Some(b'c')) if is(b"connection") => &mut found.connection,
                (10, Some(b'k')) if is(b"keep-alive") => &mut found.keep_alive,
                (16, Some(b'p')) if is(b"proxy-connection") => &mut found.proxy_connection,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        found
    }

    /// CPython's `_check_close`.
    fn will_close(&self, version: u8) -> bool {
        // `word in value.lower()`: Latin-1 has no letter whose lower case is ASCII but itself.
        let contains = |value: Option<&[u8]>, word: &str| {
            value.is_some_and(|v| v.windows(word.len()).any(|w| w.eq_ignore_ascii_case(word.as_bytes())))
        };
        if version == 11 {
            return contains(self.connection, "close");
        }
        !(self.keep_alive.is_some_and(|v| !v.is_empty())
            || contains(self.connection, "keep-alive")
            || contains(self.proxy_connection, "keep-alive"))
    }
}

/// CPython's `_check_close`: whether the server will close after this response.
pub fn check_close(version: u8, headers: &Headers) -> bool {
    FramingFields::of(headers).will_close(version)
}

/// Decide a response's framing from its status, version, headers and the request method.
pub fn response_framing(version: u8, status: u16, method: &str, headers: &Headers) -> ResponseFraming {
    let fields = FramingFields::of(headers);
    // RFC 9112 6.3 rule 1: these have no body whatever their header fields say (CPython would
    // still read a chunked body after a 204 or 304).
    let bodiless = status == 204 || status == 304 || (100..200).contains(&status) || method == "HEAD";
    let chunked = !bodiless
        && fields
            .transfer_encoding
            .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"chunked"));
    let mut will_close = fields.will_close(version);
    let mut length = if chunked {
        None
    } else {
        fields.content_length.and_then(parse_content_length)
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
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        let digit = d.is_ascii_digit().then(|| u64::from(d - b'0'))?;
        n.checked_mul(10)?.checked_add(digit)
    })
}

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// No body.
    None,
    /// A Content-Length body of this many bytes.
    Length(u64),
    /// A chunked body.
    Chunked,
}

/// Why a request's framing is refused (answered 400, then the connection closes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingError(pub &'static str);

/// The server's framing of a request, refusing anything ambiguous (RFC 9112 6.1, 6.3):
/// Content-Length together with Transfer-Encoding, a Content-Length that is invalid or repeated
/// with different values, a Transfer-Encoding whose last coding is not chunked.
pub fn request_body(headers: &Headers) -> Result<RequestBody, FramingError> {
    let mut framing = RequestFraming::default();
    for (name, value) in headers.iter_raw() {
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            framing.transfer_encoding(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            framing.content_length(value);
        }
    }
    framing.finish()
}

/// `request_body` a field at a time, for a reader already passing over the fields: it is
/// handed every Transfer-Encoding and Content-Length value in order, then `finish` decides.
#[derive(Debug, Default)]
pub struct RequestFraming<'a> {
    te: bool,
    cl: bool,
    /// The last coding of the Transfer-Encoding fields so far.
    last_coding: Option<&'a [u8]>,
    /// The Content-Length every value so far agrees on.
    length: Option<u64>,
    /// The first Content-Length problem.
    error: Option<FramingError>,
}

impl<'a> RequestFraming<'a> {
    /// A `Transfer-Encoding` field's value.
    pub fn transfer_encoding(&mut self, value: &'a [u8]) {
        self.te = true;
        if let Some(c) = value
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .rfind(|c| !c.is_empty())
        {
            self.last_coding = Some(c);
        }
    }

    /// A `Content-Length` field's value.
    pub fn content_length(&mut self, value: &[u8]) {
        self.cl = true;
        for part in value.split(|&b| b == b',') {
            if self.error.is_some() {
                return;
            }
            match parse_content_length(part) {
                None => self.error = Some(FramingError("invalid Content-Length")),
                Some(n) if self.length.is_some_and(|l| l != n) => {
                    self.error = Some(FramingError("conflicting Content-Length"))
                }
                Some(n) => self.length = Some(n),
            }
        }
    }

    /// The request's body framing, or why it is refused.
    pub fn finish(self) -> Result<RequestBody, FramingError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.te {
            if self.cl {
                return Err(FramingError("Content-Length with Transfer-Encoding"));
            }
            return match self.last_coding {
                Some(c) if c.eq_ignore_ascii_case(b"chunked") => Ok(RequestBody::Chunked),
                _ => Err(FramingError("Transfer-Encoding does not end in chunked")),
            };
        }
        Ok(match self.length {
            None | Some(0) => RequestBody::None,
            Some(n) => RequestBody::Length(n),
        })
    }
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
