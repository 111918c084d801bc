//! The server's reading of a request head, sans-IO: bytes in; a head and how many bytes it
//! took, "need more", or the rejection to answer. The request line is CPython's
//! (`request_line`); the header block is tokenised by httparse, with the rules httparse does
//! not know applied here: CPython's line and count limits and ours on the whole head, the
//! strictness that refuses request smuggling (RFC 9112 5.1, 5.2, 6.1, 6.3), Host, framing.
//!
//! [`HeadScanner`] is fed the whole buffered head each time more arrives, and looks at each
//! byte once however the peer trickles it in (a head sent a byte at a time costs linear, not
//! quadratic, work). httparse runs once, on the complete head; where it refuses a block, the
//! block is read line by line to find which rule it breaks (and to accept what it only
//! thought odd, exactly as the line reader always did).

use super::Headers;
use super::framing::{RequestBody, RequestFraming};
use super::headers::{FieldBlock, FieldLine, FieldSpans, is_legal_name};
use super::limits::{MAX_HEADERS, MAX_LINE, MAX_REQUEST_HEAD};
use super::line::trim_eol;
use super::request_line::{Parsed, RequestLine, parse_request_line};
use bytes::{Buf, Bytes, BytesMut};

/// A request head, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The request line.
    pub line: RequestLine,
    /// The header fields, in order.
    pub headers: Headers,
    /// How the body is framed.
    pub body: RequestBody,
    /// What the (first) Connection field asks for.
    pub connection: ConnectionField,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
}

/// The first Connection field, as BaseHTTPRequestHandler reads it: the whole value, compared
/// with "close" and "keep-alive" ignoring case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionField {
    /// None was sent.
    Absent,
    /// `Connection: close`.
    Close,
    /// `Connection: keep-alive`.
    KeepAlive,
    /// Anything else (a list such as "keep-alive, Upgrade" included, as in CPython).
    Other,
}

impl ConnectionField {
    fn of(value: Option<&[u8]>) -> Self {
        match value {
            None => Self::Absent,
            Some(v) if v.eq_ignore_ascii_case(b"close") => Self::Close,
            Some(v) if v.eq_ignore_ascii_case(b"keep-alive") => Self::KeepAlive,
            Some(_) => Self::Other,
        }
    }
}

/// A head that must be refused: `send_error(code, message, explain)`, then the connection
/// closes (nothing after an unreadable head can be trusted to be a request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status.
    pub code: u16,
    /// The message (the status's phrase when none).
    pub message: Option<String>,
    /// The longer explanation of the error page.
    pub explain: Option<String>,
    /// `requestline` as far as it was understood (for the log line).
    pub requestline: String,
    /// `request_version` as far as it was understood.
    pub version: String,
    /// The request line, when it was read before the head was refused.
    pub line: Option<RequestLine>,
}

/// What the bytes so far amount to. `Blank` and `Complete` have taken their bytes off the
/// front of the buffer; after a `Reject` the connection closes, so what is left there is moot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadParse {
    /// The head is not complete yet (and under every limit): read more.
    Partial,
    /// A blank line where a request line belongs, `.0` bytes: CPython ends the connection
    /// without a word.
    Blank(usize),
    /// A whole head of `.0` bytes. Its fields are slices of those bytes, not copies.
    Complete(usize, RequestHead),
    /// A head to refuse.
    Reject(Rejection),
}

/// What `HeadScanner::scan` found.
enum Scanned {
    /// The answer (nothing taken off the buffer yet).
    Decided(HeadParse),
    /// A whole head, `end` bytes, its header block from `line_end`.
    Block { line_end: usize, end: usize },
}

/// Reads one request head as its bytes arrive.
#[derive(Debug, Default)]
pub struct HeadScanner {
    /// Bytes looked at so far.
    scanned: usize,
    /// The request line, once its end arrived: its length (terminator included) and parse.
    line: Option<(usize, RequestLine)>,
    /// Where the header line being received begins (line by line only).
    line_start: usize,
    /// Reading the header block line by line: it grew past `MAX_LINE` without ending, so
    /// each line is measured against the limits (a shorter block cannot break them, and is
    /// searched for its blank line in one pass).
    by_line: bool,
    /// Room for the request line's text and the fields' places (a previous request's,
    /// handed back by `reusing`).
    spare: String,
    spare_fields: FieldSpans,
}

/// The end of the first blank line in `window` (which starts at the "\n" ending a line, or
/// before), if it is there: "\n\r\n" or "\n\n".
fn blank_line_end(window: &[u8]) -> Option<usize> {
    static CRLF: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n\r\n"));
    static LF: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n\n"));
    match CRLF.find(window) {
        // A bare-LF blank line before it ends the head first.
        Some(at) => Some(LF.find(&window[..at + 2]).map_or(at + 3, |lf| lf + 2)),
        None => LF.find(window).map(|lf| lf + 2),
    }
}

impl HeadScanner {
    /// A scanner for a head starting at the first byte it will be fed.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scanner that writes the request line's text into `line` (emptied first) and the
    /// fields' places into `fields`, so a connection's requests reuse their allocations.
    pub fn reusing(mut line: String, fields: FieldSpans) -> Self {
        line.clear();
        Self {
            spare: line,
            spare_fields: fields,
            ..Self::default()
        }
    }

    /// Look at `buf` (the whole head so far, from its first byte; longer each call).
    pub fn feed(&mut self, buf: &mut BytesMut) -> HeadParse {
        if self.line.is_none()
            && self.scanned == 0
            && let Some((line, spans, rules, end)) = whole_request(buf, &mut self.spare, &mut self.spare_fields)
        {
            let headers = Headers::over_head(buf.split_to(end).freeze(), spans);
            return self.judge(line, headers, rules, end);
        }
        match self.scan(buf) {
            Scanned::Block { line_end, end } => self.finish(buf.split_to(end).freeze(), line_end),
            Scanned::Decided(parsed) => {
                if let HeadParse::Blank(n) | HeadParse::Complete(n, _) = &parsed {
                    buf.advance(*n);
                }
                parsed
            }
        }
    }

    /// `feed`, once the head is not all there at once: look at each new byte once.
    fn scan(&mut self, buf: &[u8]) -> Scanned {
        if self.line.is_none() {
            let window = &buf[self.scanned..buf.len().min(MAX_LINE + 1)];
            let Some(i) = memchr::memchr(b'\n', window) else {
                if buf.len() > MAX_LINE {
                    return Scanned::Decided(HeadParse::Reject(too_long_line()));
                }
                self.scanned = buf.len();
                return Scanned::Decided(HeadParse::Partial);
            };
            let len = self.scanned + i + 1;
            if len > MAX_LINE {
                return Scanned::Decided(HeadParse::Reject(too_long_line()));
            }
            let line = match parse_request_line(&buf[..len]) {
                Parsed::Blank => return Scanned::Decided(HeadParse::Blank(len)),
                Parsed::Reject(r) => {
                    return Scanned::Decided(HeadParse::Reject(Rejection {
                        code: r.code,
                        message: Some(r.message),
                        explain: None,
                        requestline: r.requestline,
                        version: r.version,
                        line: None,
                    }));
                }
                Parsed::Request(line) => line,
            };
            if line.version() == "HTTP/0.9" {
                return Scanned::Decided(HeadParse::Complete(len, simple_request(line)));
            }
            self.line = Some((len, line));
            self.scanned = len;
            self.line_start = len;
        }
        let line_end = self.line.as_ref().map_or(0, |(len, _)| *len);
        if !self.by_line {
            // Two bytes back: a blank line may have begun in what was looked at last time.
            let from = self.scanned.saturating_sub(2).max(line_end - 1);
            match blank_line_end(&buf[from..]).map(|end| from + end) {
                Some(end) if end - line_end <= MAX_LINE && end <= MAX_REQUEST_HEAD => {
                    return Scanned::Block { line_end, end };
                }
                None if buf.len() - line_end <= MAX_LINE => {
                    self.scanned = buf.len();
                    return Scanned::Decided(HeadParse::Partial);
                }
                // Big enough to break a limit: measure it line by line, from its start.
                _ => {
                    self.by_line = true;
                    self.scanned = line_end;
                    self.line_start = line_end;
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', &buf[self.scanned..]) {
            let end = self.scanned + i + 1;
            self.scanned = end;
            if end - self.line_start > MAX_LINE {
                return Scanned::Decided(self.reject(
                    431,
                    Some("Line too long"),
                    Some(format!("got more than {MAX_LINE} bytes when reading header line")),
                ));
            }
            if end > MAX_REQUEST_HEAD {
                return Scanned::Decided(self.reject(
                    431,
                    None,
                    Some(format!("got more than {MAX_REQUEST_HEAD} bytes of request head")),
                ));
            }
            if trim_eol(&buf[self.line_start..end]).is_empty() {
                return Scanned::Block { line_end, end };
            }
            self.line_start = end;
        }
        self.scanned = buf.len();
        if buf.len() - self.line_start > MAX_LINE {
            return Scanned::Decided(self.reject(
                431,
                Some("Line too long"),
                Some(format!("got more than {MAX_LINE} bytes when reading header line")),
            ));
        }
        Scanned::Decided(HeadParse::Partial)
    }

    fn reject(&self, code: u16, message: Option<&str>, explain: Option<String>) -> HeadParse {
        let line = self.line.as_ref().map(|(_, l)| l.clone());
        HeadParse::Reject(Rejection {
            code,
            message: message.map(str::to_string),
            explain,
            requestline: line.as_ref().map(|l| l.requestline.clone()).unwrap_or_default(),
            version: line.as_ref().map(|l| l.version().to_string()).unwrap_or_default(),
            line,
        })
    }

    /// The whole head is `head`, its header block (blank line included) from `line_end`:
    /// read the block, then the head's rules.
    fn finish(&mut self, head: Bytes, line_end: usize) -> HeadParse {
        let end = head.len();
        let headers = match tokenise(&head, line_end) {
            Some(spans) => Headers::over_head(head, spans),
            None => match read_lines(&head[line_end..]) {
                Ok(headers) => headers,
                Err((code, message, explain)) => return self.reject(code, Some(message), explain),
            },
        };
        let Some((_, line)) = self.line.take() else {
            return HeadParse::Partial;
        };
        let mut scan = FieldScan::default();
        for (name, value) in headers.iter_raw() {
            scan.field(name, value);
        }
        let rules = scan.finish(line.version_number);
        self.judge(line, headers, rules, end)
    }

    /// The head is read: `line`, `headers` and what `field_rules` made of them.
    fn judge(&mut self, line: RequestLine, headers: Headers, rules: FieldVerdict, end: usize) -> HeadParse {
        match rules {
            Ok(FieldRules {
                body,
                connection,
                expect_continue,
            }) => HeadParse::Complete(
                end,
                RequestHead {
                    line,
                    headers,
                    body,
                    connection,
                    expect_continue,
                },
            ),
            Err((code, message)) => {
                self.line = Some((0, line));
                self.reject(code, Some(&message), None)
            }
        }
    }
}

/// What a head's fields decide, or the refusal's status and message.
type FieldVerdict = Result<FieldRules, (u16, String)>;

/// What a head's fields decide.
struct FieldRules {
    body: RequestBody,
    connection: ConnectionField,
    expect_continue: bool,
}

/// The head's rules over its fields, fed one field at a time in order: one Host (none only
/// before HTTP/1.1), the framing, the first Connection and Expect (as `headers.get` reads
/// them). Each name's length and first letter are looked at before all of it.
#[derive(Default)]
struct FieldScan<'a> {
    hosts: usize,
    connection: Option<&'a [u8]>,
    expect: Option<&'a [u8]>,
    framing: RequestFraming,
}

impl<'a> FieldScan<'a> {
    fn field(&mut self, name: &[u8], value: &'a [u8]) {
        let is = |wanted: &[u8]| name.eq_ignore_ascii_case(wanted);
        match (name.len(), name.first().map(u8::to_ascii_lowercase)) {
            (4, Some(b'h')) if is(b"host") => self.hosts += 1,
            (10, Some(b'c')) if is(b"connection") => {
                self.connection.get_or_insert(value);
            }
            (6, Some(b'e')) if is(b"expect") => {
                self.expect.get_or_insert(value);
            }
            (14, Some(b'c')) if is(b"content-length") => self.framing.content_length(value),
            (17, Some(b't')) if is(b"transfer-encoding") => self.framing.transfer_encoding(value),
            _ => {}
        }
    }

    /// What the fields decide; `Err` is the refusal's status and message.
    fn finish(self, version: (u32, u32)) -> FieldVerdict {
        if self.hosts > 1 || (self.hosts == 0 && version >= (1, 1)) {
            return Err((400, "Bad request: missing or repeated Host header".into()));
        }
        let body = self.framing.finish(version).map_err(|e| match e.code {
            501 => (501, format!("Not implemented: {}", e.why)),
            code => (code, format!("Bad request framing: {}", e.why)),
        })?;
        Ok(FieldRules {
            body,
            connection: ConnectionField::of(self.connection),
            expect_continue: self.expect.is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue")),
        })
    }
}

/// The fastest path, for a whole ordinary head at once: httparse reads the request line and
/// the fields together. None for anything else (a head not all here, longer than a line may
/// be, a request line httparse refuses or reads otherwise than CPython, more fields than
/// CPython allows), which the line-aware path then reads. The fields are where they are in
/// `buf`, and what they decide; the head is its first `.3` bytes.
fn whole_request(
    buf: &[u8],
    room: &mut String,
    fields_room: &mut FieldSpans,
) -> Option<(RequestLine, FieldSpans, FieldVerdict, usize)> {
    // httparse skips blank lines before a request line; CPython gives up on them.
    if matches!(buf.first(), Some(b'\r' | b'\n')) {
        return None;
    }
    // Uninitialised slots: httparse writes only those it fills (99 empty ones cost a memset).
    let mut fields = [const { std::mem::MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS - 1];
    let mut request = httparse::Request::new(&mut []);
    let end = match request.parse_with_uninit_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(end)) if end <= MAX_LINE => end,
        _ => return None,
    };
    let (method, target, minor) = (request.method?, request.path?, request.version?);
    // httparse reads a target's other bytes as UTF-8, CPython as Latin-1: ASCII lines only.
    if !target.is_ascii() {
        return None;
    }
    // httparse has checked the line is exactly these, one space apart (a token, a target of
    // visible characters, "HTTP/1.x"): it is written again from them, with no second check.
    let version = if minor == 1 { "HTTP/1.1" } else { "HTTP/1.0" };
    let mut requestline = std::mem::take(room);
    requestline.reserve(method.len() + target.len() + 10);
    for part in [method, " ", target, " ", version] {
        requestline.push_str(part);
    }
    let (command, target) = (0..method.len(), method.len() + 1..method.len() + 1 + target.len());
    let version = target.end + 1..requestline.len();
    let line = RequestLine::new(requestline, command, target, version, (1, u32::from(minor)));

    let mut scan = FieldScan::default();
    let spans = std::mem::take(fields_room).fill(buf, request.headers, |name, value| scan.field(name, value));
    Some((line, spans, scan.finish((1, u32::from(minor))), end))
}

fn too_long_line() -> Rejection {
    Rejection {
        code: 414,
        message: None,
        explain: None,
        requestline: String::new(),
        version: String::new(),
        line: None,
    }
}

fn simple_request(line: RequestLine) -> RequestHead {
    RequestHead {
        line,
        headers: Headers::new(),
        body: RequestBody::None,
        connection: ConnectionField::Absent,
        expect_continue: false,
    }
}

/// The fast path: httparse reads the whole block, `head[line_end..]`, and every field obeys
/// the rules below (httparse refuses whitespace before a colon, obs-fold, CR, NUL and bad
/// names itself: the smuggling tests hold it to that).
/// None when it refuses anything, or there are more fields than CPython allows (httparse
/// then runs out of room: CPython counts the blank line among its `_MAXHEADERS` lines, so
/// `fields` holds one fewer).
fn tokenise(head: &[u8], line_end: usize) -> Option<FieldSpans> {
    let block = &head[line_end..];
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS - 1];
    match httparse::parse_headers(block, &mut fields) {
        Ok(httparse::Status::Complete((n, parsed))) if n == block.len() => {
            Some(FieldSpans::of(head, parsed, |_, _| {}))
        }
        _ => None,
    }
}

/// The slow path, line by line as CPython reads them: the first line breaking a rule decides
/// the answer; a block breaking none is read as the line reader always read it.
fn read_lines(block: &[u8]) -> Result<Headers, (u16, &'static str, Option<String>)> {
    let mut fields = FieldBlock::new();
    let mut rest = block;
    while !rest.is_empty() {
        let len = rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(len);
        rest = tail;
        // The blank line goes to `push_line` too: CPython counts it among `_MAXHEADERS`.
        if !trim_eol(line).is_empty()
            && let Some(why) = strict_field_problem(line, fields.headers.is_empty())
        {
            return Err((400, why, None));
        }
        match fields.push_line(line) {
            Ok(FieldLine::End) => break,
            Ok(FieldLine::More) => {}
            Err(_) => {
                let explain = format!("got more than {MAX_HEADERS} headers");
                return Err((431, "Too many headers", Some(explain)));
            }
        }
    }
    Ok(fields.headers)
}

/// Why a header line must be refused (RFC 9112 5.1, 5.2 as a server applies them), if it must.
pub fn strict_field_problem(line: &[u8], first: bool) -> Option<&'static str> {
    let content = trim_eol(line);
    if matches!(content.first(), Some(b' ' | b'\t')) {
        return Some(if first {
            "Bad request: whitespace before the first header"
        } else {
            "Bad request: obsolete line folding"
        });
    }
    if content.iter().any(|&b| b == b'\r' || b == b'\0' || b == b'\n') {
        return Some("Bad request: CR or NUL in a header");
    }
    let Some(colon) = content.iter().position(|&b| b == b':') else {
        return Some("Bad request: header line without a colon");
    };
    let name = &content[..colon];
    if !is_legal_name(name) {
        return Some("Bad request: invalid header name");
    }
    // A framing field is read before any trimming: a value the line reader would trim a form
    // feed or vertical tab off is refused here, as the fast path (httparse) refuses it.
    let control = |v: &[u8]| v.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f);
    if control(&content[colon + 1..]) {
        if name.eq_ignore_ascii_case(b"content-length") {
            return Some("Bad request framing: control character in Content-Length");
        }
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Some("Bad request framing: control character in Transfer-Encoding");
        }
    }
    None
}

#[cfg(test)]
mod tests;
