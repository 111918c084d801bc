//! What a CGI script writes back (RFC 3875 6): its header block, read as it arrives, becomes
//! the response head the server sends: `Status:` is the status line (6.3.3), a `Location:`
//! without one a 302 (6.2.3), `Content-Length:` the body's framing when it gives one; the
//! fields of the connection itself (`Transfer-Encoding`, `Connection`, `Keep-Alive`) are the
//! server's to write. CPython's CGIHTTPRequestHandler sends "200 Script output follows" and
//! the script's block as it is; nginx (FastCGI) and Apache read it as here.

use super::headers::is_legal_name;
use super::latin1;
use super::line::trim_eol;

/// Most bytes of a script's header block (ours: nginx's `fastcgi_buffer_size`, which bounds
/// its FastCGI header block, is 4 or 8 KiB; CPython's line limit is 64 KiB).
pub const MAX_SCRIPT_HEAD: usize = 64 * 1024;

/// A script's response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptHead {
    /// The status to send.
    pub status: u16,
    /// Its reason phrase, when the script gave one.
    pub reason: Option<String>,
    /// The fields to send, in the script's order (Status and the connection's own dropped).
    pub fields: Vec<(String, String)>,
    /// The body's length, when the script said.
    pub content_length: Option<u64>,
}

/// What the script's output so far amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptHeadParse {
    /// Its header block has not all arrived.
    Partial,
    /// A whole header block of `len` bytes (blank line included); what follows is the body.
    Complete {
        /// The head to send.
        head: ScriptHead,
        /// The bytes the block took.
        len: usize,
    },
    /// No valid header block: the client gets 502 (nginx's "upstream sent invalid header").
    Invalid(&'static str),
}

/// The end of the header block at the front of `output` (its blank line included), if it
/// has arrived: lines end in LF or CRLF.
fn block_end(output: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(i) = memchr::memchr(b'\n', &output[start..]) {
        let end = start + i + 1;
        if trim_eol(&output[start..end]).is_empty() {
            return Some(end);
        }
        start = end;
    }
    None
}

/// Read the script's header block from the front of `output` (all it wrote so far; `ended`
/// once it wrote all it will).
pub fn parse_script_head(output: &[u8], ended: bool) -> ScriptHeadParse {
    let Some(len) = block_end(&output[..output.len().min(MAX_SCRIPT_HEAD)]) else {
        return match (output.len() >= MAX_SCRIPT_HEAD, ended) {
            (true, _) => ScriptHeadParse::Invalid("a header block longer than the server reads"),
            (false, true) => ScriptHeadParse::Invalid("no header block before the end of its output"),
            (false, false) => ScriptHeadParse::Partial,
        };
    };
    let mut head = ScriptHead {
        status: 200,
        reason: None,
        fields: Vec::new(),
        content_length: None,
    };
    let mut status_given = false;
    let mut location = false;
    for line in output[..len].split_inclusive(|&b| b == b'\n') {
        let content = trim_eol(line);
        if content.is_empty() {
            break;
        }
        if matches!(content[0], b' ' | b'\t') {
            return ScriptHeadParse::Invalid("a folded header line");
        }
        let Some(colon) = memchr::memchr(b':', content) else {
            return ScriptHeadParse::Invalid("a header line without a colon");
        };
        let name = &content[..colon];
        let value = content[colon + 1..].trim_ascii();
        if !is_legal_name(name) {
            return ScriptHeadParse::Invalid("an invalid header name");
        }
        if value.iter().any(|&b| b == b'\r' || b == 0) {
            return ScriptHeadParse::Invalid("CR or NUL in a header value");
        }
        let is = |wanted: &str| name.eq_ignore_ascii_case(wanted.as_bytes());
        if is("status") {
            let Some((status, reason)) = status_field(value) else {
                return ScriptHeadParse::Invalid("an invalid Status");
            };
            (head.status, head.reason, status_given) = (status, reason, true);
            continue;
        }
        if is("transfer-encoding") || is("connection") || is("keep-alive") {
            continue;
        }
        if is("content-length") {
            let Some(n) = digits(value) else {
                return ScriptHeadParse::Invalid("an invalid Content-Length");
            };
            if head.content_length.is_some_and(|m| m != n) {
                return ScriptHeadParse::Invalid("conflicting Content-Length");
            }
            head.content_length = Some(n);
        }
        location |= is("location");
        head.fields.push((latin1(name), latin1(value)));
    }
    if location && !status_given {
        (head.status, head.reason) = (302, Some("Found".into()));
    }
    ScriptHeadParse::Complete { head, len }
}

/// `Status: 404 Not Found`: three digits (100 to 599), then an optional reason.
fn status_field(value: &[u8]) -> Option<(u16, Option<String>)> {
    let (code, reason) = match memchr::memchr(b' ', value) {
        Some(i) => (&value[..i], value[i + 1..].trim_ascii()),
        None => (value, &b""[..]),
    };
    let status = (code.len() == 3).then(|| digits(code)).flatten()?;
    let status = u16::try_from(status).ok().filter(|s| (100..=599).contains(s))?;
    let reason = (!reason.is_empty()).then(|| latin1(reason));
    Some((status, reason))
}

fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(output: &str) -> (ScriptHead, usize) {
        // The same answer whether it came all at once or had to wait for its end.
        for ended in [false, true] {
            if let ScriptHeadParse::Complete { head, len } = parse_script_head(output.as_bytes(), ended) {
                return (head, len);
            }
        }
        panic!("{output:?}: {:?}", parse_script_head(output.as_bytes(), true))
    }

    #[test]
    fn status_becomes_the_status_line() {
        let (head, len) = complete("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope");
        assert_eq!((head.status, head.reason.as_deref()), (404, Some("Not Found")));
        assert_eq!(head.fields, [("Content-Type".to_string(), "text/plain".to_string())]);
        assert_eq!(len, "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n".len());
        let (head, _) = complete("Status: 418\n\n");
        assert_eq!((head.status, head.reason), (418, None));
    }

    #[test]
    fn a_location_without_status_is_a_302_and_without_either_a_200() {
        let (head, _) = complete("Location: http://example.test/x\n\n");
        assert_eq!((head.status, head.reason.as_deref()), (302, Some("Found")));
        let (head, _) = complete("Status: 301 Moved Permanently\nLocation: /y\n\n");
        assert_eq!(head.status, 301);
        let (head, _) = complete("Content-Type: text/html\n\n<p>");
        assert_eq!((head.status, head.reason), (200, None));
    }

    #[test]
    fn the_connection_is_the_servers_to_frame() {
        let (head, _) = complete(
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nKeep-Alive: 5\r\nX-A: b\r\n\r\n",
        );
        assert_eq!(head.content_length, Some(5));
        let names: Vec<&str> = head.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Content-Length", "X-A"]);
    }

    #[test]
    fn a_block_not_all_here_waits_and_a_bad_one_is_refused() {
        assert_eq!(
            parse_script_head(b"Content-Type: text/pl", false),
            ScriptHeadParse::Partial
        );
        assert_eq!(
            parse_script_head(b"Content-Type: text/plain\r\n", false),
            ScriptHeadParse::Partial
        );
        assert_eq!(parse_script_head(b"", false), ScriptHeadParse::Partial);
        for (output, why) in [
            (&b""[..], "no header block before the end of its output"),
            (
                b"Content-Type: text/plain\r\n",
                "no header block before the end of its output",
            ),
            (b"hello world\n\n", "a header line without a colon"),
            (b"Status: 99 Too Low\n\n", "an invalid Status"),
            (b"Status: abc\n\n", "an invalid Status"),
            (b"X: a\n b\n\n", "a folded header line"),
            (b"Bad Name: x\n\n", "an invalid header name"),
            (
                b"Content-Length: 5\nContent-Length: 6\n\n",
                "conflicting Content-Length",
            ),
            (b"Content-Length: -1\n\n", "an invalid Content-Length"),
            (b"X: a\0b\n\n", "CR or NUL in a header value"),
        ] {
            assert_eq!(
                parse_script_head(output, true),
                ScriptHeadParse::Invalid(why),
                "{output:?}"
            );
        }
        let long = format!("X-Long: {}\n\n", "a".repeat(MAX_SCRIPT_HEAD));
        assert_eq!(
            parse_script_head(long.as_bytes(), false),
            ScriptHeadParse::Invalid("a header block longer than the server reads")
        );
    }
}
