//! The smallest embedding: host code borrows Python's http.client from the sandboxed guest,
//! every socket going only where the policy grants.
//!
//!     cargo run --release -p httplib-host --example embed_client -- http://127.0.0.1:8000 /hello.txt

use httplib_host::Runtime;
use httplib_host::bindings::client::{Body, ConnectionOptions};
use httplib_host::client::ClientSession;
use httplib_host::policy::OutboundPolicy;
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let origin = args.next().unwrap_or_else(|| "http://127.0.0.1:8000".into());
    let path = args.next().unwrap_or_else(|| "/".into());
    // Compiles the guest once (kept in the compiled-code cache for the next run).
    let runtime = Runtime::new()?;
    // Only this origin may be reached (the default policy denies everything).
    let policy = OutboundPolicy::allow([&origin]).map_err(anyhow::Error::msg)?;
    let mut session = ClientSession::new(&runtime, policy)?;
    let parts = session.split_url(&format!("{origin}{path}"))?;
    // HTTPConnection, or HTTPSConnection verified against Mozilla's roots.
    let options = match parts.scheme.as_str() {
        "https" => ConnectionOptions::https(),
        _ => ConnectionOptions::http(),
    };
    let conn = session.open(&parts.host, Some(parts.port), &options)?;
    session.request(conn, "GET", &parts.target, &Body::None, &[])?;
    let response = session.getresponse(conn)?;
    eprintln!("{} {}", session.status(response)?, session.reason(response)?);
    // The body a bounded piece at a time, as `read1` hands it over.
    loop {
        let piece = session.read1(response, Some(64 * 1024))?;
        if piece.is_empty() {
            break;
        }
        std::io::stdout().write_all(&piece)?;
    }
    session.release(conn)?;
    Ok(())
}
