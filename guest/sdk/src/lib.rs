//! For WebAssembly components that use httplib's client: Python's `http.client` over the
//! `httplib:http/client` import, with a small idiomatic layer.
//!
//! Build your program for `wasm32-wasip2`; the component it becomes imports
//! `httplib:http/client`. Run it with `httplib run app.wasm --allow http://example.com`, or
//! compose it with httplib into one component (`httplib compose app.wasm -o out.wasm`) for a
//! plugin host, or, with `--adapter wasi-sockets`, for any WASI 0.2 runtime.
//!
//! ```no_run
//! use std::io::Read;
//! use httplib_sdk::Connection;
//!
//! fn main() -> Result<(), httplib_sdk::Error> {
//!     let conn = Connection::open("example.com", None)?;
//!     conn.request("GET", "/", None, &[("Accept", "text/html")])?;
//!     let mut response = conn.getresponse()?;
//!     println!("{} {}", response.status(), response.reason());
//!     let mut body = Vec::new();
//!     response.read_to_end(&mut body).map_err(httplib_sdk::Error::from_io)?;
//!     Ok(())
//! }
//! ```
//!
//! What the layer leaves out (`putrequest`, `set_tunnel`, `read1`, `peek`, ...) is in
//! [`raw`], the WIT bindings themselves; [`Connection::raw`] and [`Response::raw`] reach them.

#![deny(missing_docs)]

mod error;
pub mod handler;
pub use error::Error;

#[allow(missing_docs, unsafe_code)]
mod bindings {
    wit_bindgen::generate!({ world: "client-app", path: "wit", generate_all });
}

/// The `httplib:http/client` bindings as wit-bindgen made them.
pub use bindings::httplib::http::client as raw;
/// The shared WIT types (`http-error`, `header`, `socket-address`).
pub use bindings::httplib::http::types as raw_types;

use std::io;
use std::time::Duration;

/// `http.client.HTTP_PORT`.
pub const HTTP_PORT: u16 = 80;
/// `http.client.HTTPS_PORT`.
pub const HTTPS_PORT: u16 = 443;
/// CPython's default `blocksize` (8192), the size of each piece a body is sent in.
pub const DEFAULT_BLOCKSIZE: u32 = 8192;
/// The most one `Read::read` asks the guest for at once (ours: larger reads cost one call
/// across the component boundary instead of many).
pub const READ_CHUNK: usize = 64 * 1024;

/// A result whose error is an http.client exception.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to open a connection: `HTTPConnection(host, port, timeout=..., source_address=...,
/// blocksize=...)`, or `HTTPSConnection` with [`Options::https`].
#[derive(Debug, Clone)]
pub struct Options {
    timeout: Option<Duration>,
    source_address: Option<(String, u16)>,
    blocksize: u32,
    tls: Option<raw::TlsOptions>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            timeout: None,
            source_address: None,
            blocksize: DEFAULT_BLOCKSIZE,
            tls: None,
        }
    }
}

impl Options {
    /// `timeout=`: connecting, and each read and write, give up after this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// `source_address=(host, port)`.
    pub fn source_address(mut self, host: &str, port: u16) -> Self {
        self.source_address = Some((host.to_owned(), port));
        self
    }

    /// `blocksize=`.
    pub fn blocksize(mut self, blocksize: u32) -> Self {
        self.blocksize = blocksize;
        self
    }

    /// HTTPS (`HTTPSConnection` with a default context: the chain and the name verified).
    pub fn https(mut self) -> Self {
        self.tls = Some(raw::TlsOptions {
            server_name: None,
            verify: true,
            ca_certs: None,
            system_roots: false,
            client_identity: None,
            alpn_protocols: vec!["http/1.1".into()],
        });
        self
    }

    /// HTTPS with TLS options of your own (trusted roots, SNI name, a client identity the
    /// host holds).
    pub fn tls(mut self, tls: raw::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    fn to_wit(&self) -> raw::ConnectionOptions {
        raw::ConnectionOptions {
            timeout_ms: self.timeout.map(|t| t.as_millis().try_into().unwrap_or(u64::MAX)),
            connect_timeout_ms: None,
            source_address: self
                .source_address
                .as_ref()
                .map(|(host, port)| raw_types::SocketAddress {
                    host: host.clone(),
                    port: *port,
                }),
            blocksize: self.blocksize,
            tls: self.tls.clone(),
            auto_open: true,
        }
    }
}

/// One HTTP/1.1 connection to one server (`HTTPConnection`), kept alive between requests
/// when the server allows.
pub struct Connection {
    inner: raw::Connection,
}

impl Connection {
    /// `HTTPConnection(host, port)`: `host` may carry ":port"; nothing is sent until the first
    /// request.
    pub fn open(host: &str, port: Option<u16>) -> Result<Self> {
        Self::open_with(host, port, &Options::default())
    }

    /// `HTTPConnection` or `HTTPSConnection` with `options`.
    pub fn open_with(host: &str, port: Option<u16>, options: &Options) -> Result<Self> {
        let inner = raw::Connection::open(host, port, &options.to_wit())?;
        Ok(Self { inner })
    }

    /// The connection for an absolute `http://` or `https://` URL, and the request target
    /// (path and query) to ask it for.
    pub fn for_url(url: &str, options: &Options) -> Result<(Self, String)> {
        let parts = raw::split_url(url)?;
        let mut options = options.clone();
        if parts.scheme == "https" && options.tls.is_none() {
            options = options.https();
        }
        let conn = Self::open_with(&parts.host, Some(parts.port), &options)?;
        Ok((conn, parts.target))
    }

    /// The host this connection talks to.
    pub fn host(&self) -> String {
        self.inner.host()
    }

    /// The port this connection talks to.
    pub fn port(&self) -> u16 {
        self.inner.port()
    }

    /// `request(method, url, body, headers)`: Host, Accept-Encoding and Content-Length are
    /// added as http.client adds them.
    pub fn request(&self, method: &str, url: &str, body: Option<&[u8]>, headers: &[(&str, &str)]) -> Result<()> {
        let body = match body {
            Some(bytes) => raw::Body::Bytes(bytes.to_vec()),
            None => raw::Body::None,
        };
        let headers: Vec<raw_types::Header> = headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
            .collect();
        Ok(self.inner.request(method, url, &body, &headers, false)?)
    }

    /// `getresponse()`: the status line and headers of the reply; read its body before the
    /// next request on this connection.
    pub fn getresponse(&self) -> Result<Response> {
        let inner = self.inner.getresponse()?;
        Ok(Response {
            inner,
            pending: Vec::new(),
            at: 0,
        })
    }

    /// `close()`.
    pub fn close(&self) {
        self.inner.close()
    }

    /// The WIT resource, for what this layer leaves out.
    pub fn raw(&self) -> &raw::Connection {
        &self.inner
    }
}

/// The reply to one request (`HTTPResponse`); its body is read with [`std::io::Read`].
pub struct Response {
    inner: raw::Response,
    /// Bytes the guest handed over beyond what the last `read` wanted.
    pending: Vec<u8>,
    at: usize,
}

impl Response {
    /// `status`.
    pub fn status(&self) -> u16 {
        self.inner.status()
    }

    /// `reason`.
    pub fn reason(&self) -> String {
        self.inner.reason()
    }

    /// `version`: 10 or 11.
    pub fn version(&self) -> u8 {
        self.inner.version()
    }

    /// `getheaders()`: every field in arrival order, names as sent, values as bytes.
    pub fn headers(&self) -> Vec<(String, Vec<u8>)> {
        self.inner.headers()
    }

    /// `getheader(name)`: every field of that name, joined with ", ".
    pub fn header(&self, name: &str) -> Option<String> {
        self.inner.getheader(name)
    }

    /// `length`: body bytes still expected, when the framing says.
    pub fn length(&self) -> Option<u64> {
        self.inner.length()
    }

    /// `chunked`.
    pub fn chunked(&self) -> bool {
        self.inner.chunked()
    }

    /// `will_close`.
    pub fn will_close(&self) -> bool {
        self.inner.will_close()
    }

    /// `read(amt)`: up to `amt` bytes (the rest of the body when none); empty at its end.
    pub fn read_amt(&mut self, amt: Option<u64>) -> Result<Vec<u8>> {
        if self.at < self.pending.len() {
            let take = amt.map_or(usize::MAX, |a| a.try_into().unwrap_or(usize::MAX));
            let end = self.pending.len().min(self.at.saturating_add(take));
            let out = self.pending[self.at..end].to_vec();
            self.at = end;
            return Ok(out);
        }
        Ok(self.inner.read(amt)?)
    }

    /// `close()`.
    pub fn close(&self) {
        self.inner.close()
    }

    /// The WIT resource, for what this layer leaves out.
    pub fn raw(&self) -> &raw::Response {
        &self.inner
    }
}

impl io::Read for Response {
    /// The body; an http.client exception (an `IncompleteRead`, a timeout) comes back as an
    /// `io::Error` holding the [`Error`] (see [`Error::from_io`]).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.at >= self.pending.len() {
            let want = buf.len().max(READ_CHUNK) as u64;
            self.pending = self.inner.read(Some(want)).map_err(|e| Error::from(e).into_io())?;
            self.at = 0;
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// `responses[code]`: the standard reason phrase.
pub fn reason_phrase(code: u16) -> Option<String> {
    raw::reason_phrase(code)
}
