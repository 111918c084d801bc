//! http.server over one accepted connection: `Handler` carries BaseHTTPRequestHandler's verbs,
//! `static_files` is SimpleHTTPRequestHandler's do_GET / do_HEAD over the read-only preopen,
//! `cgi` is CGIHTTPRequestHandler's `run_cgi` over the host's script sandbox; `carry` takes a
//! connection waiting mid-body over a park to another instance; `log` is the log verbs.

mod carry;
mod cgi;
mod framed;
mod handler;
mod log;
mod static_files;

pub use crate::transport::{RunningScript, ScriptEnd, ScriptError, ScriptRunner, ScriptStop};
pub use handler::{Handler, HandlerConfig, Request, busy_response, closing_response};

#[cfg(test)]
mod tests;
