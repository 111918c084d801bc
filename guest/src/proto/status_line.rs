//! The client's reading of a response's status line (CPython `HTTPResponse._read_status`).

use super::ProtoError;

/// A parsed status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// 10 for HTTP/1.0 (and 0.9), 11 for HTTP/1.x.
    pub version: u8,
    pub status: u16,
    /// The reason phrase, stripped of surrounding whitespace.
    pub reason: String,
}

/// Parse one status line (terminator included or not). An empty line is the caller's
/// `RemoteDisconnected`; this sees only non-empty lines.
pub fn parse_status_line(line: &[u8]) -> Result<StatusLine, ProtoError> {
    let text = super::latin1(line);
    let bad = || ProtoError::BadStatusLine(text.clone());
    // Python's str.split(None, 2): runs of whitespace separate, leading whitespace is skipped.
    let mut rest = text.trim_start();
    let mut next_word = || {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = rest[end..].trim_start();
        word
    };
    let version = next_word();
    let status = next_word();
    let reason = rest.trim();
    if !version.starts_with("HTTP/") {
        return Err(bad());
    }
    if status.is_empty() || status.len() > 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let status: u16 = status.parse().map_err(|_| bad())?;
    if !(100..=999).contains(&status) {
        return Err(bad());
    }
    let version = match version {
        "HTTP/1.0" | "HTTP/0.9" => 10,
        v if v.starts_with("HTTP/1.") => 11,
        v => return Err(ProtoError::UnknownProtocol(v.to_string())),
    };
    Ok(StatusLine {
        version,
        status,
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_lines() {
        let s = parse_status_line(b"HTTP/1.1 200 OK\r\n").unwrap();
        assert_eq!((s.version, s.status, s.reason.as_str()), (11, 200, "OK"));
        let s = parse_status_line(b"HTTP/1.0 404 Not  Found \r\n").unwrap();
        assert_eq!((s.version, s.status, s.reason.as_str()), (10, 404, "Not  Found"));
        let s = parse_status_line(b"HTTP/1.1 204\r\n").unwrap();
        assert_eq!((s.status, s.reason.as_str()), (204, ""));
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
