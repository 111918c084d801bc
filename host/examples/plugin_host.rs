//! A plugin host: an application with a store type of its own, which lends a plugin httplib's
//! http.client under its rules: one origin granted, a per-session limit on response bodies
//! and on each request's time, and an audit hook that logs every connection and request and
//! vetoes some.
//!
//!     cargo run -p httplib-host --example plugin_host -- http://127.0.0.1:8000 \
//!         http://127.0.0.1:8000/ http://127.0.0.1:8000/private/x http://169.254.169.254/

use anyhow::Result;
use httplib_host::bindings::client::{Body, ConnectionOptions};
use httplib_host::client::ClientSession;
use httplib_host::limits::SessionLimits;
use httplib_host::policy::{AuditHook, OutboundPolicy};
use httplib_host::view::{HttplibCtx, HttplibCtxView, HttplibView};
use httplib_host::{Runtime, view};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
// The wasmtime httplib is built on, re-exported so that versions always match.
use httplib_host::wasmtime::component::{Linker, ResourceTable};
use httplib_host::wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The most a plugin's response may carry.
pub const PLUGIN_MAX_BODY: u64 = 1 << 20;
/// How long one of a plugin's requests may take, start to end.
pub const PLUGIN_REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// The host's own store data: its bookkeeping beside WASI's and httplib's.
pub struct PluginState {
    /// Which plugin this store runs.
    pub plugin: String,
    /// Requests the plugin has made (the host's own count).
    pub requests: u32,
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

/// Run `plugin`'s fetches of `urls` with only `origin` reachable; one line per URL on `out`,
/// and the audit log (event and arguments) returned.
pub fn run_plugin(
    runtime: &Runtime,
    plugin: &str,
    origin: &str,
    urls: &[String],
    out: &mut dyn Write,
) -> Result<Vec<String>> {
    // The host's linker, its store type: WASI and httplib's imports added to it.
    let mut linker = Linker::<PluginState>::new(runtime.engine());
    view::add_to_linker(&mut linker)?;
    let pre = runtime.prepare(&linker)?;

    // The audit hook logs everything and vetoes what the host never lends: /private paths.
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let hook: AuditHook = Arc::new(move |event: &str, args: &[String]| {
        seen.lock().unwrap().push(format!("{event} {}", args.join(" ")));
        match event == "http.client.send" && args[1].starts_with("/private") {
            true => Err("private paths are not for plugins".into()),
            false => Ok(()),
        }
    });
    let policy = OutboundPolicy::allow([origin])
        .map_err(anyhow::Error::msg)?
        .with_audit(hook);
    let limits = SessionLimits {
        max_response_body: Some(PLUGIN_MAX_BODY),
        request_deadline: Some(PLUGIN_REQUEST_DEADLINE),
        ..SessionLimits::default()
    };
    let state = PluginState {
        plugin: plugin.to_string(),
        requests: 0,
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        httplib: HttplibCtx::new(policy).with_limits(limits),
    };
    let (store, guest) = runtime.instantiate_in(&pre, state)?;
    let mut session = ClientSession::from_instance(store, guest);

    for url in urls {
        session.store_mut().data_mut().requests += 1;
        let result = (|| {
            let parts = session.split_url(url)?;
            let c = session.open(&parts.host, Some(parts.port), &ConnectionOptions::http())?;
            session.request(c, "GET", &parts.target, &Body::None, &[])?;
            let r = session.getresponse(c)?;
            let status = session.status(r)?;
            let mut size = 0;
            loop {
                let piece = session.read(r, Some(64 * 1024))?;
                if piece.is_empty() {
                    break;
                }
                size += piece.len();
            }
            session.close(c)?;
            Ok::<_, httplib_host::client::ClientError>((status, size))
        })();
        match result {
            Ok((status, size)) => writeln!(out, "{url}: {status}, {size} bytes")?,
            Err(e) => writeln!(out, "{url}: refused: {e}")?,
        }
    }
    let state = session.store().data();
    writeln!(out, "plugin {} made {} requests", state.plugin, state.requests)?;
    let log = log.lock().unwrap().clone();
    Ok(log)
}

#[allow(dead_code)] // the integration test includes this file for `run_plugin` alone
fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((origin, urls)) = args.split_first() else {
        anyhow::bail!("usage: plugin_host ORIGIN URL...   (ORIGIN: a rule such as http://127.0.0.1:8000)");
    };
    let runtime = Runtime::new()?;
    let log = run_plugin(&runtime, "example", origin, urls, &mut std::io::stdout())?;
    for line in log {
        eprintln!("audit: {line}");
    }
    Ok(())
}
