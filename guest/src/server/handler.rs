//! BaseHTTPRequestHandler: the request loop, parse_request, and the response verbs.

use crate::clock::now_secs;
use crate::error::HttpError;
use crate::io::BufStream;
use crate::proto::Headers;
use crate::proto::body::{BodyDecoder, BodyRead};
use crate::proto::cgi::cgi_info;
use crate::proto::date::DateStrings;
use crate::proto::error_page::{self, DEFAULT_ERROR_CONTENT_TYPE, DEFAULT_ERROR_MESSAGE};
use crate::proto::framing::RequestBody;
use crate::proto::headers::FieldSpans;
use crate::proto::limits::MAX_EMPTY_LINES_BEFORE_REQUEST;
use crate::proto::pyrepr::py_repr;
use crate::proto::request_line::{Front, RequestLine, front};
use crate::proto::request_parse::{ConnectionField, HeadParse, HeadScanner};
use crate::proto::response_encode;
use crate::proto::status::{explanation, reason_phrase};
use crate::stderr::LineWriter;
use crate::transport::{ScriptRunner, ServerPhase, Stream, TransportError};
use std::time::Duration;

/// Most unread request body the server reads and discards to keep a connection alive;
/// past this it closes the connection instead (ours: nginx's `lingering` reads are similar).
pub const MAX_DRAIN: u64 = 1024 * 1024;

/// The handler's class attributes.
#[derive(Debug, Clone)]
pub struct HandlerConfig {
    /// `protocol_version`: "HTTP/1.0" or "HTTP/1.1".
    pub protocol_version: String,
    /// `server_version`.
    pub server_version: String,
    /// `sys_version`.
    pub sys_version: String,
    /// The guest path of the directory served.
    pub directory: String,
    /// `error_message_format`; CPython's page when none.
    pub error_message_format: Option<String>,
    /// `error_content_type`; CPython's when none.
    pub error_content_type: Option<String>,
    /// `extensions_map` additions: (".ext", "type/subtype").
    pub extensions_map: Vec<(String, String)>,
    /// `index_pages`; CPython's when empty.
    pub index_pages: Vec<String>,
    /// Log a line per request to stderr.
    pub log_requests: bool,
    /// CPython's `timeout`: a cap on every wait, and on each read and write.
    pub timeout_ms: Option<u64>,
    /// Between requests: how long to wait for the next one (none: no limit).
    pub idle_timeout_ms: Option<u64>,
    /// How long a whole request head may take from its first byte (none: no limit).
    pub head_timeout_ms: Option<u64>,
    /// How long one read of a request body may wait (none: no limit).
    pub body_timeout_ms: Option<u64>,
    /// `handle_expect_100` answers 100 Continue; false answers 417 Expectation Failed.
    pub expect_continue: bool,
    /// CGIHTTPRequestHandler's `cgi_directories`; empty runs no scripts.
    pub cgi_directories: Vec<String>,
    /// `server.server_name` and `server.server_port` (a script's SERVER_NAME and SERVER_PORT).
    pub server_name: String,
    /// `server.server_port`.
    pub server_port: u16,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        Self {
            protocol_version: "HTTP/1.0".into(),
            server_version: "SimpleHTTP/0.6".into(),
            sys_version: format!("httplib/{}", env!("CARGO_PKG_VERSION")),
            directory: "/".into(),
            error_message_format: None,
            error_content_type: None,
            extensions_map: Vec::new(),
            index_pages: Vec::new(),
            log_requests: true,
            timeout_ms: None,
            idle_timeout_ms: None,
            head_timeout_ms: None,
            body_timeout_ms: None,
            expect_continue: true,
            cgi_directories: Vec::new(),
            server_name: String::new(),
            server_port: 0,
        }
    }
}

/// The request being answered (the handler's instance variables).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `command`.
    pub command: String,
    /// `path`: the target, query included.
    pub path: String,
    /// `request_version`.
    pub request_version: String,
    /// `requestline`, without its CRLF.
    pub requestline: String,
    /// `headers`, in arrival order.
    pub headers: Headers,
    /// The previous head's room for its fields' places.
    fields_room: FieldSpans,
}

impl Request {
    /// Ready for the next request: empty, keeping the strings' room (a request costs no
    /// allocation for them once the first has been read).
    fn reset(&mut self) {
        self.command.clear();
        self.path.clear();
        self.request_version.clear();
        self.requestline.clear();
        // The fields go now (a parsed head's share the read buffer, which may then be
        // reused); their room stays for the next head's.
        self.fields_room = std::mem::take(&mut self.headers).recycle();
    }

    /// The words of `line` (its text moves here).
    fn set_line(&mut self, line: RequestLine) {
        self.command.push_str(line.command());
        self.path.push_str(line.path());
        self.request_version.push_str(line.version());
        self.requestline = line.requestline;
    }
}

/// What a connection's first `next_request` found carried over a park (`carry.rs`).
pub(super) enum Resumed {
    /// Nothing: a new connection, or one parked between requests.
    Fresh,
    /// A request whose body is being collected: answer it.
    Request,
    /// State that does not decode: the connection must end (its next bytes are body).
    Unusable,
}

/// A CGI script's input after a park: the body so far, and how many bytes of it arrived.
pub(super) struct ScriptInputSoFar {
    pub input: Vec<u8>,
    pub seen: u64,
}

/// Looks an extension (".py") up in the machine's MIME table.
pub type TypeLookup = Box<dyn Fn(&str) -> Option<String>>;

/// One connection's BaseHTTPRequestHandler.
pub struct Handler {
    pub(super) stream: BufStream,
    pub(super) client_host: String,
    /// The class attributes.
    pub config: HandlerConfig,
    /// The request being answered.
    pub request: Request,
    /// `close_connection`.
    pub close_connection: bool,
    pub(super) headers_buffer: Vec<u8>,
    /// The response being written named its `Connection` itself (`send_header`).
    connection_said: bool,
    /// The status of the head being written (a 1xx is interim: the response goes on).
    head_status: u16,
    /// The body of a response given as fields and pieces (`send_head`), being sent.
    pub(super) framed: Option<crate::proto::response_framing::BodyWriter>,
    pub(super) body: BodyDecoder,
    /// A CGI script's input so far, carried over a park (`carry`).
    pub(super) script_input: Option<ScriptInputSoFar>,
    /// Runs CGI scripts (the host's sandbox); none refuses them.
    pub(super) scripts: Option<Box<dyn ScriptRunner>>,
    /// A request was awaited on this connection before: later waits are keep-alive idle ones.
    pub(super) awaited: bool,
    /// The machine's MIME table (the host's mime.types), consulted before the built-in one.
    pub(super) system_types: Option<TypeLookup>,
    pub(super) log_writer: LineWriter,
    /// The last log line, its room kept for the next (`log.rs`).
    pub(super) log_buffer: std::cell::RefCell<String>,
    /// The Date and log line strings of the current second.
    pub(super) dates: std::cell::RefCell<DateStrings>,
}

impl Handler {
    /// A handler for the connection `stream` from `client_host`.
    pub fn new(stream: Box<dyn Stream>, client_host: &str, config: HandlerConfig) -> Self {
        let mut stream = BufStream::new(stream, crate::proto::limits::COPY_BUFSIZE);
        if config.timeout_ms.is_some() {
            let _ = stream.set_timeout(config.timeout_ms);
        }
        Self {
            stream,
            client_host: client_host.to_string(),
            config,
            request: Request::default(),
            close_connection: true,
            headers_buffer: Vec::new(),
            connection_said: false,
            head_status: 0,
            framed: None,
            body: BodyDecoder::Done,
            script_input: None,
            scripts: None,
            awaited: false,
            system_types: None,
            log_writer: crate::stderr::eprint_line,
            log_buffer: Default::default(),
            dates: Default::default(),
        }
    }

    /// Run CGI scripts with `runner` (for `cgi_directories`).
    pub fn with_scripts(mut self, runner: Box<dyn ScriptRunner>) -> Self {
        self.scripts = Some(runner);
        self
    }

    /// This handler, with the machine's MIME table: `lookup(".ext")` says what its
    /// mime.types files give the extension, as Python's mimetypes reads them.
    pub fn with_system_types(mut self, lookup: TypeLookup) -> Self {
        self.system_types = Some(lookup);
        self
    }

    /// This handler, `log_message`'s lines written by `writer` (std's stderr by default).
    pub fn with_log_writer(mut self, writer: LineWriter) -> Self {
        self.log_writer = writer;
        self
    }

    pub(super) fn http11(&self) -> bool {
        self.config.protocol_version.as_str() >= "HTTP/1.1"
    }

    /// One of the waits, capped by CPython's `timeout` when that is set.
    fn wait(&self, ms: Option<u64>) -> Option<Duration> {
        let ms = match (ms, self.config.timeout_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        ms.map(Duration::from_millis)
    }

    /// Wait for the first bytes of a request, then start its head's deadline: on a new
    /// connection for the head timeout (nginx's `client_header_timeout` for a first request),
    /// between keep-alive requests for the idle timeout. `false` when the client closed or
    /// stayed silent too long (closed without a word: there is no request to answer).
    fn await_request(&mut self) -> Result<bool, HttpError> {
        let first = !std::mem::replace(&mut self.awaited, true);
        if self.stream.buffered().is_empty() {
            let silence = match first {
                true => self.config.head_timeout_ms,
                false => self.config.idle_timeout_ms,
            };
            // One host call: the phase (idle, the first to close to make room), the wait and
            // the read; once bytes arrive the host counts the connection as responding (and
            // `fill` says reading-request if the head needs another read).
            match self.stream.fill_awaiting_request(self.wait(silence)) {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(TransportError::Timeout) => {
                    self.log_error(&format!("Request timed out: {}", py_repr("timed out")));
                    return Ok(false);
                }
                // The host closed an idle connection to make room, or the peer reset it.
                Err(_) => return Ok(false),
            }
        }
        // The head's deadline starts at the first read that waits for more of it: a head
        // that came whole costs no clock read.
        self.stream.set_head_deadline(self.wait(self.config.head_timeout_ms));
        Ok(true)
    }

    /// The head is read (or rejected): the body and the answer follow, under their own waits.
    pub(super) fn head_done(&mut self) {
        self.stream.set_head_deadline(None);
        self.stream.set_phase(ServerPhase::Responding);
    }

    /// Read and parse the next request into `self.request`. Malformed ones are answered and,
    /// if the connection survives, the next is read; `false` when the connection is done.
    pub fn next_request(&mut self) -> Result<bool, HttpError> {
        if !self.awaited {
            match self.resume() {
                Resumed::Fresh => {}
                Resumed::Request => return Ok(true),
                Resumed::Unusable => return Ok(false),
            }
        }
        loop {
            if !self.finish_previous()? {
                return Ok(false);
            }
            let outcome = self.handle_one_request();
            // Read or rejected, the head is over: the body and the answer have their own waits.
            self.head_done();
            match outcome? {
                Some(()) => return Ok(true),
                None if self.close_connection => return Ok(false),
                None => continue,
            }
        }
    }

    /// `handle_one_request` up to dispatch: `Some` for a request to answer. The head is read
    /// by proto's `HeadScanner` as its bytes arrive; here are the waits, the answers and the log.
    fn handle_one_request(&mut self) -> Result<Option<()>, HttpError> {
        self.request.reset();
        self.headers_buffer.clear();
        self.framed = None;
        self.close_connection = true;
        if !self.await_request()? {
            return Ok(None);
        }
        let room = std::mem::take(&mut self.request.fields_room);
        let mut scanner = HeadScanner::reusing(std::mem::take(&mut self.request.requestline), room);
        // Empty lines before the request line are skipped (RFC 9112 2.2), up to a limit; the
        // scanner sees the buffer from the request line's first byte.
        let mut empty_lines = 0;
        let mut line_begun = false;
        let parsed = loop {
            while !line_begun {
                match front(self.stream.buffered()) {
                    Front::EmptyLine(n) if empty_lines < MAX_EMPTY_LINES_BEFORE_REQUEST => {
                        self.stream.consume(n);
                        empty_lines += 1;
                    }
                    Front::Undecided => break,
                    _ => line_begun = true,
                }
            }
            if line_begun {
                match scanner.feed(self.stream.buffered_mut()) {
                    HeadParse::Partial => {}
                    decided => break decided,
                }
            }
            match self.stream.fill() {
                Ok(0) => {
                    // Cut by end-of-stream: never executed, as nginx drops it.
                    let got = self.stream.buffered().len();
                    if got > 0 {
                        self.log_error(&format!("Request head cut short after {got} bytes"));
                    }
                    return Ok(None);
                }
                Ok(_) => {}
                Err(TransportError::Timeout) => {
                    // nginx's `client_header_timeout`: 408, and the connection closes.
                    self.send_error(408, None, Some("The request head did not arrive in time"))?;
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
        };
        let head = match parsed {
            HeadParse::Partial => return Ok(None),
            HeadParse::Blank(_) => return Ok(None),
            HeadParse::Reject(r) => {
                if let Some(line) = r.line {
                    self.request.set_line(line);
                }
                self.request.requestline = r.requestline;
                self.request.request_version = r.version;
                self.send_error(r.code, r.message.as_deref(), r.explain.as_deref())?;
                self.close_connection = true;
                return Ok(None);
            }
            HeadParse::Complete(_, head) => head,
        };
        let version_number = head.line.version_number;
        self.request.set_line(head.line);
        self.close_connection = !(version_number >= (1, 1) && self.http11());
        if self.request.request_version == "HTTP/0.9" {
            self.close_connection = true;
            return Ok(Some(()));
        }
        self.request.headers = head.headers;
        self.body = match head.body {
            RequestBody::None => BodyDecoder::Done,
            RequestBody::Length(n) => BodyDecoder::new(Some(n), false, false),
            RequestBody::Chunked => BodyDecoder::chunked_request(),
        };
        match head.connection {
            ConnectionField::Close => self.close_connection = true,
            ConnectionField::KeepAlive if self.http11() => self.close_connection = false,
            _ => {}
        }
        if head.expect_continue && self.http11() && self.request.request_version.as_str() >= "HTTP/1.1" {
            if !self.config.expect_continue {
                // The body was never asked for: close rather than read it as a request.
                self.body = BodyDecoder::Done;
                self.send_error(417, None, None)?;
                return Ok(None);
            }
            self.send_response_only(100, None)?;
            self.end_headers()?;
        }
        Ok(Some(()))
    }

    /// `send_response(code, message)`; its log line and Date read the clock once (CPython
    /// twice), and `Server` and `Date` go into the head without a string made for either.
    pub fn send_response(&mut self, code: u16, message: Option<&str>) -> Result<(), HttpError> {
        let now = now_secs();
        self.log_request_at(Some(code), None, now);
        self.send_response_only(code, message)?;
        let config = &self.config;
        let server = [config.server_version.as_str(), " ", &config.sys_version];
        let date = self.dates.get_mut().http(now);
        if self.request.request_version == "HTTP/0.9" {
            // No head to write into; the checks `send_header` makes all the same.
            response_encode::check_header_parts("Server", &server)?;
            return Ok(response_encode::check_header("Date", date)?);
        }
        response_encode::header_line_parts(&mut self.headers_buffer, "Server", &server)?;
        Ok(response_encode::header_line(&mut self.headers_buffer, "Date", date)?)
    }

    /// `send_response_only(code, message)`.
    pub fn send_response_only(&mut self, code: u16, message: Option<&str>) -> Result<(), HttpError> {
        if self.request.request_version == "HTTP/0.9" {
            return Ok(());
        }
        self.connection_said = false;
        self.head_status = code;
        Ok(response_encode::status_line(
            &mut self.headers_buffer,
            &self.config.protocol_version,
            code,
            message,
        )?)
    }

    /// `send_header(keyword, value)`.
    pub fn send_header(&mut self, keyword: &str, value: &str) -> Result<(), HttpError> {
        if self.request.request_version == "HTTP/0.9" {
            response_encode::check_header(keyword, value)?;
        } else {
            response_encode::header_line(&mut self.headers_buffer, keyword, value)?;
        }
        if keyword.eq_ignore_ascii_case("connection") {
            self.connection_said = true;
            if value.eq_ignore_ascii_case("close") {
                self.close_connection = true;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                self.close_connection = false;
            }
        }
        Ok(())
    }

    /// `end_headers()`.
    pub fn end_headers(&mut self) -> Result<(), HttpError> {
        if self.request.request_version != "HTTP/0.9" {
            self.end_head();
            self.flush_headers()?;
        }
        Ok(())
    }

    /// The blank line that ends the head; before it, `Connection: close` when an HTTP/1.1
    /// response will be the connection's last and its writer did not say so (RFC 9112 9.6:
    /// a client then knows not to wait for more, as nginx tells it). An HTTP/1.0 response
    /// closes by default and keeps CPython's bytes; an interim (1xx) one ends nothing.
    fn end_head(&mut self) {
        let last = self.close_connection && self.head_status >= 200;
        if last && !self.connection_said && self.http11() {
            self.headers_buffer.extend_from_slice(b"Connection: close\r\n");
            self.connection_said = true;
        }
        self.headers_buffer.extend_from_slice(b"\r\n");
    }

    /// `flush_headers()`: one write for the whole header block.
    pub fn flush_headers(&mut self) -> Result<(), HttpError> {
        if !self.headers_buffer.is_empty() {
            // Sent from the buffer, which keeps its room for the next response's head.
            let sent = self.stream.write_all(&self.headers_buffer);
            self.headers_buffer.clear();
            sent?;
        }
        Ok(())
    }

    /// End the head in the header buffer without writing it: it goes out with the first
    /// bytes after it (`write_after_head`).
    pub(super) fn end_head_unsent(&mut self) {
        if self.request.request_version != "HTTP/0.9" {
            self.end_head();
        }
    }

    /// `data`, after whatever of the head is still unsent, in one write.
    pub(super) fn write_after_head(&mut self, data: &[u8]) -> Result<(), HttpError> {
        if self.headers_buffer.is_empty() {
            return match data.is_empty() {
                true => Ok(()),
                false => Ok(self.stream.write_all(data)?),
            };
        }
        self.headers_buffer.extend_from_slice(data);
        self.flush_headers()
    }

    /// Write the headers so far and `body` in one transport write (small responses).
    pub fn end_headers_with_body(&mut self, body: &[u8]) -> Result<(), HttpError> {
        if self.request.request_version != "HTTP/0.9" {
            self.end_head();
        }
        self.headers_buffer.extend_from_slice(body);
        self.flush_headers()
    }

    /// `wfile.write(data)`.
    pub fn write(&mut self, data: &[u8]) -> Result<(), HttpError> {
        self.flush_headers()?;
        Ok(self.stream.write_all(data)?)
    }

    /// `send_error(code, message, explain)`. Unlike CPython, the status line is always sent,
    /// even to an HTTP/0.9 or unparseable request.
    pub fn send_error(&mut self, code: u16, message: Option<&str>, explain: Option<&str>) -> Result<(), HttpError> {
        let message = message
            .map(str::to_string)
            .unwrap_or_else(|| reason_phrase(code).unwrap_or("???").to_string());
        let explain = explain
            .map(str::to_string)
            .unwrap_or_else(|| explanation(code).unwrap_or("???").to_string());
        self.log_error(&format!("code {code}, message {message}"));
        if self.request.request_version == "HTTP/0.9" || self.request.request_version.is_empty() {
            self.request.request_version = "HTTP/1.0".into();
        }
        let message_line = message.replace(['\r', '\n'], " ");
        self.send_response(code, Some(&message_line))?;
        self.send_header("Connection", "close")?;
        let mut body = Vec::new();
        if error_page::has_body(code) {
            let (ctype, page) = error_page_for(&self.config, code, &message, &explain);
            body = page;
            self.send_header("Content-Type", &ctype)?;
            self.send_header("Content-Length", &body.len().to_string())?;
        }
        if self.request.command == "HEAD" {
            body.clear();
        }
        self.end_headers_with_body(&body)
    }

    /// What is left of a Content-Length body (none for chunked or no body).
    pub fn body_length(&self) -> Option<u64> {
        self.body.left()
    }

    /// `rfile.read(max)` over the request body; empty at its end.
    pub fn read_body(&mut self, max: usize) -> Result<Vec<u8>, HttpError> {
        self.read_body_or_closed(max)?
            .ok_or_else(|| TransportError::Closed.into())
    }

    /// `read_body`, `None` when the stream was found closed (in `AwaitingBody`: perhaps
    /// parked by the host, see `carry`).
    pub(super) fn read_body_or_closed(&mut self, max: usize) -> Result<Option<Vec<u8>>, HttpError> {
        if !matches!(self.body, BodyDecoder::Done) {
            self.stream.set_read_timeout(self.wait(self.config.body_timeout_ms))?;
        }
        let read = match self.stream.read_body(&mut self.body, max) {
            Err(TransportError::Closed) => return Ok(None),
            read => read?,
        };
        match read {
            BodyRead::Data(data) => Ok(Some(data)),
            BodyRead::End => Ok(Some(Vec::new())),
            BodyRead::Cut { left } => {
                self.body = BodyDecoder::Done;
                self.close_connection = true;
                Err(HttpError::IncompleteRead {
                    partial: 0,
                    expected: left,
                })
            }
            BodyRead::Bad(e) => {
                self.body = BodyDecoder::Done;
                self.close_connection = true;
                Err(e.into())
            }
        }
    }

    /// Close the connection's sending side once the loop is done.
    pub fn shutdown(&mut self) {
        let _ = self.stream.shutdown_send();
    }

    /// 501 "Unsupported method ('X')", CPython's answer when a handler has no `do_X`.
    pub fn unsupported_method(&mut self) -> Result<(), HttpError> {
        let msg = format!("Unsupported method ({})", py_repr(&self.request.command));
        self.send_error(501, Some(&msg), None)
    }

    /// SimpleHTTPRequestHandler's whole loop: GET and HEAD from the directory, 501 for the rest;
    /// with `cgi_directories`, CGIHTTPRequestHandler's: scripts run for GET, HEAD and POST.
    pub fn serve_directory(&mut self) -> Result<(), HttpError> {
        while self.next_request()? {
            let script = cgi_info(&self.request.path, &self.config.cgi_directories);
            match (self.request.command.as_str(), script) {
                ("GET" | "HEAD" | "POST", Some((dir, rest))) => self.run_cgi(&dir, &rest)?,
                ("GET" | "HEAD", None) => self.serve_file()?,
                ("POST", None) if !self.config.cgi_directories.is_empty() => {
                    self.send_error(501, Some("Can only POST to CGI scripts"), None)?
                }
                _ => self.unsupported_method()?,
            }
        }
        self.shutdown();
        Ok(())
    }
}

/// `send_error`'s page: its content type and body, from the configured format (CPython's
/// `error_message_format` and `error_content_type`).
fn error_page_for(config: &HandlerConfig, code: u16, message: &str, explain: &str) -> (String, Vec<u8>) {
    let format = config.error_message_format.as_deref().unwrap_or(DEFAULT_ERROR_MESSAGE);
    let ctype = config
        .error_content_type
        .as_deref()
        .unwrap_or(DEFAULT_ERROR_CONTENT_TYPE);
    (
        ctype.to_string(),
        error_page::render(format, code, message, explain).into_bytes(),
    )
}

/// The whole "503 Service Unavailable" answer the host sends a connection it has no instance
/// for (see `closing_response`), `Retry-After` included.
pub fn busy_response(config: &HandlerConfig, retry_after_secs: u32) -> Vec<u8> {
    closing_response(config, 503, Some(retry_after_secs))
}

/// A whole error answer that ends its connection, for the host to send on its own (503 with no
/// instance to be had, 500 after a handler component trapped before it sent anything):
/// `send_error(code)`'s page with `Connection: close`, `Retry-After` when given, and no `Date`
/// (optional on 5xx, RFC 9110 6.6.1), so the bytes stay true however long the host keeps them.
pub fn closing_response(config: &HandlerConfig, code: u16, retry_after_secs: Option<u32>) -> Vec<u8> {
    let message = reason_phrase(code).unwrap_or("");
    let explain = explanation(code).unwrap_or("");
    let (ctype, body) = error_page_for(config, code, message, explain);
    let retry_after = retry_after_secs.map_or(String::new(), |secs| format!("Retry-After: {secs}\r\n"));
    let head = format!(
        "{} {code} {message}\r\nServer: {} {}\r\n{retry_after}Connection: close\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        config.protocol_version,
        config.server_version,
        config.sys_version,
        body.len()
    );
    let mut out = Vec::with_capacity(head.len() + body.len());
    if push_latin1(&mut out, &head).is_none() {
        out = head.into_bytes();
    }
    out.extend_from_slice(&body);
    out
}

/// Append `text` as ISO-8859-1; `None` (and nothing appended) when it holds a character outside it.
fn push_latin1(buffer: &mut Vec<u8>, text: &str) -> Option<()> {
    if text.is_ascii() {
        buffer.extend_from_slice(text.as_bytes());
    } else {
        buffer.extend(crate::proto::to_latin1(text)?);
    }
    Some(())
}
