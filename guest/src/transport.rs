//! The guest's view of the host transport: traits `client` and `server` drive, implemented by
//! the WIT imports in `lib.rs` (and by in-memory fakes in native tests).

use std::fmt;

/// Why a transport operation failed (mirrors WIT `transport.error-code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The peer refused the connection.
    ConnectionRefused(String),
    /// The peer reset the connection.
    ConnectionReset(String),
    /// A read or write timed out.
    Timeout,
    /// The host name does not resolve.
    NameUnresolvable(String),
    /// The TLS handshake or record layer failed.
    Tls(String),
    /// The peer's certificate failed verification.
    Certificate(String),
    /// The host's policy refused it.
    Denied(String),
    /// A limit of the session was reached.
    LimitExceeded(String),
    /// The host cancelled the session.
    Cancelled,
    /// The stream was shut down.
    Closed,
    /// Any other failure.
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
    /// The name sent in SNI and verified; the connect host when none.
    pub server_name: Option<String>,
    /// Verify the certificate chain and name.
    pub verify: bool,
    /// Extra trusted roots, PEM.
    pub ca_certs: Option<Vec<u8>>,
    /// The system's trust store instead of Mozilla's roots.
    pub system_roots: bool,
    /// The name of a client identity the host holds.
    pub client_identity: Option<String>,
    /// ALPN protocols to offer.
    pub alpn_protocols: Vec<String>,
}

/// How to open a connection (mirrors WIT `transport.connect-options`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Connect and I/O timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The connect and TLS handshake's own timeout (none: `timeout_ms`).
    pub connect_timeout_ms: Option<u64>,
    /// The (host, port) to bind first.
    pub source_address: Option<(String, u16)>,
    /// Wrap the connection in TLS.
    pub tls: Option<TlsOptions>,
    /// The CONNECT target (host, port, TLS through it) when this connection is to a proxy.
    pub tunnel: Option<(String, u16, bool)>,
}

/// What a server connection is doing (mirrors WIT `transport.server-phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerPhase {
    /// Between requests.
    AwaitingRequest,
    /// Part of a head arrived.
    ReadingRequest,
    /// Reading the body or answering.
    Responding,
    /// Waiting for more of a body this guest can carry to another instance (`Stream::carry`).
    AwaitingBody,
}

/// One connected byte stream.
pub trait Stream {
    /// Up to `max` bytes; empty at end-of-stream.
    fn read(&mut self, max: usize) -> Result<Vec<u8>, TransportError>;
    /// All of `data`.
    fn write(&mut self, data: &[u8]) -> Result<(), TransportError>;
    /// Half-close for writing (the peer sees end-of-stream).
    fn shutdown_send(&mut self) -> Result<(), TransportError>;
    /// The timeout of reads and writes.
    fn set_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), TransportError>;
    /// The timeout of reads alone.
    fn set_read_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), TransportError> {
        self.set_timeout(timeout_ms)
    }
    /// Tell the host what this server connection is doing.
    fn set_phase(&mut self, _phase: ServerPhase) {}
    /// Wait for a server connection's next request (WIT `await-request`): phase
    /// `AwaitingRequest` and read timeout `timeout_ms` while it waits, then one read of up
    /// to `max` bytes; once bytes arrive the host counts the connection as `Responding`.
    fn await_request(&mut self, max: usize, timeout_ms: Option<u64>) -> Result<Vec<u8>, TransportError> {
        self.set_phase(ServerPhase::AwaitingRequest);
        self.set_read_timeout(timeout_ms)?;
        let data = self.read(max)?;
        if !data.is_empty() {
            self.set_phase(ServerPhase::Responding);
        }
        Ok(data)
    }
    /// After a read in `AwaitingBody` found the stream closed: whether the host is parking
    /// the connection, keeping `state` for the instance that resumes it.
    fn carry(&mut self, _state: Vec<u8>) -> bool {
        false
    }
    /// The state an earlier instance carried over a park, once.
    fn carried(&mut self) -> Option<Vec<u8>> {
        None
    }
    /// Become a TLS client to `host` over this stream (after a CONNECT tunnel is up).
    fn start_tls(&mut self, host: &str, options: &TlsOptions) -> Result<(), TransportError>;
    /// Send `len` bytes of the file at `path` from `offset` without passing them through this
    /// instance's memory; how many went (fewer only at the file's end), or `None` when this
    /// stream cannot, and the caller copies them itself.
    fn send_file(&mut self, _path: &str, _offset: u64, _len: u64) -> Result<Option<u64>, TransportError> {
        Ok(None)
    }

    /// Look at the path `path` and open it for reading if it is a regular file (WIT
    /// `open-file`: one host call where wasi:filesystem takes three); `None` when this stream
    /// cannot, and the caller looks through wasi:filesystem itself.
    fn open_file(&mut self, _path: &str) -> Result<Option<FileAt>, TransportError> {
        Ok(None)
    }
    /// A response whose body is a file `open_file` opened: `head`, then `len` bytes of `file`
    /// from `offset` (WIT `send-head-and-file`), the file closed by it; how many of the file's
    /// bytes went (fewer only at the file's end).
    fn send_head_and_file(
        &mut self,
        _head: &[u8],
        _file: HostFile,
        _offset: u64,
        _len: u64,
    ) -> Result<u64, TransportError> {
        Err(TransportError::Other("this stream opens no files".into()))
    }

    /// The entries of the directory at `path`, names as the file system has them (bytes,
    /// which need not be UTF-8 where wasi:filesystem needs them to be); `None` when the host
    /// cannot, and the caller reads the directory itself.
    fn list_directory(&mut self, _path: &str) -> Result<Option<Vec<RawEntry>>, TransportError> {
        Ok(None)
    }
}

/// What `Stream::open_file` found at a path (WIT `file-kind`, with the file for `file`).
pub enum FileAt {
    /// A regular file, opened for reading.
    File(HostFile),
    /// A directory (not opened).
    Directory,
    /// A FIFO, socket or device: never opened.
    Other,
    /// Nothing there, or a path that leaves the served directory.
    Missing,
}

/// A regular file the host opened for this instance (WIT `open-file`'s descriptor and `file-found`): its size and
/// modification time when it was looked at, and the stream's own handle to it (closed when
/// this is dropped).
pub struct HostFile {
    /// Its size in bytes.
    pub size: u64,
    /// When it was last modified, in seconds since the Unix epoch.
    pub modified_seconds: i64,
    /// The transport's handle (the WIT glue's descriptor), for `send_head_and_file`.
    pub handle: Box<dyn std::any::Any>,
}

/// What kind of file a directory entry is, not following a symlink (WIT `entry-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// Anything else (a FIFO, socket, device).
    Other,
}

/// One entry of a directory, as the host lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The name's bytes.
    pub name: Vec<u8>,
    /// Its kind.
    pub kind: EntryKind,
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
    /// Connect to `host:port`, through the host's policy.
    fn connect(&self, host: &str, port: u16, options: &ConnectOptions) -> Result<Box<dyn Stream>, TransportError>;
    /// Raise an audit event the host may refuse.
    fn audit(&self, event: &str, args: &[String]) -> Result<(), TransportError>;
    /// The session's limits the guest applies (none, unless the host says).
    fn limits(&self) -> GuestLimits {
        GuestLimits::default()
    }
}

/// Why the host stopped a script (WIT `cgi.stop-reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptStop {
    /// It trapped.
    Trapped,
    /// It ran past its time limit.
    TimeLimit,
    /// It asked for more memory than its limit.
    MemoryLimit,
}

impl ScriptStop {
    /// The limit or failure, in words for a page and the log.
    pub fn describe(self) -> &'static str {
        match self {
            ScriptStop::Trapped => "it trapped",
            ScriptStop::TimeLimit => "it ran past its time limit",
            ScriptStop::MemoryLimit => "it went over its memory limit",
        }
    }
}

/// How a script ended (WIT `cgi.script-end`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptEnd {
    /// Its exit status.
    pub exit_code: u8,
    /// Why the host stopped it, if it did.
    pub stopped: Option<ScriptStop>,
    /// What it wrote to stderr (capped by the host).
    pub stderr: Vec<u8>,
}

/// Why a script could not be started (WIT `cgi.cgi-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptError {
    /// This server runs no scripts.
    Disabled,
    /// Not a runnable component, and why (in words fit for a client).
    NotRunnable(String),
    /// No place for a script now: retry after this many seconds.
    Busy(u32),
}

/// A script running (WIT `cgi.script`): its stdout as it writes it, then its end. Dropping
/// it before its end stops it.
pub trait RunningScript {
    /// Up to `max` bytes of stdout, waiting until some are there; empty at its end.
    fn read(&mut self, max: usize) -> Vec<u8>;
    /// Wait for its end.
    fn finish(&mut self) -> ScriptEnd;
}

/// The host's script sandbox (WIT `cgi.start`): CGI scripts, each a WebAssembly command
/// component, run in a store of their own.
pub trait ScriptRunner {
    /// Start `program` with `args`, `env` and `stdin`.
    fn start(
        &self,
        program: &[u8],
        args: &[String],
        env: &[(String, String)],
        stdin: &[u8],
    ) -> Result<Box<dyn RunningScript>, ScriptError>;
}
