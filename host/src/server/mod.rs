//! The listener: accepts connections and gives each its own store and instance of the guest,
//! whose `handler` resource answers it, either entirely (SimpleHTTPRequestHandler over a
//! read-only preopen) or verb by verb for host code that plays `do_METHOD` (`embed`);
//! `serve_async` runs it from async code, `park` holds idle keep-alive connections.
//! Connections are tasks on `Reactor`: a single-threaded tokio runtime a core, each guest on
//! a fiber that is suspended wherever its socket would block.

mod embed;
mod park;
mod serve_async;

pub use embed::{Exchange, RequestHandler};

use crate::bindings::server::HandlerConfig;
use crate::runtime::Wait;
use crate::runtime::{HostState, Runtime};
use crate::transport::{OutboundPolicy, Phase, PhaseCell, TcpStream};
use crate::wit_host::socket_address as tcp_to_wit;
use anyhow::{Context, Result};
use park::{Parked, ParkingLot};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use wasmtime_wasi::{FsPerms, WasiCtx};

/// Where the served directory appears inside the guest.
pub const GUEST_ROOT: &str = "/srv";
/// Listen backlog (CPython `socketserver.TCPServer.request_queue_size` is 5; we take the usual OS maximum).
pub const LISTEN_BACKLOG: i32 = 1024;
/// How long a server stopped by SIGTERM waits for in-flight responses (ours; nginx's graceful
/// stop waits without bound, `worker_shutdown_timeout` off).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How long a server stopped by Ctrl-C waits for the connections it has just closed to end.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(1);
/// Lingering close (as nginx's `lingering_close`): after the last response, input still
/// arriving is read and dropped for up to this long per read, so closing with unread bytes
/// does not make the kernel reset the connection and discard a response still in flight.
pub const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// At most this much unread input is drained before closing regardless (ours).
pub const LINGER_MAX_BYTES: usize = 1024 * 1024;
/// How long a client may take over the whole TLS handshake (ours, counted in total; nginx's
/// `ssl_handshake_timeout` is 60 s).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A keep-alive connection that has waited this long for its next request gives up its thread
/// and its instance and is parked: one file descriptor, watched with the others by one thread,
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
/// Instances kept back from connections for CGI scripts and client sessions on the same
/// runtime (ours).
pub const RESERVED_INSTANCES: u32 = 64;
/// Most connections served at once, each holding an instance (ours: the pool less the reserve).
pub const MAX_CONNECTIONS: usize = (crate::runtime::MAX_INSTANCES - RESERVED_INSTANCES) as usize;
/// How long a new connection waits for an instance (while idle or slow connections are closed
/// to make room) before it is answered 503 (ours).
pub const ADMISSION_WAIT: Duration = Duration::from_millis(500);
/// Most new connections waiting for an instance at once; more are answered 503 at once (ours).
pub const MAX_ADMISSION_WAITERS: usize = 256;
/// A connection whose request head has been arriving this long may be closed to make room for a
/// new one when every instance is taken (ours; idle keep-alive connections go first).
pub const SLOW_HEAD_AGE: Duration = Duration::from_secs(1);
/// The `Retry-After` of a 503 sent for want of an instance (ours).
pub const BUSY_RETRY_AFTER_SECS: u32 = 1;
/// Parked connections closed, longest idle first, each time accepting fails for want of a
/// descriptor (ours; nginx likewise closes idle keep-alive connections when it runs out of
/// connections, 32 at a time).
pub const SHED_ON_EMFILE: usize = 32;
/// Descriptors kept free of connections: the listener, the poll, stdio, the code cache,
/// wasmtime's own (ours).
pub const DESCRIPTOR_RESERVE: u64 = 64;
/// Descriptors a connection answered in an instance may hold at once: its socket, the
/// listener's copy, the copy it lingers on, the instance's preopened directory, a file being
/// sent (ours; a parked one holds one).
pub const DESCRIPTORS_PER_ANSWER: u64 = 5;
/// The longest pause after an accept error such as EMFILE (ours; nginx pauses accepting 500 ms).
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(500);
/// At most one log line this often for a repeating condition (accept errors, 503s).
pub const LOG_EVERY: Duration = Duration::from_secs(1);

/// How to serve.
#[derive(Clone)]
pub struct ServerConfig {
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
    /// each connection keeps its thread and instance until it closes).
    pub park_after: Option<Duration>,
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
    /// Where CGI scripts that import `httplib:http/client` may connect (`--cgi-allow`):
    /// nowhere by default.
    pub cgi_policy: OutboundPolicy,
    /// Limits of each served connection's instance (memory, CPU; the client-side ones do not
    /// apply to a server, whose guest opens no connection).
    pub limits: crate::view::SessionLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
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
            server_version: None,
            error_message_format: None,
            error_content_type: None,
            extensions_map: Vec::new(),
            index_pages: Vec::new(),
            expect_continue: true,
            tls: None,
            cgi_directories: Vec::new(),
            cgi_policy: OutboundPolicy::deny_all(),
            limits: crate::view::SessionLimits::default(),
        }
    }
}

/// What the accept loop and the connection threads share.
#[derive(Default)]
struct Shared {
    stopping: AtomicBool,
    next_id: AtomicU64,
    /// Every open connection, to end idle reads at shutdown and to make room under pressure.
    open: Mutex<Open>,
    /// Signalled whenever a connection ends (its instance is free again).
    closed: Condvar,
    /// 503s sent for want of an instance, logged at most once per `LOG_EVERY`.
    busy_log: Mutex<LogThrottle>,
}

/// The open connections.
#[derive(Default)]
struct Open {
    conns: HashMap<u64, Conn>,
    /// How many hold an instance (or are about to).
    admitted: usize,
    /// How many of those were closed to make room and have not ended yet.
    evicting: usize,
    /// Most connections open at once since memory was last handed back.
    peak: usize,
    /// New connections waiting for an instance now.
    waiting: usize,
}

/// One open connection, as the listener sees it.
struct Conn {
    /// A clone of its socket (none while it is parked: the parking lot holds the socket).
    sock: Option<std::net::TcpStream>,
    /// What its guest says it is doing.
    phase: Arc<PhaseCell>,
    admitted: bool,
    /// Already closed to make room (not to be picked twice).
    evicted: bool,
}

impl Open {
    /// Close the connection that costs least to lose: the longest-idle keep-alive connection,
    /// else the request head that has been arriving longest (for `SLOW_HEAD_AGE` or more since
    /// its first byte: the guest reports a phase only when it changes).
    /// Its guest sees end-of-stream and ends, freeing its instance. `false` if none qualifies.
    fn evict_one(&mut self) -> bool {
        let mut best: Option<(u64, bool, Duration)> = None;
        for (&id, conn) in &self.conns {
            if !conn.admitted || conn.evicted {
                continue;
            }
            let (phase, age) = conn.phase.get();
            let idle = match phase {
                Phase::Idle => true,
                Phase::ReadingHead if age >= SLOW_HEAD_AGE => false,
                _ => continue,
            };
            let better = match best {
                None => true,
                Some((_, best_idle, best_age)) => (idle, age) > (best_idle, best_age),
            };
            if better {
                best = Some((id, idle, age));
            }
        }
        let Some((id, _, _)) = best else {
            return false;
        };
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.evicted = true;
            self.evicting += 1;
            if let Some(sock) = &conn.sock {
                let _ = sock.shutdown(Shutdown::Both);
            }
        }
        true
    }
}

/// One connection's work, run on a worker thread.
type Job = Box<dyn FnOnce() + Send>;

/// Most worker threads kept waiting for a next connection (ours). Threads are reused because
/// creating and tearing one down (stack mappings, TLB shootdowns) cost more than the request.
pub const MAX_IDLE_WORKERS: usize = 64;
/// Idle workers kept however long they wait, at least (ours); past them (and past one a
/// core, see `min_idle_workers`), a worker waits `WORKER_LINGER` for a next connection and
/// then exits, so a flood's threads (their stacks and malloc arenas) are gone seconds after
/// it. 8 kept a 2-core server at 15 threads when idle; one a core, as nginx's `worker_processes
/// auto`, at 8.
pub const MIN_IDLE_WORKERS: usize = 2;

/// Idle workers kept: one a core, at least `MIN_IDLE_WORKERS`.
fn min_idle_workers() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES
        .get_or_init(|| std::thread::available_parallelism().map_or(MIN_IDLE_WORKERS, |n| n.get()))
        .max(&MIN_IDLE_WORKERS)
}
/// How long a worker beyond `MIN_IDLE_WORKERS` waits for a next connection (ours).
pub const WORKER_LINGER: Duration = Duration::from_secs(2);

/// Connection threads, reused: every connection gets a thread at once (an idle one, or a new
/// one), so a slow connection never waits behind another.
struct Workers {
    sender: crossbeam_channel::Sender<Job>,
    receiver: crossbeam_channel::Receiver<Job>,
    /// Workers waiting for a job and not yet counted on: each is reserved by exactly one `run`
    /// when it takes the count down, and that `run` then sends the job it will take.
    idle: Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for Workers {
    fn default() -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Self {
            sender,
            receiver,
            idle: Arc::default(),
        }
    }
}

impl Workers {
    fn run(&self, job: Job) -> std::io::Result<()> {
        let reserved = self
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !reserved {
            return self.spawn(job);
        }
        match self.sender.send(job) {
            Ok(()) => Ok(()),
            // No worker left to take it (cannot happen while `self` holds the receiver).
            Err(crossbeam_channel::SendError(job)) => self.spawn(job),
        }
    }

    fn spawn(&self, first: Job) -> std::io::Result<()> {
        let (idle, receiver) = (self.idle.clone(), self.receiver.clone());
        std::thread::Builder::new().name("httplib-conn".into()).spawn(move || {
            let mut job = first;
            loop {
                job();
                // Become idle, unless enough already are. Counted before waiting: counted
                // after, `idle` was rarely above 1, so under load most connections spawned a
                // thread (measured: 112 thread spawns and exits a second, their stack
                // mappings' TLB shootdowns 18% of the server's time).
                let room = |n: usize| (n < MAX_IDLE_WORKERS).then_some(n + 1);
                if idle.fetch_update(Ordering::SeqCst, Ordering::SeqCst, room).is_err() {
                    return;
                }
                job = loop {
                    match receiver.recv_timeout(WORKER_LINGER) {
                        Ok(next) => break next,
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                            // Leave, unless only the kept few are idle. Taking ourselves out of
                            // the count fails when every idle worker is counted on: a job is
                            // on its way, and we wait for it.
                            let spare = |n: usize| (n > min_idle_workers()).then(|| n - 1);
                            if idle.fetch_update(Ordering::SeqCst, Ordering::SeqCst, spare).is_ok() {
                                return;
                            }
                        }
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                    }
                };
            }
        })?;
        Ok(())
    }
}

/// Where the server's connections run: one thread a core (as nginx's `worker_processes
/// auto`), each a single-threaded tokio runtime (IO and timers on) whose tasks are its
/// connections. No task moves between threads (no work stealing, no cross-thread wake-ups:
/// with tokio's multi-threaded runtime, wrk -t1 -c16 keep-alive was 48-50k requests/s against
/// 63k with a thread per connection).
struct Reactor {
    threads: Vec<ReactorThread>,
    /// Dropped with the reactor: each thread's runtime then ends (its tasks dropped).
    _stop: tokio::sync::watch::Sender<()>,
}

/// One of the reactor's threads: where to spawn on it, and how many connections it holds.
struct ReactorThread {
    handle: tokio::runtime::Handle,
    load: Arc<AtomicUsize>,
}

/// A connection counted on its reactor thread while its task lives (dropped with the task,
/// however it ends).
struct Load(Arc<AtomicUsize>);

impl Load {
    fn count(load: &Arc<AtomicUsize>) -> Self {
        load.fetch_add(1, Ordering::Relaxed);
        Self(load.clone())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Reactor {
    fn start() -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (stop, stopped) = tokio::sync::watch::channel(());
        let mut threads = Vec::with_capacity(cores);
        for _ in 0..cores {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            threads.push(ReactorThread {
                handle: runtime.handle().clone(),
                load: Default::default(),
            });
            let mut stopped = stopped.clone();
            std::thread::Builder::new().name("httplib-io".into()).spawn(move || {
                runtime.block_on(async move {
                    let _ = stopped.changed().await;
                });
                // The runtime's tasks (connections still open) are dropped with it here.
                runtime.shutdown_background();
            })?;
        }
        Ok(Self { threads, _stop: stop })
    }

    /// The thread holding the fewest connections.
    fn lightest(&self) -> usize {
        (0..self.threads.len())
            .min_by_key(|&i| self.threads[i].load.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Run a connection's task on the thread holding the fewest.
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.spawn_on(self.lightest(), task);
    }

    fn spawn_on(&self, i: usize, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let thread = &self.threads[i];
        let load = Load::count(&thread.load);
        thread.handle.spawn(async move {
            task.await;
            drop(load);
        });
    }

    /// Run a connection accepted on thread `me` there (no hand-off, no wake-up of another
    /// thread), unless `me` holds more than one connection over the lightest: a burst of
    /// connections (wrk opening 16 at once) wakes one thread first, which would otherwise
    /// take them all while the others idle (wrk -t1 -c16 keep-alive: 40k requests/s with
    /// every connection on one thread, against 62k with a thread per connection).
    fn spawn_accepted(&self, me: usize, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let lightest = self.lightest();
        let load = |i: usize| self.threads[i].load.load(Ordering::Relaxed);
        let to = if load(me) <= load(lightest) + 1 { me } else { lightest };
        // Spawned from thread `me` onto itself, it is queued there without waking anyone.
        self.spawn_on(to, task);
    }
}

/// The reactor thread that accepts connections.
const ACCEPTOR: usize = 0;

/// A bound listener ready to serve.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    serving: Arc<Serving>,
}

/// What answering a connection takes, shared by the accept loop, the workers and the parking lot.
struct Serving {
    /// Where connections are answered: tasks on a few threads (one a core), each guest on a
    /// fiber that yields whenever its socket would block. None when it could not be started
    /// (connections then get threads of their own, as host code playing do_METHOD's do).
    reactor: Option<Reactor>,
    /// Wakes the reactor threads' accept loops when the server stops.
    stop_accepting: tokio::sync::Notify,
    workers: Workers,
    runtime: Arc<Runtime>,
    config: Arc<ServerConfig>,
    shared: Arc<Shared>,
    /// The guest's 503 answer, sent to a connection no instance can be had for.
    busy: Arc<Vec<u8>>,
    /// Keep-alive connections between requests (none when the lot could not be started).
    parking: Option<ParkingLot>,
    /// The process's open-file limit when the server was bound.
    descriptor_limit: u64,
}

/// Stops a serving `Server` from another thread (a signal handler, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    serving: Arc<Serving>,
    addr: SocketAddr,
}

impl ShutdownHandle {
    /// End every open connection now, mid-response or not (Ctrl-C): their guests see the
    /// sockets closed and finish at once; parked ones are closed.
    pub fn close_connections(&self) {
        self.serving.close_parked();
        let open = self.serving.shared.open.lock().unwrap_or_else(|p| p.into_inner());
        for sock in open.conns.values().filter_map(|c| c.sock.as_ref()) {
            let _ = sock.shutdown(Shutdown::Both);
        }
    }

    /// Stop accepting; `serve` returns once its accept loop notices.
    pub fn shutdown(&self) {
        self.serving.shared.stopping.store(true, Ordering::SeqCst);
        self.serving.stop_accepting.notify_waiters();
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
        // Caught here, not at the first request: every request would fail on it.
        anyhow::ensure!(
            directory.is_dir(),
            "directory {}: Not a directory",
            config.directory.display()
        );
        let listener: TcpListener = socket.into();
        let addr = listener.local_addr()?;
        let config = ServerConfig { directory, ..config };
        let busy = runtime
            .busy_response(&handler_config(&config, Some(addr)), BUSY_RETRY_AFTER_SECS)
            .context("asking the guest for its 503 answer")?;
        let serving = Arc::new_cyclic(|me: &std::sync::Weak<Serving>| {
            let me = me.clone();
            let parking = ParkingLot::start(move |parked| {
                if let Some(serving) = me.upgrade() {
                    serving.resume(parked);
                }
            });
            Serving {
                reactor: Reactor::start()
                    .inspect_err(|e| eprintln!("connections will get a thread each: {e}"))
                    .ok(),
                stop_accepting: tokio::sync::Notify::new(),
                workers: Workers::default(),
                runtime,
                config: Arc::new(config),
                shared: Arc::default(),
                busy: Arc::new(busy),
                parking: parking
                    .inspect_err(|e| eprintln!("keep-alive connections will not be parked: {e}"))
                    .ok(),
                descriptor_limit: open_file_limit().unwrap_or(u64::MAX),
            }
        });
        Ok(Self {
            listener,
            addr,
            serving,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            serving: self.serving.clone(),
            addr: self.addr,
        }
    }

    /// Accept until shut down, each connection a task on the reactor (a thread a connection
    /// for host code playing do_METHOD), with a guest instance of its own.
    pub fn serve(&self) -> Result<()> {
        let serving = &self.serving;
        if let (Some(reactor), None) = (&serving.reactor, &serving.config.handler) {
            // One reactor thread accepts (see `accept_on_reactor`); this thread waits until
            // it stops.
            let listener = self.listener.try_clone()?;
            listener.set_nonblocking(true)?;
            let (done, stopped) = std::sync::mpsc::channel::<()>();
            let serving = serving.clone();
            reactor.threads[ACCEPTOR].handle.spawn(async move {
                serving.accept_on_reactor(listener).await;
                drop(done);
            });
            let _ = stopped.recv();
            return Ok(());
        }
        let mut backoff = AcceptBackoff::default();
        for conn in self.listener.incoming() {
            if serving.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let sock = match conn {
                Ok(s) => {
                    backoff.reset();
                    s
                }
                Err(e) => {
                    if let Some(pause) = serving.accept_failed(&e, &mut backoff) {
                        std::thread::sleep(pause);
                    }
                    continue;
                }
            };
            match serving.opened(&sock, &mut backoff) {
                Ok((id, phase)) => serving.dispatch(id, Arrival::New(sock), phase, None),
                Err(pause) => std::thread::sleep(pause.unwrap_or_default()),
            }
        }
        Ok(())
    }

    /// After `serve` returned: end idle reads (keep-alive connections waiting for a next
    /// request see end-of-stream), let responses in flight finish, wait up to `grace`.
    /// Returns how many connections were still open when it gave up.
    pub fn drain(&self, grace: Duration) -> usize {
        let deadline = Instant::now() + grace;
        self.serving.close_parked();
        let mut open = self.serving.shared.open.lock().unwrap_or_else(|p| p.into_inner());
        for sock in open.conns.values().filter_map(|c| c.sock.as_ref()) {
            let _ = sock.shutdown(Shutdown::Read);
        }
        while !open.conns.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            open = self
                .serving
                .shared
                .closed
                .wait_timeout(open, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        open.conns.len()
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
    /// The address the server listens on.
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

/// A connection to answer.
enum Arrival {
    /// Just accepted.
    New(std::net::TcpStream),
    /// Back from the parking lot: its stream as its last guest left it (TLS state included).
    Back(TcpStream),
}

impl Serving {
    /// The accept loop, on reactor thread `ACCEPTOR`: each connection a task on this thread,
    /// or on the lightest (see `Reactor::spawn_accepted`). One thread accepts: with every
    /// thread waiting on the listener, each connection woke them all and all but one found
    /// nothing (a failed accept4 and a context switch a connection, measured with strace).
    /// A listener for each thread (SO_REUSEPORT, the kernel choosing the thread) was slower:
    /// wrk -c32, a new connection per request, 12.3-12.4k requests/s against 12.5-13.1k.
    async fn accept_on_reactor(self: Arc<Self>, listener: TcpListener) {
        // SAFETY: the AsyncFd owns the listener: its descriptor stays open, the same one, for
        // the registration's whole life.
        let Ok(listener) = (unsafe { AsyncFd::register_with_interest(listener, tokio::io::Interest::READABLE) }) else {
            return;
        };
        let mut backoff = AcceptBackoff::default();
        loop {
            let stopped = self.stop_accepting.notified();
            let mut stopped = std::pin::pin!(stopped);
            let accepted = std::future::poll_fn(|cx| {
                loop {
                    if stopped.as_mut().poll(cx).is_ready() || self.shared.stopping.load(Ordering::SeqCst) {
                        return std::task::Poll::Ready(None);
                    }
                    let Ok(mut ready) = std::task::ready!(listener.poll_read_ready(cx)) else {
                        return std::task::Poll::Ready(None);
                    };
                    match ready.try_io(|l| accept_nonblocking(l.get_ref())) {
                        Ok(result) => return std::task::Poll::Ready(Some(result)),
                        Err(_would_block) => continue,
                    }
                }
            })
            .await;
            let sock = match accepted {
                None => return,
                Some(Ok(sock)) => {
                    backoff.reset();
                    sock
                }
                Some(Err(e)) => {
                    if let Some(pause) = self.accept_failed(&e, &mut backoff) {
                        tokio::time::sleep(pause).await;
                    }
                    continue;
                }
            };
            match (self.opened(&sock, &mut backoff), &self.reactor) {
                (Ok((id, phase)), Some(reactor)) => {
                    reactor.spawn_accepted(ACCEPTOR, self.clone().answer(id, Arrival::New(sock), phase, None, true))
                }
                (Err(Some(pause)), _) => tokio::time::sleep(pause).await,
                _ => {}
            }
        }
    }

    /// An accept failed: out of descriptors, idle connections make room for a new one (as
    /// they do for instances); only with none to close is there a pause (returned).
    fn accept_failed(&self, e: &std::io::Error, backoff: &mut AcceptBackoff) -> Option<Duration> {
        if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) && self.shed_parked() > 0 {
            return None;
        }
        backoff.failed(e)
    }

    /// A new connection enters the open-connection table (room made for it first, idle
    /// connections going); its id and phase cell, or, when it cannot be tracked, the pause to
    /// take before accepting again (if any): the caller sleeps its own way (the reactor's
    /// accept loop must not block its thread).
    fn opened(
        &self,
        sock: &std::net::TcpStream,
        backoff: &mut AcceptBackoff,
    ) -> Result<(u64, Arc<PhaseCell>), Option<Duration>> {
        while self.short_of_descriptors() && self.shed_parked() > 0 {}
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let phase = Arc::new(PhaseCell::default());
        match sock.try_clone() {
            Ok(clone) => {
                let conn = Conn {
                    sock: Some(clone),
                    phase: phase.clone(),
                    admitted: false,
                    evicted: false,
                };
                let mut open = self.shared.open.lock().unwrap_or_else(|p| p.into_inner());
                open.conns.insert(id, conn);
                open.peak = open.peak.max(open.conns.len());
                Ok((id, phase))
            }
            Err(e) => Err(backoff.failed(&e)),
        }
    }

    /// Answer a connection (new, or back from the parking lot): a task on the reactor, or a
    /// worker thread for host code playing do_METHOD (its verbs block).
    fn dispatch(self: &Arc<Self>, id: u64, conn: Arrival, phase: Arc<PhaseCell>, idle_deadline: Option<Instant>) {
        let serving = self.clone();
        if let (Some(reactor), None) = (&self.reactor, &self.config.handler) {
            return reactor.spawn(serving.answer(id, conn, phase, idle_deadline, true));
        }
        let job: Job = Box::new(move || serving.answer(id, conn, phase, idle_deadline, false).wait());
        if let Err(e) = self.workers.run(job) {
            eprintln!("cannot start a thread for a connection: {e}");
            self.shared.remove(id);
        }
    }

    /// A connection's answer: an instance slot, the guest over the connection, then close it
    /// or park it. `yields`: on the reactor (its socket waited on by readiness), or on a
    /// thread of its own (a blocking socket).
    async fn answer(
        self: Arc<Self>,
        id: u64,
        conn: Arrival,
        phase: Arc<PhaseCell>,
        idle_deadline: Option<Instant>,
        yields: bool,
    ) {
        let max = self.max_answering();
        let admitted = if !yields {
            self.shared.admit(id, max)
        } else if self.shared.try_admit(id, max) {
            true
        } else {
            // Waiting for a slot (and choosing whom to evict) blocks: not on the reactor.
            let serving = self.clone();
            tokio::task::spawn_blocking(move || serving.shared.admit(id, max))
                .await
                .unwrap_or(false)
        };
        let result = if admitted {
            handle_connection(
                &self.runtime,
                &self.config,
                conn,
                phase.clone(),
                &self.busy,
                idle_deadline,
                yields,
            )
            .await
        } else {
            self.shared.answered_busy();
            match conn {
                Arrival::New(sock) if yields => {
                    let busy = self.busy.clone();
                    let _ = tokio::task::spawn_blocking(move || send_busy(sock, &busy)).await;
                }
                Arrival::New(sock) => send_busy(sock, &self.busy),
                Arrival::Back(mut stream) => {
                    let _ = stream.write_all(&self.busy).await;
                    close_stream(stream, yields).await;
                }
            }
            Ok(None)
        };
        match result {
            Ok(Some((stream, idle_deadline))) => {
                return self
                    .park(
                        Parked {
                            id,
                            stream,
                            phase,
                            idle_deadline,
                        },
                        yields,
                    )
                    .await;
            }
            Ok(None) => {}
            Err((peer, e)) => {
                let who = peer.map_or("?".to_string(), |p| p.to_string());
                // One line: the cause, not the wasm backtrace.
                eprintln!("connection from {who} lost: {}", e.root_cause());
            }
        }
        self.shared.remove(id);
    }

    /// Between requests: give back the connection's instance slot and hold its stream in the
    /// parking lot (or close it, when the server is stopping or the lot cannot take it).
    async fn park(&self, mut conn: Parked, yields: bool) {
        let id = conn.id;
        // Watched by the lot now, not by this thread's reactor (whose epoll would otherwise
        // wake for it too); resumed, it registers where it runs.
        conn.stream.stop_yielding();
        let Some(lot) = self
            .parking
            .as_ref()
            .filter(|_| !self.shared.stopping.load(Ordering::SeqCst))
        else {
            close_stream(conn.stream, yields).await;
            return self.shared.remove(id);
        };
        self.shared.release(id);
        if let Err(conn) = lot.park(conn) {
            close_stream(conn.stream, yields).await;
            return self.shared.remove(id);
        }
        // Stopped while it was being parked: `drain` may have emptied the lot already.
        if self.shared.stopping.load(Ordering::SeqCst) {
            self.close_parked();
        }
    }

    /// A parked connection's next request has begun (or its client closed, or its idle time
    /// is up): answer it again, as a connection of its own.
    fn resume(self: &Arc<Self>, conn: Parked) {
        if self.shared.stopping.load(Ordering::SeqCst) {
            let _ = conn.stream.socket().shutdown(Shutdown::Both);
            return self.shared.remove(conn.id);
        }
        self.shared.unpark(conn.id, conn.stream.socket().try_clone().ok());
        self.dispatch(conn.id, Arrival::Back(conn.stream), conn.phase, conn.idle_deadline);
    }

    /// Most connections answered in instances at once: `max_connections`, and no more than
    /// the descriptors allow (past it, idle ones are closed to make room, as for instances).
    fn max_answering(&self) -> usize {
        let by_descriptors = self.descriptor_limit.saturating_sub(DESCRIPTOR_RESERVE) / DESCRIPTORS_PER_ANSWER;
        self.config
            .max_connections
            .min(usize::try_from(by_descriptors).unwrap_or(usize::MAX))
            .max(1)
    }

    /// Whether the connections open (each answered one counted at `DESCRIPTORS_PER_ANSWER`,
    /// with one more on its way) leave too few descriptors under the process's limit.
    fn short_of_descriptors(&self) -> bool {
        let open = self.shared.open.lock().unwrap_or_else(|p| p.into_inner());
        let parked = (open.conns.len() - open.admitted) as u64;
        let answered = open.admitted as u64 + 1;
        parked + answered * DESCRIPTORS_PER_ANSWER + DESCRIPTOR_RESERVE > self.descriptor_limit
    }

    /// Close the `SHED_ON_EMFILE` parked connections idle longest; how many were closed.
    fn shed_parked(&self) -> usize {
        let shed = self.parking.iter().flat_map(|lot| lot.take_oldest(SHED_ON_EMFILE));
        shed.map(|conn| {
            let _ = conn.stream.socket().shutdown(Shutdown::Both);
            self.shared.remove(conn.id);
        })
        .count()
    }

    /// Close every parked connection (the server stops).
    fn close_parked(&self) {
        for conn in self.parking.iter().flat_map(ParkingLot::take_all) {
            let _ = conn.stream.socket().shutdown(Shutdown::Both);
            self.shared.remove(conn.id);
        }
    }
}

/// Accept a connection already non-blocking (accept4's `SOCK_NONBLOCK`: no `ioctl` after it),
/// registered with no reactor yet (its stream registers it once, `TcpStream::yielding_nonblocking`).
fn accept_nonblocking(listener: &TcpListener) -> std::io::Result<std::net::TcpStream> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: null address arguments are allowed (the peer's address is not wanted here);
    // the returned descriptor is new and owned by nothing else.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by accept4, a connected stream socket nobody else owns.
    Ok(unsafe { std::net::TcpStream::from_raw_fd(fd) })
}

/// Close a stream that was to be parked, lingering as any other.
async fn close_stream(stream: TcpStream, yields: bool) {
    if let Ok(sock) = stream.socket().try_clone() {
        drop(stream);
        linger(sock, yields).await;
    }
}

/// `linger_close`, awaiting the socket's readiness when the connection yields.
async fn linger(sock: std::net::TcpStream, yields: bool) {
    if !yields {
        return linger_close(sock);
    }
    let _ = sock.shutdown(Shutdown::Write);
    // Most clients have closed (or sent all they will) by now: then no registration is needed.
    let Some(mut drained) = drain_now(&sock) else {
        return;
    };
    // Non-blocking already: a dup of a stream that yields shares its file status flags.
    let mut buf = vec![0u8; 16 * 1024];
    let Ok(sock) = tokio::net::TcpStream::from_std(sock) else {
        return;
    };
    while drained < LINGER_MAX_BYTES {
        match tokio::time::timeout(LINGER_TIMEOUT, sock.readable()).await {
            Ok(Ok(())) => {}
            _ => break,
        }
        match sock.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
}

/// Read and drop what a closing peer has already sent, without waiting (`MSG_DONTWAIT`, so
/// whatever the socket's mode and with no `ioctl` to set it): the bytes read, or `None` when
/// the lingering is over (the peer closed, or sent `LINGER_MAX_BYTES`, or the socket failed).
fn drain_now(sock: &std::net::TcpStream) -> Option<usize> {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 16 * 1024];
    let sock = socket2::SockRef::from(sock);
    let mut drained = 0;
    loop {
        match sock.recv_with_flags(&mut buf, libc::MSG_DONTWAIT) {
            Ok(0) => return None,
            Ok(n) if drained + n >= LINGER_MAX_BYTES => return None,
            Ok(n) => drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(drained),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

impl Shared {
    /// Connection `id` is being parked: its instance slot is free, and its socket no longer
    /// kept here.
    fn release(&self, id: u64) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (admitted, evicted) = match open.conns.get_mut(&id) {
            Some(conn) => {
                conn.sock = None;
                (std::mem::take(&mut conn.admitted), std::mem::take(&mut conn.evicted))
            }
            None => (false, false),
        };
        open.admitted -= usize::from(admitted);
        open.evicting -= usize::from(evicted);
        drop(open);
        self.closed.notify_all();
    }

    /// Connection `id` is back from the parking lot, with a clone of its socket.
    fn unpark(&self, id: u64, sock: Option<std::net::TcpStream>) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(conn) = open.conns.get_mut(&id) {
            conn.sock = sock;
        }
    }

    /// Take an instance slot for connection `id`: at once if fewer than `max` are taken; else
    /// close idle or slow connections to make room and wait up to `ADMISSION_WAIT` for one.
    /// `false` when none came (or too many are waiting already).
    /// `admit` when a slot is free now and no one waits for one: no waiting, no eviction.
    fn try_admit(&self, id: u64, max: usize) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.admitted >= max || open.waiting > 0 {
            return false;
        }
        open.admitted += 1;
        if let Some(conn) = open.conns.get_mut(&id) {
            conn.admitted = true;
        }
        true
    }

    fn admit(&self, id: u64, max: usize) -> bool {
        let deadline = Instant::now() + ADMISSION_WAIT;
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mut waiting = false;
        let admitted = loop {
            if open.admitted < max {
                open.admitted += 1;
                if let Some(conn) = open.conns.get_mut(&id) {
                    conn.admitted = true;
                }
                break true;
            }
            if !waiting {
                if open.waiting >= MAX_ADMISSION_WAITERS {
                    return false;
                }
                open.waiting += 1;
                waiting = true;
            }
            // One victim per waiter: each connection that waits frees at most one slot.
            if open.evicting < open.waiting {
                open.evict_one();
            }
            let now = Instant::now();
            if now >= deadline || self.stopping.load(Ordering::SeqCst) {
                break false;
            }
            open = self
                .closed
                .wait_timeout(open, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        if waiting {
            open.waiting -= 1;
        }
        admitted
    }

    /// Connection `id` has ended: its slot (if it had one) is free.
    fn remove(&self, id: u64) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(conn) = open.conns.remove(&id) {
            open.admitted -= usize::from(conn.admitted);
            open.evicting -= usize::from(conn.evicted);
        }
        // The flood has ebbed (an eighth of its peak is left): hand its memory back.
        if open.peak >= TRIM_AFTER_PEAK && open.conns.len() * 8 <= open.peak {
            open.peak = open.conns.len();
            release_free_memory();
        }
        self.closed.notify_all();
    }

    /// Count a 503 sent for want of an instance; log the count at most once per `LOG_EVERY`.
    fn answered_busy(&self) {
        let mut log = self.busy_log.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = log.count() {
            eprintln!("every instance is busy: {count} connection(s) answered 503");
        }
    }
}

/// A line about something that can repeat thousands of times a second, printed at most once
/// per `LOG_EVERY` with how often it happened since the last one.
#[derive(Default)]
struct LogThrottle {
    unlogged: u64,
    last: Option<Instant>,
}

impl LogThrottle {
    /// Count one more; `Some(count)` when a line is due, for the events since the last line.
    fn count(&mut self) -> Option<u64> {
        self.unlogged += 1;
        if self.last.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.unlogged))
    }
}

/// Pauses the accept loop after errors that repeat while their cause lasts (EMFILE, ENFILE,
/// ENOBUFS), doubling up to `ACCEPT_BACKOFF_MAX`, and logs them at most once per `LOG_EVERY`.
#[derive(Default)]
struct AcceptBackoff {
    pause: Option<Duration>,
    log: LogThrottle,
}

impl AcceptBackoff {
    fn reset(&mut self) {
        self.pause = None;
    }

    /// Log `e` (throttled); the pause to take before accepting again, if any.
    fn failed(&mut self, e: &std::io::Error) -> Option<Duration> {
        match self.log.count() {
            Some(1) => eprintln!("accept failed: {e}"),
            Some(n) => eprintln!("accept failed: {e} ({n} times since the last report)"),
            None => {}
        }
        // Out of descriptors or memory: accepting again at once only fails again.
        if matches!(
            e.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        ) {
            let pause = self
                .pause
                .map_or(Duration::from_millis(10), |p| (p * 2).min(ACCEPT_BACKOFF_MAX));
            self.pause = Some(pause);
            return Some(pause);
        }
        None
    }
}

/// After a wave of at least this many connections has ended, the memory their stores and
/// threads freed is handed back to the OS (ours).
pub const TRIM_AFTER_PEAK: usize = 256;

/// How long after a wave ends its memory is handed back: by then the surplus worker threads
/// have exited and freed their buffers too (ours).
pub const TRIM_DELAY: Duration = Duration::from_secs(1);

/// Hand freed heap memory back to the OS, `TRIM_DELAY` from now, on a thread of its own:
/// after a flood, glibc's arenas keep what thousands of connections' stores and threads used
/// (measured: 69 MiB left of a 15 MiB server after 2000 idle connections closed, trimming at
/// once; 86 MiB not trimming).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    let _ = std::thread::Builder::new().name("httplib-trim".into()).spawn(|| {
        std::thread::sleep(TRIM_DELAY);
        // SAFETY: malloc_trim only returns free pages of the allocator's own arenas to the kernel.
        unsafe {
            libc::malloc_trim(0);
        }
    });
}

/// Send the guest's 503 answer and close, lingering so the client reads it.
fn send_busy(mut sock: std::net::TcpStream, busy: &[u8]) {
    use std::io::Write;
    let _ = sock.set_write_timeout(Some(LINGER_TIMEOUT));
    let _ = sock.write_all(busy);
    linger_close(sock);
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
        idle_timeout_ms: config.idle_timeout.map(millis),
        head_timeout_ms: config.head_timeout.map(millis),
        body_timeout_ms: config.body_timeout.map(millis),
        expect_continue: config.expect_continue,
        cgi_directories: config.cgi_directories.clone(),
        server_name: local.map(|a| a.ip().to_string()).unwrap_or_default(),
        server_port: local.map_or(0, |a| a.port()),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// A connection's guest left it between requests to be parked: its stream, and when its idle
/// wait ends.
type ToPark = (TcpStream, Option<Instant>);
/// A connection lost to an error, with its peer's address for the log.
type Lost = (Option<SocketAddr>, anyhow::Error);

/// Answer a connection in a fresh instance; whatever the guest does, only this connection is
/// affected. `Some` when it is to be parked.
async fn handle_connection(
    runtime: &Runtime,
    config: &ServerConfig,
    conn: Arrival,
    phase: Arc<PhaseCell>,
    busy: &[u8],
    idle_deadline: Option<Instant>,
    yields: bool,
) -> std::result::Result<Option<ToPark>, Lost> {
    let sock = match &conn {
        Arrival::New(sock) => sock,
        Arrival::Back(stream) => stream.socket(),
    };
    let peer = sock.peer_addr().map_err(|e| (None, e.into()))?;
    let linger = sock.try_clone().ok();
    let result = serve_connection(runtime, config, conn, peer, phase.clone(), busy, idle_deadline, yields).await;
    let parked = phase.take_park();
    match (result, parked) {
        // The dup goes without closing the connection; the stream is kept.
        (Ok(Some(stream)), Some(deadline)) => Ok(Some((stream, deadline))),
        (result, _) => {
            if let Some(sock) = linger {
                self::linger(sock, yields).await;
            }
            result.map(|_| None).map_err(|e| (Some(peer), e))
        }
    }
}

/// This process's open-file limit.
fn open_file_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit.rlim_cur)
}

/// Raise this process's open-file limit to its hard limit (each connection, parked or not,
/// holds a descriptor; Linux's soft default of 1024 would cap a server far below what it can
/// hold): nginx's `worker_rlimit_nofile`, taken as far as the system allows. Returns the limit.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
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
/// Run the guest over one connection; `Some` is the stream its guest left to be parked.
#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    runtime: &Runtime,
    config: &ServerConfig,
    conn: Arrival,
    peer: SocketAddr,
    phase: Arc<PhaseCell>,
    busy: &[u8],
    idle_deadline: Option<Instant>,
    yields: bool,
) -> Result<Option<TcpStream>> {
    let mut stream = match conn {
        Arrival::Back(stream) if yields => stream.yielding_nonblocking().map_err(|e| anyhow::anyhow!("{e:?}"))?,
        Arrival::Back(stream) => stream,
        Arrival::New(sock) => {
            let timeout = config.tls_handshake_timeout;
            let stream = match &config.tls {
                Some(tls) => match match yields {
                    true => TcpStream::accept_tls_yielding(sock, tls.clone(), timeout).await,
                    false => TcpStream::accept_tls(sock, tls.clone(), timeout),
                } {
                    Ok(s) => s,
                    Err(e) => {
                        // A plaintext client or a broken handshake costs this connection only.
                        if config.log_requests {
                            eprintln!("TLS handshake with {peer} failed: {}", e);
                        }
                        return Ok(None);
                    }
                },
                // Non-blocking since accept4 (`accept_nonblocking`).
                None if yields => TcpStream::new(sock)
                    .yielding_nonblocking()
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?,
                None => TcpStream::new(sock),
            };
            let mut stream = stream.with_phase(phase);
            stream
                .set_write_timeout(config.send_timeout)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            stream
        }
    };
    let local = stream.local_address().ok();
    if let Some(after) = config.park_after {
        stream = stream.with_parking(after, idle_deadline);
    }
    let mut wasi = WasiCtx::builder();
    // File reads happen on this connection's own thread: without this, every WASI file call
    // is handed to a blocking pool and back (measured: most of a small request's cost).
    wasi.allow_blocking_current_thread(true);
    wasi.inherit_stderr();
    wasi.preopened_dir(&config.directory, GUEST_ROOT, FsPerms::ReadOnly)?;
    let policy = OutboundPolicy::deny_all();
    let mut state = HostState::new(wasi.build(), policy).with_limits(config.limits.clone());
    // On the reactor, a guest computing long yields to the thread's other connections.
    state.httplib.set_yields(yields);
    if !config.cgi_directories.is_empty() {
        state = state.with_scripts(runtime.script_sandbox()?, config.cgi_policy.clone());
    }
    let (mut store, guest) = match runtime.instantiate_server(state) {
        Ok(instance) => instance,
        Err(e) => {
            // The pool ran dry after all (instances taken by others of this runtime): say so.
            let _ = stream.write_all(busy).await;
            return Err(e);
        }
    };
    let stream = store.data_mut().table.push(stream)?;
    let api = guest.handler();
    let handler = api
        .call_constructor(&mut store, stream, &tcp_to_wit(peer), &handler_config(config, local))
        .await?;
    let result = match &config.handler {
        None => api
            .call_serve_directory(&mut store, handler)
            .await?
            .map_err(|e| anyhow::anyhow!("{e:?}")),
        Some(user) => embed::serve_with(user.as_ref(), &mut store, &guest, handler),
    };
    handler.resource_drop_async(&mut store).await?;
    if let Err(e) = result {
        tracing::debug!(%peer, "connection ended with an error: {e:#}");
    }
    Ok(store.data_mut().httplib.parked.take())
}
