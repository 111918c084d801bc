//! The two translations this adapter makes, as plain Rust (no WIT, no IO, unit-tested
//! natively): the request head the guest's http.client wrote, parsed into what a wasi:http
//! `outgoing-request` needs, with its body's framing and a decoder for a chunked body; and the
//! runtime's `incoming-response` written back as the HTTP/1.1 head the guest's HTTPResponse
//! parses.

/// Most bytes of a request head: CPython's http.client sends no line over `_MAXLINE` (65536);
/// a head that has not ended by then is not one http.client wrote.
pub const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// Most fields one request may carry: CPython's `_MAXHEADERS` (100).
pub const MAX_FIELDS: usize = 100;
/// Most bytes of a chunk-size line (digits, extensions): ours, as the guest's own decoder.
pub const MAX_CHUNK_LINE: usize = 4096;

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

/// How a request's body ends, from its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// This many bytes (Content-Length).
    Length(u64),
    /// Chunked: decoded here, framed again by the runtime.
    Chunked,
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
    pub body: Framing,
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
    let mut length = None;
    let mut chunked = false;
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        match name.as_str() {
            "host" => check_host(h.value, &authority, https)?,
            "transfer-encoding" => {
                let value = String::from_utf8_lossy(h.value);
                let last = value.rsplit(',').next().unwrap_or("").trim().to_ascii_lowercase();
                if last != "chunked" {
                    return Err(format!(
                        "Transfer-Encoding {value:?} is not chunked: wasi:http cannot send it"
                    ));
                }
                chunked = true;
            }
            "content-length" => {
                let n = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| format!("Content-Length {:?} is not a number", String::from_utf8_lossy(h.value)))?;
                if length.is_some_and(|m| m != n) {
                    return Err("two different Content-Length values".into());
                }
                length = Some(n);
            }
            _ => {}
        }
        if name != "content-length" && REQUEST_DROPPED.contains(&name.as_str()) {
            continue;
        }
        if name == "content-length" && fields.iter().any(|(n, _)| n == "content-length") {
            continue;
        }
        fields.push((name, h.value.to_vec()));
    }
    let body = match (chunked, length) {
        (true, Some(_)) => return Err("both Content-Length and Transfer-Encoding: chunked".into()),
        (true, None) => Framing::Chunked,
        (false, Some(0) | None) => Framing::Empty,
        (false, Some(n)) => Framing::Length(n),
    };
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

/// A decoder for a chunked body, fed bytes as they come: the payload out, and whether the
/// last chunk (and any trailers) ended it.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    state: ChunkState,
    line: Vec<u8>,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk, this many bytes left.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailers,
    /// The body has ended.
    Done,
}

impl ChunkDecoder {
    /// Whether the last chunk and its trailers have been read.
    pub fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decode `data`, appending the payload to `out`; returns how many bytes of `data` were
    /// part of the body (the rest come after it).
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<usize, String> {
        let mut i = 0;
        while i < data.len() && !self.done() {
            match self.state {
                ChunkState::Data(left) => {
                    let n = (left as usize).min(data.len() - i);
                    out.extend_from_slice(&data[i..i + n]);
                    i += n;
                    self.state = if left == n as u64 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - n as u64)
                    };
                }
                _ => {
                    let b = data[i];
                    i += 1;
                    if b != b'\n' {
                        if self.line.len() >= MAX_CHUNK_LINE {
                            return Err(format!("a chunk line over {MAX_CHUNK_LINE} bytes"));
                        }
                        self.line.push(b);
                        continue;
                    }
                    let line = std::mem::take(&mut self.line);
                    let line = line.strip_suffix(b"\r").unwrap_or(&line);
                    self.state = match self.state {
                        ChunkState::Size => {
                            let digits = line.split(|&c| c == b';').next().unwrap_or(b"");
                            let size = std::str::from_utf8(digits)
                                .ok()
                                .and_then(|d| u64::from_str_radix(d.trim(), 16).ok())
                                .ok_or_else(|| format!("bad chunk size {:?}", String::from_utf8_lossy(line)))?;
                            if size == 0 {
                                ChunkState::Trailers
                            } else {
                                ChunkState::Data(size)
                            }
                        }
                        ChunkState::DataEnd if line.is_empty() => ChunkState::Size,
                        ChunkState::DataEnd => return Err("a chunk's data ran past its size".into()),
                        ChunkState::Trailers if line.is_empty() => ChunkState::Done,
                        ChunkState::Trailers => ChunkState::Trailers,
                        ChunkState::Data(_) | ChunkState::Done => unreachable!("handled above"),
                    };
                }
            }
        }
        Ok(i)
    }
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
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    match length {
        Some(n) => ResponseFraming::Length(n),
        None => ResponseFraming::Chunked,
    }
}

/// The response head for the guest: the status line (with the status's usual reason: wasi:http
/// carries none), the end-to-end fields, and the framing this adapter delivers the body in.
pub fn response_head(status: u16, fields: &[(String, Vec<u8>)], framing: ResponseFraming) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
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

/// `data` as one chunk of a chunked body (empty data: the last chunk).
pub fn chunk(data: &[u8]) -> Vec<u8> {
    if data.is_empty() {
        return b"0\r\n\r\n".to_vec();
    }
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests;
