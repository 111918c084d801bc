//! The `tcp-stream` of this adapter: one connection of the guest's http.client, carried as a
//! run of wasi:http exchanges. It collects a request head, sends it through
//! `outgoing-handler.handle`, streams the body after it (a chunked one decoded), waits for the
//! response, and reads it back to the guest as an HTTP/1.1 head and a body framed by its
//! Content-Length or chunked here; then it is ready for the connection's next request, as a
//! kept-alive socket would be. The response is waited for by the write that ends the request,
//! so that a connection or TLS failure is the request's (http.client's `request()`), as on a
//! socket; a read before the body ended waits for an early answer instead.

use crate::bindings::exports::httplib::http::transport::{
    ConnectOptions, ErrorCode, GuestTcpStream, ShutdownType, TlsOptions,
};
use crate::bindings::exports::httplib::http::types::SocketAddress;
use crate::message::{self, RequestHead, ResponseFraming, Target};
use crate::shared::{runtime_tls_refusal, wait};
use httplib_guest::proto::chunked::{ChunkedDecoder, LAST_CHUNK, encode_chunk};
use httplib_guest::proto::framing::RequestBody;
use std::cell::RefCell;
use wasip2::filesystem::types::Descriptor;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    self as http, Fields, FutureIncomingResponse, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions,
    Scheme,
};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

/// Most bytes asked of the response body at once (wasmtime hands out at most 64 KiB anyway).
const MAX_READ: u64 = 64 * 1024;
/// The most bytes `blocking-write-and-flush` takes at once (wasi:io's contract).
const WRITE_MAX: usize = 4096;

/// Where this connection's current exchange is.
enum State {
    /// Collecting the next request's head (empty between requests).
    Head(Vec<u8>),
    /// The request is out; its body is being written.
    Body {
        response: FutureIncomingResponse,
        head_request: bool,
        out: OutputStream,
        body: OutgoingBody,
        left: BodyLeft,
    },
    /// The response's head and body going back to the guest.
    Response {
        pending: Vec<u8>,
        sent: usize,
        body: Option<(InputStream, IncomingBody)>,
        framing: ResponseFraming,
    },
    /// The request could not be sent: the next read reports why.
    Failed(ErrorCode),
}

/// What is left of a request body.
enum BodyLeft {
    Length(u64),
    /// Chunked, decoded by the server's strict reader; bytes of a size line or trailer not
    /// yet whole wait in `pending`.
    Chunked {
        decoder: ChunkedDecoder,
        pending: Vec<u8>,
    },
}

/// Why bytes after a request's end cannot be sent.
const NOT_ONE_REQUEST: &str = "bytes after a request's end, before its response was read: wasi:http sends \
                               whole requests, one at a time (no raw send after the body, no pipelining)";

/// One connection of the guest's, as wasi:http exchanges.
pub struct Stream {
    target: Target,
    connect_timeout_ms: RefCell<Option<u64>>,
    timeout_ms: RefCell<Option<u64>>,
    state: RefCell<State>,
}

impl Stream {
    /// A connection to `host`:`port` that opens nothing yet (the runtime connects per request).
    pub fn new(host: String, port: u16, options: &ConnectOptions) -> Result<Stream, ErrorCode> {
        if let Some(why) = options.tls.as_ref().and_then(|t| runtime_tls_refusal(t, "wasi:http")) {
            return Err(ErrorCode::Tls(why));
        }
        let server_name = options.tls.as_ref().and_then(|t| t.server_name.as_deref());
        if server_name.is_some_and(|name| !name.eq_ignore_ascii_case(&host)) {
            return Err(ErrorCode::Tls(
                "a server_hostname other than the host cannot be sent over wasi:http: the runtime \
                 takes SNI from the request's authority"
                    .into(),
            ));
        }
        Ok(Stream {
            target: Target {
                host,
                port,
                tls: options.tls.is_some(),
            },
            connect_timeout_ms: RefCell::new(
                options
                    .connect_timeout_ms
                    .or(options.timeout_ms)
                    .or(Some(crate::shared::DEFAULT_IO_TIMEOUT_MS)),
            ),
            timeout_ms: RefCell::new(options.timeout_ms),
            state: RefCell::new(State::Head(Vec::new())),
        })
    }

    /// The request options: the connection's timeouts for the runtime to apply.
    fn request_options(&self) -> RequestOptions {
        let options = RequestOptions::new();
        let ns = |ms: u64| ms.saturating_mul(1_000_000);
        // A runtime that cannot honour a timeout says so by refusing it; ours still apply.
        if let Some(ms) = *self.connect_timeout_ms.borrow() {
            let _ = options.set_connect_timeout(Some(ns(ms)));
        }
        if let Some(ms) = *self.timeout_ms.borrow() {
            let _ = options.set_first_byte_timeout(Some(ns(ms)));
            let _ = options.set_between_bytes_timeout(Some(ns(ms)));
        }
        options
    }

    /// Send `head` through the outgoing handler: the state its body (if any) goes on in.
    fn send(&self, head: RequestHead) -> Result<State, ErrorCode> {
        let entries: Vec<(String, Vec<u8>)> = head.fields;
        let fields =
            Fields::from_list(&entries).map_err(|e| ErrorCode::Other(format!("a field wasi:http refuses ({e:?})")))?;
        let request = OutgoingRequest::new(fields);
        let refused = |what: &str| ErrorCode::Other(format!("wasi:http refused the request's {what}"));
        request
            .set_method(&method(&head.method))
            .map_err(|()| refused("method"))?;
        request
            .set_scheme(Some(&if head.https { Scheme::Https } else { Scheme::Http }))
            .map_err(|()| refused("scheme"))?;
        request
            .set_authority(Some(&head.authority))
            .map_err(|()| refused("authority"))?;
        request
            .set_path_with_query(Some(&head.path_with_query))
            .map_err(|()| refused("target"))?;
        let body = request.body().map_err(|()| refused("body"))?;
        let head_request = head.method.eq_ignore_ascii_case("HEAD");
        let response = outgoing_handler::handle(request, Some(self.request_options())).map_err(http_error)?;
        let left = match head.body {
            RequestBody::None => {
                OutgoingBody::finish(body, None).map_err(http_error)?;
                // Waited for here, so that a failure to connect is the request's, as in CPython.
                return self.response(response, head_request);
            }
            RequestBody::Length(n) => BodyLeft::Length(n),
            RequestBody::Chunked => BodyLeft::Chunked {
                decoder: ChunkedDecoder::for_requests(),
                pending: Vec::new(),
            },
        };
        let out = body.write().map_err(|()| refused("body stream"))?;
        Ok(State::Body {
            response,
            head_request,
            out,
            body,
            left,
        })
    }

    /// The guest's bytes, into the current exchange.
    fn feed(&self, mut data: &[u8]) -> Result<(), ErrorCode> {
        let mut state = self.state.borrow_mut();
        while !data.is_empty() {
            let next = match &mut *state {
                State::Head(buf) => {
                    buf.extend_from_slice(data);
                    data = &[];
                    match message::parse_request(buf, &self.target).map_err(ErrorCode::Other)? {
                        None => continue,
                        Some((head, used)) => {
                            let rest = buf.split_off(used);
                            *state = self.send(head)?;
                            // The body bytes that came with the head, into the new state.
                            drop(state);
                            return if rest.is_empty() { Ok(()) } else { self.feed(&rest) };
                        }
                    }
                }
                State::Body { out, left, .. } => {
                    let (payload, used, done) = match left {
                        BodyLeft::Length(n) => {
                            let take = (*n).min(data.len() as u64) as usize;
                            *n -= take as u64;
                            (data[..take].to_vec(), take, *n == 0)
                        }
                        BodyLeft::Chunked { decoder, pending } => {
                            pending.extend_from_slice(data);
                            let payload = message::decode_chunks(decoder, pending).map_err(ErrorCode::Other)?;
                            if decoder.is_done() && !pending.is_empty() {
                                return Err(ErrorCode::Other(NOT_ONE_REQUEST.into()));
                            }
                            (payload, data.len(), decoder.is_done())
                        }
                    };
                    write_all(out, &payload)?;
                    data = &data[used..];
                    if !done {
                        continue;
                    }
                    let (response, head_request, body) = take_body(&mut state);
                    OutgoingBody::finish(body, None).map_err(http_error)?;
                    self.response(response, head_request)?
                }
                State::Response { .. } => return Err(ErrorCode::Other(NOT_ONE_REQUEST.into())),
                State::Failed(e) => return Err(e.clone()),
            };
            *state = next;
        }
        Ok(())
    }

    /// The response's next bytes for the guest (empty: this exchange's response has ended and
    /// nothing else was asked).
    fn next_bytes(&self, len: u64) -> Result<Vec<u8>, ErrorCode> {
        let mut state = self.state.borrow_mut();
        loop {
            match &mut *state {
                State::Head(buf) if buf.is_empty() => return Ok(Vec::new()),
                State::Head(_) => {
                    return Err(ErrorCode::Other(
                        "the request head was not finished before reading: nothing was sent".into(),
                    ));
                }
                State::Failed(e) => {
                    let e = e.clone();
                    *state = State::Head(Vec::new());
                    return Err(e);
                }
                State::Body { .. } => {
                    // A read before the body ended: the server may answer early (a 413, a
                    // redirect); what was not sent of the body is abandoned.
                    let (response, head_request, body) = take_body(&mut state);
                    drop(body);
                    *state = self.response(response, head_request)?;
                }
                State::Response {
                    pending,
                    sent,
                    body,
                    framing,
                } => {
                    if *sent < pending.len() {
                        let n = (pending.len() - *sent).min(len.max(1) as usize);
                        let out = pending[*sent..*sent + n].to_vec();
                        *sent += n;
                        if *sent == pending.len() && body.is_none() {
                            // The response's last bytes (a bodiless head, the last chunk):
                            // the connection takes its next request now.
                            *state = State::Head(Vec::new());
                        }
                        return Ok(out);
                    }
                    let Some((input, _)) = body else {
                        *state = State::Head(Vec::new());
                        continue;
                    };
                    let want = match framing {
                        ResponseFraming::Length(left) if *left == 0 => 0,
                        ResponseFraming::Length(left) => (*left).min(len).min(MAX_READ),
                        _ => len.min(MAX_READ),
                    };
                    let data = if want == 0 {
                        Vec::new()
                    } else {
                        read_some(input, want, *self.timeout_ms.borrow())?
                    };
                    match framing {
                        ResponseFraming::Length(left) => {
                            *left -= data.len() as u64;
                            if data.is_empty() || *left == 0 {
                                // Its end (or the server's short body: the guest counts).
                                *state = State::Head(Vec::new());
                            }
                            return Ok(data);
                        }
                        ResponseFraming::Chunked => {
                            *pending = if data.is_empty() {
                                LAST_CHUNK.to_vec()
                            } else {
                                encode_chunk(&data)
                            };
                            *sent = 0;
                            if data.is_empty() {
                                *body = None;
                            }
                        }
                        ResponseFraming::None => *body = None,
                    }
                }
            }
        }
    }

    /// Wait for the response to `response`, and make its head the guest's next bytes.
    fn response(&self, response: FutureIncomingResponse, head_request: bool) -> Result<State, ErrorCode> {
        if !wait(&response.subscribe(), *self.timeout_ms.borrow()) {
            return Err(ErrorCode::Timeout);
        }
        let incoming = match response.get() {
            Some(Ok(Ok(r))) => r,
            Some(Ok(Err(e))) => return Err(http_error(e)),
            Some(Err(())) | None => return Err(ErrorCode::Other("the runtime lost the response".into())),
        };
        let status = incoming.status();
        let fields = incoming.headers().entries();
        let framing = message::response_framing(head_request, status, &fields);
        let pending = message::response_head(status, &fields, framing);
        let body = match framing {
            ResponseFraming::None | ResponseFraming::Length(0) => None,
            _ => {
                let body = incoming
                    .consume()
                    .map_err(|()| ErrorCode::Other("the response body was taken".into()))?;
                let input = body
                    .stream()
                    .map_err(|()| ErrorCode::Other("the response body stream was taken".into()))?;
                Some((input, body))
            }
        };
        Ok(State::Response {
            pending,
            sent: 0,
            body,
            framing,
        })
    }
}

/// The request's response and body, out of a `Body` state (left as an empty `Head`); the
/// body's stream dropped, as wasi:http wants before the body is finished or dropped.
fn take_body(state: &mut State) -> (FutureIncomingResponse, bool, OutgoingBody) {
    match std::mem::replace(state, State::Head(Vec::new())) {
        State::Body {
            response,
            head_request,
            out,
            body,
            ..
        } => {
            drop(out);
            (response, head_request, body)
        }
        _ => unreachable!("called on a Body state"),
    }
}

/// wasi:http's name for `method`.
fn method(m: &str) -> Method {
    match m {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

/// Up to `want` bytes of `input`; empty at its end.
fn read_some(input: &InputStream, want: u64, timeout_ms: Option<u64>) -> Result<Vec<u8>, ErrorCode> {
    loop {
        match input.read(want) {
            Ok(bytes) if !bytes.is_empty() => return Ok(bytes),
            Ok(_) => {
                if !wait(&input.subscribe(), timeout_ms) {
                    return Err(ErrorCode::Timeout);
                }
            }
            Err(StreamError::Closed) => return Ok(Vec::new()),
            Err(StreamError::LastOperationFailed(e)) => {
                let code = http::http_error_code(&e);
                return Err(code.map(http_error).unwrap_or_else(|| {
                    ErrorCode::ConnectionReset(format!("the response body failed: {}", e.to_debug_string()))
                }));
            }
        }
    }
}

/// Write all of `data` to a request body.
fn write_all(out: &OutputStream, data: &[u8]) -> Result<(), ErrorCode> {
    for piece in data.chunks(WRITE_MAX) {
        out.blocking_write_and_flush(piece).map_err(|e| match e {
            StreamError::LastOperationFailed(e) => http::http_error_code(&e)
                .map(http_error)
                .unwrap_or_else(|| ErrorCode::ConnectionReset(e.to_debug_string())),
            StreamError::Closed => ErrorCode::ConnectionReset("the request body was closed".into()),
        })?;
    }
    Ok(())
}

/// wasi:http's error as the transport's, worded as Python would raise it where it can be.
fn http_error(e: http::ErrorCode) -> ErrorCode {
    use http::ErrorCode as E;
    match e {
        E::DnsError(p) => ErrorCode::NameUnresolvable(format!(
            "[Errno -2] Name or service not known (the runtime's resolver: {})",
            p.rcode.as_deref().unwrap_or("no answer")
        )),
        E::DnsTimeout | E::DestinationNotFound => {
            ErrorCode::NameUnresolvable(format!("[Errno -2] Name or service not known (the runtime's {e:?})"))
        }
        E::ConnectionRefused => ErrorCode::ConnectionRefused("[Errno 111] Connection refused".into()),
        E::ConnectionTerminated => ErrorCode::ConnectionReset("[Errno 104] Connection reset by peer".into()),
        E::ConnectionTimeout | E::ConnectionReadTimeout | E::ConnectionWriteTimeout | E::HttpResponseTimeout => {
            ErrorCode::Timeout
        }
        E::TlsCertificateError => ErrorCode::Certificate(
            "certificate verify failed (the runtime verifies, against its own roots: stock wasmtime's \
             are the webpki roots, node's its own and NODE_EXTRA_CA_CERTS)"
                .into(),
        ),
        E::TlsProtocolError => ErrorCode::Tls(
            "the runtime's TLS handshake failed (wasi:http's TLS-protocol-error, no finer cause given: \
             stock wasmtime reports so a certificate outside its webpki roots)"
                .into(),
        ),
        E::TlsAlertReceived(p) => ErrorCode::Tls(format!(
            "the server sent TLS alert {} ({})",
            p.alert_id.map_or("?".into(), |id| id.to_string()),
            p.alert_message.as_deref().unwrap_or("no message")
        )),
        E::InternalError(Some(why)) if why.contains("certificate") || why.contains("UnknownIssuer") => {
            ErrorCode::Certificate(format!(
                "certificate verify failed (the runtime verifies, against its own roots): {why}"
            ))
        }
        E::InternalError(Some(why)) if why.to_ascii_lowercase().contains("tls") => ErrorCode::Tls(why),
        E::HttpRequestDenied | E::DestinationIpProhibited => {
            ErrorCode::Denied(format!("the runtime refused the request ({e:?})"))
        }
        other => ErrorCode::Other(format!("the runtime could not send the request: {other:?}")),
    }
}

impl GuestTcpStream for Stream {
    fn read(&self, len: u64) -> Result<Vec<u8>, ErrorCode> {
        self.next_bytes(len)
    }

    fn write(&self, data: Vec<u8>) -> Result<(), ErrorCode> {
        let fed = self.feed(&data);
        if let Err(e) = &fed {
            // The exchange is over: the next read says why, and the one after starts afresh.
            *self.state.borrow_mut() = State::Failed(e.clone());
        }
        fed
    }

    fn flush(&self) -> Result<(), ErrorCode> {
        Ok(())
    }

    fn send_file(&self, file: &Descriptor, offset: u64, len: u64) -> Result<u64, ErrorCode> {
        crate::shared::send_file_by_writes(file, offset, len, |bytes| self.write(bytes))
    }

    /// Nothing to close: the runtime owns the connections, and a request ends by its framing.
    fn shutdown(&self, _how: ShutdownType) -> Result<(), ErrorCode> {
        Ok(())
    }

    fn start_tls(&self, _host: String, _options: TlsOptions) -> Result<(), ErrorCode> {
        Err(ErrorCode::Tls(message::NO_TUNNEL.into()))
    }

    fn alpn_protocol(&self) -> Option<String> {
        None
    }

    fn is_tls(&self) -> bool {
        self.target.tls
    }

    fn set_timeout(&self, timeout_ms: Option<u64>) -> Result<(), ErrorCode> {
        *self.timeout_ms.borrow_mut() = timeout_ms;
        *self.connect_timeout_ms.borrow_mut() = timeout_ms;
        Ok(())
    }

    fn set_read_timeout(&self, timeout_ms: Option<u64>) -> Result<(), ErrorCode> {
        *self.timeout_ms.borrow_mut() = timeout_ms;
        Ok(())
    }

    crate::shared::never_parked!();

    fn peer_address(&self) -> Result<SocketAddress, ErrorCode> {
        Err(ErrorCode::Other(NO_ADDRESS.into()))
    }

    fn local_address(&self) -> Result<SocketAddress, ErrorCode> {
        Err(ErrorCode::Other(NO_ADDRESS.into()))
    }
}

/// Why a connection's addresses are unknown here.
const NO_ADDRESS: &str = "wasi:http does not tell a connection's addresses: the runtime holds the connection";
