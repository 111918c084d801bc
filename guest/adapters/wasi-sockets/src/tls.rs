//! What this adapter says about TLS: it has none, and the `tls` error says why.

use crate::bindings::exports::httplib::http::transport::{ConnectOptions, ErrorCode};
use crate::stream::{self, Stream};

/// Why https cannot work here, in words for the `tls` error.
pub const NO_TLS: &str = "TLS is not available: this component was composed with the wasi-sockets adapter, \
                          which speaks plain TCP over wasi:sockets (run it under httplib, or compose it \
                          without the adapter, for https)";

/// A plain TCP connection; asked for TLS, `NO_TLS` says why not, before anything connects.
pub fn connect(host: &str, port: u16, options: ConnectOptions) -> Result<Stream, ErrorCode> {
    if options.tls.is_some() {
        return Err(ErrorCode::Tls(NO_TLS.into()));
    }
    stream::connect(host, port, &options)
}
