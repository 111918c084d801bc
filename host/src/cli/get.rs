//! `httplib get URL...`: each body to stdout, connections to the same host:port reused.

use crate::bindings::client::{Body, ConnectionOptions};
use crate::client::{ClientSession, Connection};
use crate::runtime::Runtime;
use crate::transport::OutboundPolicy;
use clap::Args;
use std::io::Write;
use std::process::ExitCode;

/// How much body one `read1` may hand over (bigger than blocksize: fewer guest calls).
const READ_CHUNK: u64 = 256 * 1024;

#[derive(Args, Debug)]
pub struct GetArgs {
    /// The http:// URLs to fetch.
    #[arg(required = true)]
    pub urls: Vec<String>,
}

pub fn run(args: GetArgs) -> ExitCode {
    let runtime = match Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("httplib: cannot load the guest component: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut session = match ClientSession::new(&runtime, OutboundPolicy::allow_all()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("httplib: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match fetch_all(&mut session, &args.urls) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("httplib: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fetch_all(session: &mut ClientSession, urls: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let mut current: Option<((String, String, u16), Connection)> = None;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for url in urls {
        let parts = session.split_url(url)?;
        if parts.scheme != "http" {
            return Err(format!("{}: only http:// is available in this build", parts.scheme).into());
        }
        let key = (parts.scheme.clone(), parts.host.clone(), parts.port);
        let conn = match &current {
            Some((k, c)) if *k == key => *c,
            _ => {
                if let Some((_, old)) = current.take() {
                    session.close(old)?;
                }
                let c = session.open(&parts.host, Some(parts.port), &ConnectionOptions::http())?;
                current = Some((key, c));
                c
            }
        };
        let headers = vec![
            (
                "User-Agent".to_string(),
                format!("httplib/{}", env!("CARGO_PKG_VERSION")).into_bytes(),
            ),
            ("Accept".to_string(), b"*/*".to_vec()),
        ];
        session.request(conn, "GET", &parts.target, &Body::None, &headers)?;
        let response = session.getresponse(conn)?;
        loop {
            let data = session.read1(response, Some(READ_CHUNK))?;
            if data.is_empty() {
                break;
            }
            out.write_all(&data)?;
        }
        out.flush()?;
        session.close_response(response)?;
    }
    if let Some((_, c)) = current {
        session.close(c)?;
    }
    Ok(())
}
