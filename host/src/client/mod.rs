//! Driving the guest's http.client from host code: one store and instance per session, the
//! guest's `connection` and `response` resources behind typed handles. `async_session` is
//! the session itself, each call a future; `ClientSession` waits for each on the caller's
//! thread.

mod async_session;
pub use async_session::AsyncClientSession;

use crate::bindings::Httplib;
use crate::bindings::client::{Body, ConnectionOptions, Redirect, StatusConstant, UrlParts};
use crate::bindings::transport::TlsOptions;
use crate::bindings::types::HttpError;
use crate::runtime::Wait;
use crate::runtime::{HostState, Runtime};
use crate::transport::OutboundPolicy;
use crate::transport::tls::ClientIdentities;
use crate::view::{CancelHandle, HttplibCtx, HttplibView};
use std::fmt;
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::ResourceAny;

/// A failed client call: an http.client exception from the guest, or the guest itself failed.
#[derive(Debug)]
pub enum ClientError {
    /// The exception, and how Python would print it.
    Http(HttpError, String),
    /// The guest trapped or the runtime failed.
    Runtime(anyhow::Error),
    /// A call of an [`AsyncClientSession`] was dropped before it ended: the session's store
    /// went with it (sockets closed, instance returned), and it can make no more calls. (A
    /// session ended by its cancel handle answers `limit-exceeded` instead, as http.client
    /// errors.)
    Cancelled,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Http(_, message) => f.write_str(message),
            ClientError::Runtime(e) => write!(f, "guest failure: {e:#}"),
            ClientError::Cancelled => f.write_str("the session was cancelled"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<wasmtime::Error> for ClientError {
    fn from(e: wasmtime::Error) -> Self {
        ClientError::Runtime(e.into())
    }
}

/// A client call's result.
pub type Result<T> = std::result::Result<T, ClientError>;

/// Header fields in order, names with their case, values as bytes.
pub type HeaderList = Vec<(String, Vec<u8>)>;

/// An open `connection` resource (HTTPConnection) in a session.
#[derive(Debug, Clone, Copy)]
pub struct Connection(ResourceAny);

/// A `response` resource (HTTPResponse) in a session.
#[derive(Debug, Clone, Copy)]
pub struct Response(ResourceAny);

/// One guest instance used as an HTTP client, in a store of type `T` (httplib's own
/// [`HostState`] unless an embedder brings its own, see [`crate::view`]): an
/// [`AsyncClientSession`] whose calls are driven to their end on the caller's thread, its
/// sockets blocking.
pub struct ClientSession<T: HttplibView + 'static = HostState>(AsyncClientSession<T>);

impl ConnectionOptions {
    /// HTTPConnection's defaults: no timeout, blocksize 8192, auto-open.
    pub fn http() -> Self {
        ConnectionOptions {
            timeout_ms: None,
            source_address: None,
            blocksize: 8192,
            tls: None,
            auto_open: true,
        }
    }

    /// HTTPSConnection's defaults: certificate and host name verified against Mozilla's roots, ALPN http/1.1.
    pub fn https() -> Self {
        ConnectionOptions {
            tls: Some(TlsOptions::verified()),
            ..Self::http()
        }
    }
}

impl TlsOptions {
    /// Verify against Mozilla's roots, SNI from the host, ALPN `http/1.1`.
    pub fn verified() -> Self {
        TlsOptions {
            server_name: None,
            verify: true,
            ca_certs: None,
            system_roots: false,
            client_identity: None,
            alpn_protocols: vec!["http/1.1".into()],
        }
    }
}

/// Where a session's `set_debuglevel` lines are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DebugOutput {
    /// The process's stdout, as Python's http.client prints them.
    #[default]
    Stdout,
    /// The process's stderr, as curl prints `-v`.
    Stderr,
}

impl ClientSession<HostState> {
    /// A new instance whose stdout/stderr are the process's (for `set_debuglevel` output).
    pub fn new(runtime: &Runtime, policy: OutboundPolicy) -> anyhow::Result<Self> {
        Self::with_identities(runtime, policy, Arc::default())
    }

    /// `new`, with client certificates the guest may name in its TLS options.
    pub fn with_identities(
        runtime: &Runtime,
        policy: OutboundPolicy,
        identities: Arc<ClientIdentities>,
    ) -> anyhow::Result<Self> {
        Self::with_debug_output(runtime, policy, identities, DebugOutput::Stdout)
    }

    /// `with_identities`, choosing where the guest's `set_debuglevel` lines go: stdout as
    /// Python prints them, or stderr as curl's `-v` does (so a body on stdout stays clean).
    pub fn with_debug_output(
        runtime: &Runtime,
        policy: OutboundPolicy,
        identities: Arc<ClientIdentities>,
        debug: DebugOutput,
    ) -> anyhow::Result<Self> {
        Self::with_context(runtime, HttplibCtx::new(policy).with_identities(identities), debug)
    }

    /// A session with everything of httplib's context chosen: policy, identities, limits
    /// (see [`SessionLimits`](crate::view::SessionLimits)).
    pub fn with_context(runtime: &Runtime, ctx: HttplibCtx, debug: DebugOutput) -> anyhow::Result<Self> {
        let (store, guest) = async_session::instantiate(runtime, ctx, debug)?;
        Ok(Self::from_instance(store, guest))
    }
}

/// `ClientSession`'s calls: each `AsyncClientSession`'s, waited for.
macro_rules! blocking {
    ($( $(#[$doc:meta])* fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(&mut self $(, $arg: $ty)*) -> $ret {
                self.0.$name($($arg),*).wait()
            }
        )*
    };
}

impl<T: HttplibView + 'static> ClientSession<T> {
    /// A session over an instance the embedder made in its own store (see
    /// [`Runtime::instantiate_in`]).
    pub fn from_instance(store: Store<T>, guest: Httplib) -> Self {
        Self(AsyncClientSession::over(
            store,
            guest,
            crate::transport::WaitBy::Blocking,
        ))
    }

    /// A handle another thread can end this session with (its sockets closed, its calls
    /// failing with `limit-exceeded`).
    pub fn cancel_handle(&mut self) -> CancelHandle {
        self.0.cancel_handle()
    }

    /// The store, for the embedder's own data.
    pub fn store(&self) -> &Store<T> {
        self.0.store().expect("a blocking session's calls always end")
    }

    /// The store, mutably.
    pub fn store_mut(&mut self) -> &mut Store<T> {
        self.0.store_mut().expect("a blocking session's calls always end")
    }

    blocking! {
        /// `http.client.responses[code]`.
        fn reason_phrase(&mut self, code: u16) -> Result<Option<String>>;
        /// http.client's status constants, e.g. ("NOT_FOUND", 404, "Not Found").
        fn status_constants(&mut self) -> Result<Vec<StatusConstant>>;
        /// (`HTTP_PORT`, `HTTPS_PORT`).
        fn default_ports(&mut self) -> Result<(u16, u16)>;
        /// Split an absolute http(s) URL as the guest does (`urllib.parse`'s reading).
        fn split_url(&mut self, url: &str) -> Result<UrlParts>;
        /// Where a response sends a client following redirects (see WIT `follow-redirect`).
        fn follow_redirect(&mut self, url: &str, method: &str, status: u16, location: Option<&str>) -> Result<Option<Redirect>>;
        /// `HTTPConnection(host, port, ...)` / `HTTPSConnection` when `options.tls` is set.
        fn open(&mut self, host: &str, port: Option<u16>, options: &ConnectionOptions) -> Result<Connection>;
        /// `set_debuglevel(level)`: above 0, http.client's `send:`/`reply:`/`header:` lines.
        fn set_debuglevel(&mut self, c: Connection, level: u32) -> Result<()>;
        /// `request(method, url, body, headers)`.
        fn request(&mut self, c: Connection, method: &str, url: &str, body: &Body, headers: &[(String, Vec<u8>)]) -> Result<()>;
        /// `connect()`.
        fn connect(&mut self, c: Connection) -> Result<()>;
        /// `request(method, url, body, headers, encode_chunked)`: with `encode_chunked` and the
        /// caller's own Transfer-Encoding header, the body is chunk-encoded for it.
        fn request_with(&mut self, c: Connection, method: &str, url: &str, body: &Body, headers: &[(String, Vec<u8>)], encode_chunked: bool) -> Result<()>;
        /// `putrequest(method, url, skip_host, skip_accept_encoding)`.
        fn putrequest(&mut self, c: Connection, method: &str, url: &str, skip_host: bool, skip_accept_encoding: bool) -> Result<()>;
        /// `putheader(name, *values)`.
        fn putheader(&mut self, c: Connection, name: &str, values: &[Vec<u8>]) -> Result<()>;
        /// `endheaders(message_body, encode_chunked)`.
        fn endheaders(&mut self, c: Connection, body: Option<&Body>, encode_chunked: bool) -> Result<()>;
        /// `send(data)`.
        fn send(&mut self, c: Connection, data: &[u8]) -> Result<()>;
        /// `set_tunnel(host, port, headers)`.
        fn set_tunnel(&mut self, c: Connection, host: &str, port: Option<u16>, headers: &[(String, Vec<u8>)]) -> Result<()>;
        /// `get_proxy_response_headers()`.
        fn proxy_response_headers(&mut self, c: Connection) -> Result<Option<HeaderList>>;
        /// One part of a `body::streamed` request body.
        fn send_body(&mut self, c: Connection, data: &[u8]) -> Result<()>;
        /// The end of a `body::streamed` request body.
        fn end_body(&mut self, c: Connection) -> Result<()>;
        /// `getresponse()`: the status line and headers of the reply.
        fn getresponse(&mut self, c: Connection) -> Result<Response>;
        /// `close()`: the connection can still be used again (it reconnects on demand).
        fn close(&mut self, c: Connection) -> Result<()>;
        /// Close the connection and release its handle.
        fn release(&mut self, c: Connection) -> Result<()>;
        /// `status`.
        fn status(&mut self, r: Response) -> Result<u16>;
        /// `reason`.
        fn reason(&mut self, r: Response) -> Result<String>;
        /// `version`: 10 or 11.
        fn version(&mut self, r: Response) -> Result<u8>;
        /// `getheaders()`: every header in arrival order.
        fn headers(&mut self, r: Response) -> Result<HeaderList>;
        /// The status line and headers exactly as received.
        fn raw_head(&mut self, r: Response) -> Result<Vec<u8>>;
        /// `getheader(name)`: every value of that name, joined with ", ".
        fn getheader(&mut self, r: Response, name: &str) -> Result<Option<String>>;
        /// `read(amt)`.
        fn read(&mut self, r: Response, amt: Option<u64>) -> Result<Vec<u8>>;
        /// `read1(n)`: what one transport read brought, at most `n`.
        fn read1(&mut self, r: Response, n: Option<u64>) -> Result<Vec<u8>>;
        /// The body with its Content-Encoding undone, at most `amt` bytes a call (WIT `read-decoded`).
        fn read_decoded(&mut self, r: Response, amt: u64) -> Result<Vec<u8>>;
        /// `length`: body bytes still expected, when the framing says.
        fn length(&mut self, r: Response) -> Result<Option<u64>>;
        /// `readline(limit)`.
        fn readline(&mut self, r: Response, limit: Option<u64>) -> Result<Vec<u8>>;
        /// `peek(n)`.
        fn peek(&mut self, r: Response, n: u64) -> Result<Vec<u8>>;
        /// `isclosed()`.
        fn isclosed(&mut self, r: Response) -> Result<bool>;
        /// `will_close`, `chunked`, `length`, `url`.
        fn framing(&mut self, r: Response) -> Result<(bool, bool, Option<u64>, String)>;
        /// Close the response and release its handle.
        fn close_response(&mut self, r: Response) -> Result<()>;
    }
}
