//! The `cgi` interface: a CGI script is a WebAssembly command component (wasi:cli/run), run in
//! a store of its own, on a thread of its own, with no preopened directories and bounded
//! memory and time; its stdout streams to the guest as it writes it (`script`). The guest
//! finds the script, builds its CGI/1.1 environment and sends its output; this only runs it. A script that imports `httplib:http/client` is composed with the guest (see `app`) and
//! may connect where the server's script policy (`--cgi-allow`) grants: nowhere by default.

use crate::app::{CommandLoader, LoadError};
use crate::bindings::cgi::CgiError;
use crate::limits::SessionLimits;
use crate::policy::OutboundPolicy;
use crate::script::{RunningScript, ScriptEnd, Stop};
use crate::view::{HostState, HttplibCtx, ScriptRunner};
use anyhow::Result;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtx};

/// Most of a script's stderr kept for the log (ours).
pub const MAX_SCRIPT_STDERR: usize = 64 * 1024;
/// How long a script may run (ours; nginx's fastcgi_read_timeout is 60 s). Its requests, and
/// each of their reads and writes, are bounded by the same.
pub const MAX_SCRIPT_RUN: Duration = Duration::from_secs(30);
/// Cap on each of a script's linear memories (ours, the same as a connection's).
pub const SCRIPT_MEMORY_LIMIT: usize = crate::limits::DEFAULT_MEMORY_LIMIT;
/// Scripts running at once (ours: each may use `SCRIPT_MEMORY_LIMIT`, 4 GiB at most in all);
/// one more is answered 503 with `Retry-After`.
pub const MAX_CONCURRENT_SCRIPTS: usize = 64;
/// The `Retry-After` of a 503 sent for want of a place for a script (ours).
pub const SCRIPT_RETRY_AFTER_SECS: u32 = 1;

/// Runs CGI scripts, each in a store of its own, on an engine that makes instances on
/// demand (the server's pool is its connections').
pub struct ScriptSandbox {
    loader: CommandLoader,
    /// Scripts running now.
    running: Arc<AtomicUsize>,
}

impl ScriptSandbox {
    /// A sandbox for scripts compiled on `engine`, kept compiled in `code_cache`; scripts that
    /// use httplib's client get `guest` composed in.
    pub fn new(engine: &Engine, guest: Arc<[u8]>, code_cache: crate::code_cache::CodeCache) -> Result<Self> {
        Ok(Self {
            loader: CommandLoader::new(engine, guest, code_cache)?,
            running: Arc::default(),
        })
    }

    /// A place for one more script, or `None` when `MAX_CONCURRENT_SCRIPTS` run.
    fn take_place(&self) -> Option<Place> {
        let taken = self.running.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MAX_CONCURRENT_SCRIPTS).then_some(n + 1)
        });
        taken.ok().map(|_| Place(self.running.clone()))
    }
}

/// A running script's place, given back when dropped.
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why a script cannot run, in words for a client: the details (wasmtime's) go to the log only.
fn not_runnable(e: LoadError) -> CgiError {
    match e {
        LoadError::Compose(e) => CgiError::NotRunnable(e.to_string()),
        LoadError::Unsupplied(_) => CgiError::NotRunnable(e.to_string()),
        LoadError::Other(details) => {
            eprintln!("CGI script could not be compiled or linked: {details}");
            CgiError::NotRunnable("it could not be compiled or linked".into())
        }
    }
}

impl ScriptRunner for ScriptSandbox {
    /// Start `program` on a thread of its own; its sockets go where `policy` grants.
    fn start(
        &self,
        program: &[u8],
        args: &[String],
        env: &[(String, String)],
        stdin: Vec<u8>,
        policy: &OutboundPolicy,
    ) -> Result<RunningScript, CgiError> {
        let place = self.take_place().ok_or(CgiError::Busy(SCRIPT_RETRY_AFTER_SECS))?;
        let pre = self.loader.prepare(program).map_err(not_runnable)?;
        let limits = SessionLimits {
            memory: Some(SCRIPT_MEMORY_LIMIT),
            cpu: MAX_SCRIPT_RUN,
            request_deadline: Some(MAX_SCRIPT_RUN),
            io_timeout: Some(MAX_SCRIPT_RUN),
            ..SessionLimits::default()
        };
        // No `scripts`: a script's own httplib runs no CGI.
        let httplib = HttplibCtx::new(policy.clone()).with_limits(limits);
        let cancel = httplib.cancel_handle();
        let (script, stdout, ended) = RunningScript::new(move || cancel.cancel());
        let stderr = MemoryOutputPipe::new(MAX_SCRIPT_STDERR);
        let mut wasi = WasiCtx::builder();
        // No preopens and no network of its own: WasiCtxBuilder grants neither unless asked.
        wasi.args(args)
            .envs(env)
            .stdin(MemoryInputPipe::new(stdin))
            .stdout(stdout)
            .stderr(stderr.clone())
            .allow_blocking_current_thread(true);
        let state = HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            httplib,
        };
        let mut store = Store::new(self.loader.engine(), state);
        store.limiter(|s| s.httplib.limiter());
        // Wall-clock time, whatever the script does; a script whose client went away (its
        // `script` dropped, the session cancelled) is stopped at the next tick.
        let started = Instant::now();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |ctx| {
            if started.elapsed() >= MAX_SCRIPT_RUN || ctx.data().httplib.cancelled() {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        let run = move || {
            let end = run_to_end(&pre, &mut store, &stderr);
            // The store (and the script's stdout with it) goes first: its reader sees the end
            // of the output, then asks how the script ended.
            drop(store);
            drop(place);
            let _ = ended.send(end);
        };
        std::thread::Builder::new()
            .name("httplib-cgi".into())
            .spawn(run)
            .map_err(|_| CgiError::Busy(SCRIPT_RETRY_AFTER_SECS))?;
        Ok(script)
    }
}

/// Run a prepared script in `store` to its end, and say how it ended (the log gets the
/// details of a trap; the end only its kind).
fn run_to_end(pre: &CommandPre<HostState>, store: &mut Store<HostState>, stderr: &MemoryOutputPipe) -> ScriptEnd {
    // In a tokio runtime (wasmtime-wasi's own, on this thread): a script's clocks and
    // pollables (a sleep) need one.
    let outcome = wasmtime_wasi::runtime::in_tokio(async {
        let command = pre.instantiate_async(&mut *store).await?;
        command.wasi_cli_run().call_run(&mut *store).await
    });
    let (exit_code, stopped) = match outcome {
        Ok(Ok(())) => (0, None),
        Ok(Err(())) => (1, None),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => (u8::try_from(exit.0).unwrap_or(1), None),
            None => {
                let stop = if store.data().httplib.memory_cap_refused() {
                    Stop::MemoryLimit
                } else if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
                    Stop::TimeLimit
                } else {
                    Stop::Trapped
                };
                eprintln!("CGI script stopped, {}: {e:?}", stop.describe());
                (1, Some(stop))
            }
        },
    };
    ScriptEnd {
        exit_code,
        stopped,
        stderr: stderr.contents().to_vec(),
    }
}

/// Shared by the server's connections.
pub type SharedSandbox = Arc<ScriptSandbox>;
