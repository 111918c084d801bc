//! The client's reading of a response's status line (CPython `HTTPResponse._read_status`).

use super::ProtoError;
use std::borrow::Cow;

/// A parsed status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// 10 for HTTP/1.0 (and 0.9), 11 for HTTP/1.x.
    pub version: u8,
    /// The status code.
    pub status: u16,
    /// The reason phrase, stripped of surrounding whitespace (the standard phrase of the
    /// status, when it is that, costs no allocation).
    pub reason: Cow<'static, str>,
}

/// Python's `str.isspace()` for a Latin-1 character, as `str.split()` and `str.strip()` use it.
fn is_py_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=b' ' | 0x85 | 0xa0)
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| !is_py_space(b)).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Parse one status line (terminator included or not). An empty line is the caller's
/// `RemoteDisconnected`; this sees only non-empty lines. It is read a byte at a time as the
/// Latin-1 text CPython decodes it to (one character per byte).
pub fn parse_status_line(line: &[u8]) -> Result<StatusLine, ProtoError> {
    let bad = || ProtoError::BadStatusLine(super::latin1(line));
    // Python's str.split(None, 2): runs of whitespace separate, leading whitespace is skipped.
    let mut rest = trim_start(line);
    let mut next_word = || {
        let end = rest.iter().position(|&b| is_py_space(b)).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = trim_start(&rest[end..]);
        word
    };
    let version = next_word();
    let status = next_word();
    let reason_end = rest.iter().rposition(|&b| !is_py_space(b)).map_or(0, |i| i + 1);
    let reason = &rest[..reason_end];
    if !version.starts_with(b"HTTP/") {
        return Err(bad());
    }
    if status.is_empty() || status.len() > 3 || !status.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let status = status.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !(100..=999).contains(&status) {
        return Err(bad());
    }
    let version = match version {
        b"HTTP/1.0" | b"HTTP/0.9" => 10,
        v if v.starts_with(b"HTTP/1.") => 11,
        v => return Err(ProtoError::UnknownProtocol(super::latin1(v))),
    };
    let reason = match super::status::reason_phrase(status) {
        Some(standard) if standard.as_bytes() == reason => Cow::Borrowed(standard),
        _ => Cow::Owned(super::latin1(reason)),
    };
    Ok(StatusLine {
        version,
        status,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_lines() {
        let s = parse_status_line(b"HTTP/1.1 200 OK\r\n").unwrap();
        assert_eq!((s.version, s.status, &*s.reason), (11, 200, "OK"));
        let s = parse_status_line(b"HTTP/1.0 404 Not  Found \r\n").unwrap();
        assert_eq!((s.version, s.status, &*s.reason), (10, 404, "Not  Found"));
        let s = parse_status_line(b"HTTP/1.1 204\r\n").unwrap();
        assert_eq!((s.status, &*s.reason), (204, ""));
        // Python's whitespace: the separators \x1c-\x1f, NEL and NBSP split and strip too.
        let s = parse_status_line(b"HTTP/1.1\x1f201\xa0Caf\xe9 cr\xe8me\x85\r\n").unwrap();
        assert_eq!((s.version, s.status, &*s.reason), (11, 201, "Caf\u{e9} cr\u{e8}me"));
    }

    #[test]
    fn bad_lines() {
        for line in [
            &b"garbage\r\n"[..],
            b"HTTP/1.1\r\n",
            b"HTTP/1.1 abc OK\r\n",
            b"HTTP/1.1 99 Low\r\n",
            b"HTTP/1.1 1000 High\r\n",
            b"ICY 200 OK\r\n",
        ] {
            assert!(
                matches!(parse_status_line(line), Err(ProtoError::BadStatusLine(_))),
                "{line:?}"
            );
        }
        assert_eq!(
            parse_status_line(b"HTTP/2.0 200 OK\r\n"),
            Err(ProtoError::UnknownProtocol("HTTP/2.0".into()))
        );
    }
}
