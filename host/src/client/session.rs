//! `ClientSession`: the client session with each call of [`AsyncClientSession`] driven to
//! its end on the caller's thread (`block_on`), its sockets blocking.

use super::async_session::{self, AsyncClientSession};
use super::types::{Connection, CookieJar, DebugOutput, HeaderList, Response, Result};
use crate::bindings::Httplib;
use crate::bindings::client::{
    Body, ConnectionOptions, FormLayout, FormPart, ProxySetting, Redirect, RequestPlan, StatusConstant, UrlParts,
};
use crate::policy::OutboundPolicy;
use crate::runtime::Runtime;
use crate::transport::tls::ClientIdentities;
use crate::view::{CancelHandle, HostState, HttplibCtx, HttplibView};
use crate::wait::block_on;
use std::sync::Arc;
use wasmtime::Store;

/// One guest instance used as an HTTP client, in a store of type `T` (httplib's own
/// [`HostState`] unless an embedder brings its own, see [`crate::view`]): an
/// [`AsyncClientSession`] whose calls are driven to their end on the caller's thread, its
/// sockets blocking.
pub struct ClientSession<T: HttplibView + 'static = HostState>(AsyncClientSession<T>);

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
    /// (see [`SessionLimits`](crate::limits::SessionLimits)).
    pub fn with_context(runtime: &Runtime, ctx: HttplibCtx, debug: DebugOutput) -> anyhow::Result<Self> {
        let (store, guest) = async_session::instantiate(runtime, ctx, debug)?;
        Ok(Self::from_instance(store, guest))
    }
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

    /// `http.client.responses[code]`.
    pub fn reason_phrase(&mut self, code: u16) -> Result<Option<String>> {
        block_on(self.0.reason_phrase(code))
    }

    /// http.client's status constants, e.g. ("NOT_FOUND", 404, "Not Found").
    pub fn status_constants(&mut self) -> Result<Vec<StatusConstant>> {
        block_on(self.0.status_constants())
    }

    /// (`HTTP_PORT`, `HTTPS_PORT`).
    pub fn default_ports(&mut self) -> Result<(u16, u16)> {
        block_on(self.0.default_ports())
    }

    /// Split an absolute http(s) URL as the guest does (`urllib.parse`'s reading).
    pub fn split_url(&mut self, url: &str) -> Result<UrlParts> {
        block_on(self.0.split_url(url))
    }

    /// Where a response sends a client following redirects (see WIT `follow-redirect`).
    pub fn follow_redirect(
        &mut self,
        url: &str,
        method: &str,
        status: u16,
        location: Option<&str>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<Option<Redirect>> {
        block_on(self.0.follow_redirect(url, method, status, location, headers))
    }

    /// How to send a request for `url`: route, target and headers (see WIT `plan-request`).
    pub fn plan_request(
        &mut self,
        url: &str,
        proxy: &ProxySetting,
        credentials: Option<&str>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<RequestPlan> {
        block_on(self.0.plan_request(url, proxy, credentials, headers))
    }

    /// A multipart/form-data body laid out around its parts (see WIT `form-data`).
    pub fn form_data(&mut self, boundary: &str, parts: &[FormPart]) -> Result<FormLayout> {
        block_on(self.0.form_data(boundary, parts))
    }

    /// A form value percent-encoded as curl's --data-urlencode (see WIT `form-urlencode`).
    pub fn form_urlencode(&mut self, data: &[u8]) -> Result<String> {
        block_on(self.0.form_urlencode(data))
    }

    /// The file name a Content-Disposition value suggests (see WIT `content-disposition-filename`).
    pub fn content_disposition_filename(&mut self, value: &str) -> Result<Option<String>> {
        block_on(self.0.content_disposition_filename(value))
    }

    /// A new, empty `cookie-jar`.
    pub fn cookie_jar(&mut self) -> Result<CookieJar> {
        block_on(self.0.cookie_jar())
    }

    /// Add a Netscape cookie file's cookies to `jar`.
    pub fn cookie_jar_load(&mut self, jar: CookieJar, netscape: &str) -> Result<()> {
        block_on(self.0.cookie_jar_load(jar, netscape))
    }

    /// Give `jar` a Set-Cookie value received for `url`.
    pub fn set_cookie(&mut self, jar: CookieJar, url: &str, value: &str) -> Result<()> {
        block_on(self.0.set_cookie(jar, url, value))
    }

    /// The Cookie header `jar` gives a request to `url`.
    pub fn cookie_header(&mut self, jar: CookieJar, url: &str) -> Result<Option<String>> {
        block_on(self.0.cookie_header(jar, url))
    }

    /// `jar` as a Netscape cookie file.
    pub fn cookie_jar_save(&mut self, jar: CookieJar) -> Result<String> {
        block_on(self.0.cookie_jar_save(jar))
    }

    /// `HTTPConnection(host, port, ...)` / `HTTPSConnection` when `options.tls` is set.
    pub fn open(&mut self, host: &str, port: Option<u16>, options: &ConnectionOptions) -> Result<Connection> {
        block_on(self.0.open(host, port, options))
    }

    /// The version the connection's requests say ("HTTP/1.0" or "HTTP/1.1").
    pub fn set_http_version(&mut self, c: Connection, version: &str) -> Result<()> {
        block_on(self.0.set_http_version(c, version))
    }

    /// `set_debuglevel(level)`: above 0, http.client's `send:`/`reply:`/`header:` lines.
    pub fn set_debuglevel(&mut self, c: Connection, level: u32) -> Result<()> {
        block_on(self.0.set_debuglevel(c, level))
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
        block_on(self.0.request(c, method, url, body, headers))
    }

    /// `connect()`.
    pub fn connect(&mut self, c: Connection) -> Result<()> {
        block_on(self.0.connect(c))
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
        block_on(self.0.request_with(c, method, url, body, headers, encode_chunked))
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
        block_on(self.0.putrequest(c, method, url, skip_host, skip_accept_encoding))
    }

    /// `putheader(name, *values)`.
    pub fn putheader(&mut self, c: Connection, name: &str, values: &[Vec<u8>]) -> Result<()> {
        block_on(self.0.putheader(c, name, values))
    }

    /// `endheaders(message_body, encode_chunked)`.
    pub fn endheaders(&mut self, c: Connection, body: Option<&Body>, encode_chunked: bool) -> Result<()> {
        block_on(self.0.endheaders(c, body, encode_chunked))
    }

    /// `send(data)`.
    pub fn send(&mut self, c: Connection, data: &[u8]) -> Result<()> {
        block_on(self.0.send(c, data))
    }

    /// `set_tunnel(host, port, headers)`.
    pub fn set_tunnel(
        &mut self,
        c: Connection,
        host: &str,
        port: Option<u16>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<()> {
        block_on(self.0.set_tunnel(c, host, port, headers))
    }

    /// `get_proxy_response_headers()`.
    pub fn proxy_response_headers(&mut self, c: Connection) -> Result<Option<HeaderList>> {
        block_on(self.0.proxy_response_headers(c))
    }

    /// One part of a `body::streamed` request body.
    pub fn send_body(&mut self, c: Connection, data: &[u8]) -> Result<()> {
        block_on(self.0.send_body(c, data))
    }

    /// The end of a `body::streamed` request body.
    pub fn end_body(&mut self, c: Connection) -> Result<()> {
        block_on(self.0.end_body(c))
    }

    /// `getresponse()`: the status line and headers of the reply.
    pub fn getresponse(&mut self, c: Connection) -> Result<Response> {
        block_on(self.0.getresponse(c))
    }

    /// `close()`: the connection can still be used again (it reconnects on demand).
    pub fn close(&mut self, c: Connection) -> Result<()> {
        block_on(self.0.close(c))
    }

    /// Close the connection and release its handle.
    pub fn release(&mut self, c: Connection) -> Result<()> {
        block_on(self.0.release(c))
    }

    /// `status`.
    pub fn status(&mut self, r: Response) -> Result<u16> {
        block_on(self.0.status(r))
    }

    /// `reason`.
    pub fn reason(&mut self, r: Response) -> Result<String> {
        block_on(self.0.reason(r))
    }

    /// `version`: 10 or 11.
    pub fn version(&mut self, r: Response) -> Result<u8> {
        block_on(self.0.version(r))
    }

    /// `getheaders()`: every header in arrival order.
    pub fn headers(&mut self, r: Response) -> Result<HeaderList> {
        block_on(self.0.headers(r))
    }

    /// The status line and headers exactly as received.
    pub fn raw_head(&mut self, r: Response) -> Result<Vec<u8>> {
        block_on(self.0.raw_head(r))
    }

    /// `getheader(name)`: every value of that name, joined with ", ".
    pub fn getheader(&mut self, r: Response, name: &str) -> Result<Option<String>> {
        block_on(self.0.getheader(r, name))
    }

    /// `read(amt)`.
    pub fn read(&mut self, r: Response, amt: Option<u64>) -> Result<Vec<u8>> {
        block_on(self.0.read(r, amt))
    }

    /// `read1(n)`: what one transport read brought, at most `n`.
    pub fn read1(&mut self, r: Response, n: Option<u64>) -> Result<Vec<u8>> {
        block_on(self.0.read1(r, n))
    }

    /// The body with its Content-Encoding undone, at most `amt` bytes a call (WIT `read-decoded`).
    pub fn read_decoded(&mut self, r: Response, amt: u64) -> Result<Vec<u8>> {
        block_on(self.0.read_decoded(r, amt))
    }

    /// `length`: body bytes still expected, when the framing says.
    pub fn length(&mut self, r: Response) -> Result<Option<u64>> {
        block_on(self.0.length(r))
    }

    /// `readline(limit)`.
    pub fn readline(&mut self, r: Response, limit: Option<u64>) -> Result<Vec<u8>> {
        block_on(self.0.readline(r, limit))
    }

    /// `peek(n)`.
    pub fn peek(&mut self, r: Response, n: u64) -> Result<Vec<u8>> {
        block_on(self.0.peek(r, n))
    }

    /// `isclosed()`.
    pub fn isclosed(&mut self, r: Response) -> Result<bool> {
        block_on(self.0.isclosed(r))
    }

    /// `will_close`, `chunked`, `length`, `url`.
    pub fn framing(&mut self, r: Response) -> Result<(bool, bool, Option<u64>, String)> {
        block_on(self.0.framing(r))
    }

    /// Close the response and release its handle.
    pub fn close_response(&mut self, r: Response) -> Result<()> {
        block_on(self.0.close_response(r))
    }
}
