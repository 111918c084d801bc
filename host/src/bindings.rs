//! Host-side bindings of the `httplib` world. The transport's `tcp-stream` resource is our
//! `transport::TcpStream` (which knows nothing of these bindings), kept in each store's
//! `ResourceTable`; the imports' host side is in `wit_host`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "httplib",
    additional_derives: [PartialEq, Eq],
    with: {
        "httplib:http/transport.tcp-stream": crate::transport::TcpStream,
        // The files the guest opens are wasmtime-wasi's, in the same ResourceTable.
        "wasi": wasmtime_wasi::p2::bindings::sync,
    },
});

pub use exports::httplib::http::{client, server};
pub use httplib::http::{cgi, transport, types};
