//! The host side of the guest's imports (`transport`, `types`, `cgi`), implemented on
//! [`HttplibCtxView`] so that any store type can carry them: the only place WIT types meet the
//! transport's, the policy's and the CGI sandbox's own, converted here at the edge.
//!
//! The imports that wait (`connect`, and the stream's `read`, `write`, `send-file`,
//! `start-tls`; CGI's `run`) are `async` on the host: a session that yields (see
//! `transport::tcp`) awaits its sockets' readiness there, the guest's fiber suspended; a
//! blocking socket's futures complete on their first poll.

use crate::bindings::cgi::{self as wcgi, CgiError, ScriptOutput};
use crate::bindings::transport::{self as wt, ErrorCode, ShutdownType};
use crate::bindings::types::SocketAddress;
use crate::policy::{PolicyError, Scheme};
use crate::stream::{GuestStream, Phase};
use crate::transport::tls::TlsSettings;
use crate::transport::{MAX_READ, SocketError, TcpStream, WaitBy};
use crate::view::HttplibCtxView;
use std::net::SocketAddr;
use wasmtime::component::Resource;
use wasmtime_wasi::OpenMode;
use wasmtime_wasi::filesystem::Descriptor;

impl wt::Host for HttplibCtxView<'_> {
    async fn connect(
        &mut self,
        host: String,
        port: u16,
        options: wt::ConnectOptions,
    ) -> Result<Resource<GuestStream>, ErrorCode> {
        self.going()?;
        self.ctx.room_for_socket().map_err(ErrorCode::LimitExceeded)?;
        let waits = self.ctx.waits_by();
        if waits == WaitBy::Readiness && tokio::runtime::Handle::try_current().is_err() {
            return Err(ErrorCode::Other(
                "an async session's sockets need a tokio runtime (with IO and time enabled) to run in".into(),
            ));
        }
        let words = |tls: bool| if tls { "tls" } else { "plain" };
        if let Some(t) = &options.tunnel {
            let target_scheme = if t.tls { Scheme::Https } else { Scheme::Http };
            let event = [
                host.clone(),
                port.to_string(),
                t.host.clone(),
                t.port.to_string(),
                words(t.tls).into(),
            ];
            self.ctx.policy.audit("http.client.tunnel", &event)?;
            self.ctx.policy.check_tunnel(&t.host, t.port, target_scheme)?;
        }
        let scheme = if options.tls.is_some() {
            Scheme::Https
        } else {
            Scheme::Http
        };
        // Names are resolved by a blocking call: off the caller's executor when it yields.
        let destinations = match waits {
            WaitBy::Readiness => {
                let (policy, name) = (self.ctx.policy.clone(), host.clone());
                tokio::task::spawn_blocking(move || policy.destinations(&name, port, scheme))
                    .await
                    .map_err(|e| ErrorCode::Other(format!("name resolution: {e}")))?
            }
            WaitBy::Blocking => self.ctx.policy.destinations(&host, port, scheme),
        };
        self.returned_from_host();
        let destinations = destinations?;
        let source = options.source_address.map(|a| (a.host, a.port));
        // No timeout asked for: the session's default, so a silent peer cannot hold it for ever.
        let timeout_ms = options
            .timeout_ms
            .or(self.ctx.limits().io_timeout.map(|t| t.as_millis() as u64));
        let policy = &self.ctx.policy;
        let tls = words(options.tls.is_some());
        let before_each = |addr: std::net::SocketAddr| {
            let event = [host.clone(), port.to_string(), addr.ip().to_string(), tls.to_string()];
            policy.audit("http.client.connect", &event).map_err(SocketError::from)
        };
        let connected = TcpStream::connect(&host, &destinations, timeout_ms, source, waits, before_each).await;
        let stream = match (connected, &options.tls) {
            (Ok(mut s), Some(tls)) => s
                .start_tls(&host, &TlsSettings::from(tls), &self.ctx.identities)
                .await
                .map(|()| s),
            (other, _) => other,
        };
        self.returned_from_host();
        let stream = stream?;
        let ticket = self
            .ctx
            .admit_socket(stream.socket())
            .map_err(ErrorCode::LimitExceeded)?;
        let stream = stream.with_ticket(ticket);
        self.going()?;
        self.table
            .push(GuestStream::Client(stream))
            .map_err(|e| ErrorCode::Other(format!("resource table: {e}")))
    }

    fn audit(&mut self, event: String, args: Vec<String>) -> Result<(), ErrorCode> {
        if event == "http.client.send" {
            self.ctx.request_sent();
        }
        Ok(self.ctx.policy.audit(&event, &args)?)
    }

    fn session_limits(&mut self) -> wt::GuestLimits {
        let limits = self.ctx.limits();
        let memory = limits.memory.unwrap_or(crate::limits::DEFAULT_MEMORY_LIMIT) as u64;
        wt::GuestLimits {
            max_response_body: limits.max_response_body,
            max_read_all: memory / crate::view::READ_ALL_MEMORY_DIVISOR,
        }
    }
}

impl From<PolicyError> for ErrorCode {
    fn from(e: PolicyError) -> Self {
        SocketError::from(e).into()
    }
}

impl From<SocketError> for ErrorCode {
    fn from(e: SocketError) -> Self {
        match e {
            SocketError::ConnectionRefused(m) => ErrorCode::ConnectionRefused(m),
            SocketError::ConnectionReset(m) => ErrorCode::ConnectionReset(m),
            SocketError::Timeout => ErrorCode::Timeout,
            SocketError::NameUnresolvable(m) => ErrorCode::NameUnresolvable(m),
            SocketError::Tls(m) => ErrorCode::Tls(m),
            SocketError::Denied(m) => ErrorCode::Denied(m),
            SocketError::LimitExceeded(m) => ErrorCode::LimitExceeded(m),
            SocketError::Closed => ErrorCode::Closed,
            SocketError::Other(m) => ErrorCode::Other(m),
        }
    }
}

impl From<&wt::TlsOptions> for TlsSettings {
    fn from(o: &wt::TlsOptions) -> Self {
        TlsSettings {
            server_name: o.server_name.clone(),
            verify: o.verify,
            ca_certs: o.ca_certs.clone(),
            system_roots: o.system_roots,
            client_identity: o.client_identity.clone(),
            alpn_protocols: o.alpn_protocols.clone(),
        }
    }
}

/// A socket address as WIT carries it.
pub fn socket_address(a: SocketAddr) -> SocketAddress {
    SocketAddress {
        host: a.ip().to_string(),
        port: a.port(),
    }
}

impl HttplibCtxView<'_> {
    /// The guest's run-time budget counts from here: time blocked on a socket is not its own.
    fn returned_from_host(&mut self) {
        self.ctx.returned_from_host();
    }

    /// Refuse when the session was cancelled or the request is past its deadline.
    fn going(&self) -> Result<(), ErrorCode> {
        self.ctx.check_going().map_err(ErrorCode::LimitExceeded)
    }

    fn stream(&mut self, r: &Resource<GuestStream>) -> Result<&mut GuestStream, ErrorCode> {
        self.table
            .get_mut(r)
            .map_err(|e| ErrorCode::Other(format!("bad stream handle: {e}")))
    }
}

impl wt::HostTcpStream for HttplibCtxView<'_> {
    async fn read(&mut self, s: Resource<GuestStream>, len: u64) -> Result<Vec<u8>, ErrorCode> {
        self.going()?;
        let deadline = self.ctx.deadline();
        let result = self.stream(&s)?.read(len.min(MAX_READ) as usize, deadline).await;
        self.returned_from_host();
        match result {
            // A cancelled session's sockets were shut down under it: say why, not "closed".
            _ if self.ctx.cancelled() => Err(ErrorCode::LimitExceeded("the session was cancelled".into())),
            Ok(Some(data)) => Ok(data),
            Ok(None) => Err(ErrorCode::LimitExceeded(self.ctx.deadline_passed())),
            Err(e) => Err(e.into()),
        }
    }

    async fn write(&mut self, s: Resource<GuestStream>, data: Vec<u8>) -> Result<(), ErrorCode> {
        self.going()?;
        let result = self.stream(&s)?.tcp().write_all(&data).await;
        self.returned_from_host();
        match result {
            Err(_) if self.ctx.cancelled() => Err(ErrorCode::LimitExceeded("the session was cancelled".into())),
            other => other.map_err(ErrorCode::from),
        }
    }

    async fn send_file(
        &mut self,
        s: Resource<GuestStream>,
        file: Resource<Descriptor>,
        offset: u64,
        len: u64,
    ) -> Result<u64, ErrorCode> {
        // Only a file this instance opened for reading (its preopens' permissions applied).
        let file = match self.table.get(&file) {
            Ok(Descriptor::File(f)) if f.open_mode.contains(OpenMode::READ) => f.file.clone(),
            Ok(_) => return Err(ErrorCode::Other("send-file: not a file open for reading".into())),
            Err(e) => return Err(ErrorCode::Other(format!("send-file: bad file handle: {e}"))),
        };
        let result = self.stream(&s)?.tcp().send_file(&file, offset, len).await;
        self.returned_from_host();
        result.map_err(ErrorCode::from)
    }

    fn flush(&mut self, s: Resource<GuestStream>) -> Result<(), ErrorCode> {
        self.stream(&s)?.tcp().flush().map_err(ErrorCode::from)
    }

    fn shutdown(&mut self, s: Resource<GuestStream>, how: ShutdownType) -> Result<(), ErrorCode> {
        let how = match how {
            ShutdownType::Receive => std::net::Shutdown::Read,
            ShutdownType::Send => std::net::Shutdown::Write,
            ShutdownType::Both => std::net::Shutdown::Both,
        };
        self.stream(&s)?.shutdown(how).map_err(ErrorCode::from)
    }

    async fn start_tls(
        &mut self,
        s: Resource<GuestStream>,
        host: String,
        options: wt::TlsOptions,
    ) -> Result<(), ErrorCode> {
        let identities = self.ctx.identities.clone();
        let result = self
            .stream(&s)?
            .tcp()
            .start_tls(&host, &TlsSettings::from(&options), &identities)
            .await;
        self.returned_from_host();
        result.map_err(ErrorCode::from)
    }

    fn alpn_protocol(&mut self, s: Resource<GuestStream>) -> Option<String> {
        self.stream(&s).ok()?.tcp().alpn_protocol()
    }

    fn is_tls(&mut self, s: Resource<GuestStream>) -> bool {
        self.stream(&s).is_ok_and(|s| s.tcp().is_tls())
    }

    fn set_timeout(&mut self, s: Resource<GuestStream>, timeout_ms: Option<u64>) -> Result<(), ErrorCode> {
        self.stream(&s)?.tcp().set_timeout(timeout_ms).map_err(ErrorCode::from)
    }

    fn set_read_timeout(&mut self, s: Resource<GuestStream>, timeout_ms: Option<u64>) -> Result<(), ErrorCode> {
        self.stream(&s)?
            .tcp()
            .set_read_timeout(timeout_ms)
            .map_err(ErrorCode::from)
    }

    fn set_phase(&mut self, s: Resource<GuestStream>, phase: wt::ServerPhase) {
        if let Ok(s) = self.stream(&s) {
            s.set_phase(match phase {
                wt::ServerPhase::AwaitingRequest => Phase::Idle,
                wt::ServerPhase::ReadingRequest => Phase::ReadingHead,
                wt::ServerPhase::Responding => Phase::Busy,
            });
        }
    }

    fn peer_address(&mut self, s: Resource<GuestStream>) -> Result<SocketAddress, ErrorCode> {
        self.stream(&s)?
            .tcp()
            .peer_address()
            .map(socket_address)
            .map_err(ErrorCode::from)
    }

    fn local_address(&mut self, s: Resource<GuestStream>) -> Result<SocketAddress, ErrorCode> {
        self.stream(&s)?
            .tcp()
            .local_address()
            .map(socket_address)
            .map_err(ErrorCode::from)
    }

    fn drop(&mut self, s: Resource<GuestStream>) -> wasmtime::Result<()> {
        if let GuestStream::Served(stream) = self.table.delete(s)?
            && stream.is_parked()
        {
            // Not closed: the listener keeps it for the connection's next request.
            self.ctx.leave_parked(stream);
        }
        Ok(())
    }
}

impl crate::bindings::types::Host for HttplibCtxView<'_> {}

impl wcgi::Host for HttplibCtxView<'_> {
    async fn run(
        &mut self,
        program: Vec<u8>,
        args: Vec<String>,
        env: Vec<(String, String)>,
        stdin: Vec<u8>,
    ) -> Result<ScriptOutput, CgiError> {
        let Some(sandbox) = self.ctx.scripts.clone() else {
            return Err(CgiError::Disabled);
        };
        let policy = self.ctx.script_policy.clone();
        let run = move || sandbox.run(&program, &args, &env, stdin, &policy);
        // A script runs to its end (up to its time limit): not on a server's reactor thread,
        // whose other connections would wait for it.
        let result = match self.ctx.waits_by() {
            WaitBy::Readiness => tokio::task::spawn_blocking(run)
                .await
                .unwrap_or_else(|e| Err(CgiError::NotRunnable(format!("the script's thread: {e}")))),
            WaitBy::Blocking => run(),
        };
        // Time spent in the script is not the guest's own computing.
        self.ctx.returned_from_host();
        result
    }
}
