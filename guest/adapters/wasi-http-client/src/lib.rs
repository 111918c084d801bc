//! httplib's imports over wasi:http alone (`httplib compose APP.wasm --adapter wasi-http`), for
//! runtimes that grant HTTP but no sockets (`wasmtime run -S http`, Spin, wasmCloud). A
//! `connect` opens nothing: its `tcp-stream` collects the request the guest's http.client
//! writes, sends it through `wasi:http/outgoing-handler` (https, name resolution, proxies and
//! certificate trust are the runtime's), and hands the response back as HTTP/1.1 bytes for the
//! guest to parse as from any server (`exchange`). The translations themselves are plain Rust
//! in `message`. What cannot map (a CONNECT tunnel, bytes that are no request, TLS options the
//! runtime cannot honour) is an error naming why. CGI is refused.

#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod message;

#[cfg(target_arch = "wasm32")]
#[allow(missing_docs, unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        world: "wasi-http-client-adapter",
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

#[cfg(target_arch = "wasm32")]
mod exchange;
#[cfg(target_arch = "wasm32")]
#[path = "../../wasi-sockets/src/shared.rs"]
mod shared;

#[cfg(target_arch = "wasm32")]
mod transport_impl {
    use crate::bindings::exports::httplib::http::transport::{self, ConnectOptions, ErrorCode};
    use crate::exchange::Stream;
    use crate::message::NO_TUNNEL;
    use crate::shared::{self, Adapter};

    impl transport::Guest for Adapter {
        type TcpStream = Stream;

        fn connect(host: String, port: u16, options: ConnectOptions) -> Result<transport::TcpStream, ErrorCode> {
            if options.tunnel.is_some() {
                return Err(ErrorCode::Other(NO_TUNNEL.into()));
            }
            Stream::new(host, port, &options).map(transport::TcpStream::new)
        }

        shared::common_transport!();
    }
}
