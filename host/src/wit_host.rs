//! The host side of the guest's imports (`transport`, `types`, `cgi`), implemented on
//! [`HttplibCtxView`] so that any store type can carry them: the only place WIT types meet the
//! transport's, the policy's and the CGI sandbox's own, converted here at the edge.
//!
//! The imports that wait (`connect`, and the stream's `read`, `write`, `send-file`,
//! `start-tls`; CGI's `run`) are `async` on the host: a session whose sockets wait by
//! readiness (see `transport::tcp`) awaits them there, the guest's fiber suspended; a
//! blocking socket's futures complete on their first poll. A bad resource handle traps.

use crate::bindings::TransportFailure;
use crate::bindings::cgi::{self as wcgi, CgiError, ScriptEnd, StopReason};
use crate::bindings::transport::{self as wt, ErrorCode, ShutdownType};
use crate::bindings::types::SocketAddress;
use crate::files::{AtPath, EntryKind};
use crate::policy::Scheme;
use crate::script::{RunningScript, Stop};
use crate::stream::{GuestStream, Phase};
use crate::transport::tls::TlsSettings;
use crate::transport::{MAX_READ, SocketError, TcpStream, WaitBy};
use crate::view::HttplibCtxView;
use std::net::SocketAddr;
use std::sync::Arc;
use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::{Descriptor, File};
use wasmtime_wasi::{FsPerms, OpenMode};

/// A transport import's result on the host.
type TransportResult<T> = Result<T, TransportFailure>;

impl wt::Host for HttplibCtxView<'_> {
    async fn connect(
        &mut self,
        host: String,
        port: u16,
        options: wt::ConnectOptions,
    ) -> TransportResult<Resource<GuestStream>> {
        self.going()?;
        self.ctx.room_for_socket()?;
        let waits = self.ctx.waits_by();
        if waits == WaitBy::Readiness && tokio::runtime::Handle::try_current().is_err() {
            return Err(SocketError::Other(
                "an async session's sockets need a tokio runtime (with IO and time enabled) to run in".into(),
            )
            .into());
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
            self.ctx
                .policy
                .audit("http.client.tunnel", &event)
                .map_err(SocketError::from)?;
            self.ctx
                .policy
                .check_tunnel(&t.host, t.port, target_scheme)
                .map_err(SocketError::from)?;
        }
        let scheme = if options.tls.is_some() {
            Scheme::Https
        } else {
            Scheme::Http
        };
        // Names are resolved by a blocking call: off the caller's executor when it waits by readiness.
        let destinations = match waits {
            WaitBy::Readiness => {
                let (policy, name) = (self.ctx.policy.clone(), host.clone());
                tokio::task::spawn_blocking(move || policy.destinations(&name, port, scheme))
                    .await
                    .map_err(|e| SocketError::Other(format!("name resolution: {e}")))?
            }
            WaitBy::Blocking => self.ctx.policy.destinations(&host, port, scheme),
        };
        self.returned_from_host();
        let destinations = destinations.map_err(SocketError::from)?;
        let source = options.source_address.map(|a| (a.host, a.port));
        // No timeout asked for: the session's default, so a silent peer cannot hold it for ever.
        let timeout_ms = options
            .timeout_ms
            .or(self.ctx.limits().io_timeout.map(|t| t.as_millis() as u64));
        let connect_timeout_ms = options.connect_timeout_ms.or(timeout_ms);
        let policy = &self.ctx.policy;
        let tls = words(options.tls.is_some());
        let before_each = |addr: std::net::SocketAddr| {
            let event = [host.clone(), port.to_string(), addr.ip().to_string(), tls.to_string()];
            policy.audit("http.client.connect", &event).map_err(SocketError::from)
        };
        let connected = TcpStream::connect(&host, &destinations, connect_timeout_ms, source, waits, before_each).await;
        let stream = match (connected, &options.tls) {
            (Ok(mut s), Some(tls)) => s
                .start_tls(
                    &host,
                    &self.ctx.trust.apply(TlsSettings::from(tls)),
                    &self.ctx.identities,
                )
                .await
                .map(|()| s),
            (other, _) => other,
        };
        self.returned_from_host();
        let mut stream = stream?;
        if connect_timeout_ms != timeout_ms {
            // Connected within the connect timeout: reads and writes get their own.
            stream.set_read_timeout(timeout_ms)?;
            stream.set_write_timeout(timeout_ms.map(std::time::Duration::from_millis))?;
        }
        let ticket = self.ctx.admit_socket(stream.shared_socket())?;
        let stream = stream.with_ticket(ticket);
        self.going()?;
        Ok(self.table.push(GuestStream::Client(stream))?)
    }

    fn audit(&mut self, event: String, args: Vec<String>) -> TransportResult<()> {
        if event == "http.client.send" {
            self.ctx.request_sent();
        }
        Ok(self.ctx.policy.audit(&event, &args).map_err(SocketError::from)?)
    }

    fn list_directory(&mut self, dir: Resource<Descriptor>) -> TransportResult<Vec<wt::DirectoryEntry>> {
        let dir = self.readable_dir(&dir, "list-directory")?;
        let entries =
            crate::files::list_directory(&dir).map_err(|e| SocketError::Other(format!("list-directory: {e}")))?;
        let kind = |k| match k {
            EntryKind::File => wt::EntryKind::File,
            EntryKind::Directory => wt::EntryKind::Directory,
            EntryKind::Symlink => wt::EntryKind::Symlink,
            EntryKind::Other => wt::EntryKind::Other,
        };
        let entries = entries
            .into_iter()
            .map(|(name, k)| wt::DirectoryEntry { name, kind: kind(k) });
        Ok(entries.collect())
    }

    fn open_file(
        &mut self,
        dir: Resource<Descriptor>,
        path: String,
    ) -> TransportResult<(wt::FileFound, Option<Resource<Descriptor>>)> {
        // The file it opens is as read-only as the preopen's files.
        let dir = self.readable_dir(&dir, "open-file")?;
        let found =
            crate::files::open_beneath(&dir, &path).map_err(|e| SocketError::Other(format!("open-file: {e}")))?;
        let seen = |kind| wt::FileFound {
            kind,
            size: 0,
            modified_seconds: 0,
        };
        Ok(match found {
            AtPath::File {
                file,
                size,
                modified_seconds,
            } => {
                // Its reads run on the calling thread, as every WASI context of ours has them
                // (`allow_blocking_current_thread`): a local file's pread does not wait long.
                let file = File::new(file, FsPerms::ReadOnly, OpenMode::READ, true);
                let found = wt::FileFound {
                    kind: wt::FileKind::File,
                    size,
                    modified_seconds,
                };
                (found, Some(self.table.push(Descriptor::File(file))?))
            }
            AtPath::Directory => (seen(wt::FileKind::Directory), None),
            AtPath::Other => (seen(wt::FileKind::Other), None),
            AtPath::Missing => (seen(wt::FileKind::Missing), None),
        })
    }

    fn system_mime_type(&mut self, extension: String) -> wasmtime::Result<Option<String>> {
        Ok(crate::mime_types::system().get(&extension))
    }

    fn session_limits(&mut self) -> wasmtime::Result<wt::GuestLimits> {
        let limits = self.ctx.limits();
        let memory = limits.memory.unwrap_or(crate::limits::DEFAULT_MEMORY_LIMIT) as u64;
        Ok(wt::GuestLimits {
            max_response_body: limits.max_response_body,
            max_read_all: memory / crate::limits::READ_ALL_MEMORY_DIVISOR,
        })
    }

    fn convert_error_code(&mut self, failure: TransportFailure) -> wasmtime::Result<ErrorCode> {
        Ok(ErrorCode::from(failure.downcast()?))
    }
}

/// The transport's error as the guest's `error-code`: the one conversion.
impl From<SocketError> for ErrorCode {
    fn from(e: SocketError) -> Self {
        match e {
            SocketError::ConnectionRefused(m) => ErrorCode::ConnectionRefused(m),
            SocketError::ConnectionReset(m) => ErrorCode::ConnectionReset(m),
            SocketError::Timeout => ErrorCode::Timeout,
            SocketError::NameUnresolvable(m) => ErrorCode::NameUnresolvable(m),
            SocketError::Tls(m) => ErrorCode::Tls(m),
            SocketError::Certificate(m) => ErrorCode::Certificate(m),
            SocketError::Denied(m) => ErrorCode::Denied(m),
            SocketError::LimitExceeded(m) => ErrorCode::LimitExceeded(m),
            SocketError::Cancelled => ErrorCode::Cancelled,
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
    fn going(&self) -> Result<(), SocketError> {
        self.ctx.check_going()
    }

    /// The stream behind a handle; a bad handle traps.
    fn stream(&mut self, r: &Resource<GuestStream>) -> wasmtime::Result<&mut GuestStream> {
        Ok(self.table.get_mut(r)?)
    }

    /// The directory behind `dir` if this instance opened it for reading (its preopens'
    /// permissions applied), for the import `call`; else the guest's error. A bad handle traps.
    fn readable_dir(&self, dir: &Resource<Descriptor>, call: &str) -> TransportResult<Arc<std::fs::File>> {
        match self.table.get(dir)? {
            Descriptor::Dir(d) if d.open_mode.contains(OpenMode::READ) => Ok(d.dir.clone()),
            _ => Err(SocketError::Other(format!("{call}: not a directory open for reading")).into()),
        }
    }

    /// The file behind `file` if this instance opened it for reading (its preopens'
    /// permissions applied), for the import `call`; else the guest's error. A bad handle traps.
    fn readable_file(&self, file: &Resource<Descriptor>, call: &str) -> TransportResult<Arc<std::fs::File>> {
        match self.table.get(file)? {
            Descriptor::File(f) if f.open_mode.contains(OpenMode::READ) => Ok(f.file.clone()),
            _ => Err(SocketError::Other(format!("{call}: not a file open for reading")).into()),
        }
    }

    /// What a socket did, unless its session was cancelled meanwhile: the cancel handle shut
    /// it under the call, so whatever it says (end-of-stream, reset), the session was cancelled.
    fn unless_cancelled<T>(&self, result: Result<T, SocketError>) -> TransportResult<T> {
        match result {
            _ if self.ctx.cancelled() => Err(SocketError::Cancelled.into()),
            other => Ok(other?),
        }
    }
}

impl HttplibCtxView<'_> {
    /// `read`: up to `len` bytes, blocking until one arrives (none: end-of-stream).
    async fn read_from(&mut self, s: &Resource<GuestStream>, len: u64) -> TransportResult<Vec<u8>> {
        self.going()?;
        let deadline = self.ctx.deadline();
        let result = self.stream(s)?.read(len.min(MAX_READ) as usize, deadline).await;
        self.returned_from_host();
        match self.unless_cancelled(result)? {
            Some(data) => Ok(data),
            None => Err(self.ctx.deadline_passed().into()),
        }
    }
}

impl wt::HostTcpStream for HttplibCtxView<'_> {
    async fn read(&mut self, s: Resource<GuestStream>, len: u64) -> TransportResult<Vec<u8>> {
        self.read_from(&s, len).await
    }

    async fn await_request(
        &mut self,
        s: Resource<GuestStream>,
        len: u64,
        timeout_ms: Option<u64>,
    ) -> TransportResult<Vec<u8>> {
        let stream = self.stream(&s)?;
        stream.set_phase(Phase::Idle);
        stream.tcp().set_read_timeout(timeout_ms)?;
        let data = self.read_from(&s, len).await?;
        if !data.is_empty() {
            self.stream(&s)?.set_phase(Phase::Busy);
        }
        Ok(data)
    }

    async fn write(&mut self, s: Resource<GuestStream>, data: Vec<u8>) -> TransportResult<()> {
        self.going()?;
        let result = self.stream(&s)?.sending().write_all(&data).await;
        self.returned_from_host();
        self.unless_cancelled(result)
    }

    async fn send_file(
        &mut self,
        s: Resource<GuestStream>,
        file: Resource<Descriptor>,
        offset: u64,
        len: u64,
    ) -> TransportResult<u64> {
        let file = self.readable_file(&file, "send-file")?;
        let result = self.stream(&s)?.sending().send_file(&file, offset, len).await;
        self.returned_from_host();
        Ok(result?)
    }

    async fn send_head_and_file(
        &mut self,
        s: Resource<GuestStream>,
        head: Vec<u8>,
        file: Resource<Descriptor>,
        offset: u64,
        len: u64,
    ) -> TransportResult<u64> {
        // The file is handed over: closed here whatever happens (the send holds its own Arc).
        let readable = self.readable_file(&file, "send-head-and-file");
        self.table.delete(file)?;
        let file = readable?;
        self.going()?;
        let stream = self.stream(&s)?.sending();
        let result = crate::files::send_head_and_file(stream, &head, &file, offset, len).await;
        self.returned_from_host();
        self.unless_cancelled(result)
    }

    fn flush(&mut self, s: Resource<GuestStream>) -> TransportResult<()> {
        Ok(self.stream(&s)?.tcp().flush()?)
    }

    fn shutdown(&mut self, s: Resource<GuestStream>, how: ShutdownType) -> TransportResult<()> {
        let how = match how {
            ShutdownType::Receive => std::net::Shutdown::Read,
            ShutdownType::Send => std::net::Shutdown::Write,
            ShutdownType::Both => std::net::Shutdown::Both,
        };
        Ok(self.stream(&s)?.shutdown(how)?)
    }

    async fn start_tls(
        &mut self,
        s: Resource<GuestStream>,
        host: String,
        options: wt::TlsOptions,
    ) -> TransportResult<()> {
        let identities = self.ctx.identities.clone();
        let settings = self.ctx.trust.apply(TlsSettings::from(&options));
        let result = self.stream(&s)?.tcp().start_tls(&host, &settings, &identities).await;
        self.returned_from_host();
        Ok(result?)
    }

    fn alpn_protocol(&mut self, s: Resource<GuestStream>) -> wasmtime::Result<Option<String>> {
        Ok(self.stream(&s)?.tcp().alpn_protocol())
    }

    fn is_tls(&mut self, s: Resource<GuestStream>) -> wasmtime::Result<bool> {
        Ok(self.stream(&s)?.tcp().is_tls())
    }

    fn set_timeout(&mut self, s: Resource<GuestStream>, timeout_ms: Option<u64>) -> TransportResult<()> {
        Ok(self.stream(&s)?.tcp().set_timeout(timeout_ms)?)
    }

    fn set_read_timeout(&mut self, s: Resource<GuestStream>, timeout_ms: Option<u64>) -> TransportResult<()> {
        Ok(self.stream(&s)?.tcp().set_read_timeout(timeout_ms)?)
    }

    fn set_phase(&mut self, s: Resource<GuestStream>, phase: wt::ServerPhase) -> wasmtime::Result<()> {
        self.stream(&s)?.set_phase(match phase {
            wt::ServerPhase::AwaitingRequest => Phase::Idle,
            wt::ServerPhase::ReadingRequest => Phase::ReadingHead,
            wt::ServerPhase::Responding => Phase::Busy,
            wt::ServerPhase::AwaitingBody => Phase::AwaitingBody,
        });
        Ok(())
    }

    fn carry(&mut self, s: Resource<GuestStream>, state: Vec<u8>) -> wasmtime::Result<bool> {
        Ok(match self.stream(&s)? {
            GuestStream::Served(served) => served.carry(state),
            GuestStream::Client(_) => false,
        })
    }

    fn carried(&mut self, s: Resource<GuestStream>) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(match self.stream(&s)? {
            GuestStream::Served(served) => served.carried(),
            GuestStream::Client(_) => None,
        })
    }

    fn peer_address(&mut self, s: Resource<GuestStream>) -> TransportResult<SocketAddress> {
        Ok(socket_address(self.stream(&s)?.tcp().peer_address()?))
    }

    fn local_address(&mut self, s: Resource<GuestStream>) -> TransportResult<SocketAddress> {
        Ok(socket_address(self.stream(&s)?.tcp().local_address()?))
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
    fn start(
        &mut self,
        program: Vec<u8>,
        args: Vec<String>,
        env: Vec<(String, String)>,
        stdin: Vec<u8>,
    ) -> wasmtime::Result<Result<Resource<RunningScript>, CgiError>> {
        let Some(sandbox) = self.ctx.scripts.clone() else {
            return Ok(Err(CgiError::Disabled));
        };
        let policy = self.ctx.script_policy.clone();
        match sandbox.start(&program, &args, &env, stdin, &policy) {
            Ok(script) => Ok(Ok(self.table.push(script)?)),
            Err(e) => Ok(Err(e)),
        }
    }
}

impl wcgi::HostScript for HttplibCtxView<'_> {
    async fn read(&mut self, s: Resource<RunningScript>, max: u64) -> wasmtime::Result<Vec<u8>> {
        let script = self.table.get_mut(&s)?;
        let data = script.read(usize::try_from(max).unwrap_or(usize::MAX)).await;
        // Time waiting for the script is not the guest's own computing.
        self.ctx.returned_from_host();
        Ok(data)
    }

    async fn finish(&mut self, s: Resource<RunningScript>) -> wasmtime::Result<ScriptEnd> {
        let end = self.table.get_mut(&s)?.finish().await;
        self.ctx.returned_from_host();
        Ok(ScriptEnd {
            exit_code: end.exit_code,
            stopped: end.stopped.map(|stop| match stop {
                Stop::Trapped => StopReason::Trapped,
                Stop::TimeLimit => StopReason::TimeLimit,
                Stop::MemoryLimit => StopReason::MemoryLimit,
            }),
            stderr: end.stderr,
        })
    }

    fn drop(&mut self, s: Resource<RunningScript>) -> wasmtime::Result<()> {
        // A script still running is stopped (see `RunningScript`'s drop).
        self.table.delete(s)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::OutboundPolicy;
    use crate::view::HttplibCtx;
    use wasmtime::component::ResourceTable;

    #[test]
    fn a_bad_handle_traps_and_a_socket_error_reaches_the_guest_as_its_case() {
        let mut ctx = HttplibCtx::new(OutboundPolicy::deny_all());
        let mut table = ResourceTable::new();
        let mut view = HttplibCtxView {
            ctx: &mut ctx,
            table: &mut table,
        };
        // No stream has handle 7: every method traps, none answers for it.
        assert!(wt::HostTcpStream::is_tls(&mut view, Resource::new_borrow(7)).is_err());
        assert!(wt::HostTcpStream::set_phase(&mut view, Resource::new_borrow(7), wt::ServerPhase::Responding).is_err());
        let failure = wt::HostTcpStream::flush(&mut view, Resource::new_borrow(7)).unwrap_err();
        assert!(
            wt::Host::convert_error_code(&mut view, failure).is_err(),
            "a trap, not an error code"
        );
        // A socket's own failure is the guest's error-code, case for case.
        let refused = TransportFailure::from(SocketError::Certificate("expired".into()));
        assert_eq!(
            wt::Host::convert_error_code(&mut view, refused).unwrap(),
            ErrorCode::Certificate("expired".into())
        );
        let cancelled = TransportFailure::from(SocketError::Cancelled);
        assert_eq!(
            wt::Host::convert_error_code(&mut view, cancelled).unwrap(),
            ErrorCode::Cancelled
        );
    }
}
