//! The listener: accepts connections and gives each its own store and instance of the guest,
//! whose `handler` resource answers it, either entirely (SimpleHTTPRequestHandler over a
//! read-only preopen) or verb by verb for host code that plays `do_METHOD` (`embed`).
//!
//! The files, in the order a connection meets them:
//! - `accept`: the listening sockets (one thread's or every thread's), accept4, the
//!   back-off after errors;
//! - `admission`: the open connections, instance slots, eviction and 503;
//! - `reactor`: `Mode` (reactor task or thread) and the event loop, one thread a core;
//!   `workers`: the threads of connections that block;
//! - `serving`: a serving server's state and each connection's life (admit, answer, park);
//! - `connection`: one connection answered in an instance of its own (`reuse`: one that
//!   ended cleanly kept for the next);
//! - `embed`: host code playing `do_METHOD`; `app`: a handler component playing it;
//!   `proxy`: a `wasi:http` proxy component answering, its requests sent by `outgoing`;
//! - `park`: idle keep-alive connections held as bare sockets, no instance;
//! - `linger`: the lingering close; `sys`: rlimits and handing memory back;
//! - `config`: `ServerConfig`; `serve_async`: serving from async code.

mod accept;
mod admission;
mod app;
mod config;
mod connection;
mod embed;
mod linger;
mod outgoing;
mod park;
mod proxy;
mod reactor;
mod reuse;
mod serve_async;
mod serving;
mod sys;
mod workers;

pub use accept::{ACCEPT_BACKOFF_MAX, ACCEPT_BACKOFF_MIN, Accepting, LISTEN_BACKLOG, LOG_EVERY};
pub use admission::{
    ADMISSION_WAIT, BUSY_RETRY_AFTER_SECS, DESCRIPTOR_RESERVE, DESCRIPTORS_PER_ANSWER, MAX_ADMISSION_WAITERS,
    MAX_CONNECTIONS, RESERVED_INSTANCES, SLOW_HEAD_AGE, TRIM_AFTER_PEAK,
};
pub use app::HandlerApp;
pub use config::{
    BODY_TIMEOUT, GUEST_ROOT, HEAD_TIMEOUT, IDLE_TIMEOUT, INTERRUPT_GRACE, MakeStore, PARK_AFTER, SEND_TIMEOUT,
    SHUTDOWN_GRACE, ServerConfig, StoreParts, TLS_HANDSHAKE_TIMEOUT,
};
pub use embed::{Exchange, RequestHandler};
pub use linger::{LINGER_MAX_BYTES, LINGER_TIMEOUT};
pub use outgoing::{CONNECT_TIMEOUT, FIRST_BYTE_TIMEOUT};
pub use proxy::{INCOMING_HANDLER, REQUEST_PIECE, REQUEST_PIECES_IN_FLIGHT};
pub use reuse::{InstanceReuse, MAX_IDLE_INSTANCES, MAX_INSTANCE_USES, REUSE_MEMORY_MAX};
pub use serving::SHED_ON_EMFILE;
pub use sys::{TRIM_DELAY, raise_open_file_limit};
pub use workers::{MAX_IDLE_WORKERS, MIN_IDLE_WORKERS, WORKER_LINGER};

use crate::runtime::Runtime;
use crate::view::{HostState, HttplibView};
use anyhow::{Context, Result};
use serving::Serving;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A bound listener ready to serve, each connection in a store whose data is a `T`
/// (httplib's [`HostState`], or an embedder's own: see [`ServerConfig::for_store`]).
pub struct Server<T: HttplibView + 'static = HostState> {
    listener: TcpListener,
    addr: SocketAddr,
    serving: Arc<Serving<T>>,
}

/// Stops a serving `Server` from another thread (a signal handler, a test).
pub struct ShutdownHandle<T: HttplibView + 'static = HostState> {
    serving: Arc<Serving<T>>,
    addr: SocketAddr,
}

impl<T: HttplibView + 'static> Clone for ShutdownHandle<T> {
    fn clone(&self) -> Self {
        Self {
            serving: self.serving.clone(),
            addr: self.addr,
        }
    }
}

impl<T: HttplibView + 'static> ShutdownHandle<T> {
    /// End every open connection now, mid-response or not (Ctrl-C): their guests see the
    /// sockets closed and finish at once; parked ones are closed.
    pub fn close_connections(&self) {
        self.serving.close_parked();
        self.serving.admission.shutdown_all(Shutdown::Both);
    }

    /// Stop accepting; `serve` returns once its accept loop notices.
    pub fn shutdown(&self) {
        self.serving.stop_accepting();
        // Wake a blocking accept with a connection of our own.
        let wake = if self.addr.ip().is_unspecified() {
            let ip: std::net::IpAddr = if self.addr.is_ipv6() {
                std::net::Ipv6Addr::LOCALHOST.into()
            } else {
                std::net::Ipv4Addr::LOCALHOST.into()
            };
            SocketAddr::new(ip, self.addr.port())
        } else {
            self.addr
        };
        let _ = std::net::TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    }
}

impl<T: HttplibView + 'static> Server<T> {
    /// Bind `addr` (an IPv6 wildcard also accepts IPv4, as CPython's dual-stack server does).
    pub fn bind(addr: SocketAddr, runtime: Arc<Runtime>, config: ServerConfig<T>) -> Result<Self> {
        let listener = accept::listen(addr, config.accepting)?;
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
        let addr = listener.local_addr()?;
        let config = ServerConfig { directory, ..config };
        let busy = runtime
            .closing_response(&config.handler_config(Some(addr)), 503, Some(BUSY_RETRY_AFTER_SECS))
            .context("asking the guest for its 503 answer")?;
        let failed = runtime
            .closing_response(&config.handler_config(Some(addr)), 500, None)
            .context("asking the guest for its 500 answer")?;
        Ok(Self {
            listener,
            addr,
            serving: Serving::start(addr, runtime, config, busy, failed)?,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle<T> {
        ShutdownHandle {
            serving: self.serving.clone(),
            addr: self.addr,
        }
    }

    /// Accept until shut down, each connection a task on the reactor (a thread a connection
    /// for host code playing do_METHOD), with a guest instance of its own.
    pub fn serve(&self) -> Result<()> {
        Ok(self.serving.accept(&self.listener)?)
    }

    /// After `serve` returned: close the listener (a new connection is refused, not left
    /// in the backlog to be reset), end idle reads (keep-alive connections waiting for a next
    /// request see end-of-stream), let responses in flight finish, wait up to `grace`.
    /// Returns how many connections were still open when it gave up.
    pub fn drain(self, grace: Duration) -> usize {
        let deadline = Instant::now() + grace;
        drop(self.listener);
        self.serving.close_parked();
        self.serving.admission.shutdown_all(Shutdown::Read);
        self.serving.admission.wait_all_closed(deadline)
    }

    /// Serve on a background thread.
    pub fn spawn(self) -> Result<ServerHandle<T>> {
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
pub struct ServerHandle<T: HttplibView + 'static = HostState> {
    addr: SocketAddr,
    shutdown: ShutdownHandle<T>,
    thread: Option<JoinHandle<()>>,
}

impl<T: HttplibView + 'static> ServerHandle<T> {
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

impl<T: HttplibView + 'static> Drop for ServerHandle<T> {
    fn drop(&mut self) {
        self.stop();
    }
}
