//! A handler component: BaseHTTPRequestHandler's `do_GET` and `do_POST` written in Rust, run
//! by `httplib serve --app`.
//!
//! - `GET /hello?name=X`: `Hello, X!` (`name` percent-decoded, `world` when absent);
//! - `POST /echo`: the request body back, with the request's Content-Type;
//! - `GET /fetch?url=U`: U fetched with httplib's client (under `serve`'s `--allow`): its body,
//!   or 502 with the client's error as Python prints it;
//! - `GET /panic`: panics: the client gets 500, and only this connection is lost;
//! - any other GET or HEAD: SimpleHTTPRequestHandler's answer from `serve -d DIR`;
//! - any other method: 501, as CPython answers a handler without that `do_METHOD`.
//!
//! Build: `cargo build --release --target wasm32-wasip2 -p httplib-sdk --example hello_handler`;
//! run: `httplib serve 8000 --app target/wasm32-wasip2/release/examples/hello_handler.wasm`.

// A native build (`cargo test` builds every example) exports nothing: the handler goes unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use httplib_sdk::handler::{Handler, Request};
use httplib_sdk::{Connection, Options, Result};
use std::io::Read;

/// The most of a request body `/echo` holds (ours).
const MAX_ECHO: usize = 16 * 1024 * 1024;

struct Hello;

impl Handler for Hello {
    fn do_get(request: &mut Request) -> Result<()> {
        match request.route() {
            "/hello" => {
                let name = request.query("name").unwrap_or_else(|| "world".into());
                reply(
                    request,
                    200,
                    "text/plain; charset=utf-8",
                    format!("Hello, {name}!\n").as_bytes(),
                )
            }
            "/fetch" => {
                let Some(url) = request.query("url") else {
                    return request.send_error(400, Some("No url given"), Some("Use /fetch?url=http://..."));
                };
                match fetch(&url) {
                    Ok(body) => reply(request, 200, "application/octet-stream", &body),
                    Err(e) => reply(request, 502, "text/plain; charset=utf-8", format!("{e}\n").as_bytes()),
                }
            }
            "/panic" => panic!("asked to panic"),
            _ => request.serve_file(),
        }
    }

    fn do_head(request: &mut Request) -> Result<()> {
        request.serve_file()
    }

    fn do_post(request: &mut Request) -> Result<()> {
        if request.route() != "/echo" {
            return request.send_error(404, Some("Not Found"), None);
        }
        let body = request.read_body_to_end(MAX_ECHO)?;
        let ctype = request
            .header("Content-Type")
            .unwrap_or_else(|| "application/octet-stream".into());
        reply(request, 200, &ctype, &body)
    }
}

/// A whole response: status, Content-Type, Content-Length, body.
fn reply(request: &mut Request, code: u16, ctype: &str, body: &[u8]) -> Result<()> {
    request.send_response(code, None)?;
    request.send_header("Content-Type", ctype)?;
    request.send_header("Content-Length", &body.len().to_string())?;
    request.end_headers()?;
    request.write(body)
}

/// `url`'s body, fetched with http.client.
fn fetch(url: &str) -> Result<Vec<u8>> {
    let (conn, target) = Connection::for_url(url, &Options::default())?;
    conn.request("GET", &target, None, &[])?;
    let mut response = conn.getresponse()?;
    let mut body = Vec::new();
    response.read_to_end(&mut body).map_err(httplib_sdk::Error::from_io)?;
    Ok(body)
}

httplib_sdk::export_handler!(Hello);
