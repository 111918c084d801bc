//! One TCP connection, plain or TLS-wrapped: connect with timeout and source address,
//! reads, writes, timeouts, and the switch to TLS (at connect, after CONNECT, or on accept).
//!
//! A stream's state is two enums. `Wire` is what the bytes go through: the socket alone, or
//! a rustls connection (client or server) over it. `Waiting` is how an operation waits when
//! the socket has nothing for it: `Blocking` waits in the system call, its timeouts the
//! socket's own (its futures complete on their first poll); `Readiness` is a non-blocking
//! socket registered with the caller's tokio reactor, awaited (with the same timeouts as
//! deadlines) so that the guest's fiber yields. Every operation is one code path over both.

use super::error::SocketError;
use super::sockets::SocketTicket;
use super::tls::{self, ClientIdentities, TlsSettings};
use rustls::{ClientConnection, Connection, ServerConnection};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// How a stream's operations wait (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitBy {
    /// In the system call: a blocking socket.
    Blocking,
    /// By readiness in the caller's tokio reactor: a non-blocking socket, the guest's fiber
    /// suspended meanwhile.
    Readiness,
}

/// A socket's descriptor, as tokio's reactor registers it (the socket itself is owned by
/// the stream, and outlives the registration).
struct Fd(std::os::fd::RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0
    }
}

/// What the bytes go through.
enum Wire {
    Plain,
    /// A TLS client or server connection over the socket.
    Tls(Box<Connection>),
}

/// How the stream waits, with what that needs.
enum Waiting {
    /// A blocking socket, and the read timeout set on it now (none: not known), so an
    /// unchanged one costs no system call.
    Blocking {
        socket_read_timeout: Option<Option<Duration>>,
    },
    /// A non-blocking socket's registration with the caller's reactor.
    Readiness(AsyncFd<Fd>),
}

/// A connected socket handed to a guest as (part of) a `tcp-stream` resource.
pub struct TcpStream {
    /// Declared before `sock`: a registration is dropped before the socket closes.
    waiting: Waiting,
    wire: Wire,
    /// Shared (not duplicated: no `dup` and `close` a connection) with whoever must reach the
    /// socket after this stream is gone or from another thread: the server's open-connection
    /// table and its lingering close, a client session's open sockets (to shut them on
    /// cancel). The descriptor closes with the last holder.
    sock: Arc<std::net::TcpStream>,
    /// The timeouts the guest set: a read (write) that waits longer fails with `timeout`.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// This socket's place among its session's open sockets (client streams).
    ticket: Option<SocketTicket>,
}

thread_local! {
    /// Each thread's read buffer, zeroed once and reused by every connection the thread serves
    /// (zeroing a fresh 64 KiB buffer per connection was a measurable share of accepting one).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl TcpStream {
    /// Wrap a blocking accepted or connected socket; Nagle off (we write whole header blocks).
    pub fn new(sock: impl Into<Arc<std::net::TcpStream>>) -> Self {
        let sock = sock.into();
        let _ = sock.set_nodelay(true);
        Self {
            waiting: Waiting::Blocking {
                socket_read_timeout: None,
            },
            wire: Wire::Plain,
            sock,
            read_timeout: None,
            write_timeout: None,
            ticket: None,
        }
    }

    /// Count this socket among its session's open ones until it is dropped.
    pub(crate) fn with_ticket(mut self, ticket: SocketTicket) -> Self {
        self.ticket = Some(ticket);
        self
    }

    /// The socket itself (for the parking lot's registration, and shutting it).
    pub fn socket(&self) -> &std::net::TcpStream {
        &self.sock
    }

    /// The socket, shared: it stays open after this stream is dropped for as long as the
    /// returned handle lives (the server's lingering close).
    pub fn shared_socket(&self) -> Arc<std::net::TcpStream> {
        self.sock.clone()
    }

    /// How this stream waits.
    pub fn waits_by(&self) -> WaitBy {
        match self.waiting {
            Waiting::Blocking { .. } => WaitBy::Blocking,
            Waiting::Readiness(_) => WaitBy::Readiness,
        }
    }

    /// This stream made to wait by readiness: registered with the current tokio reactor, its
    /// timeouts deadlines (see the module). Its socket must be non-blocking already (accepted
    /// with accept4's `SOCK_NONBLOCK`, or a stream that waited so before). Must be called
    /// from inside a tokio runtime.
    pub fn wait_by_readiness(mut self) -> Result<Self, SocketError> {
        self.waiting = Waiting::Readiness(register(&self.sock)?);
        Ok(self)
    }

    /// Forget the stream's registration with its reactor (a connection being parked:
    /// whichever reactor resumes it registers it there). It stays non-blocking.
    pub fn leave_reactor(&mut self) {
        self.waiting = Waiting::Blocking {
            socket_read_timeout: None,
        };
    }

    /// The read timeout the guest set.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// An accepted socket, TLS-terminated with `config`; the whole handshake completes (or
    /// fails) within `timeout` (when given) before any guest sees the stream, however the
    /// client paces it. `Readiness` needs `sock` non-blocking (accept4's `SOCK_NONBLOCK`).
    pub async fn accept_tls(
        sock: impl Into<Arc<std::net::TcpStream>>,
        config: Arc<rustls::ServerConfig>,
        timeout: Option<Duration>,
        wait: WaitBy,
    ) -> Result<Self, SocketError> {
        let conn = ServerConnection::new(config).map_err(|e| tls::error(&e))?;
        let mut stream = match wait {
            WaitBy::Blocking => Self::new(sock),
            WaitBy::Readiness => Self::new(sock).wait_by_readiness()?,
        };
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        stream.handshake(Connection::Server(conn), deadline).await?;
        Ok(stream)
    }

    /// Become a TLS client to `host` over this (plain) stream, handshake included.
    pub async fn start_tls(
        &mut self,
        host: &str,
        options: &TlsSettings,
        identities: &ClientIdentities,
    ) -> Result<(), SocketError> {
        if self.is_tls() {
            return Err(SocketError::Tls("the stream is already TLS".into()));
        }
        let config = tls::client_config(options, identities)?;
        let name = tls::server_name(host, options)?;
        let conn = ClientConnection::new(config, name).map_err(|e| tls::error(&e))?;
        // One deadline for the whole handshake.
        let deadline = self.read_timeout.and_then(|t| Instant::now().checked_add(t));
        self.handshake(Connection::Client(conn), deadline).await
    }

    /// Drive a TLS handshake over this plain stream to its end by `deadline`, and wrap the
    /// stream in it. A blocking socket's reads and writes are each given what is left of the
    /// deadline; one that waits by readiness awaits it until then.
    async fn handshake(&mut self, mut conn: Connection, deadline: Option<Instant>) -> Result<(), SocketError> {
        while conn.is_handshaking() {
            if let Waiting::Blocking { socket_read_timeout } = &mut self.waiting {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if left.is_some_and(|l| l.is_zero()) {
                    return Err(SocketError::Timeout);
                }
                *socket_read_timeout = None;
                self.sock.set_read_timeout(left).map_err(io_error)?;
                self.sock.set_write_timeout(left).map_err(io_error)?;
            }
            match conn.complete_io(&mut &*self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let interest = if conn.wants_write() {
                        Interest::WRITABLE
                    } else {
                        Interest::READABLE
                    };
                    self.ready_for(interest, deadline).await?;
                }
                Err(e) => return Err(tls_error(e)),
            }
        }
        if let Waiting::Blocking { .. } = self.waiting {
            self.sock.set_read_timeout(self.read_timeout).map_err(io_error)?;
            self.sock.set_write_timeout(self.write_timeout).map_err(io_error)?;
        }
        self.wire = Wire::Tls(Box::new(conn));
        Ok(())
    }

    /// Wait until the socket is ready for `interest`, at most until `deadline`. A blocking
    /// socket only gets here when its own timeout ran out (the system call said it would
    /// block): that is the timeout.
    async fn ready_for(&self, interest: Interest, deadline: Option<Instant>) -> Result<(), SocketError> {
        let Waiting::Readiness(fd) = &self.waiting else {
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

    /// The deadline of an operation starting now that may wait `timeout`, on a socket that
    /// waits by readiness (a blocking one's timeout is the socket's own).
    fn deadline(&self, timeout: Option<Duration>) -> Option<Instant> {
        match self.waiting {
            Waiting::Readiness(_) => timeout.and_then(|t| Instant::now().checked_add(t)),
            Waiting::Blocking { .. } => None,
        }
    }

    /// Whether the stream is TLS-wrapped.
    pub fn is_tls(&self) -> bool {
        matches!(self.wire, Wire::Tls(_))
    }

    /// The ALPN protocol agreed in the handshake.
    pub fn alpn_protocol(&self) -> Option<String> {
        match &self.wire {
            Wire::Tls(conn) => conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
            Wire::Plain => None,
        }
    }

    /// Connect to the first of `addrs` (resolved from `host` and checked by the policy) that
    /// answers; `before_each` is asked before each attempt and may refuse it. Waiting by
    /// `Readiness`, the connect itself awaits.
    pub async fn connect(
        host: &str,
        addrs: &[SocketAddr],
        timeout_ms: Option<u64>,
        source: Option<(String, u16)>,
        wait: WaitBy,
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
            let connected = match wait {
                WaitBy::Readiness => connect_one_by_readiness(addr, timeout, source).await,
                WaitBy::Blocking => connect_one(addr, timeout, source).map(Self::new),
            };
            match connected {
                Ok(mut s) => {
                    s.set_read_timeout(timeout_ms)?;
                    s.set_write_timeout(timeout)?;
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

    /// `read`, but giving up at `deadline` if that comes before the read timeout: `Ok(None)`
    /// when it passed.
    pub async fn read_by(&mut self, max: usize, deadline: Option<Instant>) -> Result<Option<Vec<u8>>, SocketError> {
        let Some(deadline) = deadline else {
            return self.read(max).await.map(Some);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        if self.read_timeout.is_some_and(|t| t <= left) {
            return self.read(max).await.map(Some);
        }
        match self.read_within(max, Some(left)).await {
            Err(SocketError::Timeout) if Instant::now() >= deadline => Ok(None),
            other => other.map(Some),
        }
    }

    /// `read`, waiting at most `timeout` (none: for ever) instead of the read timeout.
    pub async fn read_within(&mut self, max: usize, timeout: Option<Duration>) -> Result<Vec<u8>, SocketError> {
        if let Waiting::Blocking { socket_read_timeout } = &mut self.waiting
            && *socket_read_timeout != Some(timeout)
        {
            *socket_read_timeout = None;
            self.sock.set_read_timeout(timeout).map_err(io_error)?;
            *socket_read_timeout = Some(timeout);
        }
        let deadline = self.deadline(timeout);
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
                    Wire::Plain => (&*self.sock).read(buf),
                    Wire::Tls(conn) => tls_read(conn, &self.sock, buf),
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
        let mut deadline = self.deadline(self.write_timeout);
        let mut written = 0;
        while written < data.len() || self.tls_records_waiting() {
            match self.try_write(&data[written..]) {
                Ok(n) => {
                    written += n;
                    deadline = self.deadline(self.write_timeout);
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

    /// Whether TLS records are made and not yet sent (a socket that waits by readiness took
    /// part of them).
    fn tls_records_waiting(&self) -> bool {
        match &self.wire {
            Wire::Tls(conn) => conn.wants_write(),
            Wire::Plain => false,
        }
    }

    /// Write what the socket takes now: plain bytes, or (TLS) records already made first and
    /// then as much of `data` as rustls buffers, sent as far as the socket takes them. Under
    /// TLS, all of `data` is written only once its records are out (`tls_records_waiting`):
    /// a call with nothing left of `data` sends what waits (and says 0).
    fn try_write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match &mut self.wire {
            Wire::Plain if data.is_empty() => Ok(0),
            Wire::Plain => match (&*self.sock).write(data)? {
                0 => Err(ErrorKind::WriteZero.into()),
                n => Ok(n),
            },
            Wire::Tls(conn) => tls_try_write(conn, &self.sock, data),
        }
    }

    /// Send `len` bytes of `file` from `offset` and return how many went (fewer only at the
    /// file's end). On a plain socket on Linux this is sendfile(2): the bytes never leave the
    /// kernel. Under TLS they go through rustls in 64 KiB blocks.
    pub async fn send_file(&mut self, file: &std::fs::File, offset: u64, len: u64) -> Result<u64, SocketError> {
        #[cfg(target_os = "linux")]
        if let Wire::Plain = self.wire {
            let mut deadline = self.deadline(self.write_timeout);
            let mut sent = 0;
            while sent < len {
                match sendfile_once(&self.sock, file, offset + sent, len - sent) {
                    Ok(0) => break, // the file ended before `len`
                    Ok(n) => {
                        sent += n;
                        deadline = self.deadline(self.write_timeout);
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
            Wire::Plain => (&*self.sock).flush().map_err(io_error),
            Wire::Tls(conn) => {
                while conn.wants_write() {
                    conn.write_tls(&mut &*self.sock).map_err(tls_error)?;
                }
                Ok(())
            }
        }
    }

    /// Close one or both directions (a TLS close_notify first when writing stops).
    pub fn shutdown(&mut self, how: Shutdown) -> Result<(), SocketError> {
        if how != Shutdown::Read
            && let Wire::Tls(conn) = &mut self.wire
        {
            // Tell a TLS peer the stream ends (close_notify) before the TCP FIN.
            conn.send_close_notify();
            let _ = self.flush();
        }
        match self.sock.shutdown(how) {
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

    /// The timeout of each read alone (set on a blocking socket by the next read).
    pub fn set_read_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), SocketError> {
        self.read_timeout = timeout_ms.map(|ms| Duration::from_millis(ms.max(1)));
        Ok(())
    }

    /// The timeout of each write alone: a write (or sendfile) that makes no progress for this
    /// long fails with `timeout`.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> Result<(), SocketError> {
        let t = timeout.map(|t| t.max(Duration::from_millis(1)));
        self.write_timeout = t;
        match self.waiting {
            Waiting::Readiness(_) => Ok(()),
            Waiting::Blocking { .. } => self.sock.set_write_timeout(t).map_err(io_error),
        }
    }

    /// The remote end's address.
    pub fn peer_address(&self) -> Result<SocketAddr, SocketError> {
        self.sock.peer_addr().map_err(io_error)
    }

    /// This end's address.
    pub fn local_address(&self) -> Result<SocketAddr, SocketError> {
        self.sock.local_addr().map_err(io_error)
    }
}

/// rustls's `Stream::read` over a connection and its socket: plaintext already there, else
/// pending records out, records in until plaintext is there (or the socket would block, or
/// ended), then the plaintext.
fn tls_read(conn: &mut Connection, mut sock: &std::net::TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    // Plaintext already decrypted goes first, with no IO (which could block on a write).
    match conn.reader().read(buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => return other,
    }
    if conn.is_handshaking() || conn.wants_write() {
        conn.complete_io(&mut sock)?;
    }
    while conn.wants_read() {
        let (read, written) = conn.complete_io(&mut sock)?;
        if read == 0 && written == 0 {
            break;
        }
    }
    conn.reader().read(buf)
}

/// `TcpStream::try_write` under TLS: records already made go first, then `data` is buffered
/// (as much as rustls takes) and its records sent as far as the socket takes them.
fn tls_try_write(conn: &mut Connection, mut sock: &std::net::TcpStream, data: &[u8]) -> std::io::Result<usize> {
    while conn.wants_write() {
        conn.write_tls(&mut sock)?;
    }
    if data.is_empty() {
        return Ok(0);
    }
    let n = conn.writer().write(data)?;
    while conn.wants_write() {
        match conn.write_tls(&mut sock) {
            Ok(_) => {}
            // What was buffered goes with the next call.
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A TLS-layer failure as a transport error whose words name the cause.
fn tls_error(e: std::io::Error) -> SocketError {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => tls::error(tls),
        None => io_error(e),
    }
}

/// A new socket to `addr` (bound to `source` first, when given).
fn new_socket(addr: SocketAddr, source: Option<SocketAddr>) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(src) = source {
        socket.bind(&SockAddr::from(src))?;
    }
    Ok(socket)
}

/// A blocking connect, in at most `timeout`.
fn connect_one(
    addr: SocketAddr,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> std::io::Result<std::net::TcpStream> {
    let socket = new_socket(addr, source)?;
    match timeout {
        Some(t) => socket.connect_timeout(&SockAddr::from(addr), t)?,
        None => socket.connect(&SockAddr::from(addr))?,
    }
    Ok(socket.into())
}

/// A connect that waits by readiness: the socket non-blocking, registered with the caller's
/// tokio reactor, the connect awaited (for at most `timeout`).
async fn connect_one_by_readiness(
    addr: SocketAddr,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> std::io::Result<TcpStream> {
    let socket = new_socket(addr, source)?;
    socket.set_nonblocking(true)?;
    let started = socket.connect(&SockAddr::from(addr));
    // Registered before the socket is handed to the stream, which then owns both (see `register`).
    let sock: std::net::TcpStream = socket.into();
    let stream = TcpStream::new(sock)
        .wait_by_readiness()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    match started {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
            stream
                .ready_for(Interest::WRITABLE, deadline)
                .await
                .map_err(|_| std::io::Error::from(ErrorKind::TimedOut))?;
            if let Some(e) = stream.sock.take_error()? {
                return Err(e);
            }
        }
        Err(e) => return Err(e),
    }
    Ok(stream)
}

/// Block size when the host copies a file to a stream itself (ours: CPython's COPY_BUFSIZE,
/// four TLS records).
const SEND_FILE_BLOCK: usize = 64 * 1024;

/// Read at `offset` without moving the file's position (pread on Unix).
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// Most one sendfile(2) call moves (Linux's own cap is 0x7ffff000 bytes).
#[cfg(target_os = "linux")]
const MAX_SENDFILE_CHUNK: u64 = 0x7fff_f000;

/// One sendfile(2) call of up to `len` bytes from `offset`: how many went (0: the file
/// ended). The file's own position is untouched.
#[cfg(target_os = "linux")]
fn sendfile_once(sock: &std::net::TcpStream, file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<u64> {
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

/// Register a non-blocking `sock` with the current tokio reactor.
fn register(sock: &std::net::TcpStream) -> Result<AsyncFd<Fd>, SocketError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(SocketError::Other(
            "a stream that waits by readiness needs a tokio runtime (with IO and time enabled) to run in".into(),
        ));
    }
    // SAFETY: the descriptor is `sock`'s, which the stream holding this registration owns and
    // closes only after dropping it (`TcpStream::waiting` is declared before `sock`).
    unsafe { AsyncFd::register_with_interest(Fd(sock.as_raw_fd()), Interest::READABLE | Interest::WRITABLE) }
        .map_err(|e| io_error(e.into()))
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

#[cfg(test)]
mod tests;
