//! What this adapter says about TLS: it has none, and the `tls` error says why.

/// Why https cannot work here, in words for the `tls` error.
pub const NO_TLS: &str = "TLS is not available: this component was composed with the wasi-sockets adapter, \
                          which speaks plain TCP over wasi:sockets (run it under httplib, or compose it \
                          without the adapter, for https)";
