//! One TCP connection, plain or TLS-wrapped: connect with timeout and source address,
//! reads, writes, timeouts, and the switch to TLS (at connect, after CONNECT, or on accept).
//!
//! Every operation that may wait is one code path with two ways of waiting. A blocking
//! socket (the server's connections, `ClientSession`'s) waits in the system call, its
//! timeouts the socket's own, and its futures complete on their first poll. A socket made
//! by a session that yields (`AsyncClientSession`) is non-blocking and registered with the
//! caller's tokio reactor: where the system call would block, the operation awaits the
//! socket's readiness (with the same timeouts as deadlines), and the guest's fiber yields.

use super::error::SocketError;
use super::tls::{self, ClientIdentities, TlsSettings};
use rustls::{ClientConnection, ServerConnection, StreamOwned};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A socket's descriptor, as tokio's reactor registers it (the socket itself is owned by
/// the stream's `Wire`, and outlives the registration).
struct Fd(std::os::fd::RawFd);

impl std::os::fd::AsRawFd for Fd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0
    }
}

/// The socket, and what wraps it.
enum Wire {
    Plain(std::net::TcpStream),
    Client(Box<StreamOwned<ClientConnection, std::net::TcpStream>>),
    Server(Box<StreamOwned<ServerConnection, std::net::TcpStream>>),
    /// Only while switching to TLS.
    Switching,
}

/// A connected socket handed to a guest as a `tcp-stream` resource.
pub struct TcpStream {
    /// The socket's registration with the caller's reactor when it is non-blocking (see the
    /// module); dropped before `wire`, which closes the socket.
    ready: Option<AsyncFd<Fd>>,
    wire: Wire,
    /// The write timeout the guest set: a non-blocking socket's writes wait this long.
    write_timeout: Option<Duration>,
    /// Where a served connection's guest reports what it is doing (none for client streams).
    phase: Option<Arc<PhaseCell>>,
    /// The read timeout the guest set (a request deadline may shorten a single read).
    read_timeout: Option<Duration>,
    /// This socket's place among its session's open sockets (client streams).
    ticket: Option<super::sockets::SocketTicket>,
    /// A served plain connection waiting for its next request longer than this gives up (the
    /// guest sees it closed and ends, freeing its instance and thread) and is parked by the
    /// listener until bytes arrive (`with_parking`; none: waits as long as the guest says).
    park_after: Option<Duration>,
    /// A resumed connection's idle wait, begun before it was parked, ends here.
    idle_deadline: Option<Instant>,
    /// Left to be parked: the guest's closing of it is not the connection's end.
    parked: bool,
    /// The read timeout the socket has now (none: not known), so an unchanged one costs no
    /// system call.
    socket_timeout: Option<Option<Duration>>,
}

/// What a served connection's guest is doing, and since when: the listener reads it to choose
/// which connections to close when every instance is taken.
#[derive(Debug, Default)]
pub struct PhaseCell {
    phase: std::sync::atomic::AtomicU8,
    since_ms: std::sync::atomic::AtomicU64,
    /// Set when the stream gave up waiting for a next request to be parked (see
    /// `TcpStream::parking`): when its idle wait must end (none: never).
    parked: std::sync::Mutex<Option<Option<Instant>>>,
}

/// A server connection's phase, as its guest reports it (WIT `server-phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not yet reported: being set up, or answering. Never closed to make room.
    Busy,
    /// Between requests, nothing of the next one arrived.
    Idle,
    /// Part of a request head arrived.
    ReadingHead,
}

impl PhaseCell {
    /// Record `phase`, starting now.
    pub fn set(&self, phase: Phase) {
        use std::sync::atomic::Ordering::Relaxed;
        self.phase.store(phase as u8, Relaxed);
        self.since_ms.store(monotonic_ms(), Relaxed);
    }

    /// The connection's guest has stopped waiting for its next request so that it may be
    /// parked; that wait must end at `idle_deadline`.
    fn park(&self, idle_deadline: Option<Instant>) {
        *self.parked.lock().unwrap_or_else(|p| p.into_inner()) = Some(idle_deadline);
    }

    /// Whether the connection was left to be parked, and its idle deadline (once: it is reset).
    pub fn take_park(&self) -> Option<Option<Instant>> {
        self.parked.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The phase alone (no clock read: a served connection's every read asks).
    pub fn phase(&self) -> Phase {
        match self.phase.load(std::sync::atomic::Ordering::Relaxed) {
            x if x == Phase::Idle as u8 => Phase::Idle,
            x if x == Phase::ReadingHead as u8 => Phase::ReadingHead,
            _ => Phase::Busy,
        }
    }

    /// The phase and how long it has lasted.
    pub fn get(&self) -> (Phase, Duration) {
        let since = self.since_ms.load(std::sync::atomic::Ordering::Relaxed);
        (
            self.phase(),
            Duration::from_millis(monotonic_ms().saturating_sub(since)),
        )
    }
}

/// Milliseconds on a process-wide monotonic clock.
fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64
}

thread_local! {
    /// Each thread's read buffer, zeroed once and reused by every connection the thread serves
    /// (zeroing a fresh 64 KiB buffer per connection was a measurable share of accepting one).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl TcpStream {
    /// Wrap an accepted or connected socket; Nagle off (we write whole header blocks).
    pub fn new(sock: std::net::TcpStream) -> Self {
        let _ = sock.set_nodelay(true);
        Self::new_wire(Wire::Plain(sock))
    }

    /// A stream over `wire`, nothing else set.
    fn new_wire(wire: Wire) -> Self {
        Self {
            ready: None,
            wire,
            write_timeout: None,
            phase: None,
            read_timeout: None,
            ticket: None,
            park_after: None,
            idle_deadline: None,
            parked: false,
            socket_timeout: None,
        }
    }

    /// Count this socket among its session's open ones until it is dropped.
    pub(crate) fn with_ticket(mut self, ticket: super::sockets::SocketTicket) -> Self {
        self.ticket = Some(ticket);
        self
    }

    /// The socket itself (for the session's table of open sockets, and the parking lot).
    pub(crate) fn socket(&self) -> &std::net::TcpStream {
        self.sock()
    }

    /// `read`, but giving up at `deadline` if that comes before the read timeout: `Ok(None)`
    /// when it passed.
    pub async fn read_by(
        &mut self,
        max: usize,
        deadline: Option<std::time::Instant>,
    ) -> Result<Option<Vec<u8>>, SocketError> {
        let Some(deadline) = deadline else {
            return self.read(max).await.map(Some);
        };
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        if self.read_timeout.is_some_and(|t| t <= left) {
            return self.read(max).await.map(Some);
        }
        match self.read_within(max, Some(left)).await {
            Err(SocketError::Timeout) if std::time::Instant::now() >= deadline => Ok(None),
            other => other.map(Some),
        }
    }

    /// Report this (served) connection's phase to `cell`.
    pub fn with_phase(mut self, cell: Arc<PhaseCell>) -> Self {
        self.phase = Some(cell);
        self
    }

    /// Park this served connection when its guest waits more than `after` for a
    /// next request; `idle_deadline` ends a wait that began before it was last parked.
    pub fn with_parking(mut self, after: Duration, idle_deadline: Option<Instant>) -> Self {
        if matches!(self.wire, Wire::Plain(_) | Wire::Server(_)) && self.phase.is_some() {
            self.park_after = Some(after);
            self.idle_deadline = idle_deadline;
            self.parked = false;
        }
        self
    }

    /// Whether this stream was left to be parked (its guest's wait for a next request ended).
    pub fn is_parked(&self) -> bool {
        self.parked
    }

    /// The socket's read timeout, set only when it changes.
    fn timeout_is(&mut self, timeout: Option<Duration>) -> Result<(), SocketError> {
        if self.socket_timeout != Some(timeout) {
            self.socket_timeout = None;
            self.sock().set_read_timeout(timeout).map_err(io_error)?;
            self.socket_timeout = Some(timeout);
        }
        Ok(())
    }

    /// Waiting for a next request (for up to `timeout`): wait at most until parking (or the
    /// idle deadline), then say so. `None` when this read is not such a wait.
    async fn idle_read(&mut self, max: usize, timeout: Option<Duration>) -> Option<Result<Vec<u8>, SocketError>> {
        let after = self.park_after?;
        if self.phase.as_ref()?.phase() != Phase::Idle {
            return None;
        }
        let now = Instant::now();
        let ends = self.idle_deadline.or_else(|| timeout.map(|t| now + t));
        let park = ends.is_none_or(|end| end > now + after);
        let wait = if park {
            after
        } else {
            ends.map_or(after, |end| end.saturating_duration_since(now))
        };
        if wait.is_zero() {
            return Some(Err(SocketError::Timeout));
        }
        let deadline = match self.ready {
            Some(_) => Some(now + wait),
            None => {
                if let Err(e) = self.timeout_is(Some(wait)) {
                    return Some(Err(e));
                }
                None
            }
        };
        Some(match self.read_once(max, deadline).await {
            Err(SocketError::Timeout) if park => {
                if let Some(cell) = &self.phase {
                    cell.park(ends);
                }
                self.parked = true;
                Err(SocketError::Closed)
            }
            other => other,
        })
    }

    /// Record the phase the guest reports.
    pub fn set_phase(&self, phase: Phase) {
        if let Some(cell) = &self.phase {
            cell.set(phase);
        }
    }

    fn sock(&self) -> &std::net::TcpStream {
        match &self.wire {
            Wire::Plain(s) => s,
            Wire::Client(t) => &t.sock,
            Wire::Server(t) => &t.sock,
            Wire::Switching => unreachable!("a stream is never observed mid-switch"),
        }
    }

    /// An accepted socket, TLS-terminated with `config`; the whole handshake completes (or
    /// fails) within `timeout` (when given) before any guest sees the stream, however the
    /// client paces it.
    pub fn accept_tls(
        sock: std::net::TcpStream,
        config: Arc<rustls::ServerConfig>,
        timeout: Option<Duration>,
    ) -> Result<Self, SocketError> {
        let _ = sock.set_nodelay(true);
        let mut conn = ServerConnection::new(config).map_err(|e| SocketError::Tls(tls::describe_rustls(&e)))?;
        let mut io = Deadline {
            sock: &sock,
            deadline: timeout.and_then(|t| std::time::Instant::now().checked_add(t)),
        };
        while conn.is_handshaking() {
            conn.complete_io(&mut io).map_err(tls_error)?;
        }
        sock.set_read_timeout(None).map_err(io_error)?;
        sock.set_write_timeout(None).map_err(io_error)?;
        Ok(Self {
            ready: None,
            wire: Wire::Server(Box::new(StreamOwned::new(conn, sock))),
            write_timeout: None,
            phase: None,
            read_timeout: None,
            ticket: None,
            park_after: None,
            idle_deadline: None,
            parked: false,
            socket_timeout: None,
        })
    }

    /// Become a TLS client to `host` over this (plain) stream, handshake included.
    pub async fn start_tls(
        &mut self,
        host: &str,
        options: &TlsSettings,
        identities: &ClientIdentities,
    ) -> Result<(), SocketError> {
        let config = tls::client_config(options, identities)?;
        let name = tls::server_name(host, options)?;
        let sock = match std::mem::replace(&mut self.wire, Wire::Switching) {
            Wire::Plain(s) => s,
            other => {
                self.wire = other;
                return Err(SocketError::Tls("the stream is already TLS".into()));
            }
        };
        let conn = match ClientConnection::new(config, name) {
            Ok(c) => c,
            Err(e) => {
                self.wire = Wire::Plain(sock);
                return Err(SocketError::Tls(tls::describe_rustls(&e)));
            }
        };
        let mut tls = StreamOwned::new(conn, sock);
        // One deadline for the whole handshake when the socket yields (a blocking one times
        // out each read and write).
        let deadline = self.read_timeout.and_then(|t| Instant::now().checked_add(t));
        let done = handshake(&mut tls.conn, &mut tls.sock, self.ready.as_ref(), deadline).await;
        self.wire = Wire::Client(Box::new(tls));
        done
    }

    /// Wait until the socket is ready for `interest`, at most until `deadline`. A blocking
    /// socket only gets here when its own timeout ran out (the system call said it would
    /// block): that is the timeout.
    async fn ready_for(&self, interest: Interest, deadline: Option<Instant>) -> Result<(), SocketError> {
        ready_for(self.ready.as_ref(), interest, deadline).await
    }

    /// This served stream made to yield: registered with the current tokio reactor, its
    /// timeouts deadlines (see the module). Its socket must be non-blocking already (accepted
    /// with accept4's `SOCK_NONBLOCK`, or a yielding stream parked and resumed). Must be
    /// called from inside a tokio runtime.
    pub(crate) fn yielding_nonblocking(mut self) -> Result<Self, SocketError> {
        self.ready = Some(register(self.sock())?);
        Ok(self)
    }

    /// Forget the stream's registration with its reactor (a connection being parked: whichever
    /// reactor thread resumes it registers it there, `yielding_nonblocking`). It stays non-blocking.
    pub(crate) fn stop_yielding(&mut self) {
        self.ready = None;
    }

    /// `accept_tls` for a connection that yields (`sock` non-blocking already, as accept4's
    /// `SOCK_NONBLOCK` makes it): the handshake awaits the socket's readiness, all of it
    /// within `timeout`.
    pub(crate) async fn accept_tls_yielding(
        sock: std::net::TcpStream,
        config: Arc<rustls::ServerConfig>,
        timeout: Option<Duration>,
    ) -> Result<Self, SocketError> {
        let mut conn = ServerConnection::new(config).map_err(|e| SocketError::Tls(tls::describe_rustls(&e)))?;
        let plain = Self::new(sock).yielding_nonblocking()?;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let Self { ready, wire, .. } = plain;
        let Wire::Plain(mut sock) = wire else {
            unreachable!("a new stream is plain")
        };
        handshake(&mut conn, &mut sock, ready.as_ref(), deadline).await?;
        let mut stream = Self::new_wire(Wire::Server(Box::new(StreamOwned::new(conn, sock))));
        stream.ready = ready;
        Ok(stream)
    }

    /// The deadline of a write starting now, on a socket that yields.
    fn write_deadline(&self) -> Option<Instant> {
        self.ready.as_ref()?;
        self.write_timeout.and_then(|t| Instant::now().checked_add(t))
    }

    /// Whether the stream is TLS-wrapped.
    pub fn is_tls(&self) -> bool {
        matches!(self.wire, Wire::Client(_) | Wire::Server(_))
    }

    /// The ALPN protocol agreed in the handshake.
    pub fn alpn_protocol(&self) -> Option<String> {
        let proto = match &self.wire {
            Wire::Client(t) => t.conn.alpn_protocol(),
            Wire::Server(t) => t.conn.alpn_protocol(),
            _ => None,
        };
        proto.map(|p| String::from_utf8_lossy(p).into_owned())
    }

    /// Connect to the first of `addrs` (resolved from `host` and checked by the policy) that
    /// answers; `before_each` is asked before each attempt and may refuse it. With `yields`,
    /// the socket is non-blocking and registered with the caller's tokio reactor (see the
    /// module), and the connect itself awaits.
    pub async fn connect(
        host: &str,
        addrs: &[SocketAddr],
        timeout_ms: Option<u64>,
        source: Option<(String, u16)>,
        yields: bool,
        mut before_each: impl FnMut(SocketAddr) -> Result<(), SocketError>,
    ) -> Result<Self, SocketError> {
        let port = addrs.first().map_or(0, SocketAddr::port);
        let timeout = timeout_ms.map(Duration::from_millis);
        let source: Option<SocketAddr> = match source {
            Some((h, p)) => Some(
                format!("{}:{p}", if h.contains(':') { format!("[{h}]") } else { h })
                    .parse()
                    .map_err(|e| SocketError::Other(format!("source address: {e}")))?,
            ),
            None => None,
        };
        let mut last = SocketError::ConnectionRefused(format!("{host}:{port}"));
        for &addr in addrs {
            if let Err(refused) = before_each(addr) {
                last = refused;
                continue;
            }
            let connected = match yields {
                true => connect_one_yielding(addr, timeout, source).await,
                false => connect_one(addr, timeout, source).map(|sock| (sock, None)),
            };
            match connected {
                Ok((sock, ready)) => {
                    let mut s = Self::new(sock);
                    s.read_timeout = timeout;
                    s.write_timeout = timeout;
                    if ready.is_none() {
                        s.sock().set_read_timeout(timeout).ok();
                        s.sock().set_write_timeout(timeout).ok();
                    }
                    s.ready = ready;
                    return Ok(s);
                }
                // Name the address, as curl does ("connection to 127.0.0.1:1 refused").
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    last = SocketError::ConnectionRefused(format!("connection to {addr} refused"))
                }
                Err(e) => last = io_error(e),
            }
        }
        Err(last)
    }

    /// Up to `max` bytes, waiting until one arrives (or the read timeout); empty at end-of-stream.
    pub async fn read(&mut self, max: usize) -> Result<Vec<u8>, SocketError> {
        self.read_within(max, self.read_timeout).await
    }

    /// `read`, waiting at most `timeout`.
    async fn read_within(&mut self, max: usize, timeout: Option<Duration>) -> Result<Vec<u8>, SocketError> {
        if let Some(result) = self.idle_read(max, timeout).await {
            if result.is_ok() {
                // The next request has begun: later idle waits are the guest's own.
                self.idle_deadline = None;
            }
            return result;
        }
        if self.ready.is_some() {
            let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
            return self.read_once(max, deadline).await;
        }
        self.timeout_is(timeout)?;
        self.read_once(max, None).await
    }

    /// One read: what arrived, up to `max` (a socket that yields waits for some until `deadline`).
    async fn read_once(&mut self, max: usize, deadline: Option<Instant>) -> Result<Vec<u8>, SocketError> {
        // Always the system call first, even after a read that emptied the kernel's buffer
        // (nginx waits for readiness then): under load the next request is mostly there by
        // the time the task runs again, and a wait that was not needed costs the guest's fiber
        // a suspension (wrk -c32 keep-alive: 71k -> 46k requests/s when it waited).
        loop {
            match self.try_read(max) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.ready_for(Interest::READABLE, deadline).await?,
                // A TLS peer that closes without close_notify: end-of-stream, as curl and most servers treat it.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof && self.is_tls() => return Ok(Vec::new()),
                Err(e) if e.kind() == ErrorKind::NotConnected => return Err(SocketError::Closed),
                Err(e) => return Err(tls_error(e)),
                Ok(data) => return Ok(data),
            }
        }
    }

    /// What one read system call (or TLS record) gives, without waiting for more.
    fn try_read(&mut self, max: usize) -> std::io::Result<Vec<u8>> {
        SCRATCH.with_borrow_mut(|scratch| {
            if scratch.len() < max {
                scratch.resize(max, 0);
            }
            loop {
                let buf = &mut scratch[..max];
                let result = match &mut self.wire {
                    Wire::Plain(s) => s.read(buf),
                    Wire::Client(t) => t.read(buf),
                    Wire::Server(t) => t.read(buf),
                    Wire::Switching => return Err(ErrorKind::NotConnected.into()),
                };
                match result {
                    Ok(n) => return Ok(scratch[..n].to_vec()),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        })
    }

    /// Write all of `data` (TLS records flushed).
    pub async fn write_all(&mut self, data: &[u8]) -> Result<(), SocketError> {
        // The write timeout is for a write making no progress, as a blocking socket's is.
        let mut deadline = self.write_deadline();
        let mut written = 0;
        while written < data.len() || self.tls_records_waiting() {
            match self.try_write(&data[written..]) {
                Ok(n) => {
                    written += n;
                    deadline = self.write_deadline();
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.ready_for(Interest::WRITABLE, deadline).await?,
                Err(e) if e.kind() == ErrorKind::WriteZero || e.kind() == ErrorKind::NotConnected => {
                    return Err(SocketError::Closed);
                }
                Err(e) => return Err(tls_error(e)),
            }
        }
        Ok(())
    }

    /// Whether TLS records are made and not yet sent (a socket that yields took part of them).
    fn tls_records_waiting(&self) -> bool {
        match &self.wire {
            Wire::Client(t) => t.conn.wants_write(),
            Wire::Server(t) => t.conn.wants_write(),
            _ => false,
        }
    }

    /// Write what the socket takes now: plain bytes, or (TLS) records already made first and
    /// then as much of `data` as rustls buffers, sent as far as the socket takes them. Under
    /// TLS, all of `data` is written only once its records are out (`tls_records_waiting`):
    /// a call with nothing left of `data` sends what waits (and says 0).
    fn try_write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match &mut self.wire {
            Wire::Plain(s) if data.is_empty() => Ok(0),
            Wire::Plain(s) => match s.write(data)? {
                0 => Err(ErrorKind::WriteZero.into()),
                n => Ok(n),
            },
            Wire::Client(t) => tls_try_write(&mut t.conn, &mut t.sock, data),
            Wire::Server(t) => tls_try_write(&mut t.conn, &mut t.sock, data),
            Wire::Switching => Err(ErrorKind::NotConnected.into()),
        }
    }

    /// Send `len` bytes of `file` from `offset` and return how many went (fewer only at the
    /// file's end). On a plain socket on Linux this is sendfile(2): the bytes never leave the
    /// kernel. Under TLS they go through rustls in 64 KiB blocks.
    pub async fn send_file(&mut self, file: &std::fs::File, offset: u64, len: u64) -> Result<u64, SocketError> {
        #[cfg(target_os = "linux")]
        if matches!(self.wire, Wire::Plain(_)) {
            let mut deadline = self.write_deadline();
            let mut sent = 0;
            while sent < len {
                let Wire::Plain(s) = &self.wire else { break };
                match sendfile_once(s, file, offset + sent, len - sent) {
                    Ok(0) => break, // the file ended before `len`
                    Ok(n) => {
                        sent += n;
                        deadline = self.write_deadline();
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => self.ready_for(Interest::WRITABLE, deadline).await?,
                    Err(e) => return Err(io_error(e)),
                }
            }
            return Ok(sent);
        }
        // Elsewhere (TLS, or not Linux) the host copies in blocks as large as TLS records go,
        // still never through guest memory.
        let mut block = vec![0u8; SEND_FILE_BLOCK];
        let mut sent = 0;
        while sent < len {
            let want = (len - sent).min(SEND_FILE_BLOCK as u64) as usize;
            let n = match read_at(file, &mut block[..want], offset + sent) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            };
            if n == 0 {
                break; // the file ended before `len`
            }
            self.write_all(&block[..n]).await?;
            sent += n as u64;
        }
        Ok(sent)
    }

    /// Flush buffered TLS records.
    pub fn flush(&mut self) -> Result<(), SocketError> {
        match &mut self.wire {
            Wire::Plain(s) => s.flush().map_err(io_error),
            Wire::Client(t) => t.flush().map_err(tls_error),
            Wire::Server(t) => t.flush().map_err(tls_error),
            Wire::Switching => Err(SocketError::Closed),
        }
    }

    /// Close one or both directions (a TLS close_notify first when writing stops).
    pub fn shutdown(&mut self, how: Shutdown) -> Result<(), SocketError> {
        if self.parked {
            // The listener keeps the connection open for its next request.
            return Ok(());
        }
        if how != Shutdown::Read {
            // Tell a TLS peer the stream ends (close_notify) before the TCP FIN.
            match &mut self.wire {
                Wire::Client(t) => {
                    t.conn.send_close_notify();
                    let _ = t.flush();
                }
                Wire::Server(t) => {
                    t.conn.send_close_notify();
                    let _ = t.flush();
                }
                _ => {}
            }
        }
        match self.sock().shutdown(how) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotConnected => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    /// The timeout of each read and write.
    pub fn set_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), SocketError> {
        self.set_read_timeout(timeout_ms)?;
        self.set_write_timeout(timeout_ms.map(Duration::from_millis))
    }

    /// The timeout of each read alone.
    pub fn set_read_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), SocketError> {
        let t = timeout_ms.map(|ms| Duration::from_millis(ms.max(1)));
        self.read_timeout = t;
        match self.ready {
            // A socket that yields waits by deadlines, not by the socket's own timeout.
            Some(_) => Ok(()),
            None => self.timeout_is(t),
        }
    }

    /// The timeout of each write alone: a write (or sendfile) that makes no progress for this
    /// long fails with `timeout`.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> Result<(), SocketError> {
        let t = timeout.map(|t| t.max(Duration::from_millis(1)));
        self.write_timeout = t;
        match self.ready {
            Some(_) => Ok(()),
            None => self.sock().set_write_timeout(t).map_err(io_error),
        }
    }

    /// The remote end's address.
    pub fn peer_address(&self) -> Result<SocketAddr, SocketError> {
        self.sock().peer_addr().map_err(io_error)
    }

    /// This end's address.
    pub fn local_address(&self) -> Result<SocketAddr, SocketError> {
        self.sock().local_addr().map_err(io_error)
    }
}

/// A socket whose every read and write must end by `deadline` (a TLS handshake's), if any.
struct Deadline<'a> {
    sock: &'a std::net::TcpStream,
    deadline: Option<std::time::Instant>,
}

impl Deadline<'_> {
    /// What is left (none: no deadline), or a timeout error once nothing is.
    fn left(&self) -> std::io::Result<Option<Duration>> {
        let Some(deadline) = self.deadline else {
            return Ok(None);
        };
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(ErrorKind::TimedOut, "handshake deadline passed"));
        }
        Ok(Some(left))
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.sock.set_read_timeout(self.left()?)?;
        (&mut &*self.sock).read(buf)
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sock.set_write_timeout(self.left()?)?;
        (&mut &*self.sock).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A TLS-layer failure as a transport error whose words name the cause.
fn tls_error(e: std::io::Error) -> SocketError {
    let is_tls = e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>());
    if is_tls {
        SocketError::Tls(tls::describe(&e))
    } else {
        io_error(e)
    }
}

fn connect_one(
    addr: SocketAddr,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> std::io::Result<std::net::TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(src) = source {
        socket.bind(&SockAddr::from(src))?;
    }
    match timeout {
        Some(t) => socket.connect_timeout(&SockAddr::from(addr), t)?,
        None => socket.connect(&SockAddr::from(addr))?,
    }
    Ok(socket.into())
}

/// A socket address for the guest: the IP as text, no brackets.
/// Block size when the host copies a file to a stream itself (ours: CPython's COPY_BUFSIZE,
/// four TLS records).
const SEND_FILE_BLOCK: usize = 64 * 1024;

/// Read at `offset` without moving the file's position (pread on Unix).
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(file, buf, offset)
    }
}

/// Most one sendfile(2) call moves (Linux's own cap is 0x7ffff000 bytes).
#[cfg(target_os = "linux")]
const MAX_SENDFILE_CHUNK: u64 = 0x7fff_f000;

/// One sendfile(2) call of up to `len` bytes from `offset`: how many went (0: the file
/// ended). The file's own position is untouched.
#[cfg(target_os = "linux")]
fn sendfile_once(sock: &std::net::TcpStream, file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<u64> {
    use std::os::fd::AsRawFd;
    let mut position = libc::off_t::try_from(offset)
        .map_err(|_| std::io::Error::new(ErrorKind::InvalidInput, "offset past what off_t holds"))?;
    let chunk = len.min(MAX_SENDFILE_CHUNK) as usize;
    // SAFETY: both descriptors are open for the duration of the call (we hold borrows of
    // their owners), and `position` is a valid, exclusively borrowed off_t.
    let n = unsafe { libc::sendfile(sock.as_raw_fd(), file.as_raw_fd(), &mut position, chunk) };
    match n {
        n if n >= 0 => Ok(n as u64),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Wait until the socket registered as `ready` is ready for `interest`, at most until
/// `deadline`. A blocking socket (none registered) only gets here when its own timeout ran
/// out (the system call said it would block): that is the timeout.
async fn ready_for(
    ready: Option<&AsyncFd<Fd>>,
    interest: Interest,
    deadline: Option<Instant>,
) -> Result<(), SocketError> {
    let Some(fd) = ready else {
        return Err(SocketError::Timeout);
    };
    let wait = async {
        let mut guard = fd.ready(interest).await.map_err(io_error)?;
        // Cleared before the caller tries again: readiness that comes after is a new event.
        guard.clear_ready();
        Ok(())
    };
    match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), wait)
            .await
            .unwrap_or(Err(SocketError::Timeout)),
        None => wait.await,
    }
}

/// Register a non-blocking `sock` with the current tokio reactor.
fn register(sock: &std::net::TcpStream) -> Result<AsyncFd<Fd>, SocketError> {
    use std::os::fd::AsRawFd;
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(SocketError::Other(
            "a stream that yields needs a tokio runtime (with IO and time enabled) to run in".into(),
        ));
    }
    // SAFETY: the descriptor is `sock`'s, which the stream holding this registration owns and
    // closes only after dropping it (`TcpStream::ready` is declared before `wire`).
    unsafe { AsyncFd::register_with_interest(Fd(sock.as_raw_fd()), Interest::READABLE | Interest::WRITABLE) }
        .map_err(|e| io_error(e.into()))
}

/// Drive a TLS handshake to its end: on a blocking socket in the system calls (its own
/// timeouts), on one registered as `ready` by awaiting readiness until `deadline`.
async fn handshake<D>(
    conn: &mut rustls::ConnectionCommon<D>,
    sock: &mut std::net::TcpStream,
    ready: Option<&AsyncFd<Fd>>,
    deadline: Option<Instant>,
) -> Result<(), SocketError> {
    while conn.is_handshaking() {
        match conn.complete_io(sock) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let interest = if conn.wants_write() {
                    Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                ready_for(ready, interest, deadline).await?;
            }
            Err(e) => return Err(tls_error(e)),
        }
    }
    Ok(())
}

/// `TcpStream::try_write` under TLS: records already made go first, then `data` is buffered
/// (as much as rustls takes) and its records sent as far as the socket takes them.
fn tls_try_write<D>(
    conn: &mut rustls::ConnectionCommon<D>,
    sock: &mut std::net::TcpStream,
    data: &[u8],
) -> std::io::Result<usize> {
    while conn.wants_write() {
        conn.write_tls(sock)?;
    }
    if data.is_empty() {
        return Ok(0);
    }
    let n = conn.writer().write(data)?;
    while conn.wants_write() {
        match conn.write_tls(sock) {
            Ok(_) => {}
            // What was buffered goes with the next call.
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// `connect_one` for a socket that yields: non-blocking, registered with the caller's tokio
/// reactor, the connect awaited (for at most `timeout`).
async fn connect_one_yielding(
    addr: SocketAddr,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> std::io::Result<(std::net::TcpStream, Option<AsyncFd<Fd>>)> {
    use std::os::fd::AsRawFd;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(src) = source {
        socket.bind(&SockAddr::from(src))?;
    }
    socket.set_nonblocking(true)?;
    let started = socket.connect(&SockAddr::from(addr));
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(std::io::Error::other(
            "a session that yields needs a tokio runtime (with IO and time enabled) to run in",
        ));
    }
    // SAFETY: the descriptor is `socket`'s, open until it is closed by the stream this
    // returns, which drops its registration (`TcpStream::ready`, declared before `wire`)
    // first; on the error paths below, `ready` is dropped before `socket` likewise.
    let ready =
        unsafe { AsyncFd::register_with_interest(Fd(socket.as_raw_fd()), Interest::READABLE | Interest::WRITABLE) }
            .map_err(std::io::Error::from)?;
    match started {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            let wait = async {
                let mut guard = ready.writable().await?;
                guard.clear_ready();
                Ok::<(), std::io::Error>(())
            };
            match timeout {
                Some(t) => tokio::time::timeout(t, wait)
                    .await
                    .map_err(|_| std::io::Error::from(ErrorKind::TimedOut))??,
                None => wait.await?,
            }
            if let Some(e) = socket.take_error()? {
                return Err(e);
            }
        }
        Err(e) => return Err(e),
    }
    Ok((socket.into(), Some(ready)))
}

/// An OS error as the transport's error code.
pub fn io_error(e: std::io::Error) -> SocketError {
    match e.kind() {
        ErrorKind::ConnectionRefused => SocketError::ConnectionRefused(e.to_string()),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            SocketError::ConnectionReset(e.to_string())
        }
        ErrorKind::TimedOut | ErrorKind::WouldBlock => SocketError::Timeout,
        _ => SocketError::Other(e.to_string()),
    }
}
