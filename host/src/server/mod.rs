//! The listener: accepts connections and gives each its own store and instance of the guest,
//! whose `handler` resource answers it, either entirely (SimpleHTTPRequestHandler over a
//! read-only preopen) or verb by verb for host code that plays `do_METHOD` (`embed`).

mod embed;

pub use embed::{Exchange, RequestHandler};

use crate::bindings::server::HandlerConfig;
use crate::bindings::transport::ErrorCode;
use crate::runtime::{HostState, Runtime};
use crate::transport::{OutboundPolicy, TcpStream, tcp_to_wit};
use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wasmtime_wasi::{FsPerms, WasiCtx};

/// Where the served directory appears inside the guest.
pub const GUEST_ROOT: &str = "/srv";
/// Listen backlog (CPython `socketserver.TCPServer.request_queue_size` is 5; we take the usual OS maximum).
pub const LISTEN_BACKLOG: i32 = 1024;
/// How long a stopping server waits for in-flight responses (ours).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Lingering close (as nginx's `lingering_close`): after the last response, input still
/// arriving is read and dropped for up to this long per read, so closing with unread bytes
/// does not make the kernel reset the connection and discard a response still in flight.
pub const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// At most this much unread input is drained before closing regardless (ours).
pub const LINGER_MAX_BYTES: usize = 1024 * 1024;
/// How long a client may take over the TLS handshake (ours; nginx's default is 60 s).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How to serve.
#[derive(Clone)]
pub struct ServerConfig {
    /// The directory served, read-only.
    pub directory: PathBuf,
    /// "HTTP/1.0" (CPython's default) or "HTTP/1.1".
    pub protocol_version: String,
    /// Log a line per request to stderr.
    pub log_requests: bool,
    /// Close an idle or slow connection after this many milliseconds.
    pub timeout_ms: Option<u64>,
    /// Host code that answers requests; none serves `directory` (SimpleHTTPRequestHandler).
    pub handler: Option<Arc<dyn RequestHandler>>,
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            directory: PathBuf::from("."),
            protocol_version: "HTTP/1.0".into(),
            log_requests: true,
            timeout_ms: None,
            handler: None,
            server_version: None,
            error_message_format: None,
            error_content_type: None,
            extensions_map: Vec::new(),
            index_pages: Vec::new(),
            expect_continue: true,
            tls: None,
            cgi_directories: Vec::new(),
        }
    }
}

/// What the accept loop and the connection threads share.
#[derive(Default)]
struct Shared {
    stopping: AtomicBool,
    next_id: AtomicU64,
    /// A clone of every open connection's socket, to end idle reads at shutdown.
    open: Mutex<HashMap<u64, std::net::TcpStream>>,
    closed: Condvar,
}

/// One connection's work, run on a worker thread.
type Job = Box<dyn FnOnce() + Send>;

/// Most worker threads kept waiting for a next connection (ours). Threads are reused because
/// creating and tearing one down (stack mappings, TLB shootdowns) cost more than the request.
pub const MAX_IDLE_WORKERS: usize = 64;

/// Connection threads, reused: every connection gets a thread at once (an idle one, or a new
/// one), so a slow connection never waits behind another.
#[derive(Default)]
struct Workers {
    queue: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    receiver: Arc<Mutex<Option<std::sync::mpsc::Receiver<Job>>>>,
    /// Workers waiting for a job (in `recv`, or queued for the receiver's lock to get there),
    /// each reserved by exactly one `run` when it takes the count down.
    idle: Arc<std::sync::atomic::AtomicUsize>,
    /// Workers between jobs (waiting for the receiver or in `recv`), for the idle cap.
    parked: Arc<std::sync::atomic::AtomicUsize>,
}

impl Workers {
    fn run(&self, job: Job) -> std::io::Result<()> {
        let reserved = self
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if reserved {
            let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(tx) = queue.as_ref() {
                if let Err(std::sync::mpsc::SendError(job)) = tx.send(job) {
                    drop(queue);
                    return self.spawn(job);
                }
                return Ok(());
            }
        }
        self.spawn(job)
    }

    fn spawn(&self, first: Job) -> std::io::Result<()> {
        let receiver = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.is_none() {
                let (tx, rx) = std::sync::mpsc::channel();
                *queue = Some(tx);
                *self.receiver.lock().unwrap_or_else(|p| p.into_inner()) = Some(rx);
            }
            self.receiver.clone()
        };
        let (idle, parked) = (self.idle.clone(), self.parked.clone());
        std::thread::Builder::new().name("httplib-conn".into()).spawn(move || {
            let mut job = first;
            loop {
                job();
                if parked.fetch_add(1, Ordering::SeqCst) >= MAX_IDLE_WORKERS {
                    parked.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
                // Become idle: the next `run` that reserves us sends exactly one job. Counted
                // before queueing for the receiver's lock, which one waiter holds at a time:
                // counted after it, `idle` was rarely above 1, so under load most connections
                // spawned a thread (measured: 112 thread spawns and exits a second, their
                // stack mappings' TLB shootdowns 18% of the server's time).
                idle.fetch_add(1, Ordering::SeqCst);
                let guard = receiver.lock().unwrap_or_else(|p| p.into_inner());
                let next = guard.as_ref().map(|rx| rx.recv());
                drop(guard);
                parked.fetch_sub(1, Ordering::SeqCst);
                match next {
                    Some(Ok(j)) => job = j,
                    _ => return,
                }
            }
        })?;
        Ok(())
    }
}

/// A bound listener ready to serve.
pub struct Server {
    workers: Workers,
    listener: TcpListener,
    runtime: Arc<Runtime>,
    config: Arc<ServerConfig>,
    shared: Arc<Shared>,
    addr: SocketAddr,
}

/// Stops a serving `Server` from another thread (a signal handler, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl ShutdownHandle {
    /// Stop accepting; `serve` returns once its accept loop notices.
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let wake = if self.addr.ip().is_unspecified() {
            let ip: std::net::IpAddr = if self.addr.is_ipv6() {
                [0u16, 0, 0, 0, 0, 0, 0, 1].into()
            } else {
                [127u8, 0, 0, 1].into()
            };
            SocketAddr::new(ip, self.addr.port())
        } else {
            self.addr
        };
        let _ = std::net::TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    }
}

impl Server {
    /// Bind `addr` (an IPv6 wildcard also accepts IPv4, as CPython's dual-stack server does).
    pub fn bind(addr: SocketAddr, runtime: Arc<Runtime>, config: ServerConfig) -> Result<Self> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        if addr.is_ipv6() {
            let _ = socket.set_only_v6(false);
        }
        socket.bind(&addr.into()).with_context(|| format!("binding {addr}"))?;
        socket.listen(LISTEN_BACKLOG)?;
        let directory = config
            .directory
            .canonicalize()
            .with_context(|| format!("directory {}", config.directory.display()))?;
        let listener: TcpListener = socket.into();
        let addr = listener.local_addr()?;
        Ok(Self {
            workers: Workers::default(),
            listener,
            runtime,
            config: Arc::new(ServerConfig { directory, ..config }),
            shared: Arc::default(),
            addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: self.shared.clone(),
            addr: self.addr,
        }
    }

    /// Accept until shut down, one thread (and one guest instance) per connection.
    pub fn serve(&self) -> Result<()> {
        for conn in self.listener.incoming() {
            if self.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let sock = match conn {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    continue;
                }
            };
            let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
            if let Ok(clone) = sock.try_clone() {
                self.shared
                    .open
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, clone);
            }
            let runtime = self.runtime.clone();
            let config = self.config.clone();
            let shared = self.shared.clone();
            let job: Job = Box::new(move || {
                let peer = sock.peer_addr().ok();
                if let Err(e) = handle_connection(&runtime, &config, sock) {
                    let who = peer.map_or("?".to_string(), |p| p.to_string());
                    // One line: the cause, not the wasm backtrace.
                    eprintln!("connection from {who} lost: {}", e.root_cause());
                }
                let mut open = shared.open.lock().unwrap_or_else(|p| p.into_inner());
                open.remove(&id);
                shared.closed.notify_all();
            });
            if let Err(e) = self.workers.run(job) {
                eprintln!("cannot start a thread for a connection: {e}");
                self.shared.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            }
        }
        Ok(())
    }

    /// After `serve` returned: end idle reads (keep-alive connections waiting for a next
    /// request see end-of-stream), let responses in flight finish, wait up to `grace`.
    /// Returns how many connections were still open when it gave up.
    pub fn drain(&self, grace: Duration) -> usize {
        let deadline = Instant::now() + grace;
        let mut open = self.shared.open.lock().unwrap_or_else(|p| p.into_inner());
        for sock in open.values() {
            let _ = sock.shutdown(Shutdown::Read);
        }
        while !open.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            open = self
                .shared
                .closed
                .wait_timeout(open, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        open.len()
    }

    /// Serve on a background thread.
    pub fn spawn(self) -> Result<ServerHandle> {
        let addr = self.addr;
        let shutdown = self.shutdown_handle();
        let thread = std::thread::Builder::new()
            .name("httplib-accept".into())
            .spawn(move || {
                if let Err(e) = self.serve() {
                    eprintln!("server stopped: {e:#}");
                }
                self.drain(SHUTDOWN_GRACE);
            })?;
        Ok(ServerHandle {
            addr,
            shutdown,
            thread: Some(thread),
        })
    }
}

/// A server running on its own thread; stopped (gracefully) by `stop` or on drop.
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting, finish what is in flight, and wait for it.
    pub fn stop(&mut self) {
        self.shutdown.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The guest handler's class attributes for this server.
fn handler_config(config: &ServerConfig, local: Option<SocketAddr>) -> HandlerConfig {
    let default_version = if config.handler.is_some() {
        "BaseHTTP/0.6"
    } else {
        "SimpleHTTP/0.6"
    };
    HandlerConfig {
        protocol_version: config.protocol_version.clone(),
        server_version: config.server_version.clone().unwrap_or_else(|| default_version.into()),
        sys_version: format!("httplib/{}", env!("CARGO_PKG_VERSION")),
        directory: GUEST_ROOT.into(),
        error_message_format: config.error_message_format.clone(),
        error_content_type: config.error_content_type.clone(),
        extensions_map: config.extensions_map.clone(),
        index_pages: config.index_pages.clone(),
        log_requests: config.log_requests,
        timeout_ms: config.timeout_ms,
        expect_continue: config.expect_continue,
        cgi_directories: config.cgi_directories.clone(),
        server_name: local.map(|a| a.ip().to_string()).unwrap_or_default(),
        server_port: local.map_or(0, |a| a.port()),
    }
}

/// Answer one connection in a fresh instance; whatever the guest does, only this connection is affected.
fn handle_connection(runtime: &Runtime, config: &ServerConfig, sock: std::net::TcpStream) -> Result<()> {
    let peer = sock.peer_addr()?;
    let linger = sock.try_clone().ok();
    let result = serve_connection(runtime, config, sock, peer);
    if let Some(sock) = linger {
        linger_close(sock);
    }
    result
}

/// Half-close, then read and drop whatever the client still sends (bounded), then close.
fn linger_close(mut sock: std::net::TcpStream) {
    use std::io::Read;
    let _ = sock.shutdown(Shutdown::Write);
    let _ = sock.set_read_timeout(Some(LINGER_TIMEOUT));
    let mut buf = [0u8; 16 * 1024];
    let mut drained = 0;
    while drained < LINGER_MAX_BYTES {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Run the guest over one accepted connection.
fn serve_connection(
    runtime: &Runtime,
    config: &ServerConfig,
    sock: std::net::TcpStream,
    peer: SocketAddr,
) -> Result<()> {
    let local = sock.local_addr().ok();
    let stream = match &config.tls {
        Some(tls) => match TcpStream::accept_tls(sock, tls.clone(), TLS_HANDSHAKE_TIMEOUT) {
            Ok(s) => s,
            Err(e) => {
                // A plaintext client or a broken handshake costs this connection only.
                if config.log_requests {
                    eprintln!("TLS handshake with {peer} failed: {}", describe(&e));
                }
                return Ok(());
            }
        },
        None => TcpStream::new(sock),
    };
    let mut wasi = WasiCtx::builder();
    // File reads happen on this connection's own thread: without this, every WASI file call
    // is handed to a blocking pool and back (measured: most of a small request's cost).
    wasi.allow_blocking_current_thread(true);
    wasi.inherit_stderr();
    wasi.preopened_dir(&config.directory, GUEST_ROOT, FsPerms::ReadOnly)?;
    let policy = OutboundPolicy::allow_only(Vec::<String>::new());
    let mut state = HostState::new(wasi.build(), policy);
    if !config.cgi_directories.is_empty() {
        state = state.with_scripts(runtime.script_sandbox()?);
    }
    let (mut store, guest) = runtime.instantiate(state)?;
    let stream = store.data_mut().table.push(stream)?;
    let api = guest.httplib_http_server().handler();
    let handler = api.call_constructor(&mut store, stream, &tcp_to_wit(peer), &handler_config(config, local))?;
    let result = match &config.handler {
        None => api
            .call_serve_directory(&mut store, handler)?
            .map_err(|e| anyhow::anyhow!("{e:?}")),
        Some(user) => embed::serve_with(user.as_ref(), &mut store, &guest, handler),
    };
    handler.resource_drop(&mut store)?;
    if let Err(e) = result {
        tracing::debug!(%peer, "connection ended with an error: {e:#}");
    }
    Ok(())
}

fn describe(e: &ErrorCode) -> String {
    match e {
        ErrorCode::Tls(m) | ErrorCode::Other(m) | ErrorCode::ConnectionReset(m) => m.clone(),
        ErrorCode::Timeout => "timed out".into(),
        other => format!("{other:?}"),
    }
}
