//! One wasi:http exchange as the byte stream the guest's `Handler` reads and writes: the
//! incoming request's head and body as HTTP/1.1 bytes (its body re-framed with its
//! Content-Length, or chunked), and the handler's answer parsed back into an outgoing
//! response (status line and fields, then the body, written as it comes). Shared by the
//! components that put httplib's guest behind `wasi:http/incoming-handler`: each wraps
//! `Exchange` in its own stream type. Errors are words: each caller gives them its kind.

#![cfg(target_arch = "wasm32")]

use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

/// The most bytes `blocking-write-and-flush` takes at once (wasi:io's contract).
const WRITE_MAX: usize = 4096;
/// Fields of the request that describe its connection or framing: the runtime handled
/// them, and this stream frames the body itself.
const REQUEST_DROPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "expect",
    "te",
];
/// Fields of the answer that describe the connection: the runtime's business.
const RESPONSE_DROPPED: &[&str] = &["connection", "keep-alive", "transfer-encoding"];

/// How the request body goes to the handler.
enum RequestBody {
    /// No body.
    None,
    /// As it is, this many bytes left (Content-Length).
    Length(u64),
    /// Chunked, its last chunk still to come.
    Chunked,
    /// Read to its end.
    Done,
}

/// Where the answer is.
enum Answer {
    /// Its head is being collected.
    Head(ResponseOutparam, Vec<u8>),
    /// Its body goes here.
    Body(OutgoingBody, OutputStream),
    /// Finished (or failed).
    Over,
}

/// The stream the handler sees for one wasi:http request.
pub struct Exchange {
    head: Vec<u8>,
    sent: usize,
    /// Body bytes read before the head went out (to learn whether there is a body).
    first: Vec<u8>,
    body: RequestBody,
    input: Option<(IncomingBody, InputStream)>,
    answer: Answer,
    head_request: bool,
}

fn method(m: &Method) -> String {
    match m {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other.clone(),
    }
}

/// The first bytes of a body, empty when it has none.
fn first_piece(stream: &InputStream) -> Vec<u8> {
    loop {
        match stream.blocking_read(WRITE_MAX as u64) {
            Ok(piece) if piece.is_empty() => continue,
            Ok(piece) => return piece,
            Err(_) => return Vec::new(),
        }
    }
}

impl Exchange {
    /// The request as HTTP/1.1 bytes, and where its answer goes.
    pub fn new(request: IncomingRequest, out: ResponseOutparam) -> Self {
        let command = method(&request.method());
        let target = request.path_with_query().unwrap_or_else(|| "/".into());
        let mut head = format!("{command} {target} HTTP/1.1\r\n").into_bytes();
        let mut host = false;
        let mut length = None;
        let mut chunked = false;
        for (name, value) in request.headers().entries() {
            let lower = name.to_ascii_lowercase();
            match lower.as_str() {
                "content-length" => length = std::str::from_utf8(&value).ok().and_then(|v| v.trim().parse().ok()),
                "transfer-encoding" => chunked = true,
                _ => {}
            }
            if REQUEST_DROPPED.contains(&lower.as_str()) {
                continue;
            }
            host |= lower == "host";
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(&value);
            head.extend_from_slice(b"\r\n");
        }
        if !host && let Some(authority) = request.authority() {
            head.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
        }
        let input = request.consume().ok().and_then(|body| {
            let stream = body.stream().ok()?;
            Some((body, stream))
        });
        // A runtime may keep Transfer-Encoding to itself (wasmtime drops it as hop-by-hop):
        // without a length, the body's first bytes (or its end) say whether there is one.
        let mut first = Vec::new();
        if length.is_none()
            && !chunked
            && let Some((_, stream)) = &input
        {
            first = first_piece(stream);
            chunked = !first.is_empty();
        }
        let body = match (length, chunked) {
            (Some(n), false) => {
                head.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
                RequestBody::Length(n)
            }
            (_, true) => {
                head.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                RequestBody::Chunked
            }
            _ => RequestBody::None,
        };
        head.extend_from_slice(b"\r\n");
        Exchange {
            head,
            sent: 0,
            first,
            body,
            input,
            answer: Answer::Head(out, Vec::new()),
            head_request: command == "HEAD",
        }
    }

    /// Up to `max` bytes of the request body, empty at its end.
    fn read_input(&mut self, max: usize) -> Vec<u8> {
        if !self.first.is_empty() {
            let rest = self.first.split_off(max.min(self.first.len()));
            return std::mem::replace(&mut self.first, rest);
        }
        let Some((_, stream)) = &self.input else {
            return Vec::new();
        };
        loop {
            match stream.blocking_read(max as u64) {
                Ok(piece) if piece.is_empty() => continue,
                Ok(piece) => return piece,
                Err(StreamError::Closed) | Err(StreamError::LastOperationFailed(_)) => return Vec::new(),
            }
        }
    }

    /// The handler's bytes after the head: the response's body.
    fn write_body(&mut self, data: &[u8]) -> Result<(), String> {
        let Answer::Body(_, stream) = &self.answer else {
            return Ok(());
        };
        // A HEAD answer keeps its Content-Length and carries no body (the runtime writes none).
        if self.head_request {
            return Ok(());
        }
        for piece in data.chunks(WRITE_MAX) {
            stream
                .blocking_write_and_flush(piece)
                .map_err(|e| format!("writing the response body: {e:?}"))?;
        }
        Ok(())
    }

    /// The head is whole in `bytes` up to `end`: send it as the outgoing response (an
    /// interim 1xx is dropped); what follows it is body.
    fn send_head(&mut self, out: ResponseOutparam, bytes: Vec<u8>, end: usize) -> Result<(), String> {
        let mut fields = [httparse::EMPTY_HEADER; 128];
        let mut parsed = httparse::Response::new(&mut fields);
        let bad = |why: String| format!("the handler's answer: {why}");
        parsed.parse(&bytes[..end]).map_err(|e| bad(e.to_string()))?;
        let status = parsed.code.ok_or_else(|| bad("no status".into()))?;
        if status < 200 {
            self.answer = Answer::Head(out, bytes[end..].to_vec());
            return self.after_head_bytes();
        }
        let headers = Fields::new();
        for field in parsed.headers.iter() {
            let lower = field.name.to_ascii_lowercase();
            let dropped = RESPONSE_DROPPED.contains(&lower.as_str());
            if !dropped {
                headers
                    .append(field.name, field.value)
                    .map_err(|e| bad(format!("{e:?}")))?;
            }
        }
        let response = OutgoingResponse::new(headers);
        response
            .set_status_code(status)
            .map_err(|()| bad(format!("status {status}")))?;
        let body = response.body().map_err(|()| bad("no body".into()))?;
        let stream = body.write().map_err(|()| bad("no body stream".into()))?;
        ResponseOutparam::set(out, Ok(response));
        self.answer = Answer::Body(body, stream);
        self.write_body(&bytes[end..])
    }

    /// Collected bytes after an interim head: maybe another whole head.
    fn after_head_bytes(&mut self) -> Result<(), String> {
        if let Answer::Head(_, pending) = &mut self.answer {
            let pending = std::mem::take(pending);
            return self.collect(&pending);
        }
        Ok(())
    }

    /// Head bytes from the handler, until the head is whole.
    fn collect(&mut self, data: &[u8]) -> Result<(), String> {
        let Answer::Head(out, mut pending) = std::mem::replace(&mut self.answer, Answer::Over) else {
            return Ok(());
        };
        pending.extend_from_slice(data);
        match pending.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(at) => self.send_head(out, pending, at + 4),
            None => {
                self.answer = Answer::Head(out, pending);
                Ok(())
            }
        }
    }

    /// The response is over: its body finished, or a 500 when no head went out.
    fn finish(&mut self) {
        match std::mem::replace(&mut self.answer, Answer::Over) {
            Answer::Head(out, _) => {
                let why = "the handler wrote no response".to_string();
                ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(why))));
            }
            Answer::Body(body, stream) => {
                drop(stream);
                let _ = OutgoingBody::finish(body, None);
            }
            Answer::Over => {}
        }
    }
}

impl Exchange {
    /// Up to `max` bytes of the request: its head, then its body (re-framed), then nothing.
    pub fn read(&mut self, max: usize) -> Vec<u8> {
        if self.sent < self.head.len() {
            let end = self.head.len().min(self.sent + max.max(1));
            let piece = self.head[self.sent..end].to_vec();
            self.sent = end;
            return piece;
        }
        match self.body {
            RequestBody::None | RequestBody::Done => Vec::new(),
            RequestBody::Length(left) => {
                let piece = self.read_input(max.min(usize::try_from(left).unwrap_or(usize::MAX)));
                let left = left - piece.len() as u64;
                self.body = if piece.is_empty() || left == 0 {
                    RequestBody::Done
                } else {
                    RequestBody::Length(left)
                };
                piece
            }
            RequestBody::Chunked => {
                let piece = self.read_input(max.saturating_sub(32).max(1));
                if piece.is_empty() {
                    self.body = RequestBody::Done;
                    return b"0\r\n\r\n".to_vec();
                }
                let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
                chunk.extend_from_slice(&piece);
                chunk.extend_from_slice(b"\r\n");
                chunk
            }
        }
    }

    /// Bytes of the answer: head bytes until the head is whole, body bytes after it. None when
    /// the response is over (its stream is closed).
    pub fn write(&mut self, data: &[u8]) -> Option<Result<(), String>> {
        match self.answer {
            Answer::Head(..) => Some(self.collect(data)),
            Answer::Body(..) => Some(self.write_body(data)),
            Answer::Over => None,
        }
    }

    /// The answer is over (the handler shut its side): end the response.
    pub fn shutdown(&mut self) {
        self.finish();
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.finish();
        if let Some((body, stream)) = self.input.take() {
            drop(stream);
            let _ = IncomingBody::finish(body);
        }
    }
}
