//! What this adapter says about TLS: the app's own connections have none, and a served
//! request's TLS is the runtime's.

use crate::bindings::exports::httplib::http::transport::{ConnectOptions, ErrorCode};
use crate::stream::{self, Stream};

/// Why https cannot work for the app's own connections here, in words for the `tls` error.
pub const NO_TLS: &str = "TLS is not available: this component was composed with `httplib compose --wasi-http`, \
                          whose outgoing connections are plain TCP over wasi:sockets";
/// Why the served request has no TLS of the guest's: the runtime terminated it.
pub const RUNTIME_TLS: &str = "TLS is the runtime's under wasi:http";

/// A plain TCP connection; asked for TLS, `NO_TLS` says why not, before anything connects.
pub fn connect(host: &str, port: u16, options: ConnectOptions) -> Result<Stream, ErrorCode> {
    if options.tls.is_some() {
        return Err(ErrorCode::Tls(NO_TLS.into()));
    }
    stream::connect(host, port, &options)
}
