//! httplib's imports for a handler app served as a `wasi:http/proxy` component (`httplib
//! compose --wasi-http APP.wasm`, beside `guest/adapters/wasi-http-driver`). The driver hands
//! each wasi:http request to `wasi-http-bridge.accept`, which makes it a `tcp-stream` carrying
//! that one request as HTTP/1.1 bytes (`httplib-wasi-http-wire`); the guest's server reads,
//! validates and answers it as it would a connection. The app's own connections (its
//! `client`) are plain TCP over wasi:sockets, as with `--adapter wasi-sockets`: which
//! addresses they reach is the runtime's business, and https is a `tls` error naming why.

#![cfg(target_arch = "wasm32")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[allow(missing_docs, unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        world: "wasi-http-adapter",
        path: "wit",
        with: {
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
            "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
            "wasi:filesystem/types@0.2.12": wasip2::filesystem::types,
            "wasi:http/types@0.2.12": wasip2::http::types,
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

use bindings::exports::httplib::http::transport::{
    self, ConnectOptions, ErrorCode, GuestTcpStream, ShutdownType, TlsOptions,
};
use bindings::exports::httplib::http::types::SocketAddress;
use bindings::exports::httplib::http::wasi_http_bridge;
use httplib_wasi_http_wire::Exchange;
use shared::Adapter;
use std::cell::RefCell;
use stream::Stream;
use wasip2::filesystem::types::Descriptor;
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

/// What a served request says of its peer: wasi:http does not say who the client is.
pub const UNKNOWN_PEER: &str = "-";

/// A `tcp-stream`: the app's outgoing connection, or a served wasi:http request.
pub enum Conn {
    /// Outgoing, over wasi:sockets.
    Socket(Stream),
    /// One wasi:http request and its response.
    Served(RefCell<Exchange>),
}

impl transport::Guest for Adapter {
    type TcpStream = Conn;

    fn connect(host: String, port: u16, options: ConnectOptions) -> Result<transport::TcpStream, ErrorCode> {
        tls::connect(&host, port, options).map(|s| transport::TcpStream::new(Conn::Socket(s)))
    }

    shared::common_transport!();
}

impl wasi_http_bridge::Guest for Adapter {
    fn accept(request: IncomingRequest, response_out: ResponseOutparam) -> transport::TcpStream {
        transport::TcpStream::new(Conn::Served(RefCell::new(Exchange::new(request, response_out))))
    }
}

/// The served exchange's write, as the transport's error.
fn write_served(exchange: &RefCell<Exchange>, data: &[u8]) -> Result<(), ErrorCode> {
    match exchange.borrow_mut().write(data) {
        Some(written) => written.map_err(ErrorCode::Other),
        None => Err(ErrorCode::ConnectionReset("the response is over".into())),
    }
}

/// A served request's address: unknown.
fn unknown() -> SocketAddress {
    SocketAddress {
        host: UNKNOWN_PEER.into(),
        port: 0,
    }
}

impl GuestTcpStream for Conn {
    fn read(&self, len: u64) -> Result<Vec<u8>, ErrorCode> {
        match self {
            Conn::Socket(s) => s.read(len),
            Conn::Served(x) => Ok(x.borrow_mut().read(usize::try_from(len).unwrap_or(usize::MAX))),
        }
    }

    fn write(&self, data: Vec<u8>) -> Result<(), ErrorCode> {
        match self {
            Conn::Socket(s) => s.write(data),
            Conn::Served(x) => write_served(x, &data),
        }
    }

    fn flush(&self) -> Result<(), ErrorCode> {
        match self {
            Conn::Socket(s) => s.flush(),
            Conn::Served(_) => Ok(()),
        }
    }

    fn send_file(&self, file: &Descriptor, offset: u64, len: u64) -> Result<u64, ErrorCode> {
        let x = match self {
            Conn::Socket(s) => return s.send_file(file, offset, len),
            Conn::Served(x) => x,
        };
        shared::send_file_by_writes(file, offset, len, |bytes| write_served(x, &bytes))
    }

    fn shutdown(&self, how: ShutdownType) -> Result<(), ErrorCode> {
        match self {
            Conn::Socket(s) => s.shutdown(how),
            Conn::Served(x) => {
                if matches!(how, ShutdownType::Send | ShutdownType::Both) {
                    x.borrow_mut().shutdown();
                }
                Ok(())
            }
        }
    }

    fn start_tls(&self, host: String, options: TlsOptions) -> Result<(), ErrorCode> {
        match self {
            Conn::Socket(s) => s.start_tls(host, options),
            Conn::Served(_) => Err(ErrorCode::Tls(tls::RUNTIME_TLS.into())),
        }
    }

    fn alpn_protocol(&self) -> Option<String> {
        None
    }

    fn is_tls(&self) -> bool {
        false
    }

    fn set_timeout(&self, timeout_ms: Option<u64>) -> Result<(), ErrorCode> {
        match self {
            Conn::Socket(s) => s.set_timeout(timeout_ms),
            // The runtime times its own connections.
            Conn::Served(_) => Ok(()),
        }
    }

    fn set_read_timeout(&self, timeout_ms: Option<u64>) -> Result<(), ErrorCode> {
        match self {
            Conn::Socket(s) => s.set_read_timeout(timeout_ms),
            Conn::Served(_) => Ok(()),
        }
    }

    shared::never_parked!();

    fn peer_address(&self) -> Result<SocketAddress, ErrorCode> {
        match self {
            Conn::Socket(s) => s.peer_address(),
            Conn::Served(_) => Ok(unknown()),
        }
    }

    fn local_address(&self) -> Result<SocketAddress, ErrorCode> {
        match self {
            Conn::Socket(s) => s.local_address(),
            Conn::Served(_) => Ok(unknown()),
        }
    }
}
