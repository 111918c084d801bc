//! Closing a connection without losing its last response: the lingering close (as nginx's
//! `lingering_close`). After the last response the write side is shut, and input still
//! arriving is read and dropped for a while, so that closing with unread bytes does not make
//! the kernel reset the connection and discard a response still in flight. One
//! implementation for both modes: only the wait for more input differs (readiness on the
//! reactor, poll(2) on a thread of its own).

use super::reactor::Mode;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// After the last response, input still arriving is read and dropped for up to this long per
/// read (ours; nginx's `lingering_timeout` is 5 s, its `lingering_time` 30 s).
pub const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// At most this much unread input is drained before closing regardless (ours).
pub const LINGER_MAX_BYTES: usize = 1024 * 1024;
/// Bytes read and dropped at a time (ours).
const DRAIN_BLOCK: usize = 16 * 1024;

/// Half-close `sock`, then read and drop whatever the client still sends (at most
/// `LINGER_MAX_BYTES`, waiting at most `LINGER_TIMEOUT` for each piece), then let it go: the
/// descriptor closes with its last holder (this, or the open-connection table's entry).
pub(super) async fn linger(sock: Arc<TcpStream>, mode: Mode) {
    let _ = sock.shutdown(Shutdown::Write);
    let mut drained = 0;
    // Most clients have closed (or sent all they will) by now: then no wait, and on the
    // reactor no registration, is needed.
    let mut waiting: Option<AsyncFd<Arc<TcpStream>>> = None;
    loop {
        let sock = waiting.as_ref().map_or(&sock, AsyncFd::get_ref);
        if !drain_now(sock, &mut drained) {
            return;
        }
        let readable = match mode {
            Mode::Thread => poll_readable(sock, LINGER_TIMEOUT),
            Mode::Reactor => {
                if waiting.is_none() {
                    // Non-blocking already (accept4's SOCK_NONBLOCK).
                    // SAFETY: the AsyncFd holds the socket: its descriptor stays open, the
                    // same one, for the registration's whole life.
                    let Ok(fd) = (unsafe { AsyncFd::register_with_interest(sock.clone(), Interest::READABLE) }) else {
                        return;
                    };
                    waiting = Some(fd);
                }
                let Some(fd) = &waiting else { return };
                match tokio::time::timeout(LINGER_TIMEOUT, fd.readable()).await {
                    Ok(Ok(mut guard)) => {
                        guard.clear_ready();
                        true
                    }
                    _ => false,
                }
            }
        };
        if !readable {
            return;
        }
    }
}

/// Send `busy` (the guest's 503 answer) on a connection no instance could be had for, then
/// close it, lingering so the client reads it.
pub(super) async fn send_busy(mut sock: Arc<TcpStream>, busy: &[u8], mode: Mode) {
    if mode == Mode::Thread {
        // A blocking write, but not for ever: a client that reads nothing gets no more time.
        let _ = sock.set_write_timeout(Some(LINGER_TIMEOUT));
    }
    let mut sent = 0;
    while sent < busy.len() {
        match (&*sock).write(&busy[sent..]) {
            Ok(0) => return,
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && mode == Mode::Reactor => {
                // SAFETY: the AsyncFd owns the socket until `into_inner` gives it back.
                let fd = match unsafe { AsyncFd::register_with_interest(sock, Interest::WRITABLE) } {
                    Ok(fd) => fd,
                    Err(_) => return,
                };
                let writable = matches!(tokio::time::timeout(LINGER_TIMEOUT, fd.writable()).await, Ok(Ok(_)));
                sock = fd.into_inner();
                if !writable {
                    return;
                }
            }
            Err(_) => return,
        }
    }
    let _ = (&*sock).flush();
    linger(sock, mode).await;
}

/// Read and drop what a closing peer has already sent, without waiting (`MSG_DONTWAIT`, so
/// whatever the socket's mode and with no `ioctl` to set it). `false` when the lingering is
/// over: the peer closed, or sent `LINGER_MAX_BYTES` in all, or the socket failed.
fn drain_now(sock: &TcpStream, drained: &mut usize) -> bool {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); DRAIN_BLOCK];
    let sock = socket2::SockRef::from(sock);
    loop {
        match sock.recv_with_flags(&mut buf, libc::MSG_DONTWAIT) {
            Ok(0) => return false,
            Ok(n) if *drained + n >= LINGER_MAX_BYTES => return false,
            Ok(n) => *drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Block this thread until `sock` has input (or its peer closed), at most `timeout`.
fn poll_readable(sock: &TcpStream, timeout: Duration) -> bool {
    let mut fd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    loop {
        // SAFETY: one valid pollfd, for a descriptor `sock` keeps open during the call.
        match unsafe { libc::poll(&mut fd, 1, ms) } {
            n if n > 0 => return true,
            0 => return false,
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    /// A client that keeps sending after the response still reads all of it: the server
    /// drains what it sends instead of resetting the connection.
    fn lingering_keeps_the_response(mode: Mode) {
        let (server, mut client) = pair();
        let response = vec![b'r'; 256 * 1024];
        let writer = {
            let response = response.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                if mode == Mode::Reactor {
                    server.set_nonblocking(true).unwrap();
                }
                rt.block_on(async {
                    send_busy(Arc::new(server), &response, mode).await;
                });
            })
        };
        // Unread request bytes arrive after the server stopped reading.
        client.write_all(&[b'x'; 64 * 1024]).unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), response.len());
        writer.join().unwrap();
    }

    #[test]
    fn a_thread_lingers() {
        lingering_keeps_the_response(Mode::Thread);
    }

    #[test]
    fn a_reactor_task_lingers() {
        lingering_keeps_the_response(Mode::Reactor);
    }

    #[test]
    fn a_silent_client_costs_the_linger_timeout_at_most() {
        let (server, _client) = pair();
        let started = std::time::Instant::now();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        server.set_nonblocking(true).unwrap();
        rt.block_on(linger(Arc::new(server), Mode::Reactor));
        let took = started.elapsed();
        assert!(took >= LINGER_TIMEOUT && took < LINGER_TIMEOUT * 2, "{took:?}");
    }
}
