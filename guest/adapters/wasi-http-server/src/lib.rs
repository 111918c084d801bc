//! httplib's file server as a `wasi:http` proxy component (`httplib compose --wasi-http`):
//! each incoming request goes to httplib-guest's `Handler` (SimpleHTTPRequestHandler:
//! listings, files, ranges, conditional requests, error pages) as the bytes of an HTTP/1.1
//! request, and the bytes it answers become the outgoing response, its status line and
//! fields the response's and its body streamed to the outgoing body. Every HTTP rule is the
//! guest's; this crate carries bytes across the wasi:http edge (`httplib-wasi-http-wire`
//! frames them).

#![cfg(target_arch = "wasm32")]

use httplib_guest::server::{Handler, HandlerConfig};
use httplib_guest::transport::{Stream, TlsOptions, TransportError};
use httplib_wasi_http_wire::Exchange;
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
        let stream = Wire(Exchange::new(request, out));
        let mut handler = Handler::new(Box::new(stream), "-", config);
        if let Err(e) = handler.serve_directory() {
            eprintln!("httplib: {e}");
        }
        // Dropping the handler drops the exchange, which ends the response.
    }
}

/// The exchange as the guest's stream.
struct Wire(Exchange);

impl Stream for Wire {
    fn read(&mut self, max: usize) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.read(max))
    }

    fn write(&mut self, data: &[u8]) -> Result<(), TransportError> {
        match self.0.write(data) {
            Some(written) => written.map_err(TransportError::Other),
            None => Err(TransportError::Closed),
        }
    }

    fn shutdown_send(&mut self) -> Result<(), TransportError> {
        self.0.shutdown();
        Ok(())
    }

    fn set_timeout(&mut self, _timeout_ms: Option<u64>) -> Result<(), TransportError> {
        Ok(())
    }

    fn start_tls(&mut self, _host: &str, _options: &TlsOptions) -> Result<(), TransportError> {
        Err(TransportError::Tls("TLS is the runtime's under wasi:http".into()))
    }
}
