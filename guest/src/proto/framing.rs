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

/// Why a request's framing is refused: its status (400, or 501 for a transfer coding the
/// server does not implement) and why, in words; the connection closes after the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingError {
    /// 400 Bad Request, or 501 Not Implemented.
    pub code: u16,
    /// Why.
    pub why: &'static str,
}

const fn bad(why: &'static str) -> FramingError {
    FramingError { code: 400, why }
}

/// Optional whitespace around a field value or a list element: SP and HTAB only (RFC 9110
/// 5.6.3). Any other control character makes a framing field invalid.
fn trim_ows(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// Whether `value` holds a control character other than HTAB (RFC 9110 5.5: none belongs in
/// a field value; a lenient reader that trims them lets "Content-Length: \x0c5" through).
fn has_control(value: &[u8]) -> bool {
    value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// A request's Content-Length element: ASCII digits between SP/HTAB, fitting a u64.
fn request_content_length(element: &[u8]) -> Option<u64> {
    let digits = trim_ows(element);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let digit = d.is_ascii_digit().then(|| u64::from(d - b'0'))?;
        n.checked_mul(10)?.checked_add(digit)
    })
}

/// The server's framing of a request, refusing anything ambiguous (RFC 9112 6.1, 6.3):
/// Content-Length together with Transfer-Encoding, a Content-Length that is invalid or repeated
/// with different values, control characters in either, a Transfer-Encoding sent twice, with
/// chunked twice or not last, or in an HTTP/1.0 request (400); a transfer coding other than
/// chunked (501, as nginx: no other is implemented).
pub fn request_body(headers: &Headers, version: (u32, u32)) -> Result<RequestBody, FramingError> {
    let mut framing = RequestFraming::default();
    for (name, value) in headers.iter_raw() {
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            framing.transfer_encoding(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            framing.content_length(value);
        }
    }
    framing.finish(version)
}

/// `request_body` a field at a time, for a reader already passing over the fields: it is
/// handed every Transfer-Encoding and Content-Length value in order, then `finish` decides.
#[derive(Debug, Default)]
pub struct RequestFraming {
    /// How many Transfer-Encoding fields.
    te_fields: u32,
    /// chunked was among the codings, and is the last so far.
    chunked_last: bool,
    cl: bool,
    /// The Content-Length every value so far agrees on.
    length: Option<u64>,
    /// The first problem that is a 400.
    error: Option<FramingError>,
    /// A coding other than chunked (a 501 unless there is a 400).
    unknown_coding: bool,
}

impl RequestFraming {
    fn refuse(&mut self, e: FramingError) {
        self.error.get_or_insert(e);
    }

    /// A `Transfer-Encoding` field's value.
    pub fn transfer_encoding(&mut self, value: &[u8]) {
        self.te_fields += 1;
        if self.te_fields > 1 {
            return self.refuse(bad("repeated Transfer-Encoding"));
        }
        if has_control(value) {
            return self.refuse(bad("control character in Transfer-Encoding"));
        }
        let mut codings = value
            .split(|&b| b == b',')
            .map(trim_ows)
            .filter(|c| !c.is_empty())
            .peekable();
        if codings.peek().is_none() {
            return self.refuse(bad("empty Transfer-Encoding"));
        }
        for coding in codings {
            let name = trim_ows(coding.split(|&b| b == b';').next().unwrap_or_default());
            if self.chunked_last {
                // Something after chunked: the body's end could not be found.
                return self.refuse(match name.eq_ignore_ascii_case(b"chunked") {
                    true => bad("chunked applied twice"),
                    false => bad("Transfer-Encoding does not end in chunked"),
                });
            }
            if name.eq_ignore_ascii_case(b"chunked") {
                self.chunked_last = true;
            } else {
                self.unknown_coding = true;
            }
        }
    }

    /// A `Content-Length` field's value.
    pub fn content_length(&mut self, value: &[u8]) {
        self.cl = true;
        if has_control(value) {
            return self.refuse(bad("control character in Content-Length"));
        }
        for part in value.split(|&b| b == b',') {
            match request_content_length(part) {
                None => return self.refuse(bad("invalid Content-Length")),
                Some(n) if self.length.is_some_and(|l| l != n) => {
                    return self.refuse(bad("conflicting Content-Length"));
                }
                Some(n) => self.length = Some(n),
            }
        }
    }

    /// The body framing of a request of HTTP `version`, or why it is refused.
    pub fn finish(self, version: (u32, u32)) -> Result<RequestBody, FramingError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.te_fields > 0 {
            if version < (1, 1) {
                return Err(bad("Transfer-Encoding in an HTTP/1.0 request"));
            }
            if self.cl {
                return Err(bad("Content-Length with Transfer-Encoding"));
            }
            if self.unknown_coding {
                return Err(FramingError {
                    code: 501,
                    why: "unknown Transfer-Encoding",
                });
            }
            return Ok(RequestBody::Chunked);
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

    /// `request_body` of an HTTP/1.1 request with these fields.
    fn framed(pairs: &[(&str, &str)]) -> Result<RequestBody, FramingError> {
        request_body(&headers(pairs), (1, 1))
    }

    fn refused(pairs: &[(&str, &str)]) -> (u16, &'static str) {
        let e = framed(pairs).unwrap_err();
        (e.code, e.why)
    }

    #[test]
    fn request_rules() {
        assert_eq!(framed(&[]), Ok(RequestBody::None));
        assert_eq!(framed(&[("Content-Length", "5")]), Ok(RequestBody::Length(5)));
        assert_eq!(framed(&[("Content-Length", " \t5\t ")]), Ok(RequestBody::Length(5)));
        assert_eq!(
            framed(&[("Content-Length", "5"), ("content-length", "5")]),
            Ok(RequestBody::Length(5))
        );
        assert_eq!(framed(&[("Content-Length", "5 , 5")]), Ok(RequestBody::Length(5)));
        assert_eq!(framed(&[("Transfer-Encoding", "chunked")]), Ok(RequestBody::Chunked));
        assert_eq!(framed(&[("Transfer-Encoding", " Chunked\t")]), Ok(RequestBody::Chunked));
        assert_eq!(framed(&[("Transfer-Encoding", "chunked ,")]), Ok(RequestBody::Chunked));
    }

    #[test]
    fn ambiguous_lengths_are_400() {
        for (pairs, why) in [
            (
                &[("Content-Length", "5"), ("Content-Length", "6")][..],
                "conflicting Content-Length",
            ),
            (&[("Content-Length", "5, 6")], "conflicting Content-Length"),
            (&[("Content-Length", "+5")], "invalid Content-Length"),
            (&[("Content-Length", "")], "invalid Content-Length"),
            (
                &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
                "Content-Length with Transfer-Encoding",
            ),
            (&[("Content-Length", "99999999999999999999")], "invalid Content-Length"),
        ] {
            assert_eq!(refused(pairs), (400, why), "{pairs:?}");
        }
    }

    #[test]
    fn control_characters_around_or_inside_framing_fields_are_400() {
        // Each of these read as 5, or as chunked, before: nginx answers 400.
        for cl in ["\x0c5", "5\x0c", "\x0b5", "5\r", "\x005", "5\x7f"] {
            assert_eq!(
                refused(&[("Content-Length", cl)]),
                (400, "control character in Content-Length"),
                "{cl:?}"
            );
        }
        for te in ["\x0cchunked", "chunked\x0c", "chun\x0bked"] {
            assert_eq!(
                refused(&[("Transfer-Encoding", te)]),
                (400, "control character in Transfer-Encoding"),
                "{te:?}"
            );
        }
    }

    #[test]
    fn transfer_codings_as_nginx_answers_them() {
        for (pairs, answer) in [
            (
                &[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")][..],
                (400, "repeated Transfer-Encoding"),
            ),
            (
                &[("Transfer-Encoding", "chunked, chunked")],
                (400, "chunked applied twice"),
            ),
            (
                &[("Transfer-Encoding", "chunked, gzip")],
                (400, "Transfer-Encoding does not end in chunked"),
            ),
            (&[("Transfer-Encoding", "")], (400, "empty Transfer-Encoding")),
            (
                &[("Transfer-Encoding", "gzip, chunked")],
                (501, "unknown Transfer-Encoding"),
            ),
            (&[("Transfer-Encoding", "identity")], (501, "unknown Transfer-Encoding")),
            (&[("Transfer-Encoding", "gzip")], (501, "unknown Transfer-Encoding")),
        ] {
            assert_eq!(refused(pairs), answer, "{pairs:?}");
        }
        // Transfer-Encoding is HTTP/1.1's: in an HTTP/1.0 request the framing is faulty.
        let h = headers(&[("Transfer-Encoding", "chunked")]);
        assert_eq!(
            request_body(&h, (1, 0)).unwrap_err(),
            bad("Transfer-Encoding in an HTTP/1.0 request")
        );
    }
}
