//! One engine, one compiled component, one pre-instantiated linker per process; a fresh
//! store and instance for each client session or accepted connection.

use crate::bindings::{Httplib, HttplibPre};
use crate::transport::OutboundPolicy;
use anyhow::{Context, Result};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Cache, Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The guest component, built by build.rs and embedded in this binary.
pub static GUEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/httplib_guest.wasm"));

/// Default cap on one instance's linear memory (ours; a connection needs well under this).
pub const DEFAULT_MEMORY_LIMIT: usize = 64 * 1024 * 1024;

/// What each store carries: WASI state, the resource table, the outbound policy, limits.
pub struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub policy: OutboundPolicy,
    limits: StoreLimits,
}

impl HostState {
    pub fn new(wasi: WasiCtx, policy: OutboundPolicy) -> Self {
        Self {
            wasi,
            table: ResourceTable::new(),
            policy,
            limits: StoreLimitsBuilder::new()
                .memory_size(DEFAULT_MEMORY_LIMIT)
                .trap_on_grow_failure(true)
                .build(),
        }
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

/// The compiled guest, ready to instantiate cheaply and often.
pub struct Runtime {
    engine: Engine,
    pre: HttplibPre<HostState>,
}

impl Runtime {
    /// Compile (or load from wasmtime's on-disk cache) the embedded guest and link it.
    pub fn new() -> Result<Self> {
        let mut config = Config::new();
        if std::env::var_os("HTTPLIB_NO_CACHE").is_none() {
            // A cache that cannot be set up only costs compile time; never fail for it.
            if let Ok(cache) = Cache::from_file(None) {
                config.cache(Some(cache));
            }
        }
        let engine = Engine::new(&config)?;
        let component = Component::new(&engine, GUEST_WASM)
            .map_err(anyhow::Error::from)
            .context("compiling the guest component")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Httplib::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        let pre = HttplibPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self { engine, pre })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A new store and instance for `state`.
    pub fn instantiate(&self, state: HostState) -> Result<(Store<HostState>, Httplib)> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let bindings = self.pre.instantiate(&mut store)?;
        Ok((store, bindings))
    }
}
