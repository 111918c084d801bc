//! For handler components: a BaseHTTPRequestHandler subclass's `do_GET`, `do_POST`... as a
//! Rust trait, exported with [`export_handler!`](crate::export_handler) as the
//! `httplib:http/handler-app` world's `request-handler`, for `httplib serve --app`.
//!
//! The server's guest parses and validates each request and frames the response; a
//! [`Handler`] decides what to answer through [`Request`], BaseHTTPRequestHandler's `self`:
//!
//! ```no_run
//! use httplib_sdk::handler::{Handler, Request};
//!
//! struct Hello;
//!
//! impl Handler for Hello {
//!     fn do_get(request: &mut Request) -> httplib_sdk::Result<()> {
//!         let body = b"Hello!\n";
//!         request.send_response(200, None)?;
//!         request.send_header("Content-Type", "text/plain")?;
//!         request.send_header("Content-Length", &body.len().to_string())?;
//!         request.end_headers()?;
//!         request.write(body)
//!     }
//! }
//!
//! httplib_sdk::export_handler!(Hello);
//! ```

use crate::{Error, Result};
use std::io;

#[doc(hidden)]
#[allow(missing_docs, unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "handler-app",
        path: "wit",
        with: {
            "httplib:http/types@0.1.0": crate::raw_types,
            "httplib:http/client@0.1.0": crate::raw,
        },
        generate_all,
        pub_export_macro: true,
        export_macro_name: "export_raw_handler",
        default_bindings_module: "httplib_sdk::handler::bindings",
    });
}

/// The `httplib:http/exchange` bindings as wit-bindgen made them.
pub use bindings::httplib::http::exchange as raw;

/// The request being answered and the verbs to answer it: BaseHTTPRequestHandler's `self`
/// inside `do_METHOD`. Reading it (`io::Read`) reads the request body (`rfile`); writing it
/// (`io::Write`) writes response body bytes (`wfile`).
pub struct Request<'a> {
    raw: &'a raw::Exchange,
    request: raw::Request,
}

impl<'a> Request<'a> {
    /// The current request of `raw`.
    pub fn new(raw: &'a raw::Exchange) -> Self {
        Self {
            request: raw.request(),
            raw,
        }
    }

    /// `command`, e.g. "GET".
    pub fn command(&self) -> &str {
        &self.request.command
    }

    /// `path`: the request target, query included.
    pub fn path(&self) -> &str {
        &self.request.path
    }

    /// The path without its query.
    pub fn route(&self) -> &str {
        self.path().split(['?', '#']).next().unwrap_or("")
    }

    /// The query's `name` value, decoded as `urllib.parse.parse_qs` decodes it (`+` is a
    /// space, `%XX` a byte, the bytes UTF-8); the first when it appears more than once.
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.path().split_once('?')?.1;
        let query = query.split('#').next().unwrap_or("");
        query
            .split(['&', ';'])
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (unquote_plus(key) == name).then(|| unquote_plus(value))
            })
            .next()
    }

    /// `request_version`, e.g. "HTTP/1.1".
    pub fn request_version(&self) -> &str {
        &self.request.request_version
    }

    /// `requestline`, without its CRLF.
    pub fn requestline(&self) -> &str {
        &self.request.requestline
    }

    /// `headers`, in arrival order, values as sent.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.request.headers
    }

    /// `headers.get(name)`: the first value by case-insensitive name, decoded as Latin-1.
    pub fn header(&self, name: &str) -> Option<String> {
        self.request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.iter().map(|&b| b as char).collect())
    }

    /// `client_address`: the peer's address and port.
    pub fn client_address(&self) -> (String, u16) {
        let a = self.raw.client_address();
        (a.host, a.port)
    }

    /// `send_response(code, message)`: the status line, `Server` and `Date`; logs the request.
    pub fn send_response(&mut self, code: u16, message: Option<&str>) -> Result<()> {
        Ok(self.raw.send_response(code, message)?)
    }

    /// `send_response_only(code, message)`: the status line alone.
    pub fn send_response_only(&mut self, code: u16, message: Option<&str>) -> Result<()> {
        Ok(self.raw.send_response_only(code, message)?)
    }

    /// `send_header(keyword, value)`.
    pub fn send_header(&mut self, keyword: &str, value: &str) -> Result<()> {
        Ok(self.raw.send_header(keyword, value)?)
    }

    /// `end_headers()`.
    pub fn end_headers(&mut self) -> Result<()> {
        Ok(self.raw.end_headers()?)
    }

    /// `flush_headers()`.
    pub fn flush_headers(&mut self) -> Result<()> {
        Ok(self.raw.flush_headers()?)
    }

    /// `wfile.write(data)`.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        Ok(self.raw.write(data)?)
    }

    /// `send_error(code, message, explain)`: the configured error page; closes the connection.
    pub fn send_error(&mut self, code: u16, message: Option<&str>, explain: Option<&str>) -> Result<()> {
        Ok(self.raw.send_error(code, message, explain)?)
    }

    /// `rfile.read(max)` over the request body; empty at its end.
    pub fn read_body(&mut self, max: u64) -> Result<Vec<u8>> {
        Ok(self.raw.read_body(max)?)
    }

    /// The whole request body, refusing more than `limit` bytes (`Error::InvalidArgument`).
    pub fn read_body_to_end(&mut self, limit: usize) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let piece = self.read_body(crate::READ_CHUNK as u64)?;
            if piece.is_empty() {
                return Ok(body);
            }
            body.extend_from_slice(&piece);
            if body.len() > limit {
                return Err(Error::InvalidArgument(format!("request body over {limit} bytes")));
            }
        }
    }

    /// SimpleHTTPRequestHandler's `do_GET` / `do_HEAD` for this request, from the served
    /// directory (`super().do_GET()`).
    pub fn serve_file(&mut self) -> Result<()> {
        Ok(self.raw.serve_file()?)
    }

    /// CPython's answer to a command with no `do_METHOD`: 501 "Unsupported method ('X')".
    pub fn unsupported_method(&mut self) -> Result<()> {
        Ok(self.raw.unsupported_method()?)
    }

    /// `close_connection`.
    pub fn close_connection(&self) -> bool {
        self.raw.close_connection()
    }

    /// Set `close_connection`: the connection ends after this response.
    pub fn set_close_connection(&mut self, close: bool) {
        self.raw.set_close_connection(close)
    }

    /// `log_message(message)`: `ADDRESS - - [DATE] message` to the server's log.
    pub fn log_message(&self, message: &str) {
        self.raw.log_message(message)
    }

    /// `log_error(message)`.
    pub fn log_error(&self, message: &str) {
        self.raw.log_error(message)
    }

    /// `log_request(code, size)`.
    pub fn log_request(&self, code: Option<u16>, size: Option<u64>) {
        self.raw.log_request(code, size)
    }

    /// `version_string()`.
    pub fn version_string(&self) -> String {
        self.raw.version_string()
    }

    /// `date_time_string(timestamp)`: an IMF-fixdate; now when `None`.
    pub fn date_time_string(&self, timestamp: Option<i64>) -> String {
        self.raw.date_time_string(timestamp)
    }

    /// `address_string()`: the client's IP address.
    pub fn address_string(&self) -> String {
        self.raw.address_string()
    }

    /// The exchange itself, for what this layer leaves out.
    pub fn raw(&self) -> &raw::Exchange {
        self.raw
    }
}

impl io::Read for Request<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let piece = self.read_body(buf.len() as u64).map_err(Error::into_io)?;
        buf[..piece.len()].copy_from_slice(&piece);
        Ok(piece.len())
    }
}

impl io::Write for Request<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Request::write(self, buf).map_err(Error::into_io)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `urllib.parse.unquote_plus`: `+` a space, `%XX` a byte, the bytes as UTF-8 (invalid
/// sequences replaced).
pub fn unquote_plus(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A BaseHTTPRequestHandler subclass: `do_GET`, `do_POST`, ... Each defaults to CPython's
/// answer when a subclass has none, 501 "Unsupported method ('X')". An error returned is
/// logged (`log_error`) and ends the connection, as an exception in `do_METHOD` does.
pub trait Handler {
    /// Choose `do_METHOD` by the request's command, as `handle_one_request` does.
    fn handle(request: &mut Request) -> Result<()> {
        match request.command() {
            "GET" => Self::do_get(request),
            "HEAD" => Self::do_head(request),
            "POST" => Self::do_post(request),
            "PUT" => Self::do_put(request),
            "DELETE" => Self::do_delete(request),
            "PATCH" => Self::do_patch(request),
            "OPTIONS" => Self::do_options(request),
            _ => Self::do_other(request),
        }
    }
    /// `do_GET`.
    fn do_get(request: &mut Request) -> Result<()> {
        request.unsupported_method()
    }
    /// `do_HEAD`.
    fn do_head(request: &mut Request) -> Result<()> {
        request.unsupported_method()
    }
    /// `do_POST`.
    fn do_post(request: &mut Request) -> Result<()> {
        request.unsupported_method()
    }
    /// `do_PUT`.
    fn do_put(request: &mut Request) -> Result<()> {
        request.unsupported_method()
    }
    /// `do_DELETE`.
    fn do_delete(request: &mut Request) -> Result<()> {
        request.unsupported_method()
    }
    /// `do_PATCH`.
    fn do_patch(request: &mut Request) -> Result<()> {
        request.unsupported_method()
    }
    /// `do_OPTIONS`.
    fn do_options(request: &mut Request) -> Result<()> {
        request.unsupported_method()
    }
    /// Any other command (`do_` + its name in Python).
    fn do_other(request: &mut Request) -> Result<()> {
        request.unsupported_method()
    }
}

/// The glue [`export_handler!`](crate::export_handler) puts between the WIT export and a
/// [`Handler`].
#[doc(hidden)]
pub fn dispatch<H: Handler>(raw: &raw::Exchange) -> bool {
    let mut request = Request::new(raw);
    if let Err(e) = H::handle(&mut request) {
        request.log_error(&format!("{} {}: {e}", request.command(), request.path()));
        request.set_close_connection(true);
    }
    true
}

/// Export `$handler` (a type implementing [`handler::Handler`](crate::handler::Handler)) as
/// this component's `httplib:http/request-handler`.
#[macro_export]
macro_rules! export_handler {
    ($handler:ty) => {
        // Only a WebAssembly build exports it (a native build of the crate, as `cargo test`
        // makes of examples, cannot link export names like `httplib:http/...#handle`).
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct HttplibSdkExport;
            impl $crate::handler::bindings::exports::httplib::http::request_handler::Guest for HttplibSdkExport {
                fn handle(request: &$crate::handler::raw::Exchange) -> bool {
                    $crate::handler::dispatch::<$handler>(request)
                }
            }
            $crate::handler::bindings::export_raw_handler!(HttplibSdkExport);
        };
    };
}
