//! httplib's file server as a `wasi:http` proxy component (`httplib compose --wasi-http`):
//! each incoming request goes to httplib-guest's `Handler` (SimpleHTTPRequestHandler:
//! listings, files, ranges, conditional requests, error pages) as the bytes of an HTTP/1.1
//! request, and the bytes it answers become the outgoing response, its status line and
//! fields the response's and its body streamed to the outgoing body. Every HTTP rule is the
//! guest's; this crate carries bytes across the wasi:http edge (`wire` frames them).

#![cfg(target_arch = "wasm32")]

mod wire;

use httplib_guest::server::{Handler, HandlerConfig};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

/// The directory served: the runtime's preopen of `/` (`wasmtime serve --dir SITE::/`).
pub const ROOT: &str = "/";

struct FileServer;
wasip2::http::proxy::export!(FileServer);

impl wasip2::exports::http::incoming_handler::Guest for FileServer {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let config = HandlerConfig {
            protocol_version: "HTTP/1.1".into(),
            server_version: "SimpleHTTP/0.6".into(),
            sys_version: format!("httplib/{}", env!("CARGO_PKG_VERSION")),
            directory: ROOT.into(),
            log_requests: true,
            ..HandlerConfig::default()
        };
        // wasi:http does not say who the client is.
        let stream = wire::Exchange::new(request, out);
        let mut handler = Handler::new(Box::new(stream), "-", config);
        if let Err(e) = handler.serve_directory() {
            eprintln!("httplib: {e}");
        }
        // Dropping the handler drops the exchange, which ends the response.
    }
}
