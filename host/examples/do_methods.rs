//! A server whose `do_GET` and `do_POST` are host code, over the guest's BaseHTTPRequestHandler:
//! the guest parses and validates every request and frames every response.
//!
//!     cargo run -p httplib-host --example do_methods -- 8000
//!     curl http://127.0.0.1:8000/hello
//!     curl -d 'some data' http://127.0.0.1:8000/echo
//!     curl http://127.0.0.1:8000/Cargo.toml        # falls back to SimpleHTTPRequestHandler

use anyhow::Result;
use httplib_host::Runtime;
use httplib_host::server::{Exchange, Server, ServerConfig};
use std::sync::Arc;

/// Largest request body the echo accepts.
const MAX_ECHO: usize = 1 << 20;

/// The example's do_METHOD, shared with the integration test that runs it.
pub fn handle(ex: &mut Exchange<'_>) -> Result<bool> {
    match (ex.request.command.as_str(), ex.request.path.as_str()) {
        ("GET", "/hello") => {
            let body = b"hello from host code\n";
            ex.send_response(200, None)?;
            ex.send_header("Content-Type", "text/plain")?;
            ex.send_header("Content-Length", &body.len().to_string())?;
            ex.end_headers()?;
            ex.write(body)?;
        }
        ("POST", "/echo") => {
            let body = ex.read_body_to_end(MAX_ECHO)?;
            let ctype = ex
                .header("Content-Type")
                .unwrap_or_else(|| "application/octet-stream".into());
            ex.send_response(200, None)?;
            ex.send_header("Content-Type", &ctype)?;
            ex.send_header("Content-Length", &body.len().to_string())?;
            ex.end_headers()?;
            ex.write(&body)?;
        }
        ("GET" | "HEAD", _) => ex.serve_file()?,
        ("POST", _) => ex.send_error(404, Some("No such endpoint"), None)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn main() -> Result<()> {
    let port: u16 = std::env::args().nth(1).map(|p| p.parse()).transpose()?.unwrap_or(8000);
    let config = ServerConfig {
        protocol_version: "HTTP/1.1".into(),
        handler: Some(Arc::new(handle)),
        ..ServerConfig::default()
    };
    let server = Server::bind(([127, 0, 0, 1], port).into(), Arc::new(Runtime::new()?), config)?;
    println!("Serving HTTP on 127.0.0.1 port {port} (http://127.0.0.1:{port}/) ...");
    server.serve()
}
