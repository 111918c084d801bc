//! What this adapter says about TLS: the app's own connections have none, and a served
//! request's TLS is the runtime's.

/// Why https cannot work for the app's own connections here, in words for the `tls` error.
pub const NO_TLS: &str = "TLS is not available: this component was composed with `httplib compose --wasi-http`, \
                          whose outgoing connections are plain TCP over wasi:sockets";
/// Why the served request has no TLS of the guest's: the runtime terminated it.
pub const RUNTIME_TLS: &str = "TLS is the runtime's under wasi:http";
