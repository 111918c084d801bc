//! One connection answered in an instance of its own: TLS terminated, the stream set up,
//! a store and guest (kept from a connection that ended cleanly, `reuse`, or new), the
//! guest's `handler` over the stream (the whole
//! SimpleHTTPRequestHandler loop, or host code's `do_METHOD` verb by verb), then the close
//! (lingering) or, when the guest left the connection between requests, its stream to park.

use super::config::{GUEST_ROOT, ServerConfig, StoreParts};
use super::embed;
use super::linger::linger;
use super::reactor::Mode;
use super::reuse::{DirectoryId, IdleInstances, InstanceReuse, Kept};
use crate::bindings::types::HttpError;
use crate::runtime::{Runtime, ServedPre};
use crate::stream::{GuestStream, PhaseCell, ServedStream};
use crate::transport::{TcpStream, WaitBy};
use crate::view::{HttplibCtx, HttplibView};
use crate::wit_host::socket_address as tcp_to_wit;
use anyhow::Result;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use wasmtime_wasi::{FsPerms, WasiCtx};

/// A connection to answer.
pub(super) enum Arrival {
    /// Just accepted, with its peer's address where accept gave it.
    New(Arc<std::net::TcpStream>, Option<SocketAddr>),
    /// Back from the parking lot: its stream as its last guest left it (TLS state included),
    /// and the state that guest carried when it was parked in the middle of a request body.
    Back(TcpStream, Option<Vec<u8>>),
}

impl Arrival {
    /// The connection's socket.
    pub fn socket(&self) -> &std::net::TcpStream {
        match self {
            Arrival::New(sock, _) => sock,
            Arrival::Back(stream, _) => stream.socket(),
        }
    }

    /// The connection's socket, shared (it outlives the stream the guest drops).
    fn shared_socket(&self) -> Arc<std::net::TcpStream> {
        match self {
            Arrival::New(sock, _) => sock.clone(),
            Arrival::Back(stream, _) => stream.shared_socket(),
        }
    }

    /// The peer's address: as accept gave it, else asked of the socket.
    fn peer(&self) -> std::io::Result<SocketAddr> {
        match self {
            Arrival::New(_, Some(peer)) => Ok(*peer),
            _ => self.socket().peer_addr(),
        }
    }

    /// The state a parked connection's last guest carried, taken.
    fn take_carried(&mut self) -> Option<Vec<u8>> {
        match self {
            Arrival::New(..) => None,
            Arrival::Back(_, carried) => carried.take(),
        }
    }
}

/// A connection's guest left it to be parked (between requests, or mid-body with its state).
pub(super) type ToPark = crate::stream::Left;

/// A connection lost to an error, with its peer's address for the log.
pub(super) type Lost = (Option<SocketAddr>, anyhow::Error);

/// What answers a connection's requests beside the guest (the guest's own loop answers
/// from the directory when nothing does).
enum Beside<'a, T: HttplibView + 'static> {
    /// A handler component, in the guest's store: its `handle` export.
    App(&'a super::app::Handle),
    /// A proxy component (`wasi:http`), in stores of its own, under its outbound policy.
    Proxy(&'a super::proxy::ProxyApp, &'a crate::policy::OutboundPolicy),
    /// Host code (`ServerConfig::handler`).
    Host(&'a dyn embed::RequestHandler<T>),
}

/// What answering any connection of a server takes.
pub(super) struct Answering<'a, T: HttplibView + 'static> {
    pub runtime: &'a Runtime,
    /// The guest linked for this server's store type.
    pub guest: &'a ServedPre<T>,
    pub config: &'a ServerConfig<T>,
    /// The guest's 503 answer, for when the pool runs dry after all.
    pub busy: &'a [u8],
    /// The guest's 500 answer, for when a handler app traps before it sent anything.
    pub failed: &'a [u8],
    pub mode: Mode,
    /// Every connection's own address when the listener's is one (not a wildcard): then no
    /// `getsockname` a connection (as nginx asks only on a wildcard listener).
    pub local: Option<SocketAddr>,
    /// Instances kept from connections that ended cleanly (`InstanceReuse::Serial`).
    pub idle: &'a IdleInstances<T>,
}

impl<T: HttplibView + 'static> Answering<'_, T> {
    /// Answer a connection in an instance of its own (kept or new); whatever the guest does,
    /// only this connection is affected. `Some` when it is to be parked (else it was closed, lingering).
    pub async fn answer(
        &self,
        conn: Arrival,
        phase: Arc<PhaseCell>,
        idle_deadline: Option<Instant>,
    ) -> std::result::Result<Option<ToPark>, Lost> {
        let peer = conn.peer().map_err(|e| (None, e.into()))?;
        // Kept past the guest's drop of its stream, for the lingering close.
        let sock = conn.shared_socket();
        match self.serve(conn, peer, phase, idle_deadline).await {
            Ok(Some(parked)) => Ok(Some(parked)),
            result => {
                linger(sock, self.mode).await;
                result.map(|_| None).map_err(|e| (Some(peer), e))
            }
        }
    }

    /// The stream the guest gets: a new connection's, TLS terminated (within the handshake
    /// timeout) and its send timeout set; a parked one's as it was. `None` when the TLS
    /// handshake failed (logged: it costs this connection only).
    async fn stream(&self, conn: Arrival, peer: SocketAddr) -> Result<Option<TcpStream>> {
        let config = self.config;
        let waits = self.waits();
        let sock = match conn {
            Arrival::Back(stream, _) => {
                return Ok(Some(match waits {
                    WaitBy::Readiness => stream.wait_by_readiness()?,
                    WaitBy::Blocking => stream,
                }));
            }
            Arrival::New(sock, _) => sock,
        };
        let timeout = config.tls_handshake_timeout;
        let stream = match (&config.tls, waits) {
            (Some(tls), waits) => TcpStream::accept_tls(sock, tls.clone(), timeout, waits).await,
            // Non-blocking since accept4 (`accept::accept_nonblocking`).
            (None, WaitBy::Readiness) => TcpStream::new(sock).wait_by_readiness(),
            (None, WaitBy::Blocking) => Ok(TcpStream::new(sock)),
        };
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) if config.tls.is_some() => {
                // A plaintext client or a broken handshake costs this connection only.
                if config.log_requests {
                    eprintln!("TLS handshake with {peer} failed: {e}");
                }
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        stream.set_write_timeout(config.send_timeout)?;
        Ok(Some(stream))
    }

    /// How this connection's socket waits.
    fn waits(&self) -> WaitBy {
        match self.mode {
            Mode::Reactor => WaitBy::Readiness,
            Mode::Thread => WaitBy::Blocking,
        }
    }

    /// The store data of a served connection's instance: the served directory preopened
    /// read-only, stderr for the log, outbound connections where an app's policy grants
    /// (none without an app), CGI when configured; put in the embedder's type by `make_store`.
    fn state(&self, peer: SocketAddr) -> Result<T> {
        let config = self.config;
        let mut wasi = WasiCtx::builder();
        // File reads happen on this connection's own thread: without this, every WASI file call
        // is handed to a blocking pool and back (measured: most of a small request's cost).
        wasi.allow_blocking_current_thread(true);
        wasi.inherit_stderr();
        wasi.preopened_dir(&config.directory, GUEST_ROOT, FsPerms::ReadOnly)?;
        let policy = match &config.app {
            Some(app) => app.policy().clone(),
            None => crate::policy::OutboundPolicy::deny_all(),
        };
        let mut httplib = HttplibCtx::new(policy).with_limits(config.limits.clone());
        // On the reactor, a guest computing long yields to the thread's other connections.
        httplib.wait_by(self.waits());
        if !config.cgi_directories.is_empty() {
            httplib = httplib.with_scripts(self.runtime.script_sandbox()?, config.cgi_policy.clone());
        }
        let wasi = wasi.build();
        Ok((config.make_store)(StoreParts { wasi, httplib, peer }))
    }

    /// Run the guest over one connection; `Some` is the stream its guest left to be parked.
    async fn serve(
        &self,
        conn: Arrival,
        peer: SocketAddr,
        phase: Arc<PhaseCell>,
        idle_deadline: Option<Instant>,
    ) -> Result<Option<ToPark>> {
        let mut conn = conn;
        let carried = conn.take_carried();
        let Some(stream) = self.stream(conn, peer).await? else {
            return Ok(None);
        };
        let local = self.local.or_else(|| stream.local_address().ok());
        let mut stream = ServedStream::new(stream, phase).resuming(carried);
        if let Some(after) = self.config.park_after {
            stream = stream.with_parking(after, idle_deadline);
        }
        let reuse = self.reuses();
        let directory = match reuse {
            true => DirectoryId::of(&self.config.directory),
            false => DirectoryId::default(),
        };
        let kept = reuse.then(|| self.idle.take(directory)).flatten();
        let (mut store, guest, app, uses) = match kept {
            Some(kept) => (kept.store, kept.guest, None, kept.uses),
            None => {
                let state = self.state(peer)?;
                // A handler component shares the guest's store; a proxy component and host
                // code answer beside a guest of its own.
                let instance = match self.config.app.as_ref().filter(|app| app.proxy().is_none()) {
                    Some(app) => app
                        .instantiate(self.runtime, state)
                        .expect("a handler component")
                        .map(|(store, guest, handle)| (store, guest, Some(handle), 0)),
                    None => self
                        .runtime
                        .instantiate_served(self.guest, state)
                        .map(|(store, guest)| (store, guest, None, 0)),
                };
                match instance {
                    Ok(instance) => instance,
                    Err(e) => {
                        // The pool ran dry after all (instances taken by others of this
                        // runtime): say so.
                        let _ = stream.tcp().write_all(self.busy).await;
                        return Err(e);
                    }
                }
            }
        };
        let stream = store.data_mut().httplib().table.push(GuestStream::Served(stream))?;
        let stream_rep = stream.rep();
        let api = guest.server.handler();
        let handler_config = self.config.handler_config(local);
        let proxy = self
            .config
            .app
            .as_ref()
            .and_then(|app| Some((app.proxy()?, app.policy())));
        let beside = match (&app, proxy, &self.config.handler) {
            (Some(handle), _, _) => Some(Beside::App(handle)),
            (None, Some((proxy, policy)), _) => Some(Beside::Proxy(proxy, policy)),
            (None, None, Some(user)) => Some(Beside::Host(user.as_ref())),
            (None, None, None) => None,
        };
        let mut clean = true;
        // Asked only when counted: without fuel, `get_fuel`'s error is made (a backtrace
        // captured where RUST_BACKTRACE is set) on every connection.
        let fuel_before = crate::runtime::fuel_counted().then(|| store.get_fuel().ok()).flatten();
        let result = match beside {
            // The directory alone: the handler made, its loop and its drop in one entry into
            // the guest.
            None => guest
                .server
                .call_serve_connection(&mut store, stream, &tcp_to_wit(peer), &handler_config)
                .await?
                .map_err(anyhow::Error::from),
            Some(beside) => {
                let handler = api
                    .call_constructor(&mut store, stream, &tcp_to_wit(peer), &handler_config)
                    .await?;
                let result = match beside {
                    Beside::App(handle) => {
                        // A trapped app leaves an instance that can no longer be entered: the
                        // connection closes without a word more from it.
                        super::app::serve_app(&mut store, &guest, handle, handler, stream_rep, self.failed, peer)
                            .await?;
                        Ok(())
                    }
                    Beside::Proxy(proxy, policy) => {
                        let proxying = super::proxy::Proxying {
                            runtime: self.runtime,
                            app: proxy,
                            policy,
                            limits: &self.config.limits,
                            waits: self.waits(),
                            tls: self.config.tls.is_some(),
                            local,
                        };
                        // A trapped app costs its request's store only, but its 500 closes the
                        // connection, and the log says why.
                        proxying.serve(&mut store, &guest, handler).await?;
                        Ok(())
                    }
                    // Host code's errors may be the guest's traps: only the guest's own error
                    // (the client gone mid-head, a timeout) keeps the instance.
                    Beside::Host(user) => embed::serve_with(user, &mut store, &guest, handler)
                        .inspect_err(|e| clean = e.downcast_ref::<HttpError>().is_some()),
                };
                handler.resource_drop_async(&mut store).await?;
                result
            }
        };
        if let Err(e) = result {
            tracing::debug!(%peer, "connection ended with an error: {e:#}");
        }
        if let Some(before) = fuel_before
            && let Ok(after) = store.get_fuel()
        {
            eprintln!(
                "httplib: the connection from {peer} took {} units of wasm fuel",
                before - after
            );
        }
        let parked = store
            .data_mut()
            .httplib()
            .ctx
            .take_parked()
            .and_then(ServedStream::into_parked);
        // Only an instance of the pool is kept: an on-demand one's memory goes back now.
        let pooled = wasmtime::Engine::same(store.engine(), self.runtime.engine());
        if reuse && clean && pooled && super::reuse::reusable(&mut store, uses + 1) {
            self.idle.give(Kept {
                store,
                guest,
                uses: uses + 1,
                directory,
            });
        }
        Ok(parked)
    }

    /// Whether this server's instances answer more than one connection: when it asks, and
    /// only the guest runs in them (no handler component, no CGI script's sandbox).
    fn reuses(&self) -> bool {
        let config = self.config;
        config.instance_reuse == InstanceReuse::Serial && config.app.is_none() && config.cgi_directories.is_empty()
    }
}
