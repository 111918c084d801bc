//! Bring your own store: what httplib needs from an embedder's `Store<T>`, in the style of
//! wasmtime-wasi's `WasiView` and wasi-http's `WasiHttpView`.
//!
//! An embedder keeps an [`HttplibCtx`] (policy, limits, client identities) in its own store
//! data beside its `WasiCtx` and `ResourceTable`, implements [`HttplibView`] for that type,
//! and adds httplib's imports to its own `Linker<T>` with [`add_to_linker`]. The guest's
//! sockets live in the same `ResourceTable` as its WASI resources.

use crate::bindings::cgi::CgiError;
use crate::bindings::{cgi, transport, types};
use crate::limits::{CANCEL_GRACE, SessionLimits};
use crate::policy::OutboundPolicy;
use crate::script::RunningScript;
use crate::stream::ServedStream;
pub use crate::transport::sockets::CancelHandle;
use crate::transport::sockets::{SessionSockets, SocketTicket};
use crate::transport::tls::ClientIdentities;
use crate::transport::{SocketError, WaitBy};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::{WasiCtx, WasiCtxView};

/// What runs the CGI scripts the guest asks for (`cgi.run`): httplib's `cgi::ScriptSandbox`,
/// or an embedder's own.
pub trait ScriptRunner: Send + Sync {
    /// Start `program` (a command component's bytes) with this argv, environment and stdin;
    /// its stdout streams back as it writes it. A script that uses httplib's client connects
    /// where `policy` grants.
    fn start(
        &self,
        program: &[u8],
        args: &[String],
        env: &[(String, String)],
        stdin: Vec<u8>,
        policy: &OutboundPolicy,
    ) -> Result<RunningScript, CgiError>;
}

/// A script runner shared by a server's connections.
pub type SharedScripts = Arc<dyn ScriptRunner>;

/// httplib's state in one store: where its sockets may go, what they may present, and the
/// limits and bookkeeping of the session.
pub struct HttplibCtx {
    /// Where the guest's sockets may go, and the audit hook.
    pub policy: OutboundPolicy,
    /// Client certificates the guest may name in `tls-options.client-identity`.
    pub identities: Arc<ClientIdentities>,
    /// What the host adds to the guest's TLS verification (extra roots, or none at all).
    pub trust: crate::transport::tls::TrustOverride,
    /// What runs CGI scripts; none refuses them.
    pub scripts: Option<SharedScripts>,
    /// Where CGI scripts' own sockets may go (`serve --cgi-allow`): nowhere by default.
    pub script_policy: OutboundPolicy,
    /// This session's limits (see `with_limits`).
    limits: SessionLimits,
    /// The memory cap, as wasmtime's limiter applies it (see `limiter`).
    store_limits: MemoryCap,
    /// When the guest last returned from a host call: time blocked on a socket is not its own
    /// computing (the CPU limit counts from here).
    last_host_call: Instant,
    /// When the request in flight must be done by (`request_deadline` after it was sent).
    deadline: Option<Instant>,
    sockets: Arc<SessionSockets>,
    /// The served connection its guest left between requests to be parked (its stream, TLS
    /// state and all, outlives the instance).
    parked: Option<ServedStream>,
    /// How this session's sockets wait: blocking, or by readiness in the caller's tokio
    /// reactor (an `AsyncClientSession`'s, a served connection's on the server's reactor).
    waits: WaitBy,
}

impl HttplibCtx {
    /// A context with `policy`, no client identities, no CGI, and the default limits.
    pub fn new(policy: OutboundPolicy) -> Self {
        Self {
            policy,
            identities: Arc::default(),
            trust: Default::default(),
            scripts: None,
            script_policy: OutboundPolicy::deny_all(),
            limits: SessionLimits::default(),
            store_limits: memory_limits(crate::limits::DEFAULT_MEMORY_LIMIT),
            last_host_call: Instant::now(),
            deadline: None,
            sockets: Arc::default(),
            parked: None,
            waits: WaitBy::Blocking,
        }
    }

    /// The same, with these limits.
    pub fn with_limits(mut self, limits: SessionLimits) -> Self {
        if let Some(memory) = limits.memory {
            self.store_limits = memory_limits(memory);
        }
        self.limits = limits;
        self
    }

    /// How this session's sockets wait; a guest whose sockets wait by readiness also
    /// yields to its executor while it computes (see `runtime::configure_store`).
    pub(crate) fn waits_by(&self) -> WaitBy {
        self.waits
    }

    /// Make this session's new sockets wait `waits` (see `waits_by`).
    pub(crate) fn wait_by(&mut self, waits: WaitBy) {
        self.waits = waits;
    }

    /// The guest dropped a served stream it left to be parked: keep it for the listener.
    pub(crate) fn leave_parked(&mut self, stream: ServedStream) {
        self.parked = Some(stream);
    }

    /// The served stream the guest left to be parked, if it did.
    pub(crate) fn take_parked(&mut self) -> Option<ServedStream> {
        self.parked.take()
    }

    /// This session's limits.
    pub fn limits(&self) -> &SessionLimits {
        &self.limits
    }

    /// A handle another thread can end this session with.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle::new(self.sockets.clone())
    }

    /// The memory cap in force.
    pub(crate) fn memory_limit(&self) -> Option<usize> {
        self.limits.memory
    }

    /// Whether the session was cancelled.
    pub(crate) fn cancelled(&self) -> bool {
        self.sockets.is_cancelled()
    }

    /// Refuse the operation when the session was cancelled or its request is past its deadline.
    pub(crate) fn check_going(&self) -> Result<(), SocketError> {
        if self.cancelled() {
            return Err(SocketError::Cancelled);
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(self.deadline_passed()),
            _ => Ok(()),
        }
    }

    /// The request in flight outlasted the session's deadline.
    pub(crate) fn deadline_passed(&self) -> SocketError {
        let secs = self.limits.request_deadline.unwrap_or_default().as_secs_f64();
        SocketError::LimitExceeded(format!(
            "the request took longer than the session's deadline of {secs} s"
        ))
    }

    /// The deadline of the request in flight.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// A request is going out: its deadline starts now.
    pub(crate) fn request_sent(&mut self) {
        self.deadline = self.limits.request_deadline.and_then(|d| Instant::now().checked_add(d));
    }

    /// Take a place for a new socket, or say which limit is in the way.
    pub(crate) fn admit_socket(&self, sock: Arc<std::net::TcpStream>) -> Result<SocketTicket, SocketError> {
        self.sockets
            .admit(sock, self.limits.max_connections)
            .map_err(SocketError::LimitExceeded)
    }

    /// Whether another socket may be opened now.
    pub(crate) fn room_for_socket(&self) -> Result<(), SocketError> {
        self.sockets
            .room(self.limits.max_connections)
            .map_err(SocketError::LimitExceeded)
    }

    /// The same, with client certificates the guest may name.
    pub fn with_identities(mut self, identities: Arc<ClientIdentities>) -> Self {
        self.identities = identities;
        self
    }

    /// The same, letting the guest run CGI scripts with `scripts`, whose sockets (a script
    /// that imports `httplib:http/client`) go where `policy` grants.
    pub fn with_scripts(mut self, scripts: SharedScripts, policy: OutboundPolicy) -> Self {
        self.scripts = Some(scripts);
        self.script_policy = policy;
        self
    }

    /// Cap the instance's linear memory at `bytes` (when the limits named none).
    pub(crate) fn default_memory_limit(&mut self, bytes: usize) {
        match self.limits.memory {
            Some(_) => {}
            None => {
                self.limits.memory = Some(bytes);
                self.store_limits = memory_limits(bytes);
            }
        }
    }

    /// The resource limiter to install with `Store::limiter` (the memory cap).
    pub fn limiter(&mut self) -> &mut MemoryCap {
        &mut self.store_limits
    }

    /// Whether the memory cap refused the guest memory it asked for (its trap was that).
    pub fn memory_cap_refused(&self) -> bool {
        self.store_limits.refused
    }

    /// The guest's linear memory, in bytes, as it last grew (the largest, were there several).
    pub(crate) fn memory_size(&self) -> usize {
        self.store_limits.size
    }

    /// The guest came back from the host: its CPU budget counts from now.
    pub(crate) fn returned_from_host(&mut self) {
        self.last_host_call = Instant::now();
    }

    /// Whether the guest has computed longer than its CPU limit since it last called the
    /// host, or the session was cancelled: the epoch callback interrupts it then.
    pub(crate) fn must_stop(&self) -> bool {
        let running = self.last_host_call.elapsed();
        running > self.limits.cpu || (self.cancelled() && running > CANCEL_GRACE)
    }
}

fn memory_limits(bytes: usize) -> MemoryCap {
    MemoryCap {
        limits: StoreLimitsBuilder::new()
            .memory_size(bytes)
            .trap_on_grow_failure(true)
            .build(),
        refused: false,
        size: 0,
    }
}

/// A store's memory cap (wasmtime's `StoreLimits`, trapping on a refused growth), which
/// remembers whether it refused: a trap can then be told apart as the memory limit's.
pub struct MemoryCap {
    limits: StoreLimits,
    refused: bool,
    /// The largest memory it allowed.
    size: usize,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum);
        match allowed {
            Ok(true) => self.size = self.size.max(desired),
            _ => self.refused = true,
        }
        allowed
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }
}

/// The store data httplib uses when the embedder brings none of its own: WASI state, the
/// resource table, and httplib's context. Any type implementing [`HttplibView`] can stand in.
pub struct HostState {
    /// WASI state (stdio, the served directory's preopen).
    pub wasi: WasiCtx,
    /// Resources of both WASI and httplib.
    pub table: ResourceTable,
    /// httplib's policy, identities and limits.
    pub httplib: HttplibCtx,
}

impl HostState {
    /// Store data with `wasi` and `policy`, httplib's defaults otherwise.
    pub fn new(wasi: WasiCtx, policy: OutboundPolicy) -> Self {
        Self {
            wasi,
            table: ResourceTable::new(),
            httplib: HttplibCtx::new(policy),
        }
    }

    /// Client identities this instance's connections may present.
    pub fn with_identities(mut self, identities: Arc<ClientIdentities>) -> Self {
        self.httplib = self.httplib.with_identities(identities);
        self
    }

    /// This instance's limits.
    pub fn with_limits(mut self, limits: SessionLimits) -> Self {
        self.httplib = self.httplib.with_limits(limits);
        self
    }

    /// Let this instance run CGI scripts with `scripts`, their sockets going where `policy` grants.
    pub fn with_scripts(mut self, scripts: SharedScripts, policy: OutboundPolicy) -> Self {
        self.httplib = self.httplib.with_scripts(scripts, policy);
        self
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HttplibView for HostState {
    fn httplib(&mut self) -> HttplibCtxView<'_> {
        HttplibCtxView {
            ctx: &mut self.httplib,
            table: &mut self.table,
        }
    }
}

/// httplib's context and the store's resource table, borrowed together.
pub struct HttplibCtxView<'a> {
    /// httplib's state.
    pub ctx: &'a mut HttplibCtx,
    /// The store's table (shared with WASI: the guest's sockets and files live side by side).
    pub table: &'a mut ResourceTable,
}

/// What a store's data gives httplib. Implement it beside `WasiView` for your store type.
pub trait HttplibView: WasiView + Send {
    /// httplib's context and the resource table.
    fn httplib(&mut self) -> HttplibCtxView<'_>;
}

/// The `HasData` of httplib's imports: their host side is an [`HttplibCtxView`].
pub struct HasHttplib;

impl HasData for HasHttplib {
    type Data<'a> = HttplibCtxView<'a>;
}

/// Add WASI 0.2 (its async imports) and httplib's own imports to `linker`: all the guest needs.
pub fn add_to_linker<T: HttplibView + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    add_only_httplib_to_linker(linker)
}

/// Add httplib's own imports (`types`, `transport`, `cgi`) to a linker that has WASI already.
pub fn add_only_httplib_to_linker<T: HttplibView + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    types::add_to_linker::<T, HasHttplib>(linker, T::httplib)?;
    transport::add_to_linker::<T, HasHttplib>(linker, T::httplib)?;
    cgi::add_to_linker::<T, HasHttplib>(linker, T::httplib)?;
    Ok(())
}
