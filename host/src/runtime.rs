//! One engine, one compiled component, one pre-instantiated linker per process; a fresh
//! store and instance for each client session or accepted connection.

use crate::bindings::exports::httplib::http::exchange::{Guest as ExchangeExports, GuestIndices as ExchangeIndices};
use crate::bindings::exports::httplib::http::server::{Guest as ServerExports, GuestIndices as ServerIndices};
use crate::bindings::{Httplib, HttplibIndices, HttplibPre};
use crate::code_cache::CodeCache;
use crate::limits::{DEFAULT_MEMORY_LIMIT, EPOCH_TICK};
use crate::policy::OutboundPolicy;
use crate::transport::WaitBy;
use crate::view::HostState;
use crate::view::HttplibView;
use crate::wait::Wait;
use anyhow::{Context, Result};
use std::sync::Arc;
use wasmtime::component::{Component, Instance, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline};
use wasmtime_wasi::WasiCtx;

/// The guest component, built by build.rs and embedded in this binary; empty when the crate
/// was built with neither the guest's sources nor `HTTPLIB_GUEST_WASM` (see build.rs).
pub static GUEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/httplib_guest.wasm"));

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
/// Linear memory kept resident (its dirty pages reset in place, not decommitted) when an
/// instance's slot is reused (ours): the guest's stack, data and first heap pages, so a new
/// instance takes no page fault on them (bench/PROFILE.md, "Tuning record"). Only pages an
/// instance wrote stay resident, so a flood keeps at most this much per pooled slot.
pub const KEEP_RESIDENT: usize = 1024 * 1024;
/// Decommits batched into one call when a slot is returned (ours).
pub const DECOMMIT_BATCH: usize = 64;

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
    /// Past `max_instances`, make instances on demand instead of failing: slower to make (an
    /// mmap and page faults where the pool reuses warm memory), but their memory goes back to
    /// the system when they end, so a flood leaves no resident pool behind it.
    pub overflow: bool,
    /// Where instances come from: a pool reserved up front, or made on demand.
    pub allocation: Allocation,
}

/// Where a runtime's instances come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// A pool of `max_instances` slots, its address space reserved when the runtime starts:
    /// fast to instantiate, warm memory reused.
    Pooled,
    /// Each instance mapped when made and unmapped when dropped: slower, but nothing is
    /// reserved up front (where the address space is limited, `ulimit -v`).
    OnDemand,
}

impl Default for RuntimeOptions {
    /// For an embedder: `MAX_INSTANCES` instances, each memory reserving its limit plus a
    /// guard (about 132 GiB of address space for the pool, where wasmtime's 4 GiB
    /// reservations took 16 TiB and an eighth runtime in one process failed).
    fn default() -> Self {
        Self {
            memory_limit: DEFAULT_MEMORY_LIMIT,
            max_instances: MAX_INSTANCES,
            memory_reservation: Some(DEFAULT_MEMORY_LIMIT as u64),
            overflow: false,
            allocation: Allocation::Pooled,
        }
    }
}

/// Pooled instances of `httplib serve` (ours): bench/'s 32 connections stay on warm slots,
/// and a flood leaves little behind (bench/PROFILE.md, "Tuning record"). More connections
/// get instances made on demand.
pub const SERVER_POOLED_INSTANCES: u32 = 32;

/// Instances a command-line client run needs: its session, and one spare (ours).
pub const CLIENT_INSTANCES: u32 = 2;

impl RuntimeOptions {
    /// For `httplib serve`: every linear memory gets wasmtime's 4 GiB reservation, which lets
    /// compiled code drop bounds checks; the pool then reserves about 16 TiB of address space
    /// (one such runtime to a process).
    pub fn server() -> Self {
        Self {
            memory_reservation: None,
            max_instances: SERVER_POOLED_INSTANCES,
            overflow: true,
            ..Self::default()
        }
    }

    /// For `httplib serve` where the server's pool cannot be reserved (a limited address
    /// space): instances made on demand, each memory reserving its limit and a guard only.
    pub fn server_on_demand() -> Self {
        Self {
            allocation: Allocation::OnDemand,
            ..Self::default()
        }
    }

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

/// The guest pre-instantiated on an engine for httplib's own `HostState`, with where its
/// exports are.
struct Prepared {
    engine: Engine,
    pre: HttplibPre<HostState>,
    all: HttplibIndices,
}

/// The guest ready to answer connections in stores of type `T` (httplib's `HostState` or an
/// embedder's): pre-instantiated on the runtime's engine and, when it has one, on the
/// on-demand engine taken when the pool is full, each with where the served exports are. A
/// served connection loads only those (finding and type-checking every export of every
/// interface at each instantiation was 8.7% of the server's CPU with a new connection per
/// request; the server's alone, 3.2%).
pub(crate) struct ServedPre<T: 'static> {
    engines: Vec<(InstancePre<T>, ServedIndices)>,
}

/// Where a served connection's exports are: the server's and the exchange's.
pub(crate) struct ServedIndices {
    server: ServerIndices,
    exchange: ExchangeIndices,
}

impl ServedIndices {
    /// Found in anything exporting the guest's `server` and `exchange` (the guest, or the
    /// guest composed with a handler component).
    pub(crate) fn new<T: 'static>(pre: &wasmtime::component::InstancePre<T>) -> wasmtime::Result<Self> {
        Ok(Self {
            server: ServerIndices::new(pre)?,
            exchange: ExchangeIndices::new(pre)?,
        })
    }

    /// Both loaded from `instance`.
    pub(crate) fn load<T: 'static>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
    ) -> wasmtime::Result<ServedExports> {
        Ok(ServedExports {
            server: self.server.load(&mut *store, instance)?,
            exchange: self.exchange.load(&mut *store, instance)?,
        })
    }
}

/// A served connection's exports: `server` (the handler: the request loop) and `exchange`
/// (the current request's verbs).
pub struct ServedExports {
    /// The `server` interface.
    pub server: ServerExports,
    /// The `exchange` interface.
    pub exchange: ExchangeExports,
}

impl Prepared {
    fn new(engine: &Engine, component: &Component) -> Result<Self> {
        let mut linker = Linker::new(engine);
        crate::view::add_to_linker(&mut linker)?;
        let pre = HttplibPre::new(linker.instantiate_pre(component)?)?;
        Ok(Self {
            engine: engine.clone(),
            all: HttplibIndices::new(pre.instance_pre())?,
            pre,
        })
    }
}

/// The compiled guest, ready to instantiate cheaply and often.
pub struct Runtime {
    engine: Engine,
    component: Component,
    /// The guest ready to instantiate on `engine`.
    prepared: Prepared,
    options: RuntimeOptions,
    /// Where compiled components are kept between runs (the guest's and CGI scripts').
    code_cache: CodeCache,
    /// Where instances come from when the pool is full (`RuntimeOptions::overflow`).
    overflow: Option<Prepared>,
    /// The guest's bytes, for composing with CGI scripts that use its client.
    guest_wasm: Arc<[u8]>,
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
            // Reset only the pages an instance dirtied (Linux 6.7's PAGEMAP_SCAN; where the
            // kernel lacks it, the whole kept-resident prefix is reset as before).
            .pagemap_scan(wasmtime::Enabled::Auto)
            .table_keep_resident(64 * 1024)
            .decommit_batch_size(DECOMMIT_BATCH);
        if options.overflow {
            // One memory slot an instance (the guest has one memory): every slot a flood
            // touches keeps its pages resident (`KEEP_RESIDENT`), so no spare slots. An
            // instance needing more (a composed CGI script) comes from the overflow engine.
            pool.total_memories(instances);
        }
        match options.allocation {
            Allocation::Pooled => config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool)),
            Allocation::OnDemand => config.allocation_strategy(InstanceAllocationStrategy::OnDemand),
        };
        config.epoch_interruption(true);
        if std::env::var_os("HTTPLIB_PERFMAP").is_some() {
            // Names for the guest's compiled code in `perf report` (/tmp/perf-PID.map).
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if fuel_counted() {
            config.consume_fuel(true);
        }
        let mut on_demand = config.clone();
        on_demand.allocation_strategy(InstanceAllocationStrategy::OnDemand);
        let engine = Engine::new(&config)?;
        start_epoch_ticker(&engine);
        let overflow = options.overflow && options.allocation == Allocation::Pooled;
        let mut runtime = Self::from_engine(&engine, options)?;
        if overflow {
            let engine = Engine::new(&on_demand)?;
            start_epoch_ticker(&engine);
            // The pool's compiled code, loaded again for the second engine (same settings but
            // the allocator, so the same code); compiled afresh if wasmtime says otherwise.
            let bytes = runtime.component.serialize().map_err(anyhow::Error::from)?;
            // SAFETY: `bytes` is wasmtime's own serialization of this very component, just made.
            let component = match unsafe { Component::deserialize(&engine, &bytes) } {
                Ok(c) => c,
                Err(_) => runtime.code_cache.component(&engine, GUEST_WASM)?,
            };
            runtime.overflow = Some(Prepared::new(&engine, &component)?);
        }
        Ok(runtime)
    }

    /// The guest compiled on an embedder's own engine, which must have epoch interruption on
    /// (`Config::epoch_interruption(true)`) for the CPU limit and cancellation to work, and
    /// someone advancing its epoch every `EPOCH_TICK` ([`start_epoch_ticker`] does, once per
    /// engine). `options.max_instances` and `memory_reservation` are the engine's business
    /// then; `memory_limit` is still the most a session may have.
    pub fn from_engine(engine: &Engine, options: RuntimeOptions) -> Result<Self> {
        if GUEST_WASM.is_empty() {
            anyhow::bail!(
                "this httplib-host was built without the guest component (no guest sources and no \
                 HTTPLIB_GUEST_WASM at build time): give one to Runtime::with_guest"
            );
        }
        Self::with_guest(engine, options, GUEST_WASM)
    }

    /// The guest from `wasm` (a component built from this repository's `guest/`, e.g. by
    /// `cargo build -p httplib-component --release --target wasm32-wasip2`), on an embedder's
    /// engine as [`Runtime::from_engine`] describes.
    pub fn with_guest(engine: &Engine, options: RuntimeOptions, wasm: &[u8]) -> Result<Self> {
        let engine = engine.clone();
        let code_cache = CodeCache::from_env();
        let component = code_cache
            .component(&engine, wasm)
            .context("compiling the guest component")?;
        let prepared = Prepared::new(&engine, &component)?;
        Ok(Self {
            engine,
            component,
            prepared,
            options,
            code_cache,
            overflow: None,
            guest_wasm: Arc::from(wasm),
            scripts: std::sync::OnceLock::new(),
        })
    }

    /// The engine the guest is compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine composed components (handler apps, CGI scripts) are compiled for: the
    /// on-demand one when the server has one (the pool's slots hold the guest's one memory;
    /// a composed component has more), else this runtime's.
    pub(crate) fn app_engine(&self) -> &Engine {
        self.overflow.as_ref().map_or(&self.engine, |o| &o.engine)
    }

    /// Where compiled components are kept between runs.
    pub(crate) fn code_cache(&self) -> &CodeCache {
        &self.code_cache
    }

    /// The guest's bytes, to compose with.
    pub(crate) fn guest_wasm(&self) -> &[u8] {
        &self.guest_wasm
    }

    /// A store for `state` on `engine` with httplib's limits, and what `instantiate` makes
    /// in it (a composed component's instance).
    pub(crate) fn instantiate_on<T: HttplibView + 'static, G>(
        &self,
        engine: &Engine,
        state: T,
        instantiate: impl FnOnce(&mut Store<T>) -> wasmtime::Result<G>,
    ) -> Result<(Store<T>, G)> {
        self.try_instantiate(engine, state, instantiate).map_err(|(e, _)| e)
    }

    /// The sandbox CGI scripts run in, on this runtime's engine.
    pub fn script_sandbox(&self) -> Result<crate::cgi::SharedSandbox> {
        if let Some(s) = self.scripts.get() {
            return Ok(s.clone());
        }
        // Scripts get instances made on demand (the server's overflow engine, when it has
        // one): the pool is its connections', and a burst of scripts must not take it.
        let sandbox =
            crate::cgi::ScriptSandbox::new(self.app_engine(), self.guest_wasm.clone(), self.code_cache.clone())?;
        let sandbox = Arc::new(sandbox);
        Ok(self.scripts.get_or_init(|| sandbox).clone())
    }

    /// The guest's whole answer with `code` that closes its connection, for a server with
    /// `config` to send on its own (see WIT `closing-response`).
    pub fn closing_response(
        &self,
        config: &crate::bindings::server::HandlerConfig,
        code: u16,
        retry_after_secs: Option<u32>,
    ) -> Result<Vec<u8>> {
        let state = HostState::new(WasiCtx::builder().build(), OutboundPolicy::deny_all());
        let (mut store, guest) = self.instantiate(state)?;
        guest
            .httplib_http_server()
            .call_closing_response(&mut store, config, code, retry_after_secs)
            .wait()
            .map_err(anyhow::Error::from)
    }

    /// A new store and instance for `state`, with this runtime's memory cap.
    /// Past the pool's `max_instances`, from the on-demand engine when there is one.
    pub fn instantiate(&self, state: HostState) -> Result<(Store<HostState>, Httplib)> {
        self.instantiate_loading(state, |at, store, instance| at.all.load(store, instance))
    }

    /// The guest linked for served connections in stores of type `T` (see [`ServedPre`]).
    pub(crate) fn served_pre<T: HttplibView + 'static>(&self) -> Result<ServedPre<T>> {
        let mut engines = Vec::new();
        for at in std::iter::once(&self.prepared).chain(&self.overflow) {
            let mut linker = Linker::new(&at.engine);
            crate::view::add_to_linker(&mut linker)?;
            let pre = linker.instantiate_pre(at.pre.instance_pre().component())?;
            let indices = ServedIndices::new(&pre)?;
            engines.push((pre, indices));
        }
        Ok(ServedPre { engines })
    }

    /// A served connection's store for `data` and its guest, with only the served exports
    /// loaded; past the pool's `max_instances`, from the on-demand engine when there is one.
    pub(crate) fn instantiate_served<T: HttplibView + 'static>(
        &self,
        served: &ServedPre<T>,
        data: T,
    ) -> Result<(Store<T>, ServedExports)> {
        let mut data = Some(data);
        // Made only when it is the answer: an error made eagerly captures a backtrace on
        // every connection wherever RUST_BACKTRACE is set (perf: 5% of a new connection).
        let mut failed = None;
        for (pre, indices) in &served.engines {
            let Some(state) = data.take() else { break };
            let made = self.try_instantiate(pre.engine(), state, |store| {
                let instance = pre.instantiate_async(&mut *store).wait()?;
                indices.load(store, &instance)
            });
            match made {
                Ok(made) => return Ok(made),
                // The pool was full: the state comes back for the next engine.
                Err((e, back)) => (failed, data) = (Some(e), back),
            }
        }
        Err(failed.unwrap_or_else(|| anyhow::anyhow!("no engine to serve on")))
    }

    /// A new instance for `state` (see `instantiate`), and what `load` takes of its exports.
    // The state comes back (large) only when the pool was full, for the overflow engine.
    #[allow(clippy::result_large_err)]
    fn instantiate_loading<G>(
        &self,
        state: HostState,
        load: impl Fn(&Prepared, &mut Store<HostState>, &Instance) -> wasmtime::Result<G>,
    ) -> Result<(Store<HostState>, G)> {
        let attempt = |at: &Prepared, state| {
            self.try_instantiate(&at.engine, state, |store| {
                let instance = at.pre.instance_pre().instantiate_async(&mut *store).wait()?;
                load(at, store, &instance)
            })
        };
        match attempt(&self.prepared, state) {
            Ok(made) => Ok(made),
            Err((e, state)) => match (state, &self.overflow) {
                (Some(state), Some(overflow)) => attempt(overflow, state).map_err(|(e, _)| e),
                _ => Err(e),
            },
        }
    }

    /// The compiled guest, for an embedder linking it into its own `Linker<T>`.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The guest pre-instantiated with `linker` (which has httplib's imports: see
    /// [`crate::view::add_to_linker`]), ready for stores of the embedder's type `T`.
    pub fn prepare<T: HttplibView + 'static>(&self, linker: &Linker<T>) -> Result<HttplibPre<T>> {
        Ok(HttplibPre::new(linker.instantiate_pre(&self.component)?)?)
    }

    /// A new store holding `data` and an instance of the guest in it, from `pre`; the store
    /// gets httplib's memory cap and CPU limit (see [`configure_store`]).
    pub fn instantiate_in<T: HttplibView + 'static>(
        &self,
        pre: &HttplibPre<T>,
        data: T,
    ) -> Result<(Store<T>, Httplib)> {
        self.try_instantiate(&self.engine, data, |store| pre.instantiate_async(store).wait())
            .map_err(|(e, _)| e)
    }

    /// A store for `data` on `engine` with httplib's limits, and what `instantiate` makes in
    /// it; `data` is handed back when the pool was full.
    #[allow(clippy::type_complexity)]
    fn try_instantiate<T: HttplibView + 'static, G>(
        &self,
        engine: &Engine,
        mut data: T,
        instantiate: impl FnOnce(&mut Store<T>) -> wasmtime::Result<G>,
    ) -> std::result::Result<(Store<T>, G), (anyhow::Error, Option<T>)> {
        let ceiling = self.options.memory_limit.max(DEFAULT_MEMORY_LIMIT);
        let ctx = data.httplib().ctx;
        ctx.default_memory_limit(self.options.memory_limit);
        if let Some(asked) = ctx.memory_limit()
            && asked > ceiling
        {
            let e = anyhow::anyhow!("a session's memory limit ({asked} bytes) is over the runtime's ({ceiling} bytes)");
            return Err((e, None));
        }
        // Instantiating is waited for on this thread (`wait`), so its start functions must not
        // yield to an executor at an epoch tick: on a reactor thread, the wake-up a tokio
        // `yield_now` defers would never come (the thread is the one waiting).
        let waits = ctx.waits_by();
        ctx.wait_by(WaitBy::Blocking);
        let mut store = Store::new(engine, data);
        configure_store(&mut store);
        match instantiate(&mut store) {
            Ok(made) => {
                store.data_mut().httplib().ctx.wait_by(waits);
                Ok((store, made))
            }
            Err(e) => {
                let e = anyhow::Error::from(e);
                let pool_full = e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some();
                Err((e, pool_full.then(|| store.into_data())))
            }
        }
    }
}

/// Give a store httplib's limits: the memory cap of its [`HttplibCtx`](crate::view::HttplibCtx) (as its resource
/// limiter) and the CPU limit (the epoch deadline: a guest computing for
/// its session's `cpu` limit without calling the host, or cancelled, is interrupted). The engine must have
/// epoch interruption on, as [`Runtime`]'s does.
pub fn configure_store<T: HttplibView + 'static>(store: &mut Store<T>) {
    store.limiter(|data| data.httplib().ctx.limiter());
    if fuel_counted() {
        let _ = store.set_fuel(u64::MAX);
    }
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        let ctx = &ctx.data_mut().httplib().ctx;
        if ctx.must_stop() {
            Ok(UpdateDeadline::Interrupt)
        } else if ctx.waits_by() == WaitBy::Readiness {
            // A guest computing on an event loop (a served connection on the reactor, an
            // async session) lets the loop's other tasks run each tick, and the loop poll its
            // sockets (tokio's `yield_now`). Without it, two clients asking for a
            // 100,000-entry listing over and over held both reactor threads: other clients'
            // small requests waited 3.4 s.
            Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now())))
        } else {
            Ok(UpdateDeadline::Continue(1))
        }
    });
}

/// Set (to anything) in the environment, it has the guest's work counted: [`Runtime`]'s
/// engines meter wasm fuel (about a unit a wasm instruction; the host's code is not counted)
/// and a served connection's count is logged when it ends (`bench/fuel` reads it). A
/// measurement's knob, as `HTTPLIB_PERFMAP` is: metered code runs slower, but the count is
/// the same run after run, where this VM's timings swing by more than a change is worth.
pub const FUEL_ENV: &str = "HTTPLIB_FUEL";

/// Whether `FUEL_ENV` is set (read once).
pub fn fuel_counted() -> bool {
    static COUNTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *COUNTED.get_or_init(|| std::env::var_os(FUEL_ENV).is_some())
}

/// The engines whose epochs the process's ticker thread advances, and whether it runs.
static TICKED: std::sync::Mutex<(Vec<wasmtime::EngineWeak>, bool)> = std::sync::Mutex::new((Vec::new(), false));

/// Advance `engine`'s epoch every `EPOCH_TICK`. One ticker thread serves every engine of the
/// process (the server's pooled and on-demand engines, CGI's, an embedder's: one thread, not
/// one an engine, and never one an instance); it ends once every engine it ticks is dropped.
pub fn start_epoch_ticker(engine: &Engine) {
    let mut ticked = TICKED.lock().unwrap_or_else(|p| p.into_inner());
    ticked.0.push(engine.weak());
    if ticked.1 {
        return;
    }
    let started = std::thread::Builder::new().name("httplib-epoch".into()).spawn(|| {
        loop {
            std::thread::sleep(EPOCH_TICK);
            let mut ticked = TICKED.lock().unwrap_or_else(|p| p.into_inner());
            ticked
                .0
                .retain(|weak| weak.upgrade().inspect(Engine::increment_epoch).is_some());
            if ticked.0.is_empty() {
                ticked.1 = false;
                return;
            }
        }
    });
    ticked.1 = started.is_ok();
}
