//! Sockets for the guest: TCP connections (plain or TLS), their timeouts, the session's
//! table of open sockets. Bytes only: nothing here reads HTTP, and nothing here knows WIT
//! (`wit_host` converts at the edge).

mod error;
pub(crate) mod sockets;
mod tcp;
pub mod tls;

pub use error::SocketError;
pub use tcp::{TcpStream, WaitBy};

/// Largest single read handed to the guest (bounds the allocation a guest can ask for).
pub const MAX_READ: u64 = 1024 * 1024;
