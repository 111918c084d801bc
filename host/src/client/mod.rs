//! Driving the guest's http.client from host code: one store and instance per session, the
//! guest's `connection` and `response` resources behind typed handles; `async_session` has
//! the same for async hosts.

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
use wasmtime_wasi::WasiCtx;

/// Call a `connection` or `response` method of the guest and turn its http-error into ours.
macro_rules! guest_call {
    ($self:ident, $resource:ident, $call:ident, $handle:ident $(, $arg:expr)*) => {{
        let r = $self.guest.httplib_http_client().$resource().$call(&mut $self.store, $handle.0 $(, $arg)*).wait()?;
        $self.check(r)
    }};
}

/// Call a `connection` or `response` method of the guest that cannot raise.
macro_rules! guest_get {
    ($self:ident, $resource:ident, $call:ident, $handle:ident $(, $arg:expr)*) => {
        $self.guest.httplib_http_client().$resource().$call(&mut $self.store, $handle.0 $(, $arg)*).wait()?
    };
}

/// A failed client call: an http.client exception from the guest, or the guest itself failed.
#[derive(Debug)]
pub enum ClientError {
    /// The exception, and how Python would print it.
    Http(HttpError, String),
    /// The guest trapped or the runtime failed.
    Runtime(anyhow::Error),
    /// The session was cancelled (its cancel handle, or a dropped call of an
    /// [`AsyncClientSession`]): its sockets are closed and its instance is gone.
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
/// [`HostState`] unless an embedder brings its own, see [`crate::view`]).
pub struct ClientSession<T: HttplibView + 'static = HostState> {
    store: Store<T>,
    guest: Httplib,
}

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
        let mut wasi = WasiCtx::builder();
        wasi.allow_blocking_current_thread(true).inherit_stderr();
        match debug {
            DebugOutput::Stdout => wasi.inherit_stdout(),
            DebugOutput::Stderr => wasi.stdout(wasmtime_wasi::cli::stderr()),
        };
        let mut state = HostState::new(wasi.build(), OutboundPolicy::deny_all());
        state.httplib = ctx;
        let (store, guest) = runtime.instantiate(state)?;
        Ok(Self { store, guest })
    }
}

impl<T: HttplibView + 'static> ClientSession<T> {
    /// A session over an instance the embedder made in its own store (see
    /// [`Runtime::instantiate_in`]).
    pub fn from_instance(store: Store<T>, guest: Httplib) -> Self {
        Self { store, guest }
    }

    /// A handle another thread can end this session with (its sockets closed, its calls
    /// failing with `limit-exceeded`).
    pub fn cancel_handle(&mut self) -> CancelHandle {
        self.store.data_mut().httplib().ctx.cancel_handle()
    }

    /// The store, for the embedder's own data.
    pub fn store(&self) -> &Store<T> {
        &self.store
    }

    /// The store, mutably.
    pub fn store_mut(&mut self) -> &mut Store<T> {
        &mut self.store
    }

    /// Turn the guest's answer into ours, asking the guest how Python would word an error.
    fn check<V>(&mut self, r: std::result::Result<V, HttpError>) -> Result<V> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                let message = self
                    .guest
                    .httplib_http_client()
                    .call_error_message(&mut self.store, &e)
                    .wait()?;
                Err(ClientError::Http(e, message))
            }
        }
    }

    /// `http.client.responses[code]`.
    pub fn reason_phrase(&mut self, code: u16) -> Result<Option<String>> {
        Ok(self
            .guest
            .httplib_http_client()
            .call_reason_phrase(&mut self.store, code)
            .wait()?)
    }

    /// http.client's status constants, e.g. ("NOT_FOUND", 404, "Not Found").
    pub fn status_constants(&mut self) -> Result<Vec<StatusConstant>> {
        Ok(self
            .guest
            .httplib_http_client()
            .call_status_constants(&mut self.store)
            .wait()?)
    }

    /// (`HTTP_PORT`, `HTTPS_PORT`).
    pub fn default_ports(&mut self) -> Result<(u16, u16)> {
        let client = self.guest.httplib_http_client();
        Ok((
            client.call_http_port(&mut self.store).wait()?,
            client.call_https_port(&mut self.store).wait()?,
        ))
    }

    /// Split an absolute http(s) URL as the guest does (`urllib.parse`'s reading).
    pub fn split_url(&mut self, url: &str) -> Result<UrlParts> {
        let r = self
            .guest
            .httplib_http_client()
            .call_split_url(&mut self.store, url)
            .wait()?;
        self.check(r)
    }

    /// Where a response sends a client following redirects (see WIT `follow-redirect`).
    pub fn follow_redirect(
        &mut self,
        url: &str,
        method: &str,
        status: u16,
        location: Option<&str>,
    ) -> Result<Option<Redirect>> {
        let r = self
            .guest
            .httplib_http_client()
            .call_follow_redirect(&mut self.store, url, method, status, location)
            .wait()?;
        self.check(r)
    }

    /// `HTTPConnection(host, port, ...)` / `HTTPSConnection` when `options.tls` is set.
    pub fn open(&mut self, host: &str, port: Option<u16>, options: &ConnectionOptions) -> Result<Connection> {
        let r = self
            .guest
            .httplib_http_client()
            .connection()
            .call_open(&mut self.store, host, port, options)
            .wait()?;
        Ok(Connection(self.check(r)?))
    }

    /// `set_debuglevel(level)`: above 0, http.client's `send:`/`reply:`/`header:` lines.
    pub fn set_debuglevel(&mut self, c: Connection, level: u32) -> Result<()> {
        Ok(guest_get!(self, connection, call_set_debuglevel, c, level))
    }

    /// `request(method, url, body, headers)`.
    pub fn request(
        &mut self,
        c: Connection,
        method: &str,
        url: &str,
        body: &Body,
        headers: &[(String, Vec<u8>)],
    ) -> Result<()> {
        self.request_with(c, method, url, body, headers, false)
    }

    /// `connect()`.
    pub fn connect(&mut self, c: Connection) -> Result<()> {
        guest_call!(self, connection, call_connect, c)
    }

    /// `request(method, url, body, headers, encode_chunked)`: with `encode_chunked` and the
    /// caller's own Transfer-Encoding header, the body is chunk-encoded for it.
    pub fn request_with(
        &mut self,
        c: Connection,
        method: &str,
        url: &str,
        body: &Body,
        headers: &[(String, Vec<u8>)],
        encode_chunked: bool,
    ) -> Result<()> {
        guest_call!(
            self,
            connection,
            call_request,
            c,
            method,
            url,
            body,
            headers,
            encode_chunked
        )
    }

    /// `putrequest(method, url, skip_host, skip_accept_encoding)`.
    pub fn putrequest(
        &mut self,
        c: Connection,
        method: &str,
        url: &str,
        skip_host: bool,
        skip_accept_encoding: bool,
    ) -> Result<()> {
        guest_call!(
            self,
            connection,
            call_putrequest,
            c,
            method,
            url,
            skip_host,
            skip_accept_encoding
        )
    }

    /// `putheader(name, *values)`.
    pub fn putheader(&mut self, c: Connection, name: &str, values: &[Vec<u8>]) -> Result<()> {
        guest_call!(self, connection, call_putheader, c, name, values)
    }

    /// `endheaders(message_body, encode_chunked)`.
    pub fn endheaders(&mut self, c: Connection, body: Option<&Body>, encode_chunked: bool) -> Result<()> {
        guest_call!(self, connection, call_endheaders, c, body, encode_chunked)
    }

    /// `send(data)`.
    pub fn send(&mut self, c: Connection, data: &[u8]) -> Result<()> {
        guest_call!(self, connection, call_send, c, data)
    }

    /// `set_tunnel(host, port, headers)`.
    pub fn set_tunnel(
        &mut self,
        c: Connection,
        host: &str,
        port: Option<u16>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<()> {
        guest_call!(self, connection, call_set_tunnel, c, host, port, headers)
    }

    /// `get_proxy_response_headers()`.
    pub fn proxy_response_headers(&mut self, c: Connection) -> Result<Option<HeaderList>> {
        Ok(guest_get!(self, connection, call_get_proxy_response_headers, c))
    }

    /// One part of a `body::streamed` request body.
    pub fn send_body(&mut self, c: Connection, data: &[u8]) -> Result<()> {
        guest_call!(self, connection, call_send_body, c, data)
    }

    /// The end of a `body::streamed` request body.
    pub fn end_body(&mut self, c: Connection) -> Result<()> {
        guest_call!(self, connection, call_end_body, c)
    }

    /// `getresponse()`: the status line and headers of the reply.
    pub fn getresponse(&mut self, c: Connection) -> Result<Response> {
        let r = self
            .guest
            .httplib_http_client()
            .connection()
            .call_getresponse(&mut self.store, c.0)
            .wait()?;
        Ok(Response(self.check(r)?))
    }

    /// `close()`: the connection can still be used again (it reconnects on demand).
    pub fn close(&mut self, c: Connection) -> Result<()> {
        Ok(guest_get!(self, connection, call_close, c))
    }

    /// Close the connection and release its handle.
    pub fn release(&mut self, c: Connection) -> Result<()> {
        self.close(c)?;
        c.0.resource_drop_async(&mut self.store).wait()?;
        Ok(())
    }

    /// `status`.
    pub fn status(&mut self, r: Response) -> Result<u16> {
        Ok(guest_get!(self, response, call_status, r))
    }

    /// `reason`.
    pub fn reason(&mut self, r: Response) -> Result<String> {
        Ok(guest_get!(self, response, call_reason, r))
    }

    /// `version`: 10 or 11.
    pub fn version(&mut self, r: Response) -> Result<u8> {
        Ok(guest_get!(self, response, call_version, r))
    }

    /// `getheaders()`: every header in arrival order.
    pub fn headers(&mut self, r: Response) -> Result<HeaderList> {
        Ok(guest_get!(self, response, call_headers, r))
    }

    /// The status line and headers exactly as received.
    pub fn raw_head(&mut self, r: Response) -> Result<Vec<u8>> {
        Ok(guest_get!(self, response, call_raw_head, r))
    }

    /// `getheader(name)`: every value of that name, joined with ", ".
    pub fn getheader(&mut self, r: Response, name: &str) -> Result<Option<String>> {
        Ok(guest_get!(self, response, call_getheader, r, name))
    }

    /// `read(amt)`.
    pub fn read(&mut self, r: Response, amt: Option<u64>) -> Result<Vec<u8>> {
        guest_call!(self, response, call_read, r, amt)
    }

    /// `read1(n)`: what one transport read brought, at most `n`.
    pub fn read1(&mut self, r: Response, n: Option<u64>) -> Result<Vec<u8>> {
        guest_call!(self, response, call_read1, r, n)
    }

    /// The body with its Content-Encoding undone, at most `amt` bytes a call (WIT `read-decoded`).
    pub fn read_decoded(&mut self, r: Response, amt: u64) -> Result<Vec<u8>> {
        guest_call!(self, response, call_read_decoded, r, amt)
    }

    /// `length`: body bytes still expected, when the framing says.
    pub fn length(&mut self, r: Response) -> Result<Option<u64>> {
        Ok(guest_get!(self, response, call_length, r))
    }

    /// `readline(limit)`.
    pub fn readline(&mut self, r: Response, limit: Option<u64>) -> Result<Vec<u8>> {
        guest_call!(self, response, call_readline, r, limit)
    }

    /// `peek(n)`.
    pub fn peek(&mut self, r: Response, n: u64) -> Result<Vec<u8>> {
        guest_call!(self, response, call_peek, r, n)
    }

    /// `isclosed()`.
    pub fn isclosed(&mut self, r: Response) -> Result<bool> {
        Ok(guest_get!(self, response, call_isclosed, r))
    }

    /// `will_close`, `chunked`, `length`, `url`.
    pub fn framing(&mut self, r: Response) -> Result<(bool, bool, Option<u64>, String)> {
        let api = self.guest.httplib_http_client().response();
        Ok((
            api.call_will_close(&mut self.store, r.0).wait()?,
            api.call_chunked(&mut self.store, r.0).wait()?,
            api.call_length(&mut self.store, r.0).wait()?,
            api.call_url(&mut self.store, r.0).wait()?,
        ))
    }

    /// Close the response and release its handle.
    pub fn close_response(&mut self, r: Response) -> Result<()> {
        self.guest
            .httplib_http_client()
            .response()
            .call_close(&mut self.store, r.0)
            .wait()?;
        r.0.resource_drop_async(&mut self.store).wait()?;
        Ok(())
    }
}
