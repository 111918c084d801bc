//! http.server over one accepted connection: `Handler` carries BaseHTTPRequestHandler's verbs,
//! `static_files` is SimpleHTTPRequestHandler's do_GET / do_HEAD over the read-only preopen.

mod handler;
mod static_files;

pub use handler::{Handler, HandlerConfig, Request};
