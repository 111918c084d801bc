//! httplib's imports over standard WASI 0.2 alone: `transport` as plain TCP over wasi:sockets
//! (names resolved by wasi:sockets/ip-name-lookup, timeouts by polling with a monotonic-clock
//! deadline), `cgi` refused. Composed between the guest and the runtime by `httplib compose
//! --adapter wasi-sockets`, it lets the guest (and an app using it) run under a runtime that
//! knows nothing of httplib, such as `wasmtime run -S inherit-network -S allow-ip-name-lookup`.
//! Which addresses are reachable is then the runtime's business (its socket permissions):
//! httplib's destination policy lives in httplib's host, not here.

#![cfg(target_arch = "wasm32")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[allow(missing_docs, unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        world: "wasi-sockets-adapter",
        path: "wit",
        with: {
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
            "wasi:filesystem/types@0.2.12": wasip2::filesystem::types,
        },
    });

    use super::shared::Adapter;
    export!(Adapter);
}

mod stream;
mod tls;

mod shared;

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
