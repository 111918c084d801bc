//! The client's reading of a response head, sans-IO, as whole buffers: bytes in; the status
//! line, the header fields and how many bytes they took, "need more", or "read this one line
//! by line". httparse tokenises the header block; CPython's status line rules are
//! `status_line`'s.
//!
//! This is the fast path for the heads servers send (a status line and well-formed fields,
//! all of it arrived). Anything else (a line over CPython's limit, more than its 100 fields, a
//! field httparse refuses but http.client accepts such as obs-fold or a line without a colon,
//! a status line `status_line` refuses, a head cut by the end of the stream) is `LineByLine`:
//! the client then reads that head with the line reader, which raises exactly what CPython
//! raises and accepts exactly what it accepts.

use super::Headers;
use super::headers::FieldSpans;
use super::headers::{FieldBlock, FieldLine};
use super::limits::{MAX_HEADERS, MAX_LINE};
use super::line::{Line, find_line, trim_eol};
use super::status_line::{StatusLine, parse_status_line};
use bytes::BytesMut;

/// What the bytes so far amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseParse {
    /// The head has not all arrived (and nothing in it is out of the ordinary yet).
    Partial,
    /// A whole head, taken off the front of the buffer.
    Complete {
        /// The status line.
        status: StatusLine,
        /// The fields, in order: slices of the head, which `headers.source()` is (blank line
        /// included).
        headers: Headers,
    },
    /// Not for the fast path: read this head line by line (nothing was taken off the buffer).
    LineByLine,
}

/// Reads one response head as its bytes arrive, looking at each byte once.
#[derive(Debug, Default)]
pub struct ResponseScanner {
    /// Bytes looked at so far.
    scanned: usize,
    /// Where the line being received begins.
    line_start: usize,
    /// Lines completed so far (the status line included).
    lines: usize,
}

impl ResponseScanner {
    /// A scanner for a head starting at the first byte it will be fed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Look at `buf` (the whole head so far, from its first byte; longer each call).
    pub fn feed(&mut self, buf: &mut BytesMut) -> ResponseParse {
        if self.scanned == 0
            && let Some((status, spans, len)) = whole_response(buf)
        {
            let headers = Headers::over_head(buf.split_to(len).freeze(), spans);
            return ResponseParse::Complete { status, headers };
        }
        while let Some(i) = memchr::memchr(b'\n', &buf[self.scanned..]) {
            let end = self.scanned + i + 1;
            self.scanned = end;
            // CPython's readline(_MAXLINE + 1): a line of more than MAX_LINE bytes is too long.
            if end - self.line_start > MAX_LINE {
                return ResponseParse::LineByLine;
            }
            let blank = trim_eol(&buf[self.line_start..end]).is_empty();
            self.line_start = end;
            self.lines += 1;
            if self.lines == 1 {
                if blank {
                    return ResponseParse::LineByLine;
                }
                continue;
            }
            // CPython counts the blank line among the fields (`len(headers) > _MAXHEADERS`).
            if self.lines - 1 > MAX_HEADERS {
                return ResponseParse::LineByLine;
            }
            if blank {
                return whole_head(buf, end);
            }
        }
        self.scanned = buf.len();
        if buf.len() - self.line_start > MAX_LINE {
            return ResponseParse::LineByLine;
        }
        ResponseParse::Partial
    }
}

/// The fastest path, for a whole ordinary head at once: httparse finds the end of the head and
/// reads the fields in one pass; the status line is CPython's reading of the first line. None
/// for anything else (a head not all here, or longer than a line may be, or a status line or
/// a field httparse refuses, or more fields than CPython allows), which the scanner then reads.
fn whole_response(buf: &[u8]) -> Option<(StatusLine, FieldSpans, usize)> {
    // httparse skips blank lines before a status line; CPython reads one as the status line.
    if matches!(buf.first(), Some(b'\r' | b'\n')) {
        return None;
    }
    // Uninitialised slots: httparse writes only those it fills. One fewer than CPython's
    // limit, which counts the blank line.
    let mut fields = [const { std::mem::MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS - 1];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut response, buf, &mut fields);
    let len = match parsed {
        // No line of a head this size can be over CPython's line limit.
        Ok(httparse::Status::Complete(len)) if len <= MAX_LINE => len,
        _ => return None,
    };
    let status = parse_status_line(&buf[..memchr::memchr(b'\n', buf)? + 1]).ok()?;
    // httparse refuses NUL, CR and LF in values, and obs-fold, and names that are not tokens:
    // what it read is what the line reader reads (the fuzz target `response_head` checks it).
    Some((status, FieldSpans::of(buf, response.headers, |_, _| {}), len))
}

/// `buf[..len]` is a status line, fields and a blank line.
fn whole_head(buf: &mut BytesMut, len: usize) -> ResponseParse {
    let status_end = memchr::memchr(b'\n', buf).map_or(len, |i| i + 1);
    let Ok(status) = parse_status_line(&buf[..status_end]) else {
        return ResponseParse::LineByLine;
    };
    let block = &buf[status_end..len];
    // The scanner has let through at most MAX_HEADERS - 1 fields (and the blank line).
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS - 1];
    match httparse::parse_headers(block, &mut fields) {
        Ok(httparse::Status::Complete((n, parsed))) if n == block.len() => {
            let spans = FieldSpans::of(&buf[..len], parsed, |_, _| {});
            let headers = Headers::over_head(buf.split_to(len).freeze(), spans);
            ResponseParse::Complete { status, headers }
        }
        _ => ResponseParse::LineByLine,
    }
}

/// A response head read line by line, as the client reads what the fast path steps aside
/// from: (status line, fields), or None where that reading raises.
pub fn by_line(head: &[u8]) -> Option<(StatusLine, Headers)> {
    let Line::Complete(n) = find_line(head, MAX_LINE) else {
        return None;
    };
    let status = parse_status_line(&head[..n]).ok()?;
    let mut block = FieldBlock::new();
    let mut rest = &head[n..];
    while let Line::Complete(n) = find_line(rest, MAX_LINE) {
        if block.push_line(&rest[..n]).ok()? == FieldLine::End {
            break;
        }
        rest = &rest[n..];
    }
    Some((status, block.headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    /// The line reader's answer for a whole head (see `by_line`).
    fn line_by_line(head: &[u8]) -> (StatusLine, Headers) {
        by_line(head).expect("the line reader takes it")
    }

    /// `scanner.feed` over a buffer holding `bytes`: a head it takes, it takes off the front,
    /// and leaves every byte after it.
    fn feed(scanner: &mut ResponseScanner, bytes: &[u8]) -> ResponseParse {
        let mut buf = BytesMut::from(bytes);
        let parsed = scanner.feed(&mut buf);
        match &parsed {
            ResponseParse::Complete { headers, .. } => {
                assert!(buf[..] == bytes[headers.source().len()..], "took more than the head")
            }
            _ => assert!(buf[..] == *bytes, "took bytes of a head it did not read"),
        }
        parsed
    }

    /// Fed at every split point, the scanner says Partial until the whole head is there, and
    /// reads it as a fresh scanner fed all of it at once does.
    fn scan(head: &[u8]) -> ResponseParse {
        let mut scanner = ResponseScanner::new();
        for cut in 0..head.len() {
            let got = feed(&mut scanner, &head[..cut]);
            if got != ResponseParse::Partial {
                return got;
            }
        }
        let grown = feed(&mut scanner, head);
        assert_eq!(
            grown,
            feed(&mut ResponseScanner::new(), head),
            "a byte at a time against all at once"
        );
        grown
    }

    #[test]
    fn ordinary_heads_match_the_line_reader_at_every_split_point() {
        for head in [
            &b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 1024\r\nETag: \"6740c9ae-400\"\r\n\r\n"[..],
            b"HTTP/1.0 404 Not Found\nContent-Type: text/html\n\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Empty:\r\nX-Pad:   v  \r\n\r\n",
            b"HTTP/1.1 200 \r\nX-Latin: caf\xe9\r\n\r\n",
        ] {
            let ResponseParse::Complete { status, headers } = scan(head) else {
                panic!("{:?}", String::from_utf8_lossy(head))
            };
            assert_eq!(headers.source(), head);
            assert_eq!(
                (status, headers),
                line_by_line(head),
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn what_httparse_refuses_or_cpython_limits_goes_line_by_line() {
        let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "X: y\r\n".repeat(MAX_HEADERS));
        let long = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_LINE));
        for head in [
            &b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nno colon here\r\nX: y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX-Space : y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"\r\nHTTP/1.1 200 OK\r\n\r\n",
            many.as_bytes(),
            long.as_bytes(),
        ] {
            assert_eq!(
                scan(head),
                ResponseParse::LineByLine,
                "{:?}",
                String::from_utf8_lossy(&head[..head.len().min(60)])
            );
        }
    }

    #[test]
    fn a_head_not_all_here_is_partial() {
        let mut scanner = ResponseScanner::new();
        assert_eq!(
            feed(&mut scanner, b"HTTP/1.1 200 OK\r\nContent-Le"),
            ResponseParse::Partial
        );
        assert_eq!(
            feed(&mut scanner, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"),
            ResponseParse::Partial
        );
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nbody";
        assert!(
            matches!(feed(&mut scanner, whole), ResponseParse::Complete { headers, .. } if headers.source().len() == 38)
        );
        let at_once = feed(&mut ResponseScanner::new(), whole);
        assert!(matches!(at_once, ResponseParse::Complete { headers, .. } if headers.source().len() == 38));
    }
}
