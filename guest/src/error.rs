//! The guest's one error type: http.client's exception tree plus transport failures.
//! `lib.rs` converts it to the WIT `http-error` at the edge.

use crate::proto::ProtoError;
use crate::transport::TransportError;
use std::fmt;

/// An http.client exception, by class (mirrors WIT `types.http-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    HttpException(String),
    NotConnected,
    InvalidUrl(String),
    UnknownProtocol(String),
    UnknownTransferEncoding,
    UnimplementedFileMode,
    IncompleteRead { partial: u64, expected: Option<u64> },
    ImproperConnectionState(String),
    CannotSendRequest(String),
    CannotSendHeader(String),
    ResponseNotReady(String),
    BadStatusLine(String),
    LineTooLong(String),
    TooManyHeaders,
    RemoteDisconnected(String),
    InvalidHeader(String),
    InvalidArgument(String),
    ConnectionRefused(String),
    ConnectionReset(String),
    Timeout,
    Tls(String),
    CertificateVerification(String),
    Denied(String),
    NameUnresolvable(String),
    Io(String),
    ContentDecoding(String),
    LimitExceeded(String),
    Cancelled,
}

impl From<ProtoError> for HttpError {
    fn from(e: ProtoError) -> Self {
        match e {
            ProtoError::LineTooLong(what) => HttpError::LineTooLong(what.to_string()),
            ProtoError::TooManyHeaders => HttpError::TooManyHeaders,
            ProtoError::BadStatusLine(l) => HttpError::BadStatusLine(l),
            ProtoError::UnknownProtocol(v) => HttpError::UnknownProtocol(v),
            ProtoError::InvalidUrl(m) => HttpError::InvalidUrl(m),
            ProtoError::InvalidHeader(m) => HttpError::InvalidHeader(m),
            ProtoError::InvalidArgument(m) => HttpError::InvalidArgument(m),
            ProtoError::BadContentEncoding(m) => HttpError::ContentDecoding(m),
            // CPython turns a bad chunk size's ValueError into IncompleteRead.
            ProtoError::BadChunk(_) => HttpError::IncompleteRead {
                partial: 0,
                expected: None,
            },
        }
    }
}

impl From<TransportError> for HttpError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::ConnectionRefused(m) => HttpError::ConnectionRefused(m),
            TransportError::ConnectionReset(m) => HttpError::ConnectionReset(m),
            TransportError::Timeout => HttpError::Timeout,
            TransportError::NameUnresolvable(m) => HttpError::NameUnresolvable(m),
            TransportError::Tls(m) => HttpError::Tls(m),
            TransportError::Certificate(m) => HttpError::CertificateVerification(m),
            TransportError::Cancelled => HttpError::Cancelled,
            TransportError::Denied(m) => HttpError::Denied(m),
            TransportError::LimitExceeded(m) => HttpError::LimitExceeded(m),
            TransportError::Closed => HttpError::ConnectionReset("stream closed".into()),
            TransportError::Other(m) => HttpError::Io(m),
        }
    }
}

impl fmt::Display for HttpError {
    /// The way Python prints the exception: `ClassName(args)` or `ClassName: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HttpError::*;
        match self {
            HttpException(m) => write!(f, "HTTPException: {m}"),
            NotConnected => write!(f, "NotConnected"),
            InvalidUrl(m) => write!(f, "InvalidURL: {m}"),
            UnknownProtocol(v) => write!(f, "UnknownProtocol: {v}"),
            UnknownTransferEncoding => write!(f, "UnknownTransferEncoding"),
            UnimplementedFileMode => write!(f, "UnimplementedFileMode"),
            IncompleteRead {
                partial,
                expected: Some(e),
            } => write!(f, "IncompleteRead({partial} bytes read, {e} more expected)"),
            IncompleteRead {
                partial,
                expected: None,
            } => write!(f, "IncompleteRead({partial} bytes read)"),
            ImproperConnectionState(m) => write!(f, "ImproperConnectionState: {m}"),
            CannotSendRequest(m) => write!(f, "CannotSendRequest: {m}"),
            CannotSendHeader(m) => write!(f, "CannotSendHeader: {m}"),
            ResponseNotReady(m) => write!(f, "ResponseNotReady: {m}"),
            BadStatusLine(l) => write!(f, "BadStatusLine: {l:?}"),
            LineTooLong(what) => write!(
                f,
                "LineTooLong: got more than {} bytes when reading {what}",
                crate::proto::limits::MAX_LINE
            ),
            TooManyHeaders => write!(
                f,
                "HTTPException: got more than {} headers",
                crate::proto::limits::MAX_HEADERS
            ),
            RemoteDisconnected(m) => write!(f, "RemoteDisconnected: {m}"),
            InvalidHeader(m) | InvalidArgument(m) => write!(f, "ValueError: {m}"),
            ConnectionRefused(m) => write!(f, "ConnectionRefusedError: {m}"),
            ConnectionReset(m) => write!(f, "ConnectionResetError: {m}"),
            Timeout => write!(f, "TimeoutError: timed out"),
            Tls(m) => write!(f, "SSLError: {m}"),
            CertificateVerification(m) => write!(f, "SSLCertVerificationError: {m}"),
            Denied(m) => write!(f, "PermissionError: denied by host policy: {m}"),
            NameUnresolvable(m) => write!(f, "gaierror: name does not resolve: {m}"),
            Io(m) => write!(f, "OSError: {m}"),
            ContentDecoding(m) => write!(f, "DecodeError: {m}"),
            LimitExceeded(m) => write!(f, "LimitExceeded: {m}"),
            Cancelled => write!(f, "CancelledError: the session was cancelled"),
        }
    }
}
