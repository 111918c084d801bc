//! One engine, one compiled component, one pre-instantiated linker per process; a fresh
//! store and instance for each client session or accepted connection.

use crate::bindings::{Httplib, HttplibPre};
use crate::code_cache::CodeCache;
use crate::transport::OutboundPolicy;
use crate::transport::tls::ClientIdentities;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder,
    UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The guest component, built by build.rs and embedded in this binary.
pub static GUEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/httplib_guest.wasm"));

/// Default cap on one instance's linear memory (ours; a connection needs well under this).
pub const DEFAULT_MEMORY_LIMIT: usize = 64 * 1024 * 1024;
/// Most guest instances alive at once: connections being served plus client sessions (ours;
/// each pooled memory slot reserves address space, so this is sized, not unbounded).
pub const MAX_INSTANCES: u32 = 2048;
/// wasmtime's default count of pooled fiber stacks, kept as the most a runtime asks for.
pub const DEFAULT_TOTAL_STACKS: u32 = 1000;
/// The guard after each memory when reservations are bounded (`RuntimeOptions::client`).
pub const CLIENT_GUARD: u64 = 2 * 1024 * 1024;
/// Core instances one httplib component instance may hold (it has a handful).
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 16;
/// Linear memories and tables one component instance may hold (the guest has one memory).
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables one component instance may hold.
pub const MAX_TABLES_PER_COMPONENT: u32 = 8;
/// Linear memory kept resident (zeroed, not decommitted) when an instance's slot is reused:
/// enough for a connection's working set, so most instantiations cost no madvise (ours).
pub const KEEP_RESIDENT: usize = 256 * 1024;
/// Decommits batched into one call when a slot is returned (ours).
pub const DECOMMIT_BATCH: usize = 64;
/// How often the engine's one epoch-ticker thread advances the epoch.
pub const EPOCH_TICK: Duration = Duration::from_millis(100);
/// How long a guest may compute without calling the host before it is stopped (ours:
/// generous for a protocol guest, which spends its life waiting on sockets).
pub const MAX_GUEST_RUN_WITHOUT_HOST: Duration = Duration::from_secs(10);

/// What each store carries: WASI state, the resource table, the outbound policy, limits.
pub struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub policy: OutboundPolicy,
    /// Client certificates the guest may name in `tls-options.client-identity`.
    pub identities: Arc<ClientIdentities>,
    limits: StoreLimits,
    /// When the guest last called into the transport (time blocked there is not the guest's).
    pub last_host_call: Instant,
    /// Where CGI scripts run; none refuses them.
    pub scripts: Option<crate::cgi::SharedSandbox>,
}

impl HostState {
    pub fn new(wasi: WasiCtx, policy: OutboundPolicy) -> Self {
        Self {
            wasi,
            table: ResourceTable::new(),
            policy,
            identities: Arc::default(),
            limits: StoreLimits::default(),
            last_host_call: Instant::now(),
            scripts: None,
        }
    }
}

impl HostState {
    /// Client identities this instance's connections may present.
    pub fn with_identities(mut self, identities: Arc<ClientIdentities>) -> Self {
        self.identities = identities;
        self
    }

    /// Let this instance run CGI scripts in `sandbox`.
    pub fn with_scripts(mut self, sandbox: crate::cgi::SharedSandbox) -> Self {
        self.scripts = Some(sandbox);
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

/// Limits applied to every instance.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Cap on one instance's linear memory; growing past it traps that instance only.
    pub memory_limit: usize,
    /// Most instances alive at once: the pool reserves address space for each.
    pub max_instances: u32,
    /// Address space reserved for each linear memory. None keeps wasmtime's 4 GiB, which lets
    /// compiled code drop bounds checks (the server's choice); a few MiB over the memory limit
    /// makes a whole client run fit in a 1 GB `ulimit -v`.
    pub memory_reservation: Option<u64>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            memory_limit: DEFAULT_MEMORY_LIMIT,
            max_instances: MAX_INSTANCES,
            memory_reservation: None,
        }
    }
}

/// Instances a command-line client run needs: its session, and one spare (ours).
pub const CLIENT_INSTANCES: u32 = 2;

impl RuntimeOptions {
    /// Sized for one client session (`httplib get`): two instances, memories reserved at
    /// their limit, so the process reserves well under a gigabyte (the server's pool, about
    /// 16 TiB, made `ulimit -v 1000000` fail every run).
    pub fn client() -> Self {
        Self {
            max_instances: CLIENT_INSTANCES,
            memory_reservation: Some(DEFAULT_MEMORY_LIMIT as u64),
            ..Self::default()
        }
    }
}

/// The compiled guest, ready to instantiate cheaply and often.
pub struct Runtime {
    engine: Engine,
    pre: HttplibPre<HostState>,
    options: RuntimeOptions,
    /// Where compiled components are kept between runs (the guest's and CGI scripts').
    code_cache: CodeCache,
    /// The CGI sandbox, made the first time a server asks for it.
    scripts: std::sync::OnceLock<crate::cgi::SharedSandbox>,
}

impl Runtime {
    /// Compile (or load from the compiled-code cache, see `code_cache`) the embedded guest and link it.
    pub fn new() -> Result<Self> {
        Self::with_options(RuntimeOptions::default())
    }

    /// `new` with other limits.
    pub fn with_options(options: RuntimeOptions) -> Result<Self> {
        let mut config = Config::new();
        if let Some(bytes) = options.memory_reservation {
            config.memory_reservation(bytes.max(options.memory_limit as u64));
            config.memory_guard_size(CLIENT_GUARD);
        }
        let instances = options.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances * MAX_CORE_INSTANCES_PER_COMPONENT)
            .total_memories(instances * MAX_MEMORIES_PER_COMPONENT)
            .total_tables(instances * MAX_TABLES_PER_COMPONENT)
            .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
            .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
            // Fiber stacks serve async calls only: one an instance is plenty (wasmtime's 1000
            // default reserves about 2 GB).
            .total_stacks(instances.min(DEFAULT_TOTAL_STACKS))
            .max_memory_size(options.memory_limit.max(DEFAULT_MEMORY_LIMIT))
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(64 * 1024)
            .decommit_batch_size(DECOMMIT_BATCH);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        config.epoch_interruption(true);
        if std::env::var_os("HTTPLIB_PERFMAP").is_some() {
            // Names for the guest's compiled code in `perf report` (/tmp/perf-PID.map).
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        start_epoch_ticker(&engine);
        let code_cache = CodeCache::from_env();
        let component = code_cache
            .component(&engine, GUEST_WASM)
            .context("compiling the guest component")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // Our own interfaces only: the wasi ones the world uses were added just above.
        {
            use crate::bindings::{cgi, transport, types};
            types::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
            transport::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
            cgi::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        }
        let pre = HttplibPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self {
            engine,
            pre,
            options,
            code_cache,
            scripts: std::sync::OnceLock::new(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The sandbox CGI scripts run in, on this runtime's engine.
    pub fn script_sandbox(&self) -> Result<crate::cgi::SharedSandbox> {
        if let Some(s) = self.scripts.get() {
            return Ok(s.clone());
        }
        let sandbox = Arc::new(crate::cgi::ScriptSandbox::new(&self.engine, self.code_cache.clone())?);
        Ok(self.scripts.get_or_init(|| sandbox).clone())
    }

    /// The guest's whole 503 answer for a server with `config` (see WIT `busy-response`).
    pub fn busy_response(
        &self,
        config: &crate::bindings::server::HandlerConfig,
        retry_after_secs: u32,
    ) -> Result<Vec<u8>> {
        let state = HostState::new(WasiCtx::builder().build(), OutboundPolicy::deny_all());
        let (mut store, guest) = self.instantiate(state)?;
        guest
            .httplib_http_server()
            .call_busy_response(&mut store, config, retry_after_secs)
            .map_err(anyhow::Error::from)
    }

    /// A new store and instance for `state`.
    pub fn instantiate(&self, mut state: HostState) -> Result<(Store<HostState>, Httplib)> {
        state.limits = StoreLimitsBuilder::new()
            .memory_size(self.options.memory_limit)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if ctx.data().last_host_call.elapsed() > MAX_GUEST_RUN_WITHOUT_HOST {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        let bindings = self.pre.instantiate(&mut store)?;
        Ok((store, bindings))
    }
}

/// One ticker thread per engine (never one per instance); it ends when the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let _ = std::thread::Builder::new().name("httplib-epoch".into()).spawn(move || {
        loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        }
    });
}
