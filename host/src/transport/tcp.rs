//! One TCP connection: connect with timeout and source address, reads, writes, timeouts.

use crate::bindings::transport::ErrorCode;
use crate::bindings::types::SocketAddress;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// A connected socket handed to a guest as a `tcp-stream` resource.
pub struct TcpStream {
    sock: std::net::TcpStream,
    /// Reused read buffer, so a read costs no allocation beyond the returned list.
    scratch: Vec<u8>,
}

impl TcpStream {
    /// Wrap an accepted or connected socket; Nagle off (we write whole header blocks).
    pub fn new(sock: std::net::TcpStream) -> Self {
        let _ = sock.set_nodelay(true);
        Self {
            sock,
            scratch: Vec::new(),
        }
    }

    /// Resolve `host` and connect to the first address that answers.
    pub fn connect(
        host: &str,
        port: u16,
        timeout_ms: Option<u64>,
        source: Option<(String, u16)>,
    ) -> Result<Self, ErrorCode> {
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| ErrorCode::NameUnresolvable(format!("{host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(ErrorCode::NameUnresolvable(host.to_string()));
        }
        let timeout = timeout_ms.map(Duration::from_millis);
        let source: Option<SocketAddr> = match source {
            Some((h, p)) => Some(
                format!("{}:{p}", if h.contains(':') { format!("[{h}]") } else { h })
                    .parse()
                    .map_err(|e| ErrorCode::Other(format!("source address: {e}")))?,
            ),
            None => None,
        };
        let mut last = ErrorCode::ConnectionRefused(format!("{host}:{port}"));
        for addr in addrs {
            match connect_one(addr, timeout, source) {
                Ok(sock) => {
                    let s = Self::new(sock);
                    s.sock.set_read_timeout(timeout).ok();
                    s.sock.set_write_timeout(timeout).ok();
                    return Ok(s);
                }
                Err(e) => last = io_error(e),
            }
        }
        Err(last)
    }

    pub fn read(&mut self, max: usize) -> Result<Vec<u8>, ErrorCode> {
        if self.scratch.len() < max {
            self.scratch.resize(max, 0);
        }
        loop {
            match self.sock.read(&mut self.scratch[..max]) {
                Ok(n) => return Ok(self.scratch[..n].to_vec()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            }
        }
    }

    pub fn write_all(&mut self, data: &[u8]) -> Result<(), ErrorCode> {
        self.sock.write_all(data).map_err(io_error)
    }

    pub fn flush(&mut self) -> Result<(), ErrorCode> {
        self.sock.flush().map_err(io_error)
    }

    pub fn shutdown(&mut self, how: Shutdown) -> Result<(), ErrorCode> {
        match self.sock.shutdown(how) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotConnected => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    pub fn set_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), ErrorCode> {
        let t = timeout_ms.map(|ms| Duration::from_millis(ms.max(1)));
        self.sock.set_read_timeout(t).map_err(io_error)?;
        self.sock.set_write_timeout(t).map_err(io_error)
    }

    pub fn peer_address(&self) -> Result<SocketAddress, ErrorCode> {
        self.sock.peer_addr().map(to_wit).map_err(io_error)
    }

    pub fn local_address(&self) -> Result<SocketAddress, ErrorCode> {
        self.sock.local_addr().map(to_wit).map_err(io_error)
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
pub fn to_wit(a: SocketAddr) -> SocketAddress {
    SocketAddress {
        host: a.ip().to_string(),
        port: a.port(),
    }
}

/// An OS error as the transport's error code.
pub fn io_error(e: std::io::Error) -> ErrorCode {
    match e.kind() {
        ErrorKind::ConnectionRefused => ErrorCode::ConnectionRefused(e.to_string()),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            ErrorCode::ConnectionReset(e.to_string())
        }
        ErrorKind::TimedOut | ErrorKind::WouldBlock => ErrorCode::Timeout,
        _ => ErrorCode::Other(e.to_string()),
    }
}
