//! The guest's one error type: http.client's exception tree plus transport failures.
//! `lib.rs` converts it to the WIT `http-error` at the edge.

use crate::proto::ProtoError;
use crate::transport::TransportError;
use std::fmt;

/// An http.client exception, by class (mirrors WIT `types.http-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// `HTTPException` itself, with its message.
    HttpException(String),
    /// `NotConnected`: no connection and auto-open is off.
    NotConnected,
    /// `InvalidURL`.
    InvalidUrl(String),
    /// `UnknownProtocol`: the status line named an unsupported version.
    UnknownProtocol(String),
    /// `UnknownTransferEncoding`.
    UnknownTransferEncoding,
    /// `UnimplementedFileMode`.
    UnimplementedFileMode,
    /// `IncompleteRead(partial, expected)`.
    IncompleteRead {
        /// Body bytes that arrived.
        partial: u64,
        /// Bytes still expected, when the framing says.
        expected: Option<u64>,
    },
    /// `ImproperConnectionState`.
    ImproperConnectionState(String),
    /// `CannotSendRequest`.
    CannotSendRequest(String),
    /// `CannotSendHeader`.
    CannotSendHeader(String),
    /// `ResponseNotReady`.
    ResponseNotReady(String),
    /// `BadStatusLine`.
    BadStatusLine(String),
    /// `LineTooLong`: what was being read.
    LineTooLong(String),
    /// `HTTPException("got more than 100 headers")`.
    TooManyHeaders,
    /// `RemoteDisconnected`.
    RemoteDisconnected(String),
    /// `ValueError` for an illegal header name or value.
    InvalidHeader(String),
    /// `ValueError` / `TypeError` for another bad argument.
    InvalidArgument(String),
    /// `ConnectionRefusedError`.
    ConnectionRefused(String),
    /// `ConnectionResetError` / `BrokenPipeError`.
    ConnectionReset(String),
    /// `TimeoutError`.
    Timeout,
    /// `ssl.SSLError`.
    Tls(String),
    /// `ssl.SSLCertVerificationError`.
    CertificateVerification(String),
    /// The host's policy refused it (`PermissionError`).
    Denied(String),
    /// `socket.gaierror`.
    NameUnresolvable(String),
    /// Another `OSError`.
    Io(String),
    /// The Content-Encoding could not be undone (urllib3's `DecodeError`).
    ContentDecoding(String),
    /// A limit of the session was reached.
    LimitExceeded(String),
    /// The host cancelled the session.
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
