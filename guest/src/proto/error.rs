//! The errors the protocol core reports; `client` maps them onto http.client's exceptions.

use std::fmt;

/// A protocol violation or bad argument found while encoding or parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    /// `LineTooLong`: which line ("status line", "header line", "chunk size", "trailer line").
    LineTooLong(&'static str),
    /// `HTTPException("got more than 100 headers")`.
    TooManyHeaders,
    /// `BadStatusLine(line)`.
    BadStatusLine(String),
    /// `UnknownProtocol(version)`.
    UnknownProtocol(String),
    /// `InvalidURL(message)`.
    InvalidUrl(String),
    /// `ValueError` for a header name or value that may not be sent.
    InvalidHeader(String),
    /// `ValueError` for any other argument.
    InvalidArgument(String),
    /// A malformed chunk-size line or chunk terminator.
    BadChunk(String),
    /// A body's Content-Encoding that cannot be undone (unknown coding, corrupt data).
    BadContentEncoding(String),
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::LineTooLong(what) => {
                write!(f, "got more than {} bytes when reading {what}", super::limits::MAX_LINE)
            }
            ProtoError::TooManyHeaders => write!(f, "got more than {} headers", super::limits::MAX_HEADERS),
            ProtoError::BadStatusLine(line) => write!(f, "{line}"),
            ProtoError::UnknownProtocol(v) => write!(f, "{v}"),
            ProtoError::InvalidUrl(m)
            | ProtoError::InvalidHeader(m)
            | ProtoError::InvalidArgument(m)
            | ProtoError::BadChunk(m)
            | ProtoError::BadContentEncoding(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for ProtoError {}
