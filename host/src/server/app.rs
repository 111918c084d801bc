//! Apps that answer requests (`httplib serve --app`): a handler component exporting
//! `httplib:http/request-handler` (the `do_METHOD` part of a BaseHTTPRequestHandler subclass),
//! composed with the guest (`compose::compose_handler`), compiled once, and instantiated in
//! each connection's own store beside the guest it imports; or a `wasi:http` proxy component
//! (`proxy`), which runs beside the guest in a store of its own a request. The host drives the connection:
//! the guest's `next-request` (which reads, validates and answers malformed requests), then
//! the app's `handle` with the connection's `exchange`. An app that traps, loops past its CPU
//! limit or runs out of memory loses its own connection only: its client gets the guest's 500
//! when nothing of the response had gone out, and the connection closes.

use super::proxy::{self, ProxyApp};
use crate::app::LoadError;
use crate::compose::{self, ComposeError, HANDLER_EXPORT};
use crate::policy::OutboundPolicy;
use crate::runtime::{Runtime, ServedExports, ServedIndices};
use crate::stream::{GuestStream, ServedStream};
use crate::view::HttplibView;
use crate::wait::Wait;
use anyhow::{Result, anyhow};
use std::net::SocketAddr;
use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, InstancePre, Linker, Resource, ResourceAny, TypedFunc};

/// The app's `handle`: the connection's exchange in, whether it had a `do_METHOD` out.
pub(super) type Handle = TypedFunc<(ResourceAny,), (bool,)>;

/// An app ready to answer each connection's requests: a handler component instantiated with
/// the guest in stores of type `T` (httplib's `HostState`, or an embedder's own), or a
/// `wasi:http` proxy component.
pub struct HandlerApp<T: 'static = crate::view::HostState> {
    kind: AppKind<T>,
    policy: OutboundPolicy,
}

/// A handler component composed with the guest, linked, and where its exports are.
struct Composed<T: 'static> {
    pre: InstancePre<T>,
    served: ServedIndices,
    handle: ComponentExportIndex,
}

/// What kind of component an app is.
enum AppKind<T: 'static> {
    /// A handler component composed with the guest.
    Handler(Box<Composed<T>>),
    /// A `wasi:http` proxy component.
    Proxy(ProxyApp),
}

impl<T: HttplibView + 'static> HandlerApp<T> {
    /// `wasm` (a handler component) composed with `runtime`'s guest, compiled and linked, or
    /// (a `wasi:http` proxy component) compiled and linked with wasi:http; its outbound
    /// connections (`httplib:http/client`, `wasi:http/outgoing-handler`) go where `policy` grants.
    pub fn load(runtime: &Runtime, wasm: &[u8], policy: OutboundPolicy) -> Result<Self, LoadError> {
        fn other(e: impl std::fmt::Display) -> LoadError {
            LoadError::Other(format!("{e:#}"))
        }
        let engine = runtime.app_engine();
        let composed = match compose::compose_handler(wasm, runtime.guest_wasm()) {
            Ok(composed) => composed,
            Err(ComposeError::NotAHandler) => {
                let component = runtime.code_cache().component(engine, wasm).map_err(other)?;
                if !proxy::is_proxy(engine, &component) {
                    return Err(LoadError::Compose(ComposeError::NotAHandler));
                }
                let kind = AppKind::Proxy(ProxyApp::link(engine, &component)?);
                return Ok(Self { kind, policy });
            }
            Err(e) => return Err(LoadError::Compose(e)),
        };
        let component = runtime.code_cache().component(engine, &composed).map_err(other)?;
        let unsupplied = compose::unsupplied_imports(engine, &component);
        if !unsupplied.is_empty() {
            return Err(LoadError::Unsupplied(unsupplied));
        }
        let mut linker = Linker::new(engine);
        crate::view::add_to_linker(&mut linker).map_err(other)?;
        let pre = linker.instantiate_pre(&component).map_err(other)?;
        let served = ServedIndices::new(&pre).map_err(other)?;
        let names: Vec<String> = component
            .component_type()
            .exports(engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let missing = || LoadError::Other(format!("no {HANDLER_EXPORT}.handle export"));
        let interface = compose::versioned(&names, HANDLER_EXPORT)
            .and_then(|name| component.get_export_index(None, name))
            .ok_or_else(missing)?;
        let handle = component
            .get_export_index(Some(&interface), "handle")
            .ok_or_else(missing)?;
        Ok(Self {
            kind: AppKind::Handler(Box::new(Composed { pre, served, handle })),
            policy,
        })
    }

    /// The app when it is a `wasi:http` proxy component.
    pub(super) fn proxy(&self) -> Option<&ProxyApp> {
        match &self.kind {
            AppKind::Proxy(proxy) => Some(proxy),
            AppKind::Handler(_) => None,
        }
    }

    /// Where the app may connect.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// A new store for `state` holding the guest and the handler component, with the
    /// guest's exports and the app's `handle` (none for a proxy: see `proxy`).
    pub(super) fn instantiate(&self, runtime: &Runtime, state: T) -> Option<Result<(Store<T>, ServedExports, Handle)>> {
        let AppKind::Handler(composed) = &self.kind else {
            return None;
        };
        let Composed { pre, served, handle } = composed.as_ref();
        let engine = pre.engine().clone();
        let made = runtime.instantiate_on(&engine, state, |store| {
            let instance = pre.instantiate_async(&mut *store).wait()?;
            let served = served.load(store, &instance)?;
            let handle = instance.get_typed_func::<(ResourceAny,), (bool,)>(&mut *store, handle)?;
            Ok((served, handle))
        });
        Some(made.map(|(store, (served, handle))| (store, served, handle)))
    }
}

/// The connection's served stream, `stream` in the store's table (none once it is gone).
fn served<T: HttplibView>(store: &mut Store<T>, stream: u32) -> Option<&mut ServedStream> {
    match store
        .data_mut()
        .httplib()
        .table
        .get_mut(&Resource::<GuestStream>::new_borrow(stream))
    {
        Ok(GuestStream::Served(served)) => Some(served),
        _ => None,
    }
}

/// Whether the guest wrote to the connection's stream since it was last asked.
fn take_wrote<T: HttplibView>(store: &mut Store<T>, stream: u32) -> bool {
    served(store, stream).is_none_or(ServedStream::take_wrote)
}

/// The request loop of a connection answered by an app: the guest's `next-request`, the
/// app's `handle`, until the connection ends. `stream` is the connection's `tcp-stream` in
/// the store's table; `failed` the guest's 500 answer, sent when the app traps before any
/// byte of its response went out. An app's trap ends the connection with an error.
pub(super) async fn serve_app<T: HttplibView + 'static>(
    store: &mut Store<T>,
    guest: &ServedExports,
    handle: &Handle,
    handler: ResourceAny,
    stream: u32,
    failed: &[u8],
    peer: SocketAddr,
) -> Result<()> {
    let api = guest.server.handler();
    let exchange = api.call_exchange(&mut *store, handler).await?;
    while api
        .call_next_request(&mut *store, handler)
        .await?
        .map_err(anyhow::Error::from)?
        .is_some()
    {
        take_wrote(store, stream);
        let answered = match handle.call_async(&mut *store, (exchange,)).await {
            Ok((answered,)) => answered,
            Err(trap) => {
                let wrote = take_wrote(store, stream);
                tracing::debug!(%peer, "the app trapped: {trap:?}");
                if !wrote && let Some(served) = served(store, stream) {
                    let _ = served.tcp().write_all(failed).await;
                }
                // The log line ("connection from PEER lost: ...") says why in one line; the
                // wasm backtrace is for the operator's debug log.
                return Err(anyhow!("the app failed: {}", trap.root_cause()));
            }
        };
        if !answered {
            guest
                .exchange
                .exchange()
                .call_unsupported_method(&mut *store, exchange)
                .await?
                .map_err(anyhow::Error::from)?;
        }
    }
    exchange.resource_drop_async(&mut *store).await?;
    Ok(())
}
