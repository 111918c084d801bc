//! How to serve: [`ServerConfig`] (the class attributes of the handler, the timeouts, TLS,
//! CGI, limits, the store each connection runs in), its defaults with their nginx or CPython
//! sources, and the one conversion of it to the guest's `handler-config`.

use crate::bindings::server::HandlerConfig;
use crate::limits::SessionLimits;
use crate::policy::OutboundPolicy;
use crate::view::{HostState, HttplibCtx, HttplibView};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::accept::Accepting;
use super::admission::MAX_CONNECTIONS;
use super::app::HandlerApp;
use super::embed::RequestHandler;
use super::reuse::InstanceReuse;
use wasmtime_wasi::WasiCtx;

/// Where the served directory appears inside the guest.
pub const GUEST_ROOT: &str = "/srv";
/// How long a server stopped by SIGTERM waits for in-flight responses (ours; nginx's graceful
/// stop waits without bound, `worker_shutdown_timeout` off).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How long a server stopped by Ctrl-C waits for the connections it has just closed to end.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(1);
/// How long a client may take over the whole TLS handshake (ours, counted in total; nginx's
/// `ssl_handshake_timeout` is 60 s).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A keep-alive connection that has waited this long for its next request gives up its
/// instance and is parked: one file descriptor, watched with the others by one thread,
/// until its next request's bytes arrive (ours; nginx keeps an idle connection in its event
/// loop the same way, in a few hundred bytes).
pub const PARK_AFTER: Duration = Duration::from_millis(100);
/// Between requests, how long a connection may sit idle (nginx `keepalive_timeout`, 75 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long a whole request head may take from its first byte (nginx `client_header_timeout`,
/// 60 s; nginx counts it between reads, we count it in total so a trickle cannot stretch it).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one read of a request body may wait (nginx `client_body_timeout`, 60 s).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one write of a response may make no progress (nginx `send_timeout`, 60 s).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// What httplib has made for a connection's store: the embedder's [`MakeStore`] puts them
/// in its own store data, beside its own bookkeeping and a fresh `ResourceTable`.
pub struct StoreParts {
    /// WASI state: the served directory preopened read-only at `GUEST_ROOT`, stderr inherited
    /// for the log.
    pub wasi: WasiCtx,
    /// httplib's state: where the app's connections may go, the limits, CGI.
    pub httplib: HttplibCtx,
    /// The connection's client.
    pub peer: SocketAddr,
}

/// Makes each connection's store data from its [`StoreParts`] (see [`ServerConfig::for_store`]).
pub type MakeStore<T> = Arc<dyn Fn(StoreParts) -> T + Send + Sync>;

/// How to serve. `T` is the data of each connection's store: httplib's [`HostState`], or an
/// embedder's own type (see [`ServerConfig::for_store`]).
pub struct ServerConfig<T: HttplibView + 'static = HostState> {
    /// The directory served, read-only.
    pub directory: PathBuf,
    /// "HTTP/1.0" (CPython's default) or "HTTP/1.1".
    pub protocol_version: String,
    /// Log a line per request to stderr.
    pub log_requests: bool,
    /// CPython's `timeout`: a cap on every wait, and each read and write, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Between requests, how long a connection may sit idle (none: for ever).
    pub idle_timeout: Option<Duration>,
    /// How long a whole request head may take from its first byte; past it, 408 (none: for ever).
    pub head_timeout: Option<Duration>,
    /// How long one read of a request body may wait (none: for ever).
    pub body_timeout: Option<Duration>,
    /// How long one write of a response may make no progress (none: for ever).
    pub send_timeout: Option<Duration>,
    /// How long the whole TLS handshake may take (none: for ever).
    pub tls_handshake_timeout: Option<Duration>,
    /// Most connections served at once; past it, idle and slow ones are closed to make room,
    /// and a new connection that still finds none gets 503. Parked connections do not count.
    pub max_connections: usize,
    /// Park a keep-alive connection that waits this long for its next request (none:
    /// each connection keeps its instance until it closes).
    pub park_after: Option<Duration>,
    /// Host code that answers requests; none serves `directory` (SimpleHTTPRequestHandler).
    pub handler: Option<Arc<dyn RequestHandler<T>>>,
    /// A handler component that answers requests (`serve --app`), each connection in a store
    /// of its own beside the guest; takes precedence over `handler`.
    pub app: Option<Arc<HandlerApp<T>>>,
    /// `server_version`; "SimpleHTTP/0.6" (or "BaseHTTP/0.6" with a `handler`) when none.
    pub server_version: Option<String>,
    /// `error_message_format` (%(code)d, %(message)s, %(explain)s); CPython's page when none.
    pub error_message_format: Option<String>,
    /// `error_content_type`; "text/html;charset=utf-8" when none.
    pub error_content_type: Option<String>,
    /// `extensions_map` additions: (".ext", "type/subtype").
    pub extensions_map: Vec<(String, String)>,
    /// `index_pages`; ["index.html", "index.htm"] when empty.
    pub index_pages: Vec<String>,
    /// Answer `Expect: 100-continue` with 100 Continue (CPython); false answers 417.
    pub expect_continue: bool,
    /// Terminate TLS with this config (HTTPSServer); none serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// CGIHTTPRequestHandler's `cgi_directories` (`--cgi`: ["/cgi-bin", "/htbin"]): scripts
    /// there, WebAssembly components only, run in a sandbox of their own. Empty runs none.
    pub cgi_directories: Vec<String>,
    /// Where CGI scripts that import `httplib:http/client` may connect (`--cgi-allow`):
    /// nowhere by default.
    pub cgi_policy: OutboundPolicy,
    /// Limits of each served connection's instance (memory, CPU; the client-side ones apply
    /// to an app's own connections).
    pub limits: SessionLimits,
    /// Makes each connection's store data.
    pub make_store: MakeStore<T>,
    /// Whether an instance whose connection ended cleanly answers the next one: `Serial` in
    /// `default()`, `Never` in `for_store` (an embedder's store data may belong to one
    /// connection). Never with an `app` or CGI.
    pub instance_reuse: InstanceReuse,
    /// Which reactor threads accept new connections (host code playing `do_METHOD` is
    /// always accepted on one thread: its connections get threads of their own).
    pub accepting: Accepting,
}

impl Default for ServerConfig<HostState> {
    fn default() -> Self {
        let config = Self::for_store(|parts: StoreParts| HostState {
            wasi: parts.wasi,
            table: Default::default(),
            httplib: parts.httplib,
        });
        // HostState holds nothing of a connection's own: its instance may answer the next.
        Self {
            instance_reuse: InstanceReuse::Serial,
            ..config
        }
    }
}

impl<T: HttplibView + 'static> ServerConfig<T> {
    /// The defaults, each connection's store data made by `make_store` (an embedder's own
    /// type, holding the parts and a fresh `ResourceTable` beside its own state).
    pub fn for_store(make_store: impl Fn(StoreParts) -> T + Send + Sync + 'static) -> Self {
        Self {
            directory: PathBuf::from("."),
            protocol_version: "HTTP/1.0".into(),
            log_requests: true,
            timeout_ms: None,
            idle_timeout: Some(IDLE_TIMEOUT),
            head_timeout: Some(HEAD_TIMEOUT),
            body_timeout: Some(BODY_TIMEOUT),
            send_timeout: Some(SEND_TIMEOUT),
            tls_handshake_timeout: Some(TLS_HANDSHAKE_TIMEOUT),
            max_connections: MAX_CONNECTIONS,
            park_after: Some(PARK_AFTER),
            handler: None,
            app: None,
            server_version: None,
            error_message_format: None,
            error_content_type: None,
            extensions_map: Vec::new(),
            index_pages: Vec::new(),
            expect_continue: true,
            tls: None,
            cgi_directories: Vec::new(),
            cgi_policy: OutboundPolicy::deny_all(),
            limits: SessionLimits::default(),
            make_store: Arc::new(make_store),
            instance_reuse: InstanceReuse::Never,
            accepting: Accepting::OneThread,
        }
    }
}

impl<T: HttplibView + 'static> Clone for ServerConfig<T> {
    fn clone(&self) -> Self {
        Self {
            directory: self.directory.clone(),
            protocol_version: self.protocol_version.clone(),
            log_requests: self.log_requests,
            timeout_ms: self.timeout_ms,
            idle_timeout: self.idle_timeout,
            head_timeout: self.head_timeout,
            body_timeout: self.body_timeout,
            send_timeout: self.send_timeout,
            tls_handshake_timeout: self.tls_handshake_timeout,
            max_connections: self.max_connections,
            park_after: self.park_after,
            handler: self.handler.clone(),
            app: self.app.clone(),
            server_version: self.server_version.clone(),
            error_message_format: self.error_message_format.clone(),
            error_content_type: self.error_content_type.clone(),
            extensions_map: self.extensions_map.clone(),
            index_pages: self.index_pages.clone(),
            expect_continue: self.expect_continue,
            tls: self.tls.clone(),
            cgi_directories: self.cgi_directories.clone(),
            cgi_policy: self.cgi_policy.clone(),
            limits: self.limits.clone(),
            make_store: self.make_store.clone(),
            instance_reuse: self.instance_reuse,
            accepting: self.accepting,
        }
    }
}

impl<T: HttplibView + 'static> ServerConfig<T> {
    /// The guest handler's class attributes for this server, listening on `local`: the one
    /// place the host fills in the WIT `handler-config`.
    pub(crate) fn handler_config(&self, local: Option<SocketAddr>) -> HandlerConfig {
        let default_version = match (&self.handler, &self.app) {
            (None, None) => "SimpleHTTP/0.6",
            _ => "BaseHTTP/0.6",
        };
        HandlerConfig {
            protocol_version: self.protocol_version.clone(),
            server_version: self.server_version.clone().unwrap_or_else(|| default_version.into()),
            sys_version: format!("httplib/{}", env!("CARGO_PKG_VERSION")),
            directory: GUEST_ROOT.into(),
            error_message_format: self.error_message_format.clone(),
            error_content_type: self.error_content_type.clone(),
            extensions_map: self.extensions_map.clone(),
            index_pages: self.index_pages.clone(),
            log_requests: self.log_requests,
            timeout_ms: self.timeout_ms,
            idle_timeout_ms: self.idle_timeout.map(millis),
            head_timeout_ms: self.head_timeout.map(millis),
            body_timeout_ms: self.body_timeout.map(millis),
            expect_continue: self.expect_continue,
            cgi_directories: self.cgi_directories.clone(),
            server_name: local.map(|a| a.ip().to_string()).unwrap_or_default(),
            server_port: local.map_or(0, |a| a.port()),
        }
    }
}

/// A duration in whole milliseconds, at least 1 (0 would mean "no wait" to the guest).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
