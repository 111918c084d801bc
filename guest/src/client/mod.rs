//! http.client over the transport: `Connection` (HTTPConnection) and `Response` (HTTPResponse).
//! Pure Rust; `lib.rs` wraps them as the WIT `connection` and `response` resources.

mod connection;
mod response;

pub use connection::{Body, Connection, ConnectionOptions};
pub use response::{Response, SharedStream};

#[cfg(test)]
mod tests;
