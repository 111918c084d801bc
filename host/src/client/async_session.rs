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

use super::types::{ClientError, Connection, CookieJar, DebugOutput, HeaderList, Response, Result};
use crate::bindings::Httplib;
use crate::bindings::client::{
    Body, ConnectionOptions, FormLayout, FormPart, ProxySetting, Redirect, RequestPlan, StatusConstant, UrlParts,
};
use crate::bindings::exports::httplib::http::client::Guest as ClientExports;
use crate::bindings::types::HttpError;
use crate::policy::OutboundPolicy;
use crate::runtime::Runtime;
use crate::transport::WaitBy;
use crate::view::HostState;
use crate::view::{CancelHandle, HttplibCtx, HttplibView};
use wasmtime::Store;
use wasmtime_wasi::WasiCtx;

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

    /// One call of the guest: `f` gets the store, taken out of the session for the call's
    /// length (see the module), and the guest's client exports.
    async fn call<R>(
        &mut self,
        f: impl AsyncFnOnce(&mut Store<T>, &ClientExports) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let mut store = self.store.take().ok_or(ClientError::Cancelled)?;
        let out = f(&mut store, self.guest.httplib_http_client()).await;
        self.store = Some(store);
        Ok(out?)
    }

    /// `call` for a method that may raise an http.client exception: the guest's answer made
    /// ours, with the words Python would print for an error (asked of the guest).
    async fn raising<R>(
        &mut self,
        f: impl AsyncFnOnce(&mut Store<T>, &ClientExports) -> wasmtime::Result<std::result::Result<R, HttpError>>,
    ) -> Result<R> {
        match self.call(f).await? {
            Ok(v) => Ok(v),
            Err(e) => {
                let message = self.call(async |s, api| api.call_error_message(s, &e).await).await?;
                Err(ClientError::Http(e, message))
            }
        }
    }

    /// `http.client.responses[code]`.
    pub async fn reason_phrase(&mut self, code: u16) -> Result<Option<String>> {
        self.call(async |s, api| api.call_reason_phrase(s, code).await).await
    }

    /// http.client's status constants, e.g. ("NOT_FOUND", 404, "Not Found").
    pub async fn status_constants(&mut self) -> Result<Vec<StatusConstant>> {
        self.call(async |s, api| api.call_status_constants(s).await).await
    }

    /// (`HTTP_PORT`, `HTTPS_PORT`).
    pub async fn default_ports(&mut self) -> Result<(u16, u16)> {
        let http = self.call(async |s, api| api.call_http_port(s).await).await?;
        let https = self.call(async |s, api| api.call_https_port(s).await).await?;
        Ok((http, https))
    }

    /// Split an absolute http(s) URL as the guest does (`urllib.parse`'s reading).
    pub async fn split_url(&mut self, url: &str) -> Result<UrlParts> {
        self.raising(async |s, api| api.call_split_url(s, url).await).await
    }

    /// Where a response sends a client following redirects (see WIT `follow-redirect`).
    pub async fn follow_redirect(
        &mut self,
        url: &str,
        method: &str,
        status: u16,
        location: Option<&str>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<Option<Redirect>> {
        self.raising(async |s, api| {
            api.call_follow_redirect(s, url, method, status, location, headers)
                .await
        })
        .await
    }

    /// How to send a request for `url`: route, target and headers (see WIT `plan-request`).
    pub async fn plan_request(
        &mut self,
        url: &str,
        proxy: &ProxySetting,
        credentials: Option<&str>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<RequestPlan> {
        self.raising(async |s, api| api.call_plan_request(s, url, proxy, credentials, headers).await)
            .await
    }

    /// A multipart/form-data body laid out around its parts (see WIT `form-data`).
    pub async fn form_data(&mut self, boundary: &str, parts: &[FormPart]) -> Result<FormLayout> {
        self.call(async |s, api| api.call_form_data(s, boundary, parts).await)
            .await
    }

    /// A form value percent-encoded as curl's --data-urlencode (see WIT `form-urlencode`).
    pub async fn form_urlencode(&mut self, data: &[u8]) -> Result<String> {
        self.call(async |s, api| api.call_form_urlencode(s, data).await).await
    }

    /// The file name a Content-Disposition value suggests (see WIT `content-disposition-filename`).
    pub async fn content_disposition_filename(&mut self, value: &str) -> Result<Option<String>> {
        self.call(async |s, api| api.call_content_disposition_filename(s, value).await)
            .await
    }

    /// A new, empty `cookie-jar`.
    pub async fn cookie_jar(&mut self) -> Result<CookieJar> {
        self.call(async |s, api| api.cookie_jar().call_constructor(s).await)
            .await
            .map(CookieJar)
    }

    /// Add a Netscape cookie file's cookies to `jar`.
    pub async fn cookie_jar_load(&mut self, jar: CookieJar, netscape: &str) -> Result<()> {
        self.call(async |s, api| api.cookie_jar().call_load(s, jar.0, netscape).await)
            .await
    }

    /// Give `jar` a Set-Cookie value received for `url`.
    pub async fn set_cookie(&mut self, jar: CookieJar, url: &str, value: &str) -> Result<()> {
        self.call(async |s, api| api.cookie_jar().call_set_cookie(s, jar.0, url, value).await)
            .await
    }

    /// The Cookie header `jar` gives a request to `url`.
    pub async fn cookie_header(&mut self, jar: CookieJar, url: &str) -> Result<Option<String>> {
        self.call(async |s, api| api.cookie_jar().call_cookie_header(s, jar.0, url).await)
            .await
    }

    /// `jar` as a Netscape cookie file.
    pub async fn cookie_jar_save(&mut self, jar: CookieJar) -> Result<String> {
        self.call(async |s, api| api.cookie_jar().call_save(s, jar.0).await)
            .await
    }

    /// `HTTPConnection(host, port, ...)` / `HTTPSConnection` when `options.tls` is set.
    pub async fn open(&mut self, host: &str, port: Option<u16>, options: &ConnectionOptions) -> Result<Connection> {
        self.raising(async |s, api| api.connection().call_open(s, host, port, options).await)
            .await
            .map(Connection)
    }

    /// The version the connection's requests say ("HTTP/1.0" or "HTTP/1.1").
    pub async fn set_http_version(&mut self, c: Connection, version: &str) -> Result<()> {
        self.raising(async |s, api| api.connection().call_set_http_version(s, c.0, version).await)
            .await
    }

    /// `set_debuglevel(level)`: above 0, http.client's `send:`/`reply:`/`header:` lines.
    pub async fn set_debuglevel(&mut self, c: Connection, level: u32) -> Result<()> {
        self.call(async |s, api| api.connection().call_set_debuglevel(s, c.0, level).await)
            .await
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
        self.raising(async |s, api| api.connection().call_connect(s, c.0).await)
            .await
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
        self.raising(async |s, api| {
            api.connection()
                .call_request(s, c.0, method, url, body, headers, encode_chunked)
                .await
        })
        .await
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
        self.raising(async |s, api| {
            api.connection()
                .call_putrequest(s, c.0, method, url, skip_host, skip_accept_encoding)
                .await
        })
        .await
    }

    /// `putheader(name, *values)`.
    pub async fn putheader(&mut self, c: Connection, name: &str, values: &[Vec<u8>]) -> Result<()> {
        self.raising(async |s, api| api.connection().call_putheader(s, c.0, name, values).await)
            .await
    }

    /// `endheaders(message_body, encode_chunked)`.
    pub async fn endheaders(&mut self, c: Connection, body: Option<&Body>, encode_chunked: bool) -> Result<()> {
        self.raising(async |s, api| api.connection().call_endheaders(s, c.0, body, encode_chunked).await)
            .await
    }

    /// `send(data)`.
    pub async fn send(&mut self, c: Connection, data: &[u8]) -> Result<()> {
        self.raising(async |s, api| api.connection().call_send(s, c.0, data).await)
            .await
    }

    /// `set_tunnel(host, port, headers)`.
    pub async fn set_tunnel(
        &mut self,
        c: Connection,
        host: &str,
        port: Option<u16>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<()> {
        self.raising(async |s, api| api.connection().call_set_tunnel(s, c.0, host, port, headers).await)
            .await
    }

    /// `get_proxy_response_headers()`.
    pub async fn proxy_response_headers(&mut self, c: Connection) -> Result<Option<HeaderList>> {
        self.call(async |s, api| api.connection().call_get_proxy_response_headers(s, c.0).await)
            .await
    }

    /// One part of a `body::streamed` request body.
    pub async fn send_body(&mut self, c: Connection, data: &[u8]) -> Result<()> {
        self.raising(async |s, api| api.connection().call_send_body(s, c.0, data).await)
            .await
    }

    /// The end of a `body::streamed` request body.
    pub async fn end_body(&mut self, c: Connection) -> Result<()> {
        self.raising(async |s, api| api.connection().call_end_body(s, c.0).await)
            .await
    }

    /// `getresponse()`: the status line and headers of the reply.
    pub async fn getresponse(&mut self, c: Connection) -> Result<Response> {
        self.raising(async |s, api| api.connection().call_getresponse(s, c.0).await)
            .await
            .map(Response)
    }

    /// `close()`: the connection can still be used again (it reconnects on demand).
    pub async fn close(&mut self, c: Connection) -> Result<()> {
        self.call(async |s, api| api.connection().call_close(s, c.0).await)
            .await
    }

    /// Close the connection and release its handle.
    pub async fn release(&mut self, c: Connection) -> Result<()> {
        self.close(c).await?;
        self.call(async |s, _| c.0.resource_drop_async(s).await).await?;
        Ok(())
    }

    /// `status`.
    pub async fn status(&mut self, r: Response) -> Result<u16> {
        self.call(async |s, api| api.response().call_status(s, r.0).await).await
    }

    /// `reason`.
    pub async fn reason(&mut self, r: Response) -> Result<String> {
        self.call(async |s, api| api.response().call_reason(s, r.0).await).await
    }

    /// `version`: 10 or 11.
    pub async fn version(&mut self, r: Response) -> Result<u8> {
        self.call(async |s, api| api.response().call_version(s, r.0).await)
            .await
    }

    /// `getheaders()`: every header in arrival order.
    pub async fn headers(&mut self, r: Response) -> Result<HeaderList> {
        self.call(async |s, api| api.response().call_headers(s, r.0).await)
            .await
    }

    /// The status line and headers exactly as received.
    pub async fn raw_head(&mut self, r: Response) -> Result<Vec<u8>> {
        self.call(async |s, api| api.response().call_raw_head(s, r.0).await)
            .await
    }

    /// `getheader(name)`: every value of that name, joined with ", ".
    pub async fn getheader(&mut self, r: Response, name: &str) -> Result<Option<String>> {
        self.call(async |s, api| api.response().call_getheader(s, r.0, name).await)
            .await
    }

    /// `read(amt)`.
    pub async fn read(&mut self, r: Response, amt: Option<u64>) -> Result<Vec<u8>> {
        self.raising(async |s, api| api.response().call_read(s, r.0, amt).await)
            .await
    }

    /// `read1(n)`: what one transport read brought, at most `n`.
    pub async fn read1(&mut self, r: Response, n: Option<u64>) -> Result<Vec<u8>> {
        self.raising(async |s, api| api.response().call_read1(s, r.0, n).await)
            .await
    }

    /// The body with its Content-Encoding undone, at most `amt` bytes a call (WIT `read-decoded`).
    pub async fn read_decoded(&mut self, r: Response, amt: u64) -> Result<Vec<u8>> {
        self.raising(async |s, api| api.response().call_read_decoded(s, r.0, amt).await)
            .await
    }

    /// `length`: body bytes still expected, when the framing says.
    pub async fn length(&mut self, r: Response) -> Result<Option<u64>> {
        self.call(async |s, api| api.response().call_length(s, r.0).await).await
    }

    /// `readline(limit)`.
    pub async fn readline(&mut self, r: Response, limit: Option<u64>) -> Result<Vec<u8>> {
        self.raising(async |s, api| api.response().call_readline(s, r.0, limit).await)
            .await
    }

    /// `peek(n)`.
    pub async fn peek(&mut self, r: Response, n: u64) -> Result<Vec<u8>> {
        self.raising(async |s, api| api.response().call_peek(s, r.0, n).await)
            .await
    }

    /// `isclosed()`.
    pub async fn isclosed(&mut self, r: Response) -> Result<bool> {
        self.call(async |s, api| api.response().call_isclosed(s, r.0).await)
            .await
    }

    /// `will_close`, `chunked`, `length`, `url`.
    pub async fn framing(&mut self, r: Response) -> Result<(bool, bool, Option<u64>, String)> {
        let will_close = self
            .call(async |s, api| api.response().call_will_close(s, r.0).await)
            .await?;
        let chunked = self
            .call(async |s, api| api.response().call_chunked(s, r.0).await)
            .await?;
        let length = self
            .call(async |s, api| api.response().call_length(s, r.0).await)
            .await?;
        let url = self.call(async |s, api| api.response().call_url(s, r.0).await).await?;
        Ok((will_close, chunked, length, url))
    }

    /// Close the response and release its handle.
    pub async fn close_response(&mut self, r: Response) -> Result<()> {
        self.call(async |s, api| api.response().call_close(s, r.0).await)
            .await?;
        self.call(async |s, _| r.0.resource_drop_async(s).await).await?;
        Ok(())
    }
}
