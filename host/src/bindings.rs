//! Host-side bindings of the `httplib` world. The transport's `tcp-stream` resource is our
//! `stream::GuestStream` (which knows nothing of these bindings), kept in each store's
//! `ResourceTable`; the imports' host side is in `wit_host`.
//!
//! As wasi-http's bindings do: every import is trappable (a bad resource handle traps the
//! guest instead of becoming an error it could misread), and a function that fails with
//! the transport's `error-code` fails with `TransportFailure` on the host: the
//! transport's own `SocketError`, or a trap, converted to the WIT case in one place.
//!
//! The engine runs with wasmtime's async support: every export is called with `call_async`
//! (the guest on a fiber), and the imports that wait on a socket are `async` on the host, so
//! a guest waiting for its peer can yield to an executor instead of holding a thread. The
//! blocking API (`ClientSession`, host code playing `do_METHOD`) drives those futures to
//! completion on the calling thread (`block_on`).

use crate::transport::SocketError;

/// A failed transport import: a [`SocketError`] the guest gets as its `error-code`, or a
/// trap (a bad resource handle), as wasi-http's `HttpError` is.
#[derive(Debug)]
pub struct TransportFailure(wasmtime::Error);

impl TransportFailure {
    /// The socket error for the guest, or the trap.
    pub fn downcast(self) -> wasmtime::Result<SocketError> {
        self.0.downcast()
    }
}

impl From<SocketError> for TransportFailure {
    fn from(e: SocketError) -> Self {
        Self(e.into())
    }
}

impl From<wasmtime::Error> for TransportFailure {
    fn from(trap: wasmtime::Error) -> Self {
        Self(trap)
    }
}

impl From<wasmtime::component::ResourceTableError> for TransportFailure {
    fn from(trap: wasmtime::component::ResourceTableError) -> Self {
        Self(trap.into())
    }
}

wasmtime::component::bindgen!({
    path: "wit",
    world: "httplib",
    additional_derives: [PartialEq, Eq],
    imports: {
        "httplib:http/transport.connect": async | trappable,
        "httplib:http/transport.[method]tcp-stream.read": async | trappable,
        "httplib:http/transport.[method]tcp-stream.await-request": async | trappable,
        "httplib:http/transport.[method]tcp-stream.write": async | trappable,
        "httplib:http/transport.[method]tcp-stream.send-file": async | trappable,
        "httplib:http/transport.[method]tcp-stream.send-head-and-file": async | trappable,
        "httplib:http/transport.[method]tcp-stream.start-tls": async | trappable,
        "httplib:http/cgi.[method]script.read": async | trappable,
        "httplib:http/cgi.[method]script.finish": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    trappable_error_type: {
        "httplib:http/transport.error-code" => TransportFailure,
    },
    with: {
        "httplib:http/transport.tcp-stream": crate::stream::GuestStream,
        "httplib:http/cgi.script": crate::script::RunningScript,
        // The files the guest opens are wasmtime-wasi's, in the same ResourceTable.
        "wasi": wasmtime_wasi::p2::bindings,
    },
});

pub use exports::httplib::http::{client, server};
pub use httplib::http::{cgi, transport, types};
