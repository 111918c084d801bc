//! What a client session's calls take and give: the failure type, handles of the guest's
//! `connection` and `response` resources, and the WIT records' defaults (HTTPConnection's).

use crate::bindings::client::ConnectionOptions;
use crate::bindings::types::HttpError;
use crate::bindings::types::TlsOptions;
use std::fmt;
use wasmtime::component::ResourceAny;

/// A failed client call: an http.client exception from the guest, or the guest itself failed.
#[derive(Debug)]
pub enum ClientError {
    /// The exception, and how Python would print it.
    Http(HttpError, String),
    /// The guest trapped or the runtime failed.
    Runtime(anyhow::Error),
    /// A call of an [`AsyncClientSession`](super::AsyncClientSession) was dropped before it ended: the session's store
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
pub struct Connection(pub(super) ResourceAny);

/// A `cookie-jar` resource in a session.
#[derive(Debug, Clone, Copy)]
pub struct CookieJar(pub(super) ResourceAny);

/// A `response` resource (HTTPResponse) in a session.
#[derive(Debug, Clone, Copy)]
pub struct Response(pub(super) ResourceAny);

impl ConnectionOptions {
    /// HTTPConnection's defaults: no timeout, blocksize 8192, auto-open.
    pub fn http() -> Self {
        ConnectionOptions {
            timeout_ms: None,
            connect_timeout_ms: None,
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
