//! The client session itself, async: every http.client call of the guest is a future, and
//! `ClientSession` is this same session with each call driven to its end on the caller's
//! thread (`runtime::block_on`).
//!
//! An `AsyncClientSession` made by `new`, `with_context` or `from_instance` yields: its
//! sockets are non-blocking and registered with the caller's tokio reactor (a runtime with IO
//! and time enabled), so a guest waiting for its peer suspends its fiber and the task awaits
//! the socket's readiness; no thread is held. Names are resolved on tokio's blocking pool.
//!
//! Cancellation: the store is taken out of the session for the length of each call and put
//! back when it ends. A call's future dropped before it finished (a `tokio::time::timeout`
//! ran out, a `select!` took another branch, the task was aborted) drops the store with it:
//! the guest is unwound, its sockets are closed and its instance goes back to the pool at
//! once. Every later call answers [`ClientError::Cancelled`].

use super::{ClientError, Connection, DebugOutput, HeaderList, Response, Result};
use crate::bindings::Httplib;
use crate::bindings::client::{Body, ConnectionOptions, Redirect, StatusConstant, UrlParts};
use crate::bindings::types::HttpError;
use crate::runtime::{HostState, Runtime};
use crate::transport::{OutboundPolicy, WaitBy};
use crate::view::{CancelHandle, HttplibCtx, HttplibView};
use wasmtime::Store;
use wasmtime_wasi::WasiCtx;

/// One call of the guest with the session's store taken out for it (see the module): `$store`
/// names it in `$future`, which is awaited.
macro_rules! call {
    ($self:ident, $store:ident => $future:expr) => {{
        let mut taken = $self.store.take().ok_or(ClientError::Cancelled)?;
        let $store = &mut taken;
        let out = $future.await;
        $self.store = Some(taken);
        out?
    }};
}

/// A `connection` or `response` method of the guest that may raise an http.client exception.
macro_rules! raising {
    ($self:ident, $resource:ident . $method:ident ($($arg:expr),*)) => {{
        let r = call!($self, store => $self.guest.httplib_http_client().$resource().$method(store, $($arg),*));
        $self.check(r).await
    }};
}

/// A `connection` or `response` method of the guest that cannot raise.
macro_rules! getting {
    ($self:ident, $resource:ident . $method:ident ($($arg:expr),*)) => {
        Ok::<_, ClientError>(call!($self, store => $self.guest.httplib_http_client().$resource().$method(store, $($arg),*)))
    };
}

/// One guest instance used as an HTTP client, each call a future (see the module), in a
/// store of type `T` (httplib's own [`HostState`] unless an embedder brings its own).
pub struct AsyncClientSession<T: HttplibView + 'static = HostState> {
    /// None while a call runs, and for good once a call was dropped before it ended.
    store: Option<Store<T>>,
    guest: Httplib,
    cancel: CancelHandle,
}

impl AsyncClientSession<HostState> {
    /// A new instance whose sockets yield to the caller's tokio reactor.
    pub fn new(runtime: &Runtime, policy: OutboundPolicy) -> anyhow::Result<Self> {
        Self::with_context(runtime, HttplibCtx::new(policy), DebugOutput::Stdout)
    }

    /// A session with everything of httplib's context chosen (see
    /// [`ClientSession::with_context`](super::ClientSession::with_context)).
    pub fn with_context(runtime: &Runtime, ctx: HttplibCtx, debug: DebugOutput) -> anyhow::Result<Self> {
        let (store, guest) = instantiate(runtime, ctx, debug)?;
        Ok(Self::from_instance(store, guest))
    }
}

/// A store and instance of httplib's own `HostState`: stdio the process's (the guest's
/// `set_debuglevel` lines on `debug`), httplib's context `ctx`.
pub(super) fn instantiate(
    runtime: &Runtime,
    ctx: HttplibCtx,
    debug: DebugOutput,
) -> anyhow::Result<(Store<HostState>, Httplib)> {
    let mut wasi = WasiCtx::builder();
    wasi.allow_blocking_current_thread(true).inherit_stderr();
    match debug {
        DebugOutput::Stdout => wasi.inherit_stdout(),
        DebugOutput::Stderr => wasi.stdout(wasmtime_wasi::cli::stderr()),
    };
    let mut state = HostState::new(wasi.build(), OutboundPolicy::deny_all());
    state.httplib = ctx;
    runtime.instantiate(state)
}

impl<T: HttplibView + 'static> AsyncClientSession<T> {
    /// A session over an instance the embedder made in its own store (see
    /// [`Runtime::instantiate_in`]); its sockets yield to the caller's tokio reactor.
    pub fn from_instance(store: Store<T>, guest: Httplib) -> Self {
        Self::over(store, guest, WaitBy::Readiness)
    }

    /// A session whose sockets yield (an `AsyncClientSession`'s own), or block (`ClientSession`'s).
    pub(super) fn over(mut store: Store<T>, guest: Httplib, waits: WaitBy) -> Self {
        let ctx = store.data_mut().httplib().ctx;
        ctx.wait_by(waits);
        let cancel = ctx.cancel_handle();
        Self {
            store: Some(store),
            guest,
            cancel,
        }
    }

    /// A handle that ends this session from anywhere: its sockets are closed, and its calls
    /// fail with `limit-exceeded`.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Whether a call was dropped before it ended: the store and instance are gone, and
    /// every call answers [`ClientError::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.store.is_none()
    }

    /// The store, for the embedder's own data (none once a call was dropped).
    pub fn store(&self) -> Option<&Store<T>> {
        self.store.as_ref()
    }

    /// The store, mutably.
    pub fn store_mut(&mut self) -> Option<&mut Store<T>> {
        self.store.as_mut()
    }

    /// Turn the guest's answer into ours, asking the guest how Python would word an error.
    async fn check<V>(&mut self, r: std::result::Result<V, HttpError>) -> Result<V> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                let message = call!(self, store => self.guest.httplib_http_client().call_error_message(store, &e));
                Err(ClientError::Http(e, message))
            }
        }
    }

    /// `http.client.responses[code]`.
    pub async fn reason_phrase(&mut self, code: u16) -> Result<Option<String>> {
        Ok(call!(self, store => self.guest.httplib_http_client().call_reason_phrase(store, code)))
    }

    /// http.client's status constants, e.g. ("NOT_FOUND", 404, "Not Found").
    pub async fn status_constants(&mut self) -> Result<Vec<StatusConstant>> {
        Ok(call!(self, store => self.guest.httplib_http_client().call_status_constants(store)))
    }

    /// (`HTTP_PORT`, `HTTPS_PORT`).
    pub async fn default_ports(&mut self) -> Result<(u16, u16)> {
        let http = call!(self, store => self.guest.httplib_http_client().call_http_port(store));
        let https = call!(self, store => self.guest.httplib_http_client().call_https_port(store));
        Ok((http, https))
    }

    /// Split an absolute http(s) URL as the guest does (`urllib.parse`'s reading).
    pub async fn split_url(&mut self, url: &str) -> Result<UrlParts> {
        let r = call!(self, store => self.guest.httplib_http_client().call_split_url(store, url));
        self.check(r).await
    }

    /// Where a response sends a client following redirects (see WIT `follow-redirect`).
    pub async fn follow_redirect(
        &mut self,
        url: &str,
        method: &str,
        status: u16,
        location: Option<&str>,
    ) -> Result<Option<Redirect>> {
        let r = call!(self, store => self
            .guest
            .httplib_http_client()
            .call_follow_redirect(store, url, method, status, location));
        self.check(r).await
    }

    /// `HTTPConnection(host, port, ...)` / `HTTPSConnection` when `options.tls` is set.
    pub async fn open(&mut self, host: &str, port: Option<u16>, options: &ConnectionOptions) -> Result<Connection> {
        raising!(self, connection.call_open(host, port, options)).map(Connection)
    }

    /// `set_debuglevel(level)`: above 0, http.client's `send:`/`reply:`/`header:` lines.
    pub async fn set_debuglevel(&mut self, c: Connection, level: u32) -> Result<()> {
        getting!(self, connection.call_set_debuglevel(c.0, level))
    }

    /// `request(method, url, body, headers)`.
    pub async fn request(
        &mut self,
        c: Connection,
        method: &str,
        url: &str,
        body: &Body,
        headers: &[(String, Vec<u8>)],
    ) -> Result<()> {
        self.request_with(c, method, url, body, headers, false).await
    }

    /// `connect()`.
    pub async fn connect(&mut self, c: Connection) -> Result<()> {
        raising!(self, connection.call_connect(c.0))
    }

    /// `request(method, url, body, headers, encode_chunked)`: with `encode_chunked` and the
    /// caller's own Transfer-Encoding header, the body is chunk-encoded for it.
    pub async fn request_with(
        &mut self,
        c: Connection,
        method: &str,
        url: &str,
        body: &Body,
        headers: &[(String, Vec<u8>)],
        encode_chunked: bool,
    ) -> Result<()> {
        raising!(
            self,
            connection.call_request(c.0, method, url, body, headers, encode_chunked)
        )
    }

    /// `putrequest(method, url, skip_host, skip_accept_encoding)`.
    pub async fn putrequest(
        &mut self,
        c: Connection,
        method: &str,
        url: &str,
        skip_host: bool,
        skip_accept_encoding: bool,
    ) -> Result<()> {
        raising!(
            self,
            connection.call_putrequest(c.0, method, url, skip_host, skip_accept_encoding)
        )
    }

    /// `putheader(name, *values)`.
    pub async fn putheader(&mut self, c: Connection, name: &str, values: &[Vec<u8>]) -> Result<()> {
        raising!(self, connection.call_putheader(c.0, name, values))
    }

    /// `endheaders(message_body, encode_chunked)`.
    pub async fn endheaders(&mut self, c: Connection, body: Option<&Body>, encode_chunked: bool) -> Result<()> {
        raising!(self, connection.call_endheaders(c.0, body, encode_chunked))
    }

    /// `send(data)`.
    pub async fn send(&mut self, c: Connection, data: &[u8]) -> Result<()> {
        raising!(self, connection.call_send(c.0, data))
    }

    /// `set_tunnel(host, port, headers)`.
    pub async fn set_tunnel(
        &mut self,
        c: Connection,
        host: &str,
        port: Option<u16>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<()> {
        raising!(self, connection.call_set_tunnel(c.0, host, port, headers))
    }

    /// `get_proxy_response_headers()`.
    pub async fn proxy_response_headers(&mut self, c: Connection) -> Result<Option<HeaderList>> {
        getting!(self, connection.call_get_proxy_response_headers(c.0))
    }

    /// One part of a `body::streamed` request body.
    pub async fn send_body(&mut self, c: Connection, data: &[u8]) -> Result<()> {
        raising!(self, connection.call_send_body(c.0, data))
    }

    /// The end of a `body::streamed` request body.
    pub async fn end_body(&mut self, c: Connection) -> Result<()> {
        raising!(self, connection.call_end_body(c.0))
    }

    /// `getresponse()`: the status line and headers of the reply.
    pub async fn getresponse(&mut self, c: Connection) -> Result<Response> {
        raising!(self, connection.call_getresponse(c.0)).map(Response)
    }

    /// `close()`: the connection can still be used again (it reconnects on demand).
    pub async fn close(&mut self, c: Connection) -> Result<()> {
        getting!(self, connection.call_close(c.0))
    }

    /// Close the connection and release its handle.
    pub async fn release(&mut self, c: Connection) -> Result<()> {
        self.close(c).await?;
        call!(self, store => c.0.resource_drop_async(store));
        Ok(())
    }

    /// `status`.
    pub async fn status(&mut self, r: Response) -> Result<u16> {
        getting!(self, response.call_status(r.0))
    }

    /// `reason`.
    pub async fn reason(&mut self, r: Response) -> Result<String> {
        getting!(self, response.call_reason(r.0))
    }

    /// `version`: 10 or 11.
    pub async fn version(&mut self, r: Response) -> Result<u8> {
        getting!(self, response.call_version(r.0))
    }

    /// `getheaders()`: every header in arrival order.
    pub async fn headers(&mut self, r: Response) -> Result<HeaderList> {
        getting!(self, response.call_headers(r.0))
    }

    /// The status line and headers exactly as received.
    pub async fn raw_head(&mut self, r: Response) -> Result<Vec<u8>> {
        getting!(self, response.call_raw_head(r.0))
    }

    /// `getheader(name)`: every value of that name, joined with ", ".
    pub async fn getheader(&mut self, r: Response, name: &str) -> Result<Option<String>> {
        getting!(self, response.call_getheader(r.0, name))
    }

    /// `read(amt)`.
    pub async fn read(&mut self, r: Response, amt: Option<u64>) -> Result<Vec<u8>> {
        raising!(self, response.call_read(r.0, amt))
    }

    /// `read1(n)`: what one transport read brought, at most `n`.
    pub async fn read1(&mut self, r: Response, n: Option<u64>) -> Result<Vec<u8>> {
        raising!(self, response.call_read1(r.0, n))
    }

    /// The body with its Content-Encoding undone, at most `amt` bytes a call (WIT `read-decoded`).
    pub async fn read_decoded(&mut self, r: Response, amt: u64) -> Result<Vec<u8>> {
        raising!(self, response.call_read_decoded(r.0, amt))
    }

    /// `length`: body bytes still expected, when the framing says.
    pub async fn length(&mut self, r: Response) -> Result<Option<u64>> {
        getting!(self, response.call_length(r.0))
    }

    /// `readline(limit)`.
    pub async fn readline(&mut self, r: Response, limit: Option<u64>) -> Result<Vec<u8>> {
        raising!(self, response.call_readline(r.0, limit))
    }

    /// `peek(n)`.
    pub async fn peek(&mut self, r: Response, n: u64) -> Result<Vec<u8>> {
        raising!(self, response.call_peek(r.0, n))
    }

    /// `isclosed()`.
    pub async fn isclosed(&mut self, r: Response) -> Result<bool> {
        getting!(self, response.call_isclosed(r.0))
    }

    /// `will_close`, `chunked`, `length`, `url`.
    pub async fn framing(&mut self, r: Response) -> Result<(bool, bool, Option<u64>, String)> {
        let will_close = getting!(self, response.call_will_close(r.0))?;
        let chunked = getting!(self, response.call_chunked(r.0))?;
        let length = getting!(self, response.call_length(r.0))?;
        let url = getting!(self, response.call_url(r.0))?;
        Ok((will_close, chunked, length, url))
    }

    /// Close the response and release its handle.
    pub async fn close_response(&mut self, r: Response) -> Result<()> {
        getting!(self, response.call_close(r.0))?;
        call!(self, store => r.0.resource_drop_async(store));
        Ok(())
    }
}
