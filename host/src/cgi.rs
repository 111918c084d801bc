//! The `cgi` interface: a CGI script is a WebAssembly command component (wasi:cli/run), run in
//! a store of its own with no preopened directories and bounded memory, time and output. The
//! guest finds the script, builds its CGI/1.1 environment and sends its output; this only runs
//! it. A script that imports `httplib:http/client` is composed with the guest (see `app`) and
//! may connect where the server's script policy (`--cgi-allow`) grants: nowhere by default.

use crate::app::CommandLoader;
use crate::bindings::cgi::{CgiError, ScriptOutput};
use crate::limits::{EPOCH_TICK, SessionLimits};
use crate::policy::OutboundPolicy;
use crate::view::{HostState, HttplibCtx, ScriptRunner};
use crate::wait::Wait;
use anyhow::Result;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtx};

/// Most a script may write to stdout (ours; the guest holds it whole before sending it).
pub const MAX_SCRIPT_OUTPUT: usize = 16 * 1024 * 1024;
/// Most of a script's stderr kept for the log (ours).
pub const MAX_SCRIPT_STDERR: usize = 64 * 1024;
/// How long a script may run (ours; nginx's fastcgi_read_timeout is 60 s). Its requests, and
/// each of their reads and writes, are bounded by the same.
pub const MAX_SCRIPT_RUN: Duration = Duration::from_secs(30);
/// Cap on each of a script's linear memories (ours, the same as a connection's).
pub const SCRIPT_MEMORY_LIMIT: usize = crate::limits::DEFAULT_MEMORY_LIMIT;

/// Runs CGI scripts on the server's engine.
pub struct ScriptSandbox {
    loader: CommandLoader,
}

impl ScriptSandbox {
    /// A sandbox for scripts compiled on `engine`, kept compiled in `code_cache`; scripts that
    /// use httplib's client get `guest` composed in.
    pub fn new(engine: &Engine, guest: Arc<[u8]>, code_cache: crate::code_cache::CodeCache) -> Result<Self> {
        Ok(Self {
            loader: CommandLoader::new(engine, guest, code_cache)?,
        })
    }
}

impl ScriptRunner for ScriptSandbox {
    /// Run `program` to its end (or its limits); its sockets go where `policy` grants.
    fn run(
        &self,
        program: &[u8],
        args: &[String],
        env: &[(String, String)],
        stdin: Vec<u8>,
        policy: &OutboundPolicy,
    ) -> Result<ScriptOutput, CgiError> {
        let pre = self
            .loader
            .prepare(program)
            .map_err(|e| CgiError::NotRunnable(e.to_string()))?;
        let stdout = MemoryOutputPipe::new(MAX_SCRIPT_OUTPUT);
        let stderr = MemoryOutputPipe::new(MAX_SCRIPT_STDERR);
        let mut wasi = WasiCtx::builder();
        // No preopens and no network of its own: WasiCtxBuilder grants neither unless asked.
        wasi.args(args)
            .envs(env)
            .stdin(MemoryInputPipe::new(stdin))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_blocking_current_thread(true);
        let limits = SessionLimits {
            memory: Some(SCRIPT_MEMORY_LIMIT),
            cpu: MAX_SCRIPT_RUN,
            request_deadline: Some(MAX_SCRIPT_RUN),
            io_timeout: Some(MAX_SCRIPT_RUN),
            ..SessionLimits::default()
        };
        let state = HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            // No `scripts`: a script's own httplib runs no CGI.
            httplib: HttplibCtx::new(policy.clone()).with_limits(limits),
        };
        let mut store = Store::new(self.loader.engine(), state);
        store.limiter(|s| s.httplib.limiter());
        // Wall-clock time, whatever the script does: the epoch is never extended.
        let ticks = (MAX_SCRIPT_RUN.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        let command = pre
            .instantiate_async(&mut store)
            .wait()
            .map_err(|e| CgiError::NotRunnable(format!("{e:#}")))?;
        let (exit_code, stopped) = match command.wasi_cli_run().call_run(&mut store).wait() {
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
