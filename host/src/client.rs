//! Driving the guest's http.client from host code: one store and instance per session, the
//! guest's `connection` and `response` resources behind typed handles.

use crate::bindings::Httplib;
use crate::bindings::client::{Body, ConnectionOptions, UrlParts};
use crate::bindings::types::HttpError;
use crate::runtime::{HostState, Runtime};
use crate::transport::OutboundPolicy;
use std::fmt;
use wasmtime::Store;
use wasmtime::component::ResourceAny;
use wasmtime_wasi::WasiCtx;

/// A failed client call: an http.client exception from the guest, or the guest itself failed.
#[derive(Debug)]
pub enum ClientError {
    /// The exception, and how Python would print it.
    Http(HttpError, String),
    /// The guest trapped or the runtime failed.
    Runtime(anyhow::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Http(_, message) => f.write_str(message),
            ClientError::Runtime(e) => write!(f, "guest failure: {e:#}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<wasmtime::Error> for ClientError {
    fn from(e: wasmtime::Error) -> Self {
        ClientError::Runtime(e.into())
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// An open `connection` resource (HTTPConnection) in a session.
#[derive(Debug, Clone, Copy)]
pub struct Connection(ResourceAny);

/// A `response` resource (HTTPResponse) in a session.
#[derive(Debug, Clone, Copy)]
pub struct Response(ResourceAny);

/// One guest instance used as an HTTP client.
pub struct ClientSession {
    store: Store<HostState>,
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
}

impl ClientSession {
    /// A new instance whose stdout/stderr are the process's (for `set_debuglevel` output).
    pub fn new(runtime: &Runtime, policy: OutboundPolicy) -> anyhow::Result<Self> {
        let wasi = WasiCtx::builder().inherit_stdout().inherit_stderr().build();
        let (store, guest) = runtime.instantiate(HostState::new(wasi, policy))?;
        Ok(Self { store, guest })
    }

    /// Turn the guest's answer into ours, asking the guest how Python would word an error.
    fn check<T>(&mut self, r: std::result::Result<T, HttpError>) -> Result<T> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                let message = self
                    .guest
                    .httplib_http_client()
                    .call_error_message(&mut self.store, &e)?;
                Err(ClientError::Http(e, message))
            }
        }
    }

    pub fn split_url(&mut self, url: &str) -> Result<UrlParts> {
        let r = self.guest.httplib_http_client().call_split_url(&mut self.store, url)?;
        self.check(r)
    }

    pub fn open(&mut self, host: &str, port: Option<u16>, options: &ConnectionOptions) -> Result<Connection> {
        let r = self
            .guest
            .httplib_http_client()
            .connection()
            .call_open(&mut self.store, host, port, options)?;
        Ok(Connection(self.check(r)?))
    }

    pub fn set_debuglevel(&mut self, c: Connection, level: u32) -> Result<()> {
        Ok(self
            .guest
            .httplib_http_client()
            .connection()
            .call_set_debuglevel(&mut self.store, c.0, level)?)
    }

    pub fn request(
        &mut self,
        c: Connection,
        method: &str,
        url: &str,
        body: &Body,
        headers: &[(String, Vec<u8>)],
    ) -> Result<()> {
        let r = self.guest.httplib_http_client().connection().call_request(
            &mut self.store,
            c.0,
            method,
            url,
            body,
            headers,
            false,
        )?;
        self.check(r)
    }

    /// One part of a `body::streamed` request body.
    pub fn send_body(&mut self, c: Connection, data: &[u8]) -> Result<()> {
        let r = self
            .guest
            .httplib_http_client()
            .connection()
            .call_send_body(&mut self.store, c.0, data)?;
        self.check(r)
    }

    /// The end of a `body::streamed` request body.
    pub fn end_body(&mut self, c: Connection) -> Result<()> {
        let r = self
            .guest
            .httplib_http_client()
            .connection()
            .call_end_body(&mut self.store, c.0)?;
        self.check(r)
    }

    pub fn getresponse(&mut self, c: Connection) -> Result<Response> {
        let r = self
            .guest
            .httplib_http_client()
            .connection()
            .call_getresponse(&mut self.store, c.0)?;
        Ok(Response(self.check(r)?))
    }

    pub fn close(&mut self, c: Connection) -> Result<()> {
        let conn = self.guest.httplib_http_client().connection();
        conn.call_close(&mut self.store, c.0)?;
        c.0.resource_drop(&mut self.store)?;
        Ok(())
    }

    pub fn status(&mut self, r: Response) -> Result<u16> {
        Ok(self
            .guest
            .httplib_http_client()
            .response()
            .call_status(&mut self.store, r.0)?)
    }

    pub fn reason(&mut self, r: Response) -> Result<String> {
        Ok(self
            .guest
            .httplib_http_client()
            .response()
            .call_reason(&mut self.store, r.0)?)
    }

    pub fn version(&mut self, r: Response) -> Result<u8> {
        Ok(self
            .guest
            .httplib_http_client()
            .response()
            .call_version(&mut self.store, r.0)?)
    }

    pub fn headers(&mut self, r: Response) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(self
            .guest
            .httplib_http_client()
            .response()
            .call_headers(&mut self.store, r.0)?)
    }

    pub fn getheader(&mut self, r: Response, name: &str) -> Result<Option<String>> {
        Ok(self
            .guest
            .httplib_http_client()
            .response()
            .call_getheader(&mut self.store, r.0, name)?)
    }

    /// `read(amt)`.
    pub fn read(&mut self, r: Response, amt: Option<u64>) -> Result<Vec<u8>> {
        let res = self
            .guest
            .httplib_http_client()
            .response()
            .call_read(&mut self.store, r.0, amt)?;
        self.check(res)
    }

    /// `read1(n)`: what one transport read brought, at most `n`.
    pub fn read1(&mut self, r: Response, n: Option<u64>) -> Result<Vec<u8>> {
        let res = self
            .guest
            .httplib_http_client()
            .response()
            .call_read1(&mut self.store, r.0, n)?;
        self.check(res)
    }

    /// Close the response and release its handle.
    pub fn close_response(&mut self, r: Response) -> Result<()> {
        self.guest
            .httplib_http_client()
            .response()
            .call_close(&mut self.store, r.0)?;
        r.0.resource_drop(&mut self.store)?;
        Ok(())
    }
}
