//! http.client's exceptions as one Rust enum, printed as Python prints them.

use crate::raw_types::{HttpError, IncompleteRead};
use std::fmt;
use std::io;

/// Declares `Error` with one variant a WIT `http-error` case, and the conversions both ways
/// (the cases are listed once).
macro_rules! mirror {
    (
        with_message { $($(#[$m:meta])* $msg:ident,)* }
        bare { $($(#[$b:meta])* $bare:ident,)* }
    ) => {
        /// An http.client exception, or a failure of the transport under it. `Display` prints
        /// it as Python does (`IncompleteRead(3 bytes read, 7 more expected)`).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Error {
            $($(#[$m])* $msg(String),)*
            $($(#[$b])* $bare,)*
            /// `IncompleteRead(partial, expected)`: the body ended early.
            IncompleteRead {
                /// Body bytes that arrived.
                partial: u64,
                /// Bytes still expected, when the framing says.
                expected: Option<u64>,
            },
        }

        impl From<HttpError> for Error {
            fn from(e: HttpError) -> Self {
                match e {
                    $(HttpError::$msg(m) => Error::$msg(m),)*
                    $(HttpError::$bare => Error::$bare,)*
                    HttpError::IncompleteRead(IncompleteRead { partial, expected }) => {
                        Error::IncompleteRead { partial, expected }
                    }
                }
            }
        }

        impl From<Error> for HttpError {
            fn from(e: Error) -> Self {
                match e {
                    $(Error::$msg(m) => HttpError::$msg(m),)*
                    $(Error::$bare => HttpError::$bare,)*
                    Error::IncompleteRead { partial, expected } => {
                        HttpError::IncompleteRead(IncompleteRead { partial, expected })
                    }
                }
            }
        }
    };
}

mirror! {
    with_message {
        /// `HTTPException` itself.
        HttpException,
        /// `InvalidURL`.
        InvalidUrl,
        /// `UnknownProtocol`.
        UnknownProtocol,
        /// `ImproperConnectionState`.
        ImproperConnectionState,
        /// `CannotSendRequest`.
        CannotSendRequest,
        /// `CannotSendHeader`.
        CannotSendHeader,
        /// `ResponseNotReady`.
        ResponseNotReady,
        /// `BadStatusLine`.
        BadStatusLine,
        /// `LineTooLong`.
        LineTooLong,
        /// `RemoteDisconnected`.
        RemoteDisconnected,
        /// `ValueError` for an illegal header name or value.
        InvalidHeader,
        /// `ValueError` / `TypeError` for another bad argument.
        InvalidArgument,
        /// `ConnectionRefusedError`.
        ConnectionRefused,
        /// `ConnectionResetError` / `BrokenPipeError`.
        ConnectionReset,
        /// `ssl.SSLError`.
        Tls,
        /// `ssl.SSLCertVerificationError`: the server's certificate failed verification.
        CertificateVerification,
        /// The host's policy refused the destination (`PermissionError`).
        Denied,
        /// `socket.gaierror`.
        NameUnresolvable,
        /// Another `OSError`.
        Io,
        /// The Content-Encoding could not be undone (urllib3's `DecodeError`).
        ContentDecoding,
        /// A limit of the session was reached.
        LimitExceeded,
    }
    bare {
        /// `NotConnected`.
        NotConnected,
        /// `UnknownTransferEncoding`.
        UnknownTransferEncoding,
        /// `UnimplementedFileMode`.
        UnimplementedFileMode,
        /// `HTTPException("got more than 100 headers")`.
        TooManyHeaders,
        /// `TimeoutError`.
        Timeout,
        /// The host cancelled the session.
        Cancelled,
    }
}

impl Error {
    /// The `Error` inside an `io::Error` from [`crate::Response`]'s `Read`, or an `Io` error
    /// with its words.
    pub fn from_io(e: io::Error) -> Self {
        match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
            Some(error) => error.clone(),
            None => Error::Io(e.to_string()),
        }
    }

    /// This error inside an `io::Error` of the matching kind.
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            Error::Timeout => io::ErrorKind::TimedOut,
            Error::ConnectionRefused(_) => io::ErrorKind::ConnectionRefused,
            Error::ConnectionReset(_) | Error::RemoteDisconnected(_) => io::ErrorKind::ConnectionReset,
            Error::IncompleteRead { .. } => io::ErrorKind::UnexpectedEof,
            Error::Denied(_) => io::ErrorKind::PermissionDenied,
            Error::InvalidUrl(_) | Error::InvalidHeader(_) | Error::InvalidArgument(_) => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

impl fmt::Display for Error {
    /// Python's words for it, from the guest (`error-message`), so they match http.client's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::raw::error_message(&self.clone().into()))
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        e.into_io()
    }
}
