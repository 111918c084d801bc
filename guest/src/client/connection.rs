//! HTTPConnection: the Idle / Request-started / Request-sent state machine, request encoding,
//! keep-alive reuse and reconnect-on-demand over a host `Transport`.

use super::response::{Response, SharedStream};
use crate::error::HttpError;
use crate::io::BufStream;
use crate::proto::chunked::{LAST_CHUNK, encode_chunk};
use crate::proto::limits::{DEFAULT_BLOCKSIZE, HTTP_PORT, HTTPS_PORT};
use crate::proto::pyrepr::py_repr;
use crate::proto::request_head::{HttpVersion, header_line, request_line_for, validate_host};
use crate::proto::url::{get_hostport, host_from_absolute_url, host_header};
use crate::proto::{Headers, to_latin1};
use crate::transport::{ConnectOptions, TlsOptions, Transport};
use std::cell::RefCell;
use std::rc::Rc;

/// Methods for which a missing body still gets `Content-Length: 0` (CPython `_METHODS_EXPECTING_BODY`).
const METHODS_EXPECTING_BODY: [&str; 3] = ["PATCH", "POST", "PUT"];

/// The constructor arguments of HTTPConnection / HTTPSConnection.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    /// Blocking operations time out after this many milliseconds (none: never).
    pub timeout_ms: Option<u64>,
    /// The connect (and TLS handshake) alone may take this long instead (none: `timeout_ms`).
    pub connect_timeout_ms: Option<u64>,
    /// The (host, port) to bind before connecting (`source_address`).
    pub source_address: Option<(String, u16)>,
    /// Bytes sent or read at a time (`blocksize`, CPython's 8192).
    pub blocksize: usize,
    /// Present for `HTTPSConnection`: how to verify the server.
    pub tls: Option<TlsOptions>,
    /// Connect on demand when a request is sent (`auto_open`).
    pub auto_open: bool,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            timeout_ms: None,
            connect_timeout_ms: None,
            source_address: None,
            blocksize: DEFAULT_BLOCKSIZE,
            tls: None,
            auto_open: true,
        }
    }
}

/// A request body as `request()` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `body=None`.
    None,
    /// Bytes, sent with Content-Length.
    Bytes(Vec<u8>),
    /// A `str`, encoded as ISO-8859-1, sent with Content-Length.
    Text(String),
    /// An iterable of chunks, chunk-encoded unless the caller framed it.
    Chunks(Vec<Vec<u8>>),
    /// Parts follow through `send_body`, ended by `end_body`.
    Stream,
}

/// CPython's `__state`, carrying what each state needs (named as CPython names it in
/// exception messages).
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// No request under way.
    Idle,
    /// `putrequest` done: the head being built (`_buffer`) for this method and target.
    RequestStarted { method: String, url: String, head: Vec<u8> },
    /// The head went out; `streaming` is `Some(chunked)` while a streamed body is open.
    RequestSent {
        method: String,
        url: String,
        streaming: Option<bool>,
    },
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::RequestStarted { .. } => "Request-started",
            State::RequestSent { .. } => "Request-sent",
        }
    }
}

#[derive(Debug, Clone)]
struct Tunnel {
    host: String,
    port: u16,
    headers: Vec<(String, Vec<u8>)>,
}

/// HTTPConnection.
pub struct Connection {
    transport: Rc<dyn Transport>,
    /// The host this connection talks to (`host`).
    pub host: String,
    /// The port this connection talks to (`port`).
    pub port: u16,
    default_port: u16,
    options: ConnectionOptions,
    debuglevel: u32,
    /// The version requests say (`_http_vsn_str`).
    http_version: HttpVersion,
    state: State,
    stream: Option<SharedStream>,
    /// The response of the previous request, while its body is being read.
    response: Option<Rc<RefCell<Response>>>,
    tunnel: Option<Tunnel>,
    proxy_response_headers: Option<Headers>,
}

impl Connection {
    /// `HTTPConnection(host, port, ...)`; HTTPS when `options.tls` is set.
    pub fn new(
        transport: Rc<dyn Transport>,
        host: &str,
        port: Option<u16>,
        options: ConnectionOptions,
    ) -> Result<Self, HttpError> {
        let default_port = if options.tls.is_some() { HTTPS_PORT } else { HTTP_PORT };
        let (host, port) = get_hostport(host, port, default_port)?;
        validate_host(&host)?;
        Ok(Self {
            transport,
            host,
            port,
            default_port,
            options,
            debuglevel: 0,
            http_version: HttpVersion::default(),
            state: State::Idle,
            stream: None,
            response: None,
            tunnel: None,
            proxy_response_headers: None,
        })
    }

    /// `set_debuglevel(level)`: above 0, CPython's `send:`, `reply:` and `header:` lines.
    pub fn set_debuglevel(&mut self, level: u32) {
        self.debuglevel = level;
    }

    /// The version the requests say: `_http_vsn_str` ("HTTP/1.0" for curl's `-0`).
    pub fn set_http_version(&mut self, version: &str) -> Result<(), HttpError> {
        self.http_version = HttpVersion::parse(version)?;
        Ok(())
    }

    /// `set_tunnel(host, port, headers)`: must come before the connection opens.
    pub fn set_tunnel(
        &mut self,
        host: &str,
        port: Option<u16>,
        headers: Vec<(String, Vec<u8>)>,
    ) -> Result<(), HttpError> {
        if self.stream.is_some() {
            return Err(HttpError::InvalidArgument(
                "Can't set up tunnel for established connection".into(),
            ));
        }
        let (host, port) = get_hostport(host, port, self.default_port)?;
        self.tunnel = Some(Tunnel { host, port, headers });
        Ok(())
    }

    /// `get_proxy_response_headers()`: the CONNECT reply's headers, once tunnelled.
    pub fn proxy_response_headers(&self) -> Option<&Headers> {
        self.proxy_response_headers.as_ref()
    }

    /// `connect()`.
    pub fn connect(&mut self) -> Result<(), HttpError> {
        // The host raises `http.client.connect` itself, with the address it connects to.
        let tunnelled = self.tunnel.is_some();
        let options = ConnectOptions {
            timeout_ms: self.options.timeout_ms,
            connect_timeout_ms: self.options.connect_timeout_ms,
            source_address: self.options.source_address.clone(),
            // Through a tunnel, TLS starts only after CONNECT succeeds (with the TLS issue).
            tls: if tunnelled { None } else { self.options.tls.clone() },
            tunnel: self
                .tunnel
                .as_ref()
                .map(|t| (t.host.clone(), t.port, self.options.tls.is_some())),
        };
        let stream = self.transport.connect(&self.host, self.port, &options)?;
        let read_size = self.options.blocksize.max(DEFAULT_BLOCKSIZE);
        self.stream = Some(Rc::new(RefCell::new(BufStream::new(stream, read_size))));
        if tunnelled && let Err(e) = self.tunnel() {
            self.close();
            return Err(e);
        }
        Ok(())
    }

    /// Send CONNECT and read the proxy's reply (CPython `_tunnel`).
    fn tunnel(&mut self) -> Result<(), HttpError> {
        let Some(tunnel) = self.tunnel.clone() else {
            return Ok(());
        };
        let authority = host_header(&tunnel.host, tunnel.port, 0);
        let mut head = format!("CONNECT {authority} HTTP/1.1\r\n").into_bytes();
        if !tunnel.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            head.extend(header_line("Host", &[authority.as_bytes()])?);
        }
        for (name, value) in &tunnel.headers {
            head.extend(header_line(name, &[value])?);
        }
        head.extend_from_slice(b"\r\n");
        self.send(&head)?;
        let stream = self.stream.clone().ok_or(HttpError::NotConnected)?;
        let response = Response::begin(stream, "CONNECT", &authority, self.debuglevel)?;
        self.proxy_response_headers = Some(response.headers.clone());
        if response.status != 200 {
            return Err(HttpError::Io(format!(
                "Tunnel connection failed: {} {}",
                response.status, response.reason
            )));
        }
        if let Some(tls) = &self.options.tls {
            // SNI and verification are against the target's name, not the proxy's.
            let stream = self.stream.clone().ok_or(HttpError::NotConnected)?;
            stream.borrow_mut().start_tls(&tunnel.host, tls)?;
        }
        Ok(())
    }

    /// `close()`: the socket and any response reading from it.
    pub fn close(&mut self) {
        self.state = State::Idle;
        self.stream = None;
        if let Some(r) = self.response.take() {
            r.borrow_mut().close();
        }
    }

    /// `send(data)`: raw bytes, connecting first when auto-open allows.
    pub fn send(&mut self, data: &[u8]) -> Result<(), HttpError> {
        if self.stream.is_none() {
            if self.options.auto_open {
                self.connect()?;
            } else {
                return Err(HttpError::NotConnected);
            }
        }
        if self.debuglevel > 0 {
            println!("send: {}", bytes_repr(data));
        }
        let stream = self.stream.clone().ok_or(HttpError::NotConnected)?;
        let result = stream.borrow_mut().write_all(data);
        if let Err(e) = result {
            self.close();
            return Err(e.into());
        }
        Ok(())
    }

    /// `putrequest(method, url, skip_host, skip_accept_encoding)`.
    pub fn putrequest(
        &mut self,
        method: &str,
        url: &str,
        skip_host: bool,
        skip_accept_encoding: bool,
    ) -> Result<(), HttpError> {
        self.drop_finished_response();
        if self.state != State::Idle {
            return Err(HttpError::CannotSendRequest(self.state.name().into()));
        }
        let url = if url.is_empty() { "/" } else { url };
        let line = request_line_for(method, url, self.http_version)?;
        self.state = State::RequestStarted {
            method: method.to_string(),
            url: url.to_string(),
            head: line,
        };
        if !skip_host {
            let host = match host_from_absolute_url(url) {
                Some(netloc) => netloc,
                None => match &self.tunnel {
                    Some(t) => host_header(&t.host, t.port, self.default_port),
                    None => host_header(&self.host, self.port, self.default_port),
                },
            };
            self.putheader("Host", &[host.as_bytes()])?;
        }
        if !skip_accept_encoding {
            self.putheader("Accept-Encoding", &[b"identity"])?;
        }
        Ok(())
    }

    /// `putheader(header, *values)`.
    pub fn putheader(&mut self, name: &str, values: &[&[u8]]) -> Result<(), HttpError> {
        let State::RequestStarted { head, .. } = &mut self.state else {
            return Err(HttpError::CannotSendHeader(String::new()));
        };
        head.extend_from_slice(&header_line(name, values)?);
        Ok(())
    }

    /// `endheaders(message_body, encode_chunked)`.
    pub fn endheaders(&mut self, body: Body, encode_chunked: bool) -> Result<(), HttpError> {
        let State::RequestStarted { method, url, .. } = &self.state else {
            return Err(HttpError::CannotSendHeader(String::new()));
        };
        // The one event the host cannot see for itself: which request goes out.
        let event = [method.clone(), url.clone(), self.host.clone(), self.port.to_string()];
        self.transport.audit("http.client.send", &event)?;
        let State::RequestStarted { method, url, mut head } = std::mem::replace(&mut self.state, State::Idle) else {
            return Err(HttpError::CannotSendHeader(String::new()));
        };
        self.state = State::RequestSent {
            method,
            url,
            streaming: None,
        };
        head.extend_from_slice(b"\r\n");
        let chunked = encode_chunked;
        match body {
            Body::None => self.send(&head),
            Body::Bytes(b) if !chunked => {
                // One write for head and a small body, as CPython does for bytes bodies.
                head.extend_from_slice(&b);
                self.send(&head)
            }
            Body::Text(t) if !chunked => {
                head.extend(encode_text_body(&t)?);
                self.send(&head)
            }
            Body::Bytes(b) => self.send_parts(head, vec![b], chunked),
            Body::Text(t) => {
                let b = encode_text_body(&t)?;
                self.send_parts(head, vec![b], chunked)
            }
            Body::Chunks(parts) => self.send_parts(head, parts, chunked),
            Body::Stream => {
                self.send(&head)?;
                if let State::RequestSent { streaming, .. } = &mut self.state {
                    *streaming = Some(chunked);
                }
                Ok(())
            }
        }
    }

    fn send_parts(&mut self, head: Vec<u8>, parts: Vec<Vec<u8>>, chunked: bool) -> Result<(), HttpError> {
        self.send(&head)?;
        for part in parts {
            if chunked {
                if part.is_empty() {
                    if self.debuglevel > 0 {
                        println!("Zero length chunk ignored");
                    }
                    continue;
                }
                self.send(&encode_chunk(&part))?;
            } else {
                self.send(&part)?;
            }
        }
        if chunked {
            self.send(LAST_CHUNK)?;
        }
        Ok(())
    }

    /// One part of a streamed body.
    pub fn send_body(&mut self, data: &[u8]) -> Result<(), HttpError> {
        match self.streaming() {
            Some(true) if data.is_empty() => Ok(()),
            Some(true) => self.send(&encode_chunk(data)),
            Some(false) => self.send(data),
            None => Err(HttpError::ImproperConnectionState("no streamed body is open".into())),
        }
    }

    /// The end of a streamed body.
    pub fn end_body(&mut self) -> Result<(), HttpError> {
        let open = match &mut self.state {
            State::RequestSent { streaming, .. } => streaming.take(),
            _ => None,
        };
        match open {
            Some(true) => self.send(LAST_CHUNK),
            Some(false) => Ok(()),
            None => Err(HttpError::ImproperConnectionState("no streamed body is open".into())),
        }
    }

    /// `request(method, url, body, headers, encode_chunked)`.
    pub fn request(
        &mut self,
        method: &str,
        url: &str,
        body: Body,
        headers: &[(String, Vec<u8>)],
        encode_chunked: bool,
    ) -> Result<(), HttpError> {
        let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        self.putrequest(method, url, has("host"), has("accept-encoding"))?;
        let result = self.request_headers_and_body(
            method,
            body,
            headers,
            encode_chunked,
            has("content-length"),
            has("transfer-encoding"),
        );
        if result.is_err() && matches!(self.state, State::RequestStarted { .. }) {
            // Nothing was sent: a refused header leaves the connection usable.
            self.state = State::Idle;
        }
        result
    }

    fn request_headers_and_body(
        &mut self,
        method: &str,
        body: Body,
        headers: &[(String, Vec<u8>)],
        encode_chunked: bool,
        has_length: bool,
        has_te: bool,
    ) -> Result<(), HttpError> {
        let mut chunked = encode_chunked;
        if !has_length {
            if !has_te {
                chunked = false;
                match content_length(&body, method)? {
                    Some(n) => self.putheader("Content-Length", &[n.to_string().as_bytes()])?,
                    None if body != Body::None => {
                        chunked = true;
                        self.putheader("Transfer-Encoding", &[b"chunked"])?;
                    }
                    None => {}
                }
            }
        } else {
            chunked = false;
        }
        for (name, value) in headers {
            self.putheader(name, &[value])?;
        }
        self.endheaders(body, chunked)
    }

    /// Whether a streamed body is open, and chunk-encoded.
    fn streaming(&self) -> Option<bool> {
        match &self.state {
            State::RequestSent { streaming, .. } => *streaming,
            _ => None,
        }
    }

    /// `getresponse()`.
    pub fn getresponse(&mut self) -> Result<Rc<RefCell<Response>>, HttpError> {
        self.drop_finished_response();
        let (method, url) = match &self.state {
            State::RequestSent {
                method,
                url,
                streaming: None,
            } if self.response.is_none() => (method.clone(), url.clone()),
            other => return Err(HttpError::ResponseNotReady(other.name().into())),
        };
        let Some(stream) = self.stream.clone() else {
            return Err(HttpError::NotConnected);
        };
        let limits = self.transport.limits();
        let response = match Response::begin(stream, &method, &url, self.debuglevel).and_then(|r| r.with_limits(limits))
        {
            Ok(r) => r,
            Err(e) => {
                self.close();
                return Err(e);
            }
        };
        self.state = State::Idle;
        let will_close = response.will_close();
        let response = Rc::new(RefCell::new(response));
        if will_close {
            // The response keeps the stream until its body ends; the connection lets go.
            self.stream = None;
        } else {
            self.response = Some(response.clone());
        }
        Ok(response)
    }

    /// Forget a previous response whose body has ended; if it was closed early, the socket
    /// holds unread body bytes and cannot carry another request.
    fn drop_finished_response(&mut self) {
        if let Some(r) = &self.response {
            let r = r.borrow();
            if r.isclosed() {
                let clean = r.finished_cleanly();
                drop(r);
                self.response = None;
                if !clean {
                    self.stream = None;
                }
            }
        }
    }
}

/// CPython `_get_content_length`.
fn content_length(body: &Body, method: &str) -> Result<Option<usize>, HttpError> {
    Ok(match body {
        Body::None => METHODS_EXPECTING_BODY
            .contains(&method.to_ascii_uppercase().as_str())
            .then_some(0),
        Body::Bytes(b) => Some(b.len()),
        Body::Text(t) => Some(encode_text_body(t)?.len()),
        Body::Chunks(_) | Body::Stream => None,
    })
}

/// A `str` body: ISO-8859-1, or the error CPython's `_encode` raises.
fn encode_text_body(text: &str) -> Result<Vec<u8>, HttpError> {
    to_latin1(text).ok_or_else(|| {
        let (pos, c) = text
            .chars()
            .enumerate()
            .find(|(_, c)| u32::from(*c) > 0xff)
            .unwrap_or((0, '?'));
        HttpError::InvalidArgument(format!(
            "'latin-1' codec can't encode character {} in position {pos}: Body ({}) is not valid Latin-1. Use body.encode('utf-8') if you want to send it encoded in UTF-8.",
            py_repr(&c.to_string()),
            py_repr(&c.to_string())
        ))
    })
}

/// Python's `repr()` of a bytes object, for `send:` debug lines.
fn bytes_repr(data: &[u8]) -> String {
    let mut s = String::from("b'");
    for &b in data {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('\'');
    s
}
