//! Accepting: the listening sockets ([`Accepting`]: one thread's or every thread's), `accept4` straight into a non-blocking socket, the
//! back-off after errors that repeat while their cause lasts (out of descriptors), and the
//! throttle that keeps a flood of them to a log line a second.

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// Listen backlog (CPython `socketserver.TCPServer.request_queue_size` is 5; we take the usual OS maximum).
pub const LISTEN_BACKLOG: i32 = 1024;
/// The longest pause after an accept error such as EMFILE (ours; nginx pauses accepting 500 ms).
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(500);
/// The first pause after such an error; each one after it doubles (ours).
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// At most one log line this often for a repeating condition (accept errors, 503s).
pub const LOG_EVERY: Duration = Duration::from_secs(1);

/// Which of the reactor's threads accept new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepting {
    /// Reactor thread 0 accepts them all; each runs there, or on the thread holding the
    /// fewest connections when thread 0 holds more than one over it.
    OneThread,
    /// Every reactor thread accepts, on a listening socket of its own bound to the same
    /// address (SO_REUSEPORT, as nginx's `listen ... reuseport`): the kernel spreads new
    /// connections over them by a hash of their addresses, and each runs on the thread that
    /// accepted it (unless that thread holds more than one over the lightest). A port already
    /// in use is still refused: see [`listen`].
    EveryThread,
}

/// A listening socket on `addr` (an IPv6 wildcard also accepts IPv4, as CPython's dual-stack
/// server does), open to listeners of its own beside it (`listen_beside`) when `accepting` is
/// `EveryThread`.
///
/// SO_REUSEPORT lets any socket of the same user that also sets it share the port, so a
/// second `httplib serve 8000` would silently take half of the first one's connections. A
/// socket without it is bound first and closed: where anyone listens on the port, that bind
/// fails with "Address already in use", as it does with one accepting thread.
pub(super) fn listen(addr: SocketAddr, accepting: Accepting) -> Result<TcpListener> {
    let shared = accepting == Accepting::EveryThread;
    if shared && addr.port() != 0 {
        drop(bind(addr, false)?);
    }
    listening(bind(addr, shared)?)
}

/// Another listening socket on `listener_addr` (an `EveryThread` listener's own address, its
/// port chosen), for another reactor thread to accept on.
pub(super) fn listen_beside(listener_addr: SocketAddr) -> Result<TcpListener> {
    listening(bind(listener_addr, true)?)
}

/// A TCP socket bound to `addr`, SO_REUSEADDR set (a restarted server binds at once, past
/// its old connections' TIME_WAIT) and SO_REUSEPORT where `shared`.
fn bind(addr: SocketAddr, shared: bool) -> Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    socket.bind(&addr.into()).with_context(|| format!("binding {addr}"))?;
    Ok(socket)
}

fn listening(socket: Socket) -> Result<TcpListener> {
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Accept a connection already non-blocking (accept4's `SOCK_NONBLOCK`: no `ioctl` after it),
/// registered with no reactor yet (its stream registers it once), with its peer's address as
/// accept4 gave it (no `getpeername` after it).
pub(super) fn accept_nonblocking(listener: &TcpListener) -> std::io::Result<(std::net::TcpStream, Option<SocketAddr>)> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: accept4 writes at most `len` bytes of address into the storage socket2 hands it
    // and says how many in `len`; the returned descriptor is new and owned by nothing else.
    let (fd, peer) = unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            let fd = libc::accept4(
                listener.as_raw_fd(),
                storage.cast(),
                len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            );
            if fd < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(fd)
            }
        })?
    };
    // SAFETY: `fd` was just returned by accept4, a connected stream socket nobody else owns.
    let sock = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    Ok((sock, peer.as_socket()))
}

/// A line about something that can repeat thousands of times a second, printed at most once
/// per `LOG_EVERY` with how often it happened since the last one.
#[derive(Default)]
pub(super) struct LogThrottle {
    unlogged: u64,
    last: Option<Instant>,
}

impl LogThrottle {
    /// Count one more; `Some(count)` when a line is due, for the events since the last line.
    pub fn count(&mut self) -> Option<u64> {
        self.unlogged += 1;
        if self.last.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.unlogged))
    }
}

/// Pauses the accept loop after errors that repeat while their cause lasts (EMFILE, ENFILE,
/// ENOBUFS, ENOMEM), doubling up to `ACCEPT_BACKOFF_MAX`, and logs them at most once per
/// `LOG_EVERY`.
#[derive(Default)]
pub(super) struct AcceptBackoff {
    pause: Option<Duration>,
    log: LogThrottle,
}

impl AcceptBackoff {
    /// An accept succeeded: the next error starts the pauses over.
    pub fn reset(&mut self) {
        self.pause = None;
    }

    /// Log `e` (throttled); the pause to take before accepting again, if any.
    pub fn failed(&mut self, e: &std::io::Error) -> Option<Duration> {
        match self.log.count() {
            Some(1) => eprintln!("accept failed: {e}"),
            Some(n) => eprintln!("accept failed: {e} ({n} times since the last report)"),
            None => {}
        }
        // Out of descriptors or memory: accepting again at once only fails again.
        if !is_resource_shortage(e) {
            return None;
        }
        let pause = self
            .pause
            .map_or(ACCEPT_BACKOFF_MIN, |p| (p * 2).min(ACCEPT_BACKOFF_MAX));
        self.pause = Some(pause);
        Some(pause)
    }
}

/// Whether `e` says the process or system ran out of something accepting needs.
fn is_resource_shortage(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Whether `e` says the process ran out of descriptors (idle connections can make room).
pub(super) fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortages_pause_doubling_to_the_cap_and_other_errors_do_not() {
        let mut backoff = AcceptBackoff::default();
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        let mut pauses = Vec::new();
        for _ in 0..8 {
            pauses.push(backoff.failed(&emfile).unwrap());
        }
        assert_eq!(pauses[0], ACCEPT_BACKOFF_MIN);
        assert_eq!(pauses[1], ACCEPT_BACKOFF_MIN * 2);
        assert_eq!(*pauses.last().unwrap(), ACCEPT_BACKOFF_MAX);
        backoff.reset();
        assert_eq!(backoff.failed(&emfile), Some(ACCEPT_BACKOFF_MIN));
        let reset = std::io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert_eq!(backoff.failed(&reset), None);
    }

    #[test]
    fn a_flood_is_one_line_a_second() {
        let mut log = LogThrottle::default();
        assert_eq!(log.count(), Some(1));
        assert_eq!(log.count(), None);
        assert_eq!(log.count(), None);
    }
}
