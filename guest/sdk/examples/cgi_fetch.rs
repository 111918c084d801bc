//! A CGI script that calls out: `GET /cgi-bin/cgi_fetch.wasm?URL` fetches URL with httplib's
//! client and answers with its status, Content-Type and body; an http.client exception (the
//! server's `--cgi-allow` policy refusing the destination, for one) is a 502 saying which.
//!
//! Build: `cargo build -p httplib-sdk --example cgi_fetch --target wasm32-wasip2 --release`,
//! copy the .wasm into DIR/cgi-bin, and serve with `httplib serve --cgi --cgi-allow
//! http://127.0.0.1:8000 -d DIR`.

use httplib_sdk::{Connection, Error, Options};
use std::io::{self, Read, Write};

fn main() {
    let url = std::env::var("QUERY_STRING").unwrap_or_default();
    let mut out = io::stdout().lock();
    let result = match fetch(&url) {
        Ok((status, content_type, body)) => {
            write!(out, "Status: {status}\r\nContent-Type: {content_type}\r\n\r\n").and_then(|()| out.write_all(&body))
        }
        Err(e) => write!(
            out,
            "Status: 502 Bad Gateway\r\nContent-Type: text/plain\r\n\r\n{url}: {e}\n"
        ),
    };
    result.and_then(|()| out.flush()).expect("writing to the server");
}

fn fetch(url: &str) -> Result<(u16, String, Vec<u8>), Error> {
    let (conn, target) = Connection::for_url(url, &Options::default())?;
    conn.request("GET", &target, None, &[])?;
    let mut response = conn.getresponse()?;
    let mut body = Vec::new();
    response.read_to_end(&mut body).map_err(Error::from_io)?;
    let content_type = response
        .header("Content-Type")
        .unwrap_or_else(|| "application/octet-stream".into());
    Ok((response.status(), content_type, body))
}
