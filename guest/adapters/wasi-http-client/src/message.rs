//! The two translations this adapter makes, as plain Rust (no WIT, no IO, unit-tested
//! natively): the request head the guest's http.client wrote, parsed into what a wasi:http
//! `outgoing-request` needs, with its body's framing (the server's rules, `proto::framing`);
//! and the runtime's `incoming-response` written back as the HTTP/1.1 head the guest's
//! HTTPResponse parses. Chunks, reason phrases and framing are the guest's own `proto`.

use httplib_guest::proto::chunked::{ChunkedDecoder, Decoded};
use httplib_guest::proto::framing::{RequestBody, RequestFraming, parse_content_length};
use httplib_guest::proto::status::reason_phrase;

/// Most bytes of a request head: CPython's http.client sends no line over `_MAXLINE` (65536);
/// a head that has not ended by then is not one http.client wrote.
pub const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// Most fields one request may carry: CPython's `_MAXHEADERS` (100).
pub const MAX_FIELDS: usize = 100;

/// Why a stream cannot carry what the guest sent over wasi:http: the runtime makes the
/// connection, so there is none to tunnel through.
pub const NO_TUNNEL: &str = "a CONNECT tunnel (set_tunnel) cannot map onto wasi:http: the runtime makes \
                             the connection and its proxies are the runtime's own (compose with \
                             --adapter wasi-sockets, or run under httplib, to tunnel)";

/// Fields of a request that describe its connection or framing. wasi:http forbids setting
/// them (wasmtime's `DEFAULT_FORBIDDEN_HEADERS`, plus `te`): the runtime frames the body and
/// owns the connection; Host is the request's authority.
const REQUEST_DROPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "transfer-encoding",
    "te",
    "upgrade",
    "host",
    "http2-settings",
];
/// Fields of a response that describe the runtime's connection to the server, or a framing
/// this adapter replaces with its own.
const RESPONSE_DROPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "trailer",
];

/// Where the guest asked to connect (its `connect` call).
#[derive(Debug, Clone)]
pub struct Target {
    /// The name or literal address, without brackets.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Whether the connection was to be TLS (https).
    pub tls: bool,
}

impl Target {
    /// `host[:port]` as an authority (an IPv6 literal in brackets; the scheme's default port
    /// left out).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// A request head, as wasi:http wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, as written.
    pub method: String,
    /// https when the connection was to be TLS, or the absolute-form target said so.
    pub https: bool,
    /// Where the runtime connects, and what it sends as Host.
    pub authority: String,
    /// The origin-form target.
    pub path_with_query: String,
    /// The end-to-end fields, in order.
    pub fields: Vec<(String, Vec<u8>)>,
    /// How the body ends.
    pub body: RequestBody,
}

/// `buf`'s request head, with how many bytes of `buf` it took; `None` while it is incomplete.
/// An error, in words, for bytes that are no request http.client would write, or that cannot
/// map onto wasi:http.
pub fn parse_request(buf: &[u8], target: &Target) -> Result<Option<(RequestHead, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_REQUEST_HEAD => {
            return Err(format!(
                "the request head is over {MAX_REQUEST_HEAD} bytes (CPython's _MAXLINE) without ending"
            ));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(format!("got more than {MAX_FIELDS} headers"));
        }
        Err(e) => {
            return Err(format!(
                "only whole HTTP/1.1 requests can be sent over wasi:http, and these bytes are none ({e})"
            ));
        }
    };
    let method = req.method.unwrap_or_default().to_owned();
    if method.eq_ignore_ascii_case("CONNECT") {
        return Err(NO_TUNNEL.into());
    }
    let raw_target = req.path.unwrap_or("/");
    let (https, authority, path_with_query) = match split_absolute(raw_target) {
        Some((https, authority, path)) => (https, authority.to_owned(), path.to_owned()),
        None if raw_target.starts_with('/') || raw_target == "*" => {
            (target.tls, target.authority(), raw_target.to_owned())
        }
        None => {
            return Err(format!(
                "request target {raw_target:?} is neither a path nor an absolute URL"
            ));
        }
    };
    let mut fields = Vec::new();
    let mut framing = RequestFraming::default();
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        match name.as_str() {
            "host" => check_host(h.value, &authority, https)?,
            "transfer-encoding" => framing.transfer_encoding(h.value),
            "content-length" => framing.content_length(h.value),
            _ => {}
        }
        let repeated_length = name == "content-length" && fields.iter().any(|(n, _)| n == "content-length");
        if (name != "content-length" && REQUEST_DROPPED.contains(&name.as_str())) || repeated_length {
            continue;
        }
        fields.push((name, h.value.to_vec()));
    }
    let version = (1, u32::from(req.version.unwrap_or(1)));
    let body = framing
        .finish(version)
        .map_err(|e| format!("the request's framing cannot be sent ({}: {})", e.code, e.why))?;
    Ok(Some((
        RequestHead {
            method,
            https,
            authority,
            path_with_query,
            fields,
            body,
        },
        used,
    )))
}

/// An absolute-form target (`http://host:port/path`, as to a proxy): whether https, the
/// authority and the path.
fn split_absolute(target: &str) -> Option<(bool, &str, &str)> {
    let (https, rest) = if let Some(rest) = target.strip_prefix("http://") {
        (false, rest)
    } else {
        (true, target.strip_prefix("https://")?)
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let path = &rest[end..];
    Some((https, &rest[..end], if path.is_empty() { "/" } else { path }))
}

/// A Host field must name the authority the runtime connects to: wasi:http sends no other
/// (Host is a forbidden field; the runtime writes it from the authority).
fn check_host(value: &[u8], authority: &str, https: bool) -> Result<(), String> {
    let value = String::from_utf8_lossy(value);
    let strip_default = |s: &str| -> String {
        let s = s.trim().to_ascii_lowercase();
        let default = if https { ":443" } else { ":80" };
        s.strip_suffix(default).map(str::to_owned).unwrap_or(s)
    };
    if strip_default(&value) == strip_default(authority) {
        Ok(())
    } else {
        Err(format!(
            "Host {value:?} differs from where the connection goes ({authority}): wasi:http sends \
             the authority it connects to as Host, and no other"
        ))
    }
}

/// The payload of the chunked request body in `pending`, as far as it is whole (the server's
/// strict reader, `ChunkedDecoder::for_requests`), taken off `pending`; what is left is a size
/// line or trailer still coming, or, once `decoder` is done, bytes after the body.
pub fn decode_chunks(decoder: &mut ChunkedDecoder, pending: &mut Vec<u8>) -> Result<Vec<u8>, String> {
    let mut payload = Vec::new();
    let mut at = 0;
    while !decoder.is_done() {
        match decoder
            .decode(&pending[at..])
            .map_err(|e| format!("the request's chunked body: {e}"))?
        {
            Decoded::NeedMore => break,
            Decoded::Skip(n) | Decoded::End(n) => at += n,
            Decoded::Data(n) => {
                payload.extend_from_slice(&pending[at..at + n]);
                at += n;
            }
        }
    }
    pending.drain(..at);
    Ok(payload)
}

/// How the response's body reaches the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: a HEAD request, or 1xx, 204, 304.
    None,
    /// This many bytes, as its Content-Length says.
    Length(u64),
    /// Chunked by this adapter, as the runtime's body stream delivers it.
    Chunked,
}

/// How a response's body is framed for the guest: `None` where HTTP says there is none,
/// its own Content-Length where it has one, else chunked (so that the guest's connection
/// stays reusable for its next request).
pub fn response_framing(head_request: bool, status: u16, fields: &[(String, Vec<u8>)]) -> ResponseFraming {
    if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        return ResponseFraming::None;
    }
    let length = fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| parse_content_length(v));
    match length {
        Some(n) => ResponseFraming::Length(n),
        None => ResponseFraming::Chunked,
    }
}

/// The response head for the guest: the status line (with CPython's reason for the status:
/// wasi:http carries none), the end-to-end fields, and the framing this adapter delivers the body in.
pub fn response_head(status: u16, fields: &[(String, Vec<u8>)], framing: ResponseFraming) -> Vec<u8> {
    let reason = reason_phrase(status).unwrap_or("");
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
    for (name, value) in fields {
        let lower = name.to_ascii_lowercase();
        if RESPONSE_DROPPED.contains(&lower.as_str())
            || (framing == ResponseFraming::Chunked && lower == "content-length")
        {
            continue;
        }
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    if framing == ResponseFraming::Chunked {
        head.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

#[cfg(test)]
mod tests;
