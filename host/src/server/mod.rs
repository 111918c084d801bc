//! The listener: accepts connections and gives each its own store and instance of the guest,
//! whose `handler` resource answers it from a read-only preopen of the served directory.

use crate::bindings::server::HandlerConfig;
use crate::runtime::{HostState, Runtime};
use crate::transport::{OutboundPolicy, TcpStream, tcp_to_wit};
use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use wasmtime_wasi::{FsPerms, WasiCtx};

/// Where the served directory appears inside the guest.
pub const GUEST_ROOT: &str = "/srv";
/// Listen backlog (CPython `socketserver.TCPServer.request_queue_size` is 5; we take the OS's usual maximum).
pub const LISTEN_BACKLOG: i32 = 1024;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The directory served, read-only.
    pub directory: PathBuf,
    /// "HTTP/1.0" (CPython's default) or "HTTP/1.1".
    pub protocol_version: String,
    /// Log a line per request to stderr.
    pub log_requests: bool,
    /// Close an idle or slow connection after this many milliseconds.
    pub timeout_ms: Option<u64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            directory: PathBuf::from("."),
            protocol_version: "HTTP/1.0".into(),
            log_requests: true,
            timeout_ms: None,
        }
    }
}

/// A bound listener ready to serve.
pub struct Server {
    listener: TcpListener,
    runtime: Arc<Runtime>,
    config: Arc<ServerConfig>,
}

/// A server running on its own thread, stopped by `stop` (or on drop).
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
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
        Ok(Self {
            listener: socket.into(),
            runtime,
            config: Arc::new(ServerConfig { directory, ..config }),
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Accept forever (until `stop` is set), one thread per connection.
    pub fn serve(&self, stop: &AtomicBool) -> Result<()> {
        for conn in self.listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let sock = match conn {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    continue;
                }
            };
            let runtime = self.runtime.clone();
            let config = self.config.clone();
            let spawned = std::thread::Builder::new().name("httplib-conn".into()).spawn(move || {
                if let Err(e) = handle_connection(&runtime, &config, sock) {
                    eprintln!("connection lost: {e:#}");
                }
            });
            if let Err(e) = spawned {
                eprintln!("cannot start a thread for a connection: {e}");
            }
        }
        Ok(())
    }

    /// Serve on a background thread.
    pub fn spawn(self) -> Result<ServerHandle> {
        let addr = self.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("httplib-accept".into())
            .spawn(move || {
                if let Err(e) = self.serve(&flag) {
                    eprintln!("server stopped: {e:#}");
                }
            })?;
        Ok(ServerHandle {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting and wait for the accept loop to end.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let wake = if self.addr.ip().is_unspecified() {
            SocketAddr::new(
                if self.addr.is_ipv6() {
                    "::1".parse().unwrap()
                } else {
                    "127.0.0.1".parse().unwrap()
                },
                self.addr.port(),
            )
        } else {
            self.addr
        };
        let _ = std::net::TcpStream::connect(wake);
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

/// Answer one connection in a fresh instance; whatever the guest does, only this connection is affected.
fn handle_connection(runtime: &Runtime, config: &ServerConfig, sock: std::net::TcpStream) -> Result<()> {
    let peer = sock.peer_addr()?;
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stderr();
    wasi.preopened_dir(&config.directory, GUEST_ROOT, FsPerms::ReadOnly)?;
    let (mut store, guest) = runtime.instantiate(HostState::new(
        wasi.build(),
        OutboundPolicy::allow_only(Vec::<String>::new()),
    ))?;
    let stream = store.data_mut().table.push(TcpStream::new(sock))?;
    let handler_config = HandlerConfig {
        protocol_version: config.protocol_version.clone(),
        server_version: "SimpleHTTP/0.6".into(),
        sys_version: format!("httplib/{}", env!("CARGO_PKG_VERSION")),
        directory: GUEST_ROOT.into(),
        error_message_format: None,
        error_content_type: None,
        extensions_map: Vec::new(),
        index_pages: Vec::new(),
        log_requests: config.log_requests,
        timeout_ms: config.timeout_ms,
    };
    let handler_api = guest.httplib_http_server().handler();
    let handler = handler_api.call_constructor(&mut store, stream, &tcp_to_wit(peer), &handler_config)?;
    let served = handler_api.call_serve_directory(&mut store, handler)?;
    handler.resource_drop(&mut store)?;
    if let Err(e) = served {
        tracing::debug!(?e, %peer, "connection ended with an error");
    }
    Ok(())
}
