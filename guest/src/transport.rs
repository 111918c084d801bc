//! The guest's view of the host transport: traits `client` and `server` drive, implemented by
//! the WIT imports in `lib.rs` (and by in-memory fakes in native tests).

use std::fmt;

/// Why a transport operation failed (mirrors WIT `transport.error-code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    ConnectionRefused(String),
    ConnectionReset(String),
    Timeout,
    NameUnresolvable(String),
    Tls(String),
    /// The peer's certificate failed verification.
    Certificate(String),
    Denied(String),
    LimitExceeded(String),
    /// The host cancelled the session.
    Cancelled,
    Closed,
    Other(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::ConnectionRefused(m) => write!(f, "connection refused: {m}"),
            TransportError::ConnectionReset(m) => write!(f, "connection reset: {m}"),
            TransportError::Timeout => write!(f, "timed out"),
            TransportError::NameUnresolvable(m) => write!(f, "name does not resolve: {m}"),
            TransportError::Tls(m) => write!(f, "TLS: {m}"),
            TransportError::Certificate(m) => write!(f, "TLS certificate: {m}"),
            TransportError::Cancelled => write!(f, "the session was cancelled"),
            TransportError::Denied(m) => write!(f, "denied: {m}"),
            TransportError::LimitExceeded(m) => write!(f, "limit exceeded: {m}"),
            TransportError::Closed => write!(f, "stream closed"),
            TransportError::Other(m) => write!(f, "{m}"),
        }
    }
}

/// TLS settings for a connection (mirrors WIT `transport.tls-options`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub server_name: Option<String>,
    pub verify: bool,
    pub ca_certs: Option<Vec<u8>>,
    pub system_roots: bool,
    pub client_identity: Option<String>,
    pub alpn_protocols: Vec<String>,
}

/// How to open a connection (mirrors WIT `transport.connect-options`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    pub timeout_ms: Option<u64>,
    pub source_address: Option<(String, u16)>,
    pub tls: Option<TlsOptions>,
    /// The CONNECT target (host, port, TLS through it) when this connection is to a proxy.
    pub tunnel: Option<(String, u16, bool)>,
}

/// What a server connection is doing (mirrors WIT `transport.server-phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerPhase {
    AwaitingRequest,
    ReadingRequest,
    Responding,
}

/// One connected byte stream.
pub trait Stream {
    /// Up to `max` bytes; empty at end-of-stream.
    fn read(&mut self, max: usize) -> Result<Vec<u8>, TransportError>;
    /// All of `data`.
    fn write(&mut self, data: &[u8]) -> Result<(), TransportError>;
    /// Half-close for writing (the peer sees end-of-stream).
    fn shutdown_send(&mut self) -> Result<(), TransportError>;
    fn set_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), TransportError>;
    /// The timeout of reads alone.
    fn set_read_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), TransportError> {
        self.set_timeout(timeout_ms)
    }
    /// Tell the host what this server connection is doing.
    fn set_phase(&mut self, _phase: ServerPhase) {}
    /// Become a TLS client to `host` over this stream (after a CONNECT tunnel is up).
    fn start_tls(&mut self, host: &str, options: &TlsOptions) -> Result<(), TransportError>;
    /// Send `len` bytes of the file at `path` from `offset` without passing them through this
    /// instance's memory; how many went (fewer only at the file's end), or `None` when this
    /// stream cannot, and the caller copies them itself.
    fn send_file(&mut self, _path: &str, _offset: u64, _len: u64) -> Result<Option<u64>, TransportError> {
        Ok(None)
    }
}

/// Limits the guest applies itself (mirrors WIT `transport.guest-limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestLimits {
    /// Most body bytes one response may deliver.
    pub max_response_body: Option<u64>,
    /// Most bytes `read()` with no amount may gather.
    pub max_read_all: u64,
}

impl Default for GuestLimits {
    fn default() -> Self {
        Self {
            max_response_body: None,
            max_read_all: u64::MAX,
        }
    }
}

/// Opening connections and raising audit events.
pub trait Transport {
    fn connect(&self, host: &str, port: u16, options: &ConnectOptions) -> Result<Box<dyn Stream>, TransportError>;
    fn audit(&self, event: &str, args: &[String]) -> Result<(), TransportError>;
    /// The session's limits the guest applies (none, unless the host says).
    fn limits(&self) -> GuestLimits {
        GuestLimits::default()
    }
}

/// What a script left behind (WIT `cgi.script-output`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: u8,
    /// Why the host stopped it, when it did.
    pub stopped: Option<String>,
}

/// Why a script could not be started (WIT `cgi.cgi-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptError {
    Disabled,
    NotRunnable(String),
}

/// The host's script sandbox (WIT `cgi.run`): CGI scripts, each a WebAssembly command
/// component, run in a store of their own.
pub trait ScriptRunner {
    fn run(
        &self,
        program: &[u8],
        args: &[String],
        env: &[(String, String)],
        stdin: &[u8],
    ) -> Result<ScriptOutput, ScriptError>;
}
