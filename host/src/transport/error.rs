//! Why a socket operation failed, in the transport's own terms (the WIT `error-code` is made
//! from it at the edge, in `wit_host`).

use std::fmt;

/// A failed socket, TLS or policy operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketError {
    /// The peer refused the connection; the address in words.
    ConnectionRefused(String),
    /// The peer reset the connection, or a write hit a closed pipe.
    ConnectionReset(String),
    /// The operation outlasted its timeout.
    Timeout,
    /// The host name did not resolve.
    NameUnresolvable(String),
    /// The TLS handshake or record layer failed; the cause in words.
    Tls(String),
    /// The peer's certificate failed verification; the cause in words.
    Certificate(String),
    /// The policy or the audit hook refused it.
    Denied(String),
    /// A session limit was reached; the limit in words.
    LimitExceeded(String),
    /// The session was cancelled (its cancel handle).
    Cancelled,
    /// The stream was already shut down.
    Closed,
    /// Anything else, described.
    Other(String),
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketError::ConnectionRefused(m)
            | SocketError::ConnectionReset(m)
            | SocketError::Tls(m)
            | SocketError::Certificate(m)
            | SocketError::Denied(m)
            | SocketError::LimitExceeded(m)
            | SocketError::Other(m) => f.write_str(m),
            SocketError::NameUnresolvable(name) => write!(f, "{name} does not resolve"),
            SocketError::Timeout => f.write_str("timed out"),
            SocketError::Closed => f.write_str("the stream is closed"),
            SocketError::Cancelled => f.write_str("the session was cancelled"),
        }
    }
}

impl std::error::Error for SocketError {}

impl From<crate::policy::PolicyError> for SocketError {
    fn from(e: crate::policy::PolicyError) -> Self {
        match e {
            crate::policy::PolicyError::Denied(why) => SocketError::Denied(why),
            crate::policy::PolicyError::Unresolvable(name) => SocketError::NameUnresolvable(name),
        }
    }
}
