//! Composition: a component that imports `httplib:http/client` (an app, a CGI script) wired to
//! the guest's export of it, in one component, with wac-graph. The guest's own imports
//! (transport, cgi, WASI) stay imports of the whole, for the host to supply; or, with an
//! adapter, transport and cgi come from the adapter and only standard WASI is left.

use wac_graph::types::{ItemKind, Package};
use wac_graph::{CompositionGraph, EncodeOptions, NodeId, PackageId};

/// The wasi-sockets adapter (`guest/adapters/wasi-sockets`), built by build.rs and embedded;
/// empty when the crate was built without its sources (see build.rs).
pub static ADAPTER_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasi_sockets_adapter.wasm"));

/// httplib's file server as a `wasi:http/proxy` component (`guest/adapters/wasi-http-server`,
/// `httplib compose --wasi-http`), built by build.rs and embedded; empty like the adapter.
pub static WASI_HTTP_SERVER_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasi_http_server.wasm"));

/// The adapter that makes the guest's transport a wasi:http request
/// (`guest/adapters/wasi-http-adapter`, `httplib compose --wasi-http APP.wasm`), built by
/// build.rs and embedded; empty like the others.
pub static WASI_HTTP_ADAPTER_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasi_http_adapter.wasm"));

/// The incoming-handler that drives the guest and a handler app for each wasi:http request
/// (`guest/adapters/wasi-http-driver`), built by build.rs and embedded; empty like the others.
pub static WASI_HTTP_DRIVER_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasi_http_driver.wasm"));

/// The adapter that sends the guest's requests through `wasi:http/outgoing-handler`
/// (`guest/adapters/wasi-http-client`, `httplib compose --adapter wasi-http`), built by
/// build.rs and embedded; empty like the others.
pub static WASI_HTTP_CLIENT_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasi_http_client.wasm"));

/// The wasi-sockets adapter with https over the runtime's wasi:tls
/// (`guest/adapters/wasi-sockets-tls`, `httplib compose --adapter wasi-sockets-tls`), built by
/// build.rs and embedded; empty like the others.
pub static WASI_SOCKETS_TLS_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasi_sockets_tls.wasm"));

/// The interface the guest exports and apps import.
pub const CLIENT_INTERFACE: &str = "httplib:http/client";
/// The interface the guest exports for handler components: the current request's verbs.
pub const EXCHANGE_INTERFACE: &str = "httplib:http/exchange";
/// The guest's server, exported again by a composed handler app for the host to drive.
pub const SERVER_INTERFACE: &str = "httplib:http/server";
/// The interface a handler component exports: `do_METHOD`.
pub const HANDLER_EXPORT: &str = "httplib:http/request-handler";
/// What a `wasi:http/proxy` component exports, and the composed handler app's export.
pub const INCOMING_HANDLER: &str = "wasi:http/incoming-handler";
/// The interface a command component exports (WASI 0.2).
pub const COMMAND_EXPORT: &str = "wasi:cli/run";
/// Packages whose interfaces the host supplies: WASI 0.2 and httplib's own.
pub const SUPPLIED_PACKAGES: [&str; 2] = ["wasi:", "httplib:http/"];
/// The httplib interfaces an app may import: the client and the types it uses. Never
/// `transport` (a raw stream would skip the guest's `http.client.send` audit event, which the
/// host's audit hook may veto) nor `cgi`: every request an app makes goes through the guest.
pub const APP_INTERFACES: [&str; 3] = [CLIENT_INTERFACE, "httplib:http/types", EXCHANGE_INTERFACE];

/// Why two components could not be composed.
#[derive(Debug)]
pub enum ComposeError {
    /// The bytes are not a component (or not a valid one).
    NotAComponent(String),
    /// The app exports no `wasi:cli/run`.
    NotACommand,
    /// The app exports no `httplib:http/request-handler`.
    NotAHandler,
    /// The app is a `wasi:http/proxy` component already: it needs no composing.
    AlreadyWasiHttp,
    /// The app imports no `httplib:http/client`: nothing to compose.
    NoClientImport,
    /// The app imports httplib interfaces that are the guest's alone (`transport`, `cgi`).
    Forbidden(Vec<String>),
    /// wac-graph refused the wiring or the encoding.
    Graph(String),
}

impl std::fmt::Display for ComposeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ComposeError::NotAComponent(why) => write!(f, "not a WebAssembly component: {why}"),
            ComposeError::NotACommand => {
                write!(
                    f,
                    "not a command component: it exports no {COMMAND_EXPORT} (build a binary for wasm32-wasip2)"
                )
            }
            ComposeError::NotAHandler => write!(
                f,
                "not a handler component: it exports no {HANDLER_EXPORT} (see guest/sdk's hello_handler example) and no wasi:http/incoming-handler"
            ),
            ComposeError::AlreadyWasiHttp => write!(
                f,
                "it exports {INCOMING_HANDLER} already: a wasi:http runtime (or `httplib serve --app`) runs it as it is"
            ),
            ComposeError::NoClientImport => write!(f, "it does not import {CLIENT_INTERFACE}"),
            ComposeError::Forbidden(names) => write!(
                f,
                "it imports {}: an app gets only {CLIENT_INTERFACE} and its types, so that every \
                 request it makes passes through http.client and the host's audit",
                names.join(", ")
            ),
            ComposeError::Graph(why) => write!(f, "composition failed: {why}"),
        }
    }
}

impl std::error::Error for ComposeError {}

/// The name in `names` that is `interface` at some version (`httplib:http/client@0.1.0`).
pub(crate) fn versioned<'a>(names: impl IntoIterator<Item = &'a String>, interface: &str) -> Option<&'a String> {
    names
        .into_iter()
        .find(|n| n.as_str() == interface || n.strip_prefix(interface).is_some_and(|rest| rest.starts_with('@')))
}

/// What one component of the graph imports and exports.
struct Part {
    package: PackageId,
    imports: Vec<String>,
    exports: Vec<(String, ItemKind)>,
}

/// The preamble of a WebAssembly component (a core module has version 1, layer 0).
const COMPONENT_PREAMBLE: [u8; 8] = *b"\0asm\x0d\0\x01\0";

fn register(graph: &mut CompositionGraph, name: &str, bytes: &[u8]) -> Result<Part, ComposeError> {
    if !bytes.starts_with(&COMPONENT_PREAMBLE) {
        let why = if bytes.starts_with(b"\0asm\x01\0\0\0") {
            "a core WebAssembly module (build for wasm32-wasip2 to get a component)"
        } else {
            "no WebAssembly component preamble"
        };
        return Err(ComposeError::NotAComponent(why.into()));
    }
    let package = Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())
        .map_err(|e| ComposeError::NotAComponent(format!("{:#}", e.root_cause())))?;
    let package = graph
        .register_package(package)
        .map_err(|e| ComposeError::Graph(format!("{e:#}")))?;
    let world = &graph.types()[graph[package].ty()];
    let imports = world.imports.keys().cloned().collect();
    let exports = world.exports.iter().map(|(n, k)| (n.clone(), *k)).collect();
    Ok(Part {
        package,
        imports,
        exports,
    })
}

/// The interfaces `component` imports, by name.
pub fn imports(component: &[u8]) -> Result<Vec<String>, ComposeError> {
    let mut graph = CompositionGraph::new();
    Ok(register(&mut graph, "app:app", component)?.imports)
}

/// `app` (a command component importing `httplib:http/client`) composed with `guest`; when
/// `adapter` is given, its exports (`transport`, `cgi`, `types`) satisfy the guest's and the
/// app's imports of the same names. The result exports what `app` exports.
pub fn compose(app: &[u8], guest: &[u8], adapter: Option<&[u8]>) -> Result<Vec<u8>, ComposeError> {
    let mut graph = CompositionGraph::new();
    let app_part = register(&mut graph, "app:app", app)?;
    if versioned(app_part.exports.iter().map(|(n, _)| n), COMMAND_EXPORT).is_none() {
        return Err(ComposeError::NotACommand);
    }
    let forbidden = forbidden_imports(&app_part.imports);
    if !forbidden.is_empty() {
        return Err(ComposeError::Forbidden(forbidden));
    }
    let client_import = versioned(&app_part.imports, CLIENT_INTERFACE)
        .ok_or(ComposeError::NoClientImport)?
        .clone();
    let guest_part = register(&mut graph, "httplib:guest", guest)?;
    let adapter = match adapter {
        Some(bytes) => {
            let part = register(&mut graph, "httplib:adapter", bytes)?;
            let instance = graph.instantiate(part.package);
            Some((part, instance))
        }
        None => None,
    };
    let graph_error = |e: &dyn std::fmt::Display| ComposeError::Graph(e.to_string());

    let guest = graph.instantiate(guest_part.package);
    if let Some((adapter_part, adapter)) = &adapter {
        plug(&mut graph, adapter_part, *adapter, &guest_part.imports, guest)?;
    }
    let app = graph.instantiate(app_part.package);
    let client_export = versioned(guest_part.exports.iter().map(|(n, _)| n), CLIENT_INTERFACE)
        .ok_or_else(|| ComposeError::Graph(format!("the guest exports no {CLIENT_INTERFACE}")))?
        .clone();
    let client = graph
        .alias_instance_export(guest, &client_export)
        .map_err(|e| graph_error(&e))?;
    graph
        .set_instantiation_argument(app, &client_import, client)
        .map_err(|e| graph_error(&e))?;
    if let Some((adapter_part, adapter)) = &adapter {
        plug(&mut graph, adapter_part, *adapter, &app_part.imports, app)?;
    }
    for (name, _) in &app_part.exports {
        let export = graph.alias_instance_export(app, name).map_err(|e| graph_error(&e))?;
        graph.export(export, name).map_err(|e| graph_error(&e))?;
    }
    graph
        .encode(EncodeOptions::default())
        .map_err(|e| ComposeError::Graph(format!("{e:#}")))
}

/// `app` (a handler component: it exports `httplib:http/request-handler`) composed with
/// `guest`: its imports of the guest's `exchange` and `client` wired to the guest's exports.
/// The result exports the guest's `exchange` and `server` and the app's `request-handler`,
/// for the host to drive each connection (`server`'s `next-request`, then `handle`). The
/// guest imports nothing of the app: no cycle.
pub fn compose_handler(app: &[u8], guest: &[u8]) -> Result<Vec<u8>, ComposeError> {
    let mut graph = CompositionGraph::new();
    let app_part = register(&mut graph, "app:app", app)?;
    let handler_export = versioned(app_part.exports.iter().map(|(n, _)| n), HANDLER_EXPORT)
        .ok_or(ComposeError::NotAHandler)?
        .clone();
    let forbidden = forbidden_imports(&app_part.imports);
    if !forbidden.is_empty() {
        return Err(ComposeError::Forbidden(forbidden));
    }
    let graph_error = |e: &dyn std::fmt::Display| ComposeError::Graph(e.to_string());
    let guest_part = register(&mut graph, "httplib:guest", guest)?;
    let guest = graph.instantiate(guest_part.package);
    let app = graph.instantiate(app_part.package);
    let guest_exports: Vec<&String> = guest_part.exports.iter().map(|(n, _)| n).collect();
    for interface in [EXCHANGE_INTERFACE, CLIENT_INTERFACE] {
        let Some(import) = versioned(&app_part.imports, interface) else {
            continue;
        };
        let export = versioned(guest_exports.iter().copied(), interface)
            .ok_or_else(|| ComposeError::Graph(format!("the guest exports no {interface}")))?;
        let aliased = graph
            .alias_instance_export(guest, export)
            .map_err(|e| graph_error(&e))?;
        graph
            .set_instantiation_argument(app, import, aliased)
            .map_err(|e| graph_error(&e))?;
    }
    // The exchange first: the server's and the app's exports name its resource.
    for interface in [EXCHANGE_INTERFACE, SERVER_INTERFACE] {
        let name = versioned(guest_exports.iter().copied(), interface)
            .ok_or_else(|| ComposeError::Graph(format!("the guest exports no {interface}")))?;
        let export = graph.alias_instance_export(guest, name).map_err(|e| graph_error(&e))?;
        graph.export(export, name).map_err(|e| graph_error(&e))?;
    }
    let export = graph
        .alias_instance_export(app, &handler_export)
        .map_err(|e| graph_error(&e))?;
    graph.export(export, &handler_export).map_err(|e| graph_error(&e))?;
    graph
        .encode(EncodeOptions::default())
        .map_err(|e| ComposeError::Graph(format!("{e:#}")))
}

/// The components that make a handler app a `wasi:http/proxy` component.
pub struct WasiHttpParts<'a> {
    /// httplib's guest (`GUEST_WASM`).
    pub guest: &'a [u8],
    /// Its transport over wasi:http requests (`WASI_HTTP_ADAPTER_WASM`).
    pub adapter: &'a [u8],
    /// The incoming-handler driving them (`WASI_HTTP_DRIVER_WASM`).
    pub driver: &'a [u8],
}

/// `app` (a handler component) as a `wasi:http/proxy` component: the adapter's transport and
/// types under the guest, the guest's `exchange` and `client` under the app, and the driver
/// over all three, exporting `wasi:http/incoming-handler`. What none of them supplies (WASI,
/// wasi:http's types) is imported from the runtime. A DAG: adapter, guest, app, driver.
pub fn compose_wasi_http(app: &[u8], parts: &WasiHttpParts) -> Result<Vec<u8>, ComposeError> {
    let mut graph = CompositionGraph::new();
    let app_part = register(&mut graph, "app:app", app)?;
    let app_exports: Vec<&String> = app_part.exports.iter().map(|(n, _)| n).collect();
    if versioned(app_exports.iter().copied(), INCOMING_HANDLER).is_some() {
        return Err(ComposeError::AlreadyWasiHttp);
    }
    if versioned(app_exports.iter().copied(), HANDLER_EXPORT).is_none() {
        return Err(ComposeError::NotAHandler);
    }
    let forbidden = forbidden_imports(&app_part.imports);
    if !forbidden.is_empty() {
        return Err(ComposeError::Forbidden(forbidden));
    }
    let adapter_part = register(&mut graph, "httplib:wasi-http-adapter", parts.adapter)?;
    let guest_part = register(&mut graph, "httplib:guest", parts.guest)?;
    let driver_part = register(&mut graph, "httplib:wasi-http-driver", parts.driver)?;
    let adapter = graph.instantiate(adapter_part.package);
    let guest = graph.instantiate(guest_part.package);
    plug(&mut graph, &adapter_part, adapter, &guest_part.imports, guest)?;
    let app = graph.instantiate(app_part.package);
    plug(&mut graph, &adapter_part, adapter, &app_part.imports, app)?;
    plug(&mut graph, &guest_part, guest, &app_part.imports, app)?;
    let driver = graph.instantiate(driver_part.package);
    plug(&mut graph, &adapter_part, adapter, &driver_part.imports, driver)?;
    plug(&mut graph, &guest_part, guest, &driver_part.imports, driver)?;
    plug(&mut graph, &app_part, app, &driver_part.imports, driver)?;
    let name = versioned(driver_part.exports.iter().map(|(n, _)| n), INCOMING_HANDLER)
        .ok_or_else(|| ComposeError::Graph(format!("the driver exports no {INCOMING_HANDLER}")))?;
    let export = graph
        .alias_instance_export(driver, name)
        .map_err(|e| ComposeError::Graph(e.to_string()))?;
    graph
        .export(export, name)
        .map_err(|e| ComposeError::Graph(e.to_string()))?;
    graph
        .encode(EncodeOptions::default())
        .map_err(|e| ComposeError::Graph(format!("{e:#}")))
}

/// The httplib interfaces among `imports` that an app may not import (see `APP_INTERFACES`).
pub fn forbidden_imports(imports: &[String]) -> Vec<String> {
    imports
        .iter()
        .filter(|name| name.starts_with("httplib:"))
        .filter(|name| {
            !APP_INTERFACES
                .iter()
                .any(|allowed| versioned([*name], allowed).is_some())
        })
        .cloned()
        .collect()
}

/// Each export of `source` (an adapter, the guest, an app) that `instance` imports (by name,
/// versions included), given it.
fn plug(
    graph: &mut CompositionGraph,
    source_part: &Part,
    source: NodeId,
    imports: &[String],
    instance: NodeId,
) -> Result<(), ComposeError> {
    for (name, _) in &source_part.exports {
        if !imports.contains(name) {
            continue;
        }
        let export = graph
            .alias_instance_export(source, name)
            .map_err(|e| ComposeError::Graph(e.to_string()))?;
        graph
            .set_instantiation_argument(instance, name, export)
            .map_err(|e| ComposeError::Graph(e.to_string()))?;
    }
    Ok(())
}

/// The imports of a component (by name) that the host does not supply: not WASI 0.2 and not
/// httplib's own.
pub fn unsupplied_imports(engine: &wasmtime::Engine, component: &wasmtime::component::Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .filter(|name| !SUPPLIED_PACKAGES.iter().any(|p| name.starts_with(p)))
        .collect()
}
