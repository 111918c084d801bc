//! The server's response head, encoded: the status line and header lines as
//! BaseHTTPRequestHandler's `send_response_only` and `send_header` write them (Latin-1, CRLF),
//! refusing what would split or smuggle a response. The handler keeps the buffer and the
//! connection state; this owns the bytes and the rules.

use super::ProtoError;
use super::pyrepr::py_repr;
use super::status::reason_phrase;

/// Append `text` to `out` as Latin-1; `None` (and `out` unchanged) when a character is
/// outside it.
fn push_latin1(out: &mut Vec<u8>, text: &str) -> Option<()> {
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
    } else {
        out.extend(super::to_latin1(text)?);
    }
    Some(())
}

/// `send_response_only(code, message)`: "PROTOCOL CODE MESSAGE\r\n" appended to `out`, the
/// message the status's phrase when none is given. A message with CR or LF would start a
/// header of the client's choosing: refused.
pub fn status_line(out: &mut Vec<u8>, protocol: &str, code: u16, message: Option<&str>) -> Result<(), ProtoError> {
    let message = message.unwrap_or_else(|| reason_phrase(code).unwrap_or(""));
    if plain(protocol) && plain(message) {
        out.reserve(protocol.len() + message.len() + 8);
        out.extend_from_slice(protocol.as_bytes());
        out.push(b' ');
        push_decimal(out, u64::from(code));
        out.push(b' ');
        out.extend_from_slice(message.as_bytes());
        out.extend_from_slice(b"\r\n");
        return Ok(());
    }
    if has_any(message, b"\r\n") {
        return Err(ProtoError::InvalidHeader(format!(
            "Invalid status message {}",
            py_repr(message)
        )));
    }
    let start = out.len();
    out.reserve(protocol.len() + message.len() + 12);
    let latin1 = push_latin1(out, protocol).and_then(|()| {
        out.push(b' ');
        push_decimal(out, u64::from(code));
        out.push(b' ');
        push_latin1(out, message)
    });
    if latin1.is_none() {
        out.truncate(start);
        return Err(ProtoError::InvalidArgument("status line is not Latin-1".into()));
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `n` in decimal, appended without the formatting machinery (a status line's code).
fn push_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(digits(n, &mut [0; 20]));
}

/// `n` in decimal, written into `room` without the formatting machinery (a response's
/// `Content-Length`, once a response): `n.to_string()` without the string.
pub fn decimal(n: u64, room: &mut [u8; 20]) -> &str {
    // Only ASCII digits are written.
    std::str::from_utf8(digits(n, room)).unwrap_or("0")
}

/// `n`'s decimal digits, written at the end of `digits`.
fn digits(n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[at..]
}

/// Whether `text` holds any of the ASCII bytes `set` (a byte loop: `str::contains` with a
/// set of chars decodes every character).
fn has_any(text: &str, set: &[u8]) -> bool {
    text.bytes().any(|b| set.contains(&b))
}

/// `send_header(keyword, value)`: "Name: value\r\n" appended to `out`. A name with CR, LF or
/// a colon, an empty name, or a value with CR, LF or NUL is refused (each would let a caller
/// forge header lines or end the head early), as is text outside Latin-1.
pub fn header_line(out: &mut Vec<u8>, name: &str, value: &str) -> Result<(), ProtoError> {
    if plain_name(name) && plain(value) {
        out.reserve(name.len() + value.len() + 4);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
        return Ok(());
    }
    check_header(name, value)?;
    let start = out.len();
    out.reserve(name.len() + value.len() + 4);
    for part in [name, ": ", value, "\r\n"] {
        if push_latin1(out, part).is_none() {
            out.truncate(start);
            return Err(ProtoError::InvalidHeader(format!(
                "header is not Latin-1: {}",
                py_repr(&format!("{name}: {value}\r\n"))
            )));
        }
    }
    Ok(())
}

/// `header_line(out, name, &parts.concat())` without joining the parts first (the `Server`
/// header: "server_version sys_version"); what it refuses, with the same error.
pub fn header_line_parts(out: &mut Vec<u8>, name: &str, parts: &[&str]) -> Result<(), ProtoError> {
    if plain_name(name) && parts.iter().all(|part| plain(part)) {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        parts.iter().for_each(|part| out.extend_from_slice(part.as_bytes()));
        out.extend_from_slice(b"\r\n");
        return Ok(());
    }
    check_header_parts(name, parts)?;
    let start = out.len();
    for part in [name, ": "].iter().chain(parts).chain(&["\r\n"]) {
        if push_latin1(out, part).is_none() {
            out.truncate(start);
            return header_line(out, name, &parts.concat());
        }
    }
    Ok(())
}

/// Whether `text` is all printable ASCII and spaces (DEL too): nothing to refuse in a value
/// and nothing to convert to Latin-1, told by one comparison a byte. A value that is not
/// goes through the full checks.
fn plain(text: &str) -> bool {
    text.bytes().all(|b| b.wrapping_sub(0x20) < 0x60)
}

/// `plain`, for a name: not empty, and no colon.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.wrapping_sub(0x20) < 0x60 && b != b':')
}

/// `check_header(name, &parts.concat())`, joining the parts only for the error.
pub fn check_header_parts(name: &str, parts: &[&str]) -> Result<(), ProtoError> {
    match parts.iter().all(|part| !has_any(part, b"\r\n\0")) {
        true => check_header(name, ""),
        false => check_header(name, &parts.concat()),
    }
}

/// The checks of `header_line`, for a header that is not written (HTTP/0.9 has no head).
pub fn check_header(name: &str, value: &str) -> Result<(), ProtoError> {
    if name.is_empty() || has_any(name, b"\r\n:") {
        return Err(ProtoError::InvalidHeader(format!(
            "Invalid header name {}",
            py_repr(name)
        )));
    }
    if has_any(value, b"\r\n\0") {
        return Err(ProtoError::InvalidHeader(format!(
            "Invalid header value {}",
            py_repr(value)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_other_values_are_written_alike() {
        for value in [
            "text/html",
            "",
            " ",
            "a\tb",
            "del\x7f",
            "caf\u{e9}",
            "~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}",
        ] {
            let mut out = Vec::new();
            header_line(&mut out, "X-Value", value).unwrap();
            let mut want = b"X-Value: ".to_vec();
            want.extend(crate::proto::to_latin1(value).unwrap());
            want.extend_from_slice(b"\r\n");
            assert_eq!(out, want, "{value:?}");
        }
        assert!(!plain("a\tb") && !plain("caf\u{e9}") && !plain("a\x1fb") && plain("a\x7fb ~"));
        assert!(!plain_name("") && !plain_name("X:Y") && plain_name("Content-Length"));
    }

    #[test]
    fn lines_as_cpython_writes_them() {
        let mut out = Vec::new();
        status_line(&mut out, "HTTP/1.1", 404, None).unwrap();
        status_line(&mut out, "HTTP/1.0", 299, None).unwrap();
        status_line(&mut out, "HTTP/1.0", 200, Some("Fine, caf\u{e9}")).unwrap();
        header_line(&mut out, "X-Caf", "caf\u{e9}").unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 404 Not Found\r\nHTTP/1.0 299 \r\nHTTP/1.0 200 Fine, caf\xe9\r\nX-Caf: caf\xe9\r\n"
        );
    }

    #[test]
    fn decimals_are_to_string() {
        for n in [0, 7, 10, 1024, 99_999, u64::from(u32::MAX) + 1, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string());
        }
    }

    #[test]
    fn a_value_in_parts_is_written_and_refused_as_the_value_joined() {
        for (name, parts) in [
            ("Server", &["SimpleHTTP/0.6", " ", "httplib/0.1.0"][..]),
            ("Server", &["caf\u{e9}", " ", "x"]),
            ("Server", &["a\r\nSet-Cookie: evil=1", " ", "x"]),
            ("Server", &["a", " ", "b\0"]),
            ("Server", &["\u{2603}", " ", "x"]),
            ("X:A", &["a", " ", "b"]),
            ("", &["a"]),
        ] {
            let (mut joined, mut in_parts) = (b"kept".to_vec(), b"kept".to_vec());
            let want = header_line(&mut joined, name, &parts.concat());
            let got = header_line_parts(&mut in_parts, name, parts);
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{name:?}: {parts:?}");
            assert_eq!(in_parts, joined);
            assert_eq!(
                format!("{:?}", check_header_parts(name, parts)),
                format!("{:?}", check_header(name, &parts.concat()))
            );
        }
    }

    #[test]
    fn what_would_split_a_response_is_refused_and_writes_nothing() {
        let mut out = b"kept".to_vec();
        for (name, value) in [
            ("X-A", "a\r\nSet-Cookie: evil=1"),
            ("X-A", "a\nb"),
            ("X-A", "a\0b"),
            ("X-A\r\nEvil", "1"),
            ("X:A", "1"),
            ("", "1"),
            ("X-Snow", "\u{2603}"),
        ] {
            assert!(header_line(&mut out, name, value).is_err(), "{name:?}: {value:?}");
        }
        assert!(status_line(&mut out, "HTTP/1.0", 200, Some("OK\r\nX-Evil: 1")).is_err());
        assert!(status_line(&mut out, "HTTP/1.0", 200, Some("\u{2603}")).is_err());
        assert_eq!(out, b"kept");
    }
}
