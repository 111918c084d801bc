//! The `cgi` interface: a CGI script is a WebAssembly command component (wasi:cli/run), run in
//! a store of its own with no preopened directories, no sockets, and bounded memory, time and
//! output. The guest finds the script, builds its CGI/1.1 environment and sends its output;
//! this only runs it.

use crate::bindings::cgi::{CgiError, ScriptOutput};
use crate::limits::EPOCH_TICK;
use anyhow::Result;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

/// Most a script may write to stdout (ours; the guest holds it whole before sending it).
pub const MAX_SCRIPT_OUTPUT: usize = 16 * 1024 * 1024;
/// Most of a script's stderr kept for the log (ours).
pub const MAX_SCRIPT_STDERR: usize = 64 * 1024;
/// How long a script may run (ours; nginx's fastcgi_read_timeout is 60 s).
pub const MAX_SCRIPT_RUN: Duration = Duration::from_secs(30);
/// Cap on a script's linear memory (ours, the same as a connection's).
pub const SCRIPT_MEMORY_LIMIT: usize = crate::limits::DEFAULT_MEMORY_LIMIT;
/// Compiled scripts kept, keyed by their bytes (ours).
pub const MAX_CACHED_SCRIPTS: usize = 64;

/// What one script's store holds.
struct ScriptState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for ScriptState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs CGI scripts on the server's engine.
pub struct ScriptSandbox {
    engine: Engine,
    linker: Linker<ScriptState>,
    /// Scripts compiled and linked, ready to instantiate, by their bytes: a few entries, found
    /// by length and memcmp (hashing a script's bytes on every request cost more).
    compiled: Mutex<Vec<(Vec<u8>, CommandPre<ScriptState>)>>,
    /// Where compiled scripts are kept between runs.
    code_cache: crate::code_cache::CodeCache,
}

impl ScriptSandbox {
    /// A sandbox for scripts compiled on `engine`, kept compiled in `code_cache`.
    pub fn new(engine: &Engine, code_cache: crate::code_cache::CodeCache) -> Result<Self> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Ok(Self {
            engine: engine.clone(),
            linker,
            compiled: Mutex::default(),
            code_cache,
        })
    }

    /// The script compiled and linked, from the cache when these bytes ran before.
    fn prepared(&self, program: &[u8]) -> Result<CommandPre<ScriptState>, String> {
        let cached = |cache: &[(Vec<u8>, CommandPre<ScriptState>)]| {
            cache
                .iter()
                .find(|(bytes, _)| bytes.as_slice() == program)
                .map(|(_, pre)| pre.clone())
        };
        if let Some(pre) = cached(&self.compiled.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(pre);
        }
        let component = self
            .code_cache
            .component(&self.engine, program)
            .map_err(|e| format!("{e:#}"))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(CommandPre::new)
            .map_err(|e| format!("{e:#}"))?;
        let mut cache = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED_SCRIPTS {
            cache.clear();
        }
        cache.push((program.to_vec(), pre.clone()));
        Ok(pre)
    }

    /// Run `program` to its end (or its limits).
    pub fn run(
        &self,
        program: &[u8],
        args: &[String],
        env: &[(String, String)],
        stdin: Vec<u8>,
    ) -> Result<ScriptOutput, CgiError> {
        let pre = self.prepared(program).map_err(CgiError::NotRunnable)?;
        let stdout = MemoryOutputPipe::new(MAX_SCRIPT_OUTPUT);
        let stderr = MemoryOutputPipe::new(MAX_SCRIPT_STDERR);
        let mut wasi = WasiCtx::builder();
        // No preopens and no network: WasiCtxBuilder grants neither unless asked.
        wasi.args(args)
            .envs(env)
            .stdin(MemoryInputPipe::new(stdin))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_blocking_current_thread(true);
        let state = ScriptState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(SCRIPT_MEMORY_LIMIT)
                .trap_on_grow_failure(true)
                .build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let ticks = (MAX_SCRIPT_RUN.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        let command = pre
            .instantiate(&mut store)
            .map_err(|e| CgiError::NotRunnable(format!("{e:#}")))?;
        let (exit_code, stopped) = match command.wasi_cli_run().call_run(&mut store) {
            Ok(Ok(())) => (0, None),
            Ok(Err(())) => (1, None),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => (u8::try_from(exit.0).unwrap_or(1), None),
                None if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) => {
                    (1, Some(format!("ran longer than {} s", MAX_SCRIPT_RUN.as_secs())))
                }
                None => (1, Some(format!("{e:#}"))),
            },
        };
        drop(store);
        Ok(ScriptOutput {
            stdout: stdout.contents().to_vec(),
            stderr: stderr.contents().to_vec(),
            exit_code,
            stopped,
        })
    }
}

/// Shared by the server's connections.
pub type SharedSandbox = Arc<ScriptSandbox>;
