//! The `wasi:http/incoming-handler` of a handler app composed as a `wasi:http/proxy` component
//! (`httplib compose --wasi-http APP.wasm`). For each request the runtime hands over, it does
//! what `httplib serve --app` does for a connection (host/src/server/app.rs): the request
//! becomes a stream (`wasi-http-bridge`, from `guest/adapters/wasi-http-adapter`), the guest's
//! `server.handler` reads and validates it (`next-request`: malformed requests answered
//! there), the app's `handle` answers it through the `exchange`, and 501 when it has no
//! `do_METHOD` for it. It imports the adapter, the guest and the app, and nothing imports it.

#![cfg(target_arch = "wasm32")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[allow(missing_docs, unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        world: "wasi-http-driver",
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

    use super::Driver;
    export!(Driver);
}

use bindings::exports::wasi::http::incoming_handler;
use bindings::httplib::http::server::{Handler, HandlerConfig};
use bindings::httplib::http::types::SocketAddress;
use bindings::httplib::http::{request_handler, wasi_http_bridge};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

/// The directory `serve-file` serves: the runtime's preopen of `/` (`wasmtime serve --dir SITE::/`).
pub const ROOT: &str = "/";
/// What the log says of the client: wasi:http does not say who it is.
pub const UNKNOWN_PEER: &str = "-";

/// The handler's class attributes: `httplib serve --app`'s, with the runtime in charge of
/// the connection (its timeouts, its TLS) and CGI absent.
fn config() -> HandlerConfig {
    HandlerConfig {
        protocol_version: "HTTP/1.1".into(),
        server_version: "BaseHTTP/0.6".into(),
        sys_version: format!("httplib/{}", env!("CARGO_PKG_VERSION")),
        directory: ROOT.into(),
        error_message_format: None,
        error_content_type: None,
        extensions_map: Vec::new(),
        index_pages: Vec::new(),
        log_requests: true,
        timeout_ms: None,
        idle_timeout_ms: None,
        head_timeout_ms: None,
        body_timeout_ms: None,
        expect_continue: true,
        cgi_directories: Vec::new(),
        server_name: String::new(),
        server_port: 0,
    }
}

/// The component's export.
pub struct Driver;

impl incoming_handler::Guest for Driver {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let stream = wasi_http_bridge::accept(request, out);
        let peer = SocketAddress {
            host: UNKNOWN_PEER.into(),
            port: 0,
        };
        let handler = Handler::new(stream, &peer, &config());
        let exchange = handler.exchange();
        loop {
            match handler.next_request() {
                Ok(Some(_)) => {
                    if !request_handler::handle(&exchange)
                        && let Err(e) = exchange.unsupported_method()
                    {
                        eprintln!("httplib: {e:?}");
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("httplib: {e:?}");
                    break;
                }
            }
        }
        // The exchange, then the handler and its stream: dropping the stream ends the response.
        drop(exchange);
        drop(handler);
    }
}
