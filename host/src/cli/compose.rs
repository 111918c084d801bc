//! `httplib compose APP.wasm -o OUT.wasm [--adapter wasi-sockets|wasi-sockets-tls|wasi-http]`: the app and the embedded
//! guest as one component, for a plugin host (which supplies httplib's imports) or, with the
//! adapter, for any WASI 0.2 runtime. `httplib compose --wasi-http -o OUT.wasm`: httplib's file
//! server as a `wasi:http/proxy` component, for `wasmtime serve` and the runtimes built on it.

use crate::compose::{
    self, ADAPTER_WASM, WASI_HTTP_ADAPTER_WASM, WASI_HTTP_CLIENT_WASM, WASI_HTTP_DRIVER_WASM, WASI_HTTP_SERVER_WASM,
    WASI_SOCKETS_TLS_WASM, WasiHttpParts,
};
use crate::runtime::GUEST_WASM;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// What satisfies the guest's `transport` and `cgi` imports.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// Plain TCP over wasi:sockets (no TLS), CGI refused: the result imports only WASI 0.2.
    #[value(name = "wasi-sockets")]
    Sockets,
    /// The same with https by the runtime's wasi:tls (draft; `wasmtime run -S tls`), which
    /// verifies against its own roots: the result starts only where wasi:tls is offered.
    #[value(name = "wasi-sockets-tls")]
    SocketsTls,
    /// Each request through wasi:http/outgoing-handler (https, name resolution and proxies
    /// the runtime's), CGI refused: for `wasmtime run -S http` and runtimes that grant HTTP
    /// but no sockets.
    #[value(name = "wasi-http")]
    Http,
}

#[derive(Args, Debug)]
/// `httplib compose`'s arguments.
pub struct ComposeArgs {
    /// The command component that imports httplib:http/client.
    #[arg(required_unless_present = "wasi_http")]
    pub app: Option<PathBuf>,
    /// Where to write the composed component.
    #[arg(short, long, value_name = "OUT.wasm")]
    pub output: PathBuf,
    /// Satisfy httplib's transport with an adapter, so that the result imports only standard
    /// WASI 0.2 (and, with wasi-sockets-tls, the wasi:tls draft); without it, the host must
    /// supply httplib:http/transport and cgi, as `httplib run` and a plugin host using
    /// httplib-host do.
    #[arg(long, value_enum, value_name = "ADAPTER", conflicts_with = "wasi_http")]
    pub adapter: Option<Adapter>,
    /// Write a wasi:http/proxy component, for `wasmtime serve -S cli --dir SITE::/ OUT.wasm`:
    /// with APP (a handler component), httplib's server answering with the app's `do_METHOD`;
    /// alone, httplib's file server (SimpleHTTPRequestHandler: listings, files, ranges,
    /// conditional requests, error pages) serving its preopened `/`.
    #[arg(long)]
    pub wasi_http: bool,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("httplib compose: {message}");
    ExitCode::from(2)
}

/// Compose and write the result.
pub fn run(args: ComposeArgs) -> ExitCode {
    let app_path = match (&args.app, args.wasi_http) {
        (None, true) => return write_wasi_http_server(&args),
        (Some(app), true) => return write_wasi_http_app(app, &args.output),
        (Some(app), false) => app,
        (None, false) => return fail("no app given"),
    };
    let name = app_path.display().to_string();
    let app = match std::fs::read(app_path) {
        Ok(bytes) => bytes,
        Err(e) => return fail(format_args!("{name}: {e}")),
    };
    let adapter = match args.adapter {
        Some(Adapter::Sockets) if ADAPTER_WASM.is_empty() => {
            return fail("this httplib was built without the wasi-sockets adapter's sources");
        }
        Some(Adapter::Sockets) => Some(ADAPTER_WASM),
        Some(Adapter::SocketsTls) if WASI_SOCKETS_TLS_WASM.is_empty() => {
            return fail("this httplib was built without the wasi-sockets-tls adapter's sources");
        }
        Some(Adapter::SocketsTls) => Some(WASI_SOCKETS_TLS_WASM),
        Some(Adapter::Http) if WASI_HTTP_CLIENT_WASM.is_empty() => {
            return fail("this httplib was built without the wasi:http client adapter's sources");
        }
        Some(Adapter::Http) => Some(WASI_HTTP_CLIENT_WASM),
        None => None,
    };
    let composed = match compose::compose(&app, GUEST_WASM, adapter) {
        Ok(bytes) => bytes,
        Err(e) => return fail(format_args!("{name}: {e}")),
    };
    let imports = match compose::imports(&composed) {
        Ok(imports) => imports,
        Err(e) => return fail(format_args!("the composed component: {e}")),
    };
    if let Err(e) = std::fs::write(&args.output, &composed) {
        return fail(format_args!("{}: {e}", args.output.display()));
    }
    // A draft interface (wasi:tls@0.2.0-draft) is named: only some runtimes offer it.
    let foreign: Vec<&String> = imports
        .iter()
        .filter(|n| !n.starts_with("wasi:") || n.ends_with("-draft"))
        .collect();
    let needs = if foreign.is_empty() {
        "only WASI 0.2".to_owned()
    } else {
        format!(
            "WASI 0.2 and {}",
            foreign.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )
    };
    eprintln!(
        "httplib compose: wrote {} ({} bytes); it imports {needs}",
        args.output.display(),
        composed.len()
    );
    ExitCode::SUCCESS
}

/// `--wasi-http APP.wasm`: the handler app, the guest and the wasi:http adapter and driver.
fn write_wasi_http_app(app_path: &std::path::Path, output: &std::path::Path) -> ExitCode {
    if WASI_HTTP_ADAPTER_WASM.is_empty() || WASI_HTTP_DRIVER_WASM.is_empty() {
        return fail("this httplib was built without the wasi:http adapter's sources");
    }
    let name = app_path.display().to_string();
    let app = match std::fs::read(app_path) {
        Ok(bytes) => bytes,
        Err(e) => return fail(format_args!("{name}: {e}")),
    };
    let parts = WasiHttpParts {
        guest: GUEST_WASM,
        adapter: WASI_HTTP_ADAPTER_WASM,
        driver: WASI_HTTP_DRIVER_WASM,
    };
    let composed = match compose::compose_wasi_http(&app, &parts) {
        Ok(bytes) => bytes,
        Err(e) => return fail(format_args!("{name}: {e}")),
    };
    if let Err(e) = std::fs::write(output, &composed) {
        return fail(format_args!("{}: {e}", output.display()));
    }
    eprintln!(
        "httplib compose: wrote {} ({} bytes), a wasi:http/proxy component answering with {name}: \
         wasmtime serve -S cli {}",
        output.display(),
        composed.len(),
        output.display()
    );
    ExitCode::SUCCESS
}

/// `--wasi-http` alone: the embedded file server, as it is.
fn write_wasi_http_server(args: &ComposeArgs) -> ExitCode {
    if WASI_HTTP_SERVER_WASM.is_empty() {
        return fail("this httplib was built without the wasi:http file server's sources");
    }
    if let Err(e) = std::fs::write(&args.output, WASI_HTTP_SERVER_WASM) {
        return fail(format_args!("{}: {e}", args.output.display()));
    }
    eprintln!(
        "httplib compose: wrote {} ({} bytes), a wasi:http/proxy component serving its preopened /: \
         wasmtime serve -S cli --dir SITE::/ {}",
        args.output.display(),
        WASI_HTTP_SERVER_WASM.len(),
        args.output.display()
    );
    ExitCode::SUCCESS
}
