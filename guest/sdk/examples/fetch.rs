//! A tiny curl over httplib's client: `fetch URL...` prints each response's status line and
//! headers to stderr and its body to stdout. URLs of one origin share one connection, kept
//! alive between them as http.client keeps it. An http.client exception is printed as Python
//! prints it, and the exit status is 1.
//!
//! Build: `cargo build -p httplib-sdk --example fetch --target wasm32-wasip2 --release`;
//! run: `httplib run target/wasm32-wasip2/release/examples/fetch.wasm --allow http://127.0.0.1:8000 -- http://127.0.0.1:8000/`.

use httplib_sdk::{Connection, Error, Options};
use std::io::{self, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        eprintln!("usage: fetch URL...");
        return ExitCode::from(2);
    }
    match fetch_all(&urls) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fetch: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fetch_all(urls: &[String]) -> Result<(), Error> {
    let mut open: Option<(String, Connection)> = None;
    let stdout = io::stdout();
    for url in urls {
        let (fresh, target) = Connection::for_url(url, &Options::default())?;
        let origin = format!("{}:{}", fresh.host(), fresh.port());
        let conn = match open.take() {
            Some((o, conn)) if o == origin => conn,
            _ => fresh,
        };
        conn.request("GET", &target, None, &[("User-Agent", "httplib-sdk-fetch")])?;
        let mut response = conn.getresponse()?;
        let mut head = format!(
            "HTTP/{} {} {}\n",
            if response.version() == 10 { "1.0" } else { "1.1" },
            response.status(),
            response.reason()
        );
        for (name, value) in response.headers() {
            head.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(&value)));
        }
        eprint!("{head}");
        let copied = io::copy(&mut response, &mut stdout.lock()).map_err(Error::from_io)?;
        eprintln!("({copied} bytes)");
        open = Some((origin, conn));
    }
    stdout.lock().flush().map_err(|e| Error::Io(e.to_string()))?;
    Ok(())
}
