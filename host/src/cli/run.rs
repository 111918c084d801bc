//! `httplib run APP.wasm [--allow RULE]... [--dir HOST::GUEST]... [-- ARGS...]`: a wasi:cli
//! command that imports `httplib:http/client`, composed with the embedded guest and run like
//! `wasmtime run`, every socket it opens checked against the `--allow` rules.

use crate::app::CommandLoader;
use crate::code_cache::CodeCache;
use crate::limits::SessionLimits;
use crate::policy::OutboundPolicy;
use crate::runtime::GUEST_WASM;
use crate::transport::tls::TrustOverride;
use crate::view::HostState;
use crate::view::HttplibCtx;
use crate::wait::Wait;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Store, Trap};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx};

/// Cap on each linear memory of the app and of its guest (ours: as `wasmtime run`, nothing
/// below wasm32's own 4 GiB).
pub const RUN_MEMORY_LIMIT: usize = 4 * 1024 * 1024 * 1024 - 64 * 1024;
/// The exit status of a run that trapped (wasmtime's: 128 + SIGABRT).
pub const TRAP_EXIT: u8 = 134;
/// The exit status when the app could not be started (ours; the app's own are 0-125).
pub const LOAD_FAILED_EXIT: u8 = 126;

#[derive(Args, Debug)]
/// `httplib run`'s arguments.
pub struct RunArgs {
    /// The command component to run (a binary built for wasm32-wasip2 that imports
    /// httplib:http/client, or any wasi:cli command).
    pub app: PathBuf,
    /// Let the app connect where RULE grants: [scheme://]host[:port], `*.domain`, an address or
    /// CIDR block. Nothing is reachable without a rule; wildcards never reach loopback,
    /// link-local or private addresses (name them).
    #[arg(long = "allow", value_name = "RULE")]
    pub allow: Vec<String>,
    /// Give the app a host directory, as `wasmtime run --dir`: HOST::GUEST, or HOST (seen at
    /// the same path).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub dirs: Vec<String>,
    /// Set an environment variable for the app: NAME=VALUE, or NAME to pass this process's.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Print each connection the app opens or is refused (the audit events) to stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Trust the CA certificates in this PEM file too, for every https connection the app
    /// makes (as `get --cacert`).
    #[arg(long = "cacert", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Verify no certificate or host name for any https connection the app makes (as
    /// `get -k`): for testing against a server you know.
    #[arg(short = 'k', long = "insecure")]
    pub insecure: bool,
    /// The app's arguments (after `--`).
    #[arg(last = true)]
    pub args: Vec<String>,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("httplib run: {message}");
    ExitCode::from(LOAD_FAILED_EXIT)
}

/// Run the app to its end; its exit status.
pub fn run(args: RunArgs) -> ExitCode {
    let name = args.app.display().to_string();
    let program = match std::fs::read(&args.app) {
        Ok(bytes) => bytes,
        Err(e) => return fail(format_args!("{name}: {e}")),
    };
    let mut policy = match OutboundPolicy::allow(&args.allow) {
        Ok(policy) if !args.allow.is_empty() => policy,
        Ok(_) => OutboundPolicy::deny_all(),
        Err(e) => return fail(format_args!("--allow: {e}")),
    };
    if args.verbose {
        policy = policy.with_audit(Arc::new(|event, values| {
            eprintln!("httplib run: {event} {}", values.join(" "));
            Ok(())
        }));
    }
    let wasi = match wasi_ctx(&name, &args) {
        Ok(wasi) => wasi,
        Err(e) => return fail(e),
    };
    let loader = match loader() {
        Ok(loader) => loader,
        Err(e) => return fail(format_args!("{e:#}")),
    };
    let pre = match loader.prepare(&program) {
        Ok(pre) => pre,
        Err(e) => return fail(format_args!("{name}: {e}")),
    };
    let limits = SessionLimits {
        memory: Some(RUN_MEMORY_LIMIT),
        // As `wasmtime run`: an app may compute as long as it likes.
        cpu: Duration::MAX,
        ..SessionLimits::default()
    };
    let trust = match (&args.cacert, args.insecure) {
        (_, true) => TrustOverride::Insecure,
        (Some(path), false) => match std::fs::read(path) {
            Ok(pem) => TrustOverride::ExtraRoots(pem),
            Err(e) => return fail(format_args!("--cacert {}: {e}", path.display())),
        },
        (None, false) => TrustOverride::AsAsked,
    };
    let mut httplib = HttplibCtx::new(policy).with_limits(limits);
    httplib.trust = trust;
    let state = HostState {
        wasi,
        table: wasmtime::component::ResourceTable::new(),
        httplib,
    };
    let mut store = Store::new(loader.engine(), state);
    crate::runtime::configure_store(&mut store);
    let command = match pre.instantiate_async(&mut store).wait() {
        Ok(command) => command,
        Err(e) => return fail(format_args!("{name}: {e:#}")),
    };
    match command.wasi_cli_run().call_run(&mut store).wait() {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(())) => ExitCode::FAILURE,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => ExitCode::from(u8::try_from(exit.0).unwrap_or(1)),
            None => {
                let what = if e.downcast_ref::<Trap>().is_some() {
                    "trapped"
                } else {
                    "failed"
                };
                eprintln!("httplib run: {name} {what}: {e:?}");
                ExitCode::from(TRAP_EXIT)
            }
        },
    }
}

/// A loader on an engine of its own (instances made on demand, epochs ticking for the CPU
/// limit and cancellation), composing with the embedded guest.
fn loader() -> anyhow::Result<CommandLoader> {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    let engine = wasmtime::Engine::new(&config)?;
    crate::runtime::start_epoch_ticker(&engine);
    CommandLoader::new(&engine, Arc::from(GUEST_WASM), CodeCache::from_env())
}

/// The app's WASI: this process's stdio, its arguments (the app's path first, as `wasmtime
/// run`), the environment and directories asked for, no sockets of its own.
fn wasi_ctx(name: &str, args: &RunArgs) -> Result<WasiCtx, String> {
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stdio().arg(name).args(&args.args);
    for var in &args.env {
        match var.split_once('=') {
            Some((k, v)) => wasi.env(k, v),
            None => match std::env::var(var) {
                Ok(v) => wasi.env(var, v),
                Err(_) => continue,
            },
        };
    }
    for dir in &args.dirs {
        let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| format!("--dir {dir}: {e:#}"))?;
    }
    Ok(wasi.build())
}
