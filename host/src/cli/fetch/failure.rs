//! How a failed transfer ends: curl's exit code for the same failure, chosen from the
//! error's case, and the failures that are not the guest's (the output, redirects).

use crate::client::ClientError;

/// The exit codes, as `--help` lists them.
pub const EXIT_CODES_HELP: &str = "Exit codes (curl's, where curl has one for the failure):
   0  an HTTP response arrived (any status, unless --fail)
   1  any other failure
   2  a usage error
   3  a malformed URL
   6  the host name did not resolve
   7  the connection was refused (or denied by policy)
   8  the reply was not HTTP
  18  the body was cut short
  22  --fail, and a status of 400 or more
  23  the body could not be written
  26  a file (or stdin) to send could not be read
  28  timed out (--timeout, --connect-timeout, or -m/--max-time)
  33  -C: the server sent the whole body, not the rest
  35  the TLS handshake failed
  47  more redirects than --max-redirs (with -L)
  52  the server closed without answering
  56  the connection was reset
  60  the server's certificate failed verification
  61  --compressed, and the body could not be decoded
  65  a body read from stdin would have to be sent again (a 307 or 308 redirect)";

/// curl's exit codes, where one names the failure (`man curl`, EXIT CODES); 1 for the rest,
/// 2 for a usage error.
pub(super) mod exit {
    pub const URL_MALFORMAT: u8 = 3;
    pub const COULDNT_RESOLVE_HOST: u8 = 6;
    pub const COULDNT_CONNECT: u8 = 7;
    pub const WEIRD_SERVER_REPLY: u8 = 8;
    pub const PARTIAL_FILE: u8 = 18;
    pub const HTTP_RETURNED_ERROR: u8 = 22;
    pub const WRITE_ERROR: u8 = 23;
    pub const RANGE_ERROR: u8 = 33;
    pub const READ_ERROR: u8 = 26;
    pub const SEND_FAIL_REWIND: u8 = 65;
    pub const OPERATION_TIMEDOUT: u8 = 28;
    pub const SSL_CONNECT_ERROR: u8 = 35;
    pub const BAD_CONTENT_ENCODING: u8 = 61;
    pub const TOO_MANY_REDIRECTS: u8 = 47;
    pub const GOT_NOTHING: u8 = 52;
    pub const RECV_ERROR: u8 = 56;
    pub const PEER_FAILED_VERIFICATION: u8 = 60;
}
/// Whether the failure is the output's reader having gone away.
pub(super) fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    matches!(e.downcast_ref::<ClientErrorOrIo>(), Some(ClientErrorOrIo::Io(io)) if io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The exit status for a failed transfer: curl's code for the same failure where it has one.
pub(super) fn exit_code(e: &(dyn std::error::Error + 'static)) -> u8 {
    use crate::bindings::types::HttpError as E;
    let http = match e.downcast_ref::<ClientErrorOrIo>() {
        Some(ClientErrorOrIo::Io(_) | ClientErrorOrIo::BinaryToTerminal) => return exit::WRITE_ERROR,
        Some(ClientErrorOrIo::TooManyRedirects(_)) => return exit::TOO_MANY_REDIRECTS,
        Some(ClientErrorOrIo::Read(_)) => return exit::READ_ERROR,
        Some(ClientErrorOrIo::Usage(_)) => return 2,
        Some(ClientErrorOrIo::Rewind) => return exit::SEND_FAIL_REWIND,
        Some(ClientErrorOrIo::Client(ClientError::Http(h, _))) => h,
        _ => match e.downcast_ref::<ClientError>() {
            Some(ClientError::Http(h, _)) => h,
            _ => return 1,
        },
    };
    match http {
        E::InvalidUrl(_) => exit::URL_MALFORMAT,
        E::NameUnresolvable(_) => exit::COULDNT_RESOLVE_HOST,
        E::ConnectionRefused(_) | E::Denied(_) => exit::COULDNT_CONNECT,
        E::BadStatusLine(_)
        | E::UnknownProtocol(_)
        | E::LineTooLong(_)
        | E::TooManyHeaders
        | E::UnknownTransferEncoding
        | E::HttpException(_) => exit::WEIRD_SERVER_REPLY,
        E::IncompleteRead(_) => exit::PARTIAL_FILE,
        E::Timeout => exit::OPERATION_TIMEDOUT,
        E::CertificateVerification(_) => exit::PEER_FAILED_VERIFICATION,
        E::Tls(_) => exit::SSL_CONNECT_ERROR,
        E::RemoteDisconnected(_) => exit::GOT_NOTHING,
        E::ConnectionReset(_) => exit::RECV_ERROR,
        E::ContentDecoding(_) => exit::BAD_CONTENT_ENCODING,
        _ => 1,
    }
}

/// A failure while copying a body: the guest's exception or the output's IO error.
#[derive(Debug)]
pub(super) enum ClientErrorOrIo {
    Client(ClientError),
    Io(std::io::Error),
    /// A body with NUL bytes about to go to a terminal (curl refuses it the same way).
    BinaryToTerminal,
    /// -L met more redirects than --max-redirs allows.
    TooManyRedirects(i64),
    /// A file or stdin to send could not be read.
    Read(String),
    /// A body from stdin, already sent, was to be sent again.
    Rewind,
    /// An option's value that makes no sense.
    Usage(String),
}

impl std::fmt::Display for ClientErrorOrIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientErrorOrIo::Client(e) => write!(f, "{e}"),
            ClientErrorOrIo::Io(e) => write!(f, "writing the body: {e}"),
            ClientErrorOrIo::TooManyRedirects(n) => write!(f, "Maximum ({n}) redirects followed"),
            ClientErrorOrIo::Read(why) | ClientErrorOrIo::Usage(why) => f.write_str(why),
            ClientErrorOrIo::Rewind => f.write_str("necessary data rewind wasn't possible"),
            ClientErrorOrIo::BinaryToTerminal => f.write_str(
                "Binary output can mess up your terminal. Use \"--output -\" to tell httplib to output it to your terminal anyway, or consider \"--output <FILE>\" to save to a file.",
            ),
        }
    }
}

impl std::error::Error for ClientErrorOrIo {}

impl From<ClientError> for ClientErrorOrIo {
    fn from(e: ClientError) -> Self {
        ClientErrorOrIo::Client(e)
    }
}

impl From<std::io::Error> for ClientErrorOrIo {
    fn from(e: std::io::Error) -> Self {
        ClientErrorOrIo::Io(e)
    }
}
