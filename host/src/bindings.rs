//! Host-side bindings of the `httplib` world. The transport's `tcp-stream` resource is our
//! `stream::GuestStream` (which knows nothing of these bindings), kept in each store's
//! `ResourceTable`; the imports' host side is in `wit_host`.
//!
//! The engine runs with wasmtime's async support: every export is called with `call_async`
//! (the guest on a fiber), and the imports that wait on a socket are `async` on the host, so
//! a guest waiting for its peer can yield to an executor instead of holding a thread. The
//! blocking API (`ClientSession`, the server's workers) drives those futures to completion
//! on the calling thread (`runtime::block_on`).

wasmtime::component::bindgen!({
    path: "wit",
    world: "httplib",
    additional_derives: [PartialEq, Eq],
    imports: {
        "httplib:http/transport.connect": async,
        "httplib:http/transport.[method]tcp-stream.read": async,
        "httplib:http/transport.[method]tcp-stream.write": async,
        "httplib:http/transport.[method]tcp-stream.send-file": async,
        "httplib:http/transport.[method]tcp-stream.start-tls": async,
        "httplib:http/cgi.run": async,
    },
    exports: { default: async },
    with: {
        "httplib:http/transport.tcp-stream": crate::stream::GuestStream,
        // The files the guest opens are wasmtime-wasi's, in the same ResourceTable.
        "wasi": wasmtime_wasi::p2::bindings,
    },
});

pub use exports::httplib::http::{client, server};
pub use httplib::http::{cgi, transport, types};
