//! The wasi-sockets adapter (`guest/adapters/wasi-sockets`, whose stream and shared parts it
//! includes by path) with https: a TLS client from the runtime's `wasi:tls` (draft 0.2.0,
//! wasmtime's `-S tls`) over the wasi:sockets connection (`tls`). Composed by `httplib compose
//! --adapter wasi-sockets-tls`; the result starts only where the runtime offers wasi:tls, which
//! is why this is an adapter of its own. Certificates are verified by the runtime, against its
//! own roots.

#![cfg(target_arch = "wasm32")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[allow(missing_docs, unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        world: "wasi-sockets-tls-adapter",
        path: "wit",
        with: {
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
            "wasi:filesystem/types@0.2.12": wasip2::filesystem::types,
            "wasi:tls/types@0.2.0-draft": generate,
        },
    });

    use super::shared::Adapter;
    export!(Adapter);
}

#[path = "../../wasi-sockets/src/shared.rs"]
mod shared;
#[path = "../../wasi-sockets/src/stream.rs"]
mod stream;
mod tls;

use bindings::exports::httplib::http::transport::{self, ConnectOptions, ErrorCode};
use shared::Adapter;
use stream::Stream;

impl transport::Guest for Adapter {
    type TcpStream = Stream;

    fn connect(host: String, port: u16, options: ConnectOptions) -> Result<transport::TcpStream, ErrorCode> {
        tls::connect(&host, port, options).map(transport::TcpStream::new)
    }

    shared::common_transport!();
}
