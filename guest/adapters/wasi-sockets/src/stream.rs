//! One TCP connection over wasi:sockets, as the transport's `tcp-stream`: blocking reads and
//! writes built from wasi:io's non-blocking ones and a pollable deadline.

use crate::bindings::exports::httplib::http::transport::{
    ConnectOptions, ErrorCode, GuestTcpStream, ShutdownType, TlsOptions,
};
use crate::bindings::exports::httplib::http::types::SocketAddress;
use crate::shared::wait;
use std::cell::Cell;
use std::net::IpAddr;
use wasip2::filesystem::types::Descriptor;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};
use wasip2::sockets::network::{self, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress};
use wasip2::sockets::{instance_network, ip_name_lookup, tcp, tcp_create_socket};

/// `host` (without brackets) and `port` as WIT's socket address.
fn wit_socket_address(host: String, port: u16) -> SocketAddress {
    SocketAddress { host, port }
}

/// Most bytes asked of wasi:io in one read (ours: wasmtime hands out at most 64 KiB anyway).
pub const MAX_READ: u64 = 64 * 1024;

/// A plain TCP connection to `host`:`port`, with `options`' timeout and source address (TLS
/// over it is the crate's `tls::connect`).
pub fn connect(host: &str, port: u16, options: &ConnectOptions) -> Result<Stream, ErrorCode> {
    let timeout = options.timeout_ms.or(Some(crate::shared::DEFAULT_IO_TIMEOUT_MS));
    Stream::connect(host, port, options.source_address.as_ref(), timeout)
}

/// Why https through a proxy's CONNECT tunnel (`set_tunnel`) cannot work on these streams.
pub const NO_TUNNEL_TLS: &str = "TLS inside a CONNECT tunnel is not available on a wasi:sockets stream (run \
                                 it under httplib for https through a proxy)";

/// A TLS session over a stream, kept only to be dropped after its plaintext streams.
pub type Session = Box<dyn std::any::Any>;

/// A connected socket and its two streams (the TLS session's, when there is one). The streams
/// are declared first, then the session: WASI wants each dropped before what it belongs to.
pub struct Stream {
    input: InputStream,
    output: OutputStream,
    session: Option<Session>,
    socket: tcp::TcpSocket,
    read_timeout: Cell<Option<u64>>,
    write_timeout: Cell<Option<u64>>,
}

/// wasi:sockets' error as the transport's, worded like the OSError Python would raise.
fn error(e: network::ErrorCode, host: &str) -> ErrorCode {
    use network::ErrorCode as E;
    match e {
        E::ConnectionRefused => ErrorCode::ConnectionRefused("[Errno 111] Connection refused".into()),
        E::ConnectionReset | E::ConnectionAborted => {
            ErrorCode::ConnectionReset("[Errno 104] Connection reset by peer".into())
        }
        E::Timeout => ErrorCode::Timeout,
        E::NameUnresolvable | E::PermanentResolverFailure | E::TemporaryResolverFailure => {
            ErrorCode::NameUnresolvable(format!("[Errno -2] Name or service not known: {host}"))
        }
        E::AccessDenied | E::NotSupported => ErrorCode::Denied(format!(
            "the runtime refused the network ({}): grant it, e.g. wasmtime run -S inherit-network -S allow-ip-name-lookup",
            e.name()
        )),
        other => ErrorCode::Other(format!("{}: {}", other.name(), other.message())),
    }
}

/// The addresses `host` names: itself when it is a literal, else what the runtime resolves.
fn resolve(net: &network::Network, host: &str) -> Result<Vec<network::IpAddress>, ErrorCode> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip_address(ip)]);
    }
    let stream = ip_name_lookup::resolve_addresses(net, host).map_err(|e| error(e, host))?;
    let mut out = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(addr)) => out.push(addr),
            Ok(None) => break,
            Err(network::ErrorCode::WouldBlock) => stream.subscribe().block(),
            Err(e) => return Err(error(e, host)),
        }
    }
    if out.is_empty() {
        return Err(ErrorCode::NameUnresolvable(format!(
            "[Errno -2] Name or service not known: {host}"
        )));
    }
    Ok(out)
}

fn ip_address(ip: IpAddr) -> network::IpAddress {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            network::IpAddress::Ipv4((a, b, c, d))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            network::IpAddress::Ipv6((s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]))
        }
    }
}

fn socket_address(ip: network::IpAddress, port: u16) -> IpSocketAddress {
    match ip {
        network::IpAddress::Ipv4(address) => IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address }),
        network::IpAddress::Ipv6(address) => IpSocketAddress::Ipv6(Ipv6SocketAddress {
            port,
            address,
            flow_info: 0,
            scope_id: 0,
        }),
    }
}

/// WASI's socket address as the transport's (`host` a literal without brackets).
fn wit_address(addr: IpSocketAddress) -> SocketAddress {
    let (ip, port) = match addr {
        IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            (IpAddr::from([x, y, z, w]), a.port)
        }
        IpSocketAddress::Ipv6(a) => {
            let (p, q, r, s, t, u, v, w) = a.address;
            (IpAddr::from([p, q, r, s, t, u, v, w]), a.port)
        }
    };
    wit_socket_address(ip.to_string(), port)
}

impl Stream {
    /// Connect to the first of `host`'s addresses that answers within `timeout_ms`.
    pub fn connect(
        host: &str,
        port: u16,
        source: Option<&SocketAddress>,
        timeout_ms: Option<u64>,
    ) -> Result<Stream, ErrorCode> {
        let net = instance_network::instance_network();
        let mut last = ErrorCode::Other(format!("no address to connect to for {host}"));
        for ip in resolve(&net, host)? {
            let family = match ip {
                network::IpAddress::Ipv4(_) => IpAddressFamily::Ipv4,
                network::IpAddress::Ipv6(_) => IpAddressFamily::Ipv6,
            };
            match Self::connect_one(&net, family, socket_address(ip, port), source, timeout_ms, host) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn connect_one(
        net: &network::Network,
        family: IpAddressFamily,
        addr: IpSocketAddress,
        source: Option<&SocketAddress>,
        timeout_ms: Option<u64>,
        host: &str,
    ) -> Result<Stream, ErrorCode> {
        let socket = tcp_create_socket::create_tcp_socket(family).map_err(|e| error(e, host))?;
        if let Some(source) = source {
            let ip = source
                .host
                .parse::<IpAddr>()
                .map_err(|_| ErrorCode::Other(format!("source address {} is not an IP address", source.host)))?;
            socket
                .start_bind(net, socket_address(ip_address(ip), source.port))
                .map_err(|e| error(e, host))?;
            loop {
                match socket.finish_bind() {
                    Ok(()) => break,
                    Err(network::ErrorCode::WouldBlock) => socket.subscribe().block(),
                    Err(e) => return Err(error(e, host)),
                }
            }
        }
        socket.start_connect(net, addr).map_err(|e| error(e, host))?;
        loop {
            match socket.finish_connect() {
                Ok((input, output)) => {
                    return Ok(Stream {
                        input,
                        output,
                        session: None,
                        socket,
                        read_timeout: Cell::new(timeout_ms),
                        write_timeout: Cell::new(timeout_ms),
                    });
                }
                Err(network::ErrorCode::WouldBlock) => {
                    if !wait(&socket.subscribe(), timeout_ms) {
                        return Err(ErrorCode::Timeout);
                    }
                }
                Err(e) => return Err(error(e, host)),
            }
        }
    }

    /// This connection with TLS over it: `handshake` takes the socket's streams and gives back
    /// the session and its plaintext streams (only an adapter with TLS calls it).
    #[allow(dead_code)]
    pub fn with_tls(
        self,
        handshake: impl FnOnce(InputStream, OutputStream) -> Result<(Session, InputStream, OutputStream), ErrorCode>,
    ) -> Result<Stream, ErrorCode> {
        let Stream {
            input,
            output,
            session: _,
            socket,
            read_timeout,
            write_timeout,
        } = self;
        let (session, input, output) = handshake(input, output)?;
        Ok(Stream {
            input,
            output,
            session: Some(session),
            socket,
            read_timeout,
            write_timeout,
        })
    }

    /// Write all of `data`, then wait until the runtime has flushed it.
    fn write_all(&self, mut data: &[u8]) -> Result<(), ErrorCode> {
        let timeout = self.write_timeout.get();
        while !data.is_empty() {
            let room = self.output.check_write().map_err(write_error)?;
            if room == 0 {
                if !wait(&self.output.subscribe(), timeout) {
                    return Err(ErrorCode::Timeout);
                }
                continue;
            }
            let n = data.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            self.output.write(&data[..n]).map_err(write_error)?;
            data = &data[n..];
        }
        self.flush_all()
    }

    /// Ask the runtime to flush, and wait until it has (`check-write` says 0 until then).
    fn flush_all(&self) -> Result<(), ErrorCode> {
        self.output.flush().map_err(write_error)?;
        while self.output.check_write().map_err(write_error)? == 0 {
            if !wait(&self.output.subscribe(), self.write_timeout.get()) {
                return Err(ErrorCode::Timeout);
            }
        }
        Ok(())
    }
}

fn write_error(e: StreamError) -> ErrorCode {
    match e {
        StreamError::Closed => ErrorCode::ConnectionReset("[Errno 32] Broken pipe".into()),
        StreamError::LastOperationFailed(e) => ErrorCode::ConnectionReset(e.to_debug_string()),
    }
}

impl GuestTcpStream for Stream {
    fn read(&self, len: u64) -> Result<Vec<u8>, ErrorCode> {
        loop {
            match self.input.read(len.min(MAX_READ)) {
                Ok(bytes) if !bytes.is_empty() || len == 0 => return Ok(bytes),
                Ok(_) => {
                    if !wait(&self.input.subscribe(), self.read_timeout.get()) {
                        return Err(ErrorCode::Timeout);
                    }
                }
                Err(StreamError::Closed) => return Ok(Vec::new()),
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(ErrorCode::ConnectionReset(e.to_debug_string()));
                }
            }
        }
    }

    fn write(&self, data: Vec<u8>) -> Result<(), ErrorCode> {
        self.write_all(&data)
    }

    fn flush(&self) -> Result<(), ErrorCode> {
        self.flush_all()
    }

    fn send_file(&self, file: &Descriptor, offset: u64, len: u64) -> Result<u64, ErrorCode> {
        crate::shared::send_file_by_writes(file, offset, len, |bytes| self.write_all(&bytes))
    }

    fn shutdown(&self, how: ShutdownType) -> Result<(), ErrorCode> {
        let how = match how {
            ShutdownType::Receive => tcp::ShutdownType::Receive,
            ShutdownType::Send => tcp::ShutdownType::Send,
            ShutdownType::Both => tcp::ShutdownType::Both,
        };
        self.socket.shutdown(how).map_err(|e| error(e, ""))
    }

    fn start_tls(&self, _host: String, _options: TlsOptions) -> Result<(), ErrorCode> {
        Err(ErrorCode::Tls(NO_TUNNEL_TLS.into()))
    }

    fn alpn_protocol(&self) -> Option<String> {
        None
    }

    fn is_tls(&self) -> bool {
        self.session.is_some()
    }

    fn set_timeout(&self, timeout_ms: Option<u64>) -> Result<(), ErrorCode> {
        self.read_timeout.set(timeout_ms);
        self.write_timeout.set(timeout_ms);
        Ok(())
    }

    fn set_read_timeout(&self, timeout_ms: Option<u64>) -> Result<(), ErrorCode> {
        self.read_timeout.set(timeout_ms);
        Ok(())
    }

    crate::shared::never_parked!();

    fn peer_address(&self) -> Result<SocketAddress, ErrorCode> {
        self.socket.remote_address().map(wit_address).map_err(|e| error(e, ""))
    }

    fn local_address(&self) -> Result<SocketAddress, ErrorCode> {
        self.socket.local_address().map(wit_address).map_err(|e| error(e, ""))
    }
}
