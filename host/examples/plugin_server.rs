//! A plugin server: an application with a store type of its own that serves a third-party
//! handler component (the plugin's `do_GET`, `do_POST`...) under its own rules. The plugin
//! may connect to the origins granted to it and nowhere else; each connection's instance has
//! a memory cap, a CPU limit and a deadline on each of the plugin's own requests; an audit
//! hook logs every connection and request the plugin makes, and vetoes some. The host's own
//! bookkeeping (the plugin's name, the client, where to report) lives in the same store as
//! WASI's and httplib's state.
//!
//!     cargo build --release --target wasm32-wasip2 -p httplib-sdk --example hello_handler
//!     cargo run --release -p httplib-host --example plugin_server -- \
//!         target/wasm32-wasip2/release/examples/hello_handler.wasm 8080 http://127.0.0.1:8000

use anyhow::{Context, Result};
use httplib_host::limits::SessionLimits;
use httplib_host::policy::{AuditHook, OutboundPolicy};
use httplib_host::server::{HandlerApp, Server, ServerConfig, StoreParts};
use httplib_host::view::{HttplibCtx, HttplibCtxView, HttplibView};
use httplib_host::{Runtime, RuntimeOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
// The wasmtime httplib is built on, re-exported so that versions always match.
use httplib_host::wasmtime::component::ResourceTable;
use httplib_host::wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The most linear memory a plugin's connection may have (each of its memories).
pub const PLUGIN_MEMORY: usize = 32 << 20;
/// How long a plugin may compute without calling the host before its connection is lost.
pub const PLUGIN_CPU: Duration = Duration::from_secs(1);
/// How long one of the plugin's own requests may take, start to end.
pub const PLUGIN_REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// The most a response to one of the plugin's own requests may carry.
pub const PLUGIN_MAX_BODY: u64 = 1 << 20;
/// Connections served at once for one plugin.
pub const PLUGIN_CONNECTIONS: usize = 256;

/// A third-party handler component and what the host lends it.
pub struct Plugin {
    /// The plugin's name, in the audit log and the host's bookkeeping.
    pub name: String,
    /// The handler component's bytes.
    pub wasm: Vec<u8>,
    /// Where its own requests may go (rules such as `http://127.0.0.1:8000`).
    pub grants: Vec<String>,
    /// The directory its `serve_file` (SimpleHTTPRequestHandler's do_GET) serves.
    pub directory: PathBuf,
}

/// The host's own store data: its bookkeeping beside WASI's and httplib's.
pub struct PluginState {
    /// Which plugin this store runs.
    pub plugin: Arc<str>,
    /// The client of the connection this store answers.
    pub client: SocketAddr,
    /// Where the host records what its plugin did.
    record: Arc<PluginRecord>,
    wasi: WasiCtx,
    table: ResourceTable,
    httplib: HttplibCtx,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HttplibView for PluginState {
    fn httplib(&mut self) -> HttplibCtxView<'_> {
        HttplibCtxView {
            ctx: &mut self.httplib,
            table: &mut self.table,
        }
    }
}

/// A store ends when its connection closes or is parked between requests.
impl Drop for PluginState {
    fn drop(&mut self) {
        let line = format!("{} answered {}", self.plugin, self.client);
        self.record.ended.lock().unwrap().push(line);
    }
}

/// What the host learns while a plugin serves.
#[derive(Default)]
pub struct PluginRecord {
    /// Every connection and request the plugin made: "PLUGIN: EVENT ARGS...".
    pub audit: Mutex<Vec<String>>,
    /// Stores made: one a connection, and one more each time a keep-alive connection comes
    /// back from the parking lot.
    pub stores: AtomicU64,
    /// A line for each store that ended: "PLUGIN answered CLIENT".
    pub ended: Mutex<Vec<String>>,
}

/// A server on `addr` answering every request with `plugin`, each connection in a
/// `Store<PluginState>`; what the host records as it serves comes back beside it.
pub fn plugin_server(
    runtime: Arc<Runtime>,
    plugin: Plugin,
    addr: SocketAddr,
) -> Result<(Server<PluginState>, Arc<PluginRecord>)> {
    let record = Arc::new(PluginRecord::default());

    // The audit hook logs everything and vetoes what the host never lends: /private paths.
    let seen = record.clone();
    let name: Arc<str> = plugin.name.into();
    let who = name.clone();
    let hook: AuditHook = Arc::new(move |event: &str, args: &[String]| {
        let line = format!("{who}: {event} {}", args.join(" "));
        seen.audit.lock().unwrap().push(line);
        match event == "http.client.send" && args[1].starts_with("/private") {
            true => Err("private paths are not for plugins".into()),
            false => Ok(()),
        }
    });
    let policy = OutboundPolicy::allow(&plugin.grants)
        .map_err(anyhow::Error::msg)?
        .with_audit(hook);
    // Composed with httplib's guest and compiled once; linked for the host's store type.
    let app = HandlerApp::<PluginState>::load(&runtime, &plugin.wasm, policy)
        .map_err(|e| anyhow::anyhow!("plugin {name}: {e}"))?;

    // Each connection's store: httplib's parts, the host's bookkeeping, a fresh table.
    let counts = record.clone();
    let config = ServerConfig::for_store(move |parts: StoreParts| {
        counts.stores.fetch_add(1, Ordering::Relaxed);
        PluginState {
            plugin: name.clone(),
            client: parts.peer,
            record: counts.clone(),
            wasi: parts.wasi,
            table: ResourceTable::new(),
            httplib: parts.httplib,
        }
    });
    let config = ServerConfig {
        directory: plugin.directory,
        protocol_version: "HTTP/1.1".into(),
        app: Some(Arc::new(app)),
        max_connections: PLUGIN_CONNECTIONS,
        limits: SessionLimits {
            memory: Some(PLUGIN_MEMORY),
            cpu: PLUGIN_CPU,
            request_deadline: Some(PLUGIN_REQUEST_DEADLINE),
            max_response_body: Some(PLUGIN_MAX_BODY),
            ..SessionLimits::default()
        },
        ..config
    };
    let server = Server::bind(addr, runtime, config)?;
    Ok((server, record))
}

#[allow(dead_code)] // the integration test includes this file for `plugin_server` alone
fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [wasm, port, grants @ ..] = args.as_slice() else {
        anyhow::bail!("usage: plugin_server PLUGIN.wasm PORT [RULE]...   (RULE: e.g. http://127.0.0.1:8000)");
    };
    let plugin = Plugin {
        name: std::path::Path::new(wasm)
            .file_stem()
            .map_or("plugin".into(), |s| s.to_string_lossy().into_owned()),
        wasm: std::fs::read(wasm).with_context(|| format!("reading {wasm}"))?,
        grants: grants.to_vec(),
        directory: ".".into(),
    };
    let name = plugin.name.clone();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let runtime = Arc::new(Runtime::with_options(RuntimeOptions::server())?);
    let (server, record) = plugin_server(runtime, plugin, addr)?;
    println!("plugin {name} serving on http://{}/", server.local_addr());
    // The audit log, as it grows, on stderr.
    std::thread::spawn(move || {
        let mut shown = 0;
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let audit = record.audit.lock().unwrap();
            for line in &audit[shown..] {
                eprintln!("audit: {line}");
            }
            shown = audit.len();
        }
    });
    server.serve()
}
