//! `wasi:http/proxy` components served by `httplib serve --app`: a component exporting
//! `wasi:http/incoming-handler`, as `wasmtime serve` runs it. The guest reads, validates and
//! frames as for every served connection; for each request the host builds the wasi:http
//! request from what the guest parsed (it parses nothing itself), runs the component in a
//! store of its own with wasmtime-wasi-http, streams the request body from the guest to it,
//! and its response back through the guest's `send-head`, `send-body` and `end-body`. The
//! component's own requests (`outgoing-handler`) go through the destination policy
//! (`outgoing`).

use super::outgoing::PolicyHooks;
use crate::app::LoadError;
use crate::bindings::types::HttpError;
use crate::policy::OutboundPolicy;
use crate::runtime::{Runtime, ServedExports};
use crate::transport::WaitBy;
use crate::view::{HttplibCtx, HttplibCtxView, HttplibView};
use anyhow::{Result, anyhow};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot};
use wasmtime::Store;
use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The export that makes a component a `wasi:http` proxy (any 0.2.x version).
pub const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2";
/// The most of a request body read from the guest at a time, and handed to the app as one frame.
pub const REQUEST_PIECE: u64 = 64 * 1024;
/// Request body pieces waiting for the app to take them (ours: the body streams, one piece
/// in flight while the next is read).
pub const REQUEST_PIECES_IN_FLIGHT: usize = 1;

/// A `wasi:http` proxy component, compiled and linked, ready for a store a request.
pub struct ProxyApp {
    pre: ProxyPre<ProxyState>,
}

/// The store data of one request's instance of the app: WASI (stdio inherited, no files, no
/// sockets), wasi:http, and httplib's context for the limits and the policy.
pub struct ProxyState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: PolicyHooks,
    table: ResourceTable,
    httplib: HttplibCtx,
}

impl WasiView for ProxyState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ProxyState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl HttplibView for ProxyState {
    fn httplib(&mut self) -> HttplibCtxView<'_> {
        HttplibCtxView {
            ctx: &mut self.httplib,
            table: &mut self.table,
        }
    }
}

/// Whether `component` exports `wasi:http/incoming-handler@0.2.x`.
pub fn is_proxy(engine: &wasmtime::Engine, component: &Component) -> bool {
    component
        .component_type()
        .exports(engine)
        .any(|(name, _)| name.starts_with(INCOMING_HANDLER))
}

impl ProxyApp {
    /// `component` (a proxy: see `is_proxy`) linked with WASI and wasi:http.
    pub fn link(engine: &wasmtime::Engine, component: &Component) -> Result<Self, LoadError> {
        fn other(e: impl std::fmt::Display) -> LoadError {
            LoadError::Other(format!("{e:#}"))
        }
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(other)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(other)?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| LoadError::Other(format!("{e:#}")))?;
        Ok(Self {
            pre: ProxyPre::new(pre).map_err(other)?,
        })
    }

    /// A store for one request: the app's policy and the server's limits.
    fn state(&self, policy: &OutboundPolicy, limits: &crate::limits::SessionLimits, waits: WaitBy) -> ProxyState {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout().inherit_stderr();
        // Sockets and name lookups are the policy's, through wasi:http only.
        wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        let mut httplib = HttplibCtx::new(policy.clone()).with_limits(limits.clone());
        httplib.wait_by(waits);
        ProxyState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: PolicyHooks::new(policy.clone()),
            table: ResourceTable::new(),
            httplib,
        }
    }
}

/// A request body fed from the guest's `read-body`, a piece at a time; an error when the
/// guest found the body's framing bad (the app's read fails, never a clean end).
struct GuestBody(mpsc::Receiver<std::result::Result<Bytes, wasmtime_wasi_http::Error>>);

impl http_body::Body for GuestBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|p| p.map(http_body::Frame::data)))
    }
}

/// What one connection's requests are answered with.
pub(super) struct Proxying<'a> {
    pub runtime: &'a Runtime,
    pub app: &'a ProxyApp,
    pub policy: &'a OutboundPolicy,
    pub limits: &'a crate::limits::SessionLimits,
    pub waits: WaitBy,
    /// "https" when the server terminates TLS.
    pub tls: bool,
    /// The server's address, the authority of a request that names none (HTTP/1.0).
    pub local: Option<SocketAddr>,
}

/// The guest's parsed request as wasi:http's incoming request (`None`: the guest answers 400).
fn request(
    parsed: &crate::bindings::exports::httplib::http::exchange::Request,
    local: Option<SocketAddr>,
    tls: bool,
    body: GuestBody,
) -> Option<http::Request<GuestBody>> {
    let host = parsed
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.clone())
        .or_else(|| local.map(|a| a.to_string().into_bytes()))?;
    let authority = http::uri::Authority::try_from(host.as_slice()).ok()?;
    let scheme = if tls { "https" } else { "http" };
    let uri = match parsed.path.starts_with('/') {
        true => http::Uri::builder()
            .scheme(scheme)
            .authority(authority)
            .path_and_query(parsed.path.as_str())
            .build()
            .ok()?,
        // The absolute form (or `*`) as the client wrote it.
        false => parsed.path.parse().ok()?,
    };
    let mut builder = http::Request::builder()
        .method(http::Method::from_bytes(parsed.command.as_bytes()).ok()?)
        .uri(uri)
        .version(match parsed.request_version.as_str() {
            "HTTP/1.0" => http::Version::HTTP_10,
            _ => http::Version::HTTP_11,
        });
    for (name, value) in &parsed.headers {
        builder = builder.header(
            http::HeaderName::from_bytes(name.as_bytes()).ok()?,
            http::HeaderValue::from_bytes(value).ok()?,
        );
    }
    builder.body(body).ok()
}

impl Proxying<'_> {
    /// The request loop of a connection answered by a proxy component: the guest's
    /// `next-request`, then the app on it, until the connection ends.
    pub async fn serve<T: HttplibView + 'static>(
        &self,
        store: &mut Store<T>,
        guest: &ServedExports,
        handler: ResourceAny,
    ) -> Result<()> {
        let api = guest.server.handler();
        let exchange = api.call_exchange(&mut *store, handler).await?;
        while let Some(parsed) = api
            .call_next_request(&mut *store, handler)
            .await?
            .map_err(anyhow::Error::from)?
        {
            self.answer(store, guest, exchange, &parsed).await?;
        }
        exchange.resource_drop_async(&mut *store).await?;
        Ok(())
    }

    /// One request: the app instantiated in a store of its own and called, the request body
    /// pumped to it and its response written through the guest, both as they come.
    async fn answer<T: HttplibView + 'static>(
        &self,
        store: &mut Store<T>,
        guest: &ServedExports,
        exchange: ResourceAny,
        parsed: &crate::bindings::exports::httplib::http::exchange::Request,
    ) -> Result<()> {
        let ex = guest.exchange.exchange();
        let (pieces, body) = mpsc::channel(REQUEST_PIECES_IN_FLIGHT);
        let Some(request) = request(parsed, self.local, self.tls, GuestBody(body)) else {
            let why = Some("The request's target or fields are not what wasi:http can carry");
            return ex
                .call_send_error(&mut *store, exchange, 400, None, why)
                .await?
                .map_err(anyhow::Error::from);
        };
        let state = self.app.state(self.policy, self.limits, self.waits);
        let engine = self.app.pre.engine().clone();
        let (mut app_store, proxy) = self.runtime.instantiate_on(&engine, state, |store| {
            use crate::wait::Wait;
            self.app.pre.instantiate_async(store).wait()
        })?;
        let (sender, response) = oneshot::channel();
        let scheme = if self.tls { Scheme::Https } else { Scheme::Http };
        let incoming = app_store.data_mut().http().new_incoming_request(scheme, request)?;
        let outparam = app_store.data_mut().http().new_response_outparam(sender)?;
        // The store goes with the call: once it returns (or traps) every resource of the
        // request drops, so the response and its body end for the side writing them.
        let app = async move {
            let called = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut app_store, incoming, outparam)
                .await;
            drop(app_store);
            called
        };
        let respond = respond(store, &ex, exchange, pieces, response);
        let (called, responded) = tokio::join!(app, respond);
        match (called, responded?) {
            (Ok(()), Responded::Whole) => ex
                .call_end_body(&mut *store, exchange, true)
                .await?
                .map_err(anyhow::Error::from)?,
            (called, Responded::Cut) | (called @ Err(_), Responded::Whole) => {
                ex.call_end_body(&mut *store, exchange, false)
                    .await?
                    .map_err(anyhow::Error::from)?;
                called.map_err(|trap| anyhow!("the app failed: {}", trap.root_cause()))?;
            }
            (_, Responded::BadBody(why)) => ex
                .call_send_error(&mut *store, exchange, 400, None, Some(&why))
                .await?
                .map_err(anyhow::Error::from)?,
            (called, Responded::Nothing(why)) => {
                let explain = match &called {
                    Err(trap) => format!("The app failed: {}", trap.root_cause()),
                    Ok(()) => why,
                };
                ex.call_send_error(&mut *store, exchange, 500, None, Some(&explain))
                    .await?
                    .map_err(anyhow::Error::from)?;
                called.map_err(|trap| anyhow!("the app failed: {}", trap.root_cause()))?;
            }
        }
        Ok(())
    }
}

/// How the app's response went out.
enum Responded {
    /// Head and body, to the body's end.
    Whole,
    /// The head, and the body until it failed.
    Cut,
    /// No response: the app set none, or an error code (why, for the 500 page).
    Nothing(String),
    /// No response, and the request body's framing was bad (why, for the 400 page).
    BadBody(String),
}

/// Feed the request body to the app while waiting for its response, then write the response
/// through the guest as its body arrives (still feeding the request body: an echo streams).
async fn respond<T: HttplibView + 'static>(
    store: &mut Store<T>,
    ex: &crate::bindings::exports::httplib::http::exchange::GuestExchange<'_>,
    exchange: ResourceAny,
    pieces: mpsc::Sender<std::result::Result<Bytes, wasmtime_wasi_http::Error>>,
    response: oneshot::Receiver<std::result::Result<hyper::Response<HyperOutgoingBody>, ErrorCode>>,
) -> Result<Responded> {
    let mut pieces = Some(pieces);
    let mut response = std::pin::pin!(response);
    let mut body: Option<HyperOutgoingBody> = None;
    loop {
        // The permit borrows the sender: it is let go after the select.
        let mut request_over = false;
        tokio::select! {
            head = &mut response, if body.is_none() => {
                let head = match head {
                    Ok(Ok(head)) => head,
                    Ok(Err(code)) => return Ok(Responded::Nothing(format!("The app answered with an error: {code:?}"))),
                    Err(_) => return Ok(Responded::Nothing("The app set no response".into())),
                };
                let (parts, outgoing) = head.into_parts();
                let fields: Vec<(String, Vec<u8>)> = parts
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
                    .collect();
                if let Err(e) = ex.call_send_head(&mut *store, exchange, parts.status.as_u16(), &fields).await? {
                    return Ok(Responded::Nothing(format!("The app's response cannot be sent: {e}")));
                }
                body = Some(outgoing);
            }
            frame = async { body.as_mut().expect("a body").frame().await }, if body.is_some() => {
                match frame {
                    None => return Ok(Responded::Whole),
                    Some(Err(_)) => return Ok(Responded::Cut),
                    Some(Ok(frame)) => {
                        // Trailers are not sent (HTTP/1.1 allows dropping them).
                        if let Ok(data) = frame.into_data()
                            && ex.call_send_body(&mut *store, exchange, data.as_ref()).await?.is_err()
                        {
                            return Ok(Responded::Cut);
                        }
                    }
                }
            }
            permit = async { pieces.as_ref().expect("a sender").reserve().await }, if pieces.is_some() => {
                match permit {
                    // The app dropped the body: what is left the guest drains or closes.
                    Err(_) => request_over = true,
                    Ok(permit) => match ex.call_read_body(&mut *store, exchange, REQUEST_PIECE).await? {
                        Ok(piece) if piece.is_empty() => request_over = true,
                        Ok(piece) => permit.send(Ok(Bytes::from(piece))),
                        // Bad framing (a chunk the guest refused, a body cut short): the
                        // app's read fails, and a response not yet begun is the guest's 400.
                        Err(HttpError::IncompleteRead(_) | HttpError::LineTooLong(_) | HttpError::TooManyHeaders) => {
                            permit.send(Err(wasmtime_wasi_http::Error::HttpProtocolError));
                            let why = "Bad request body: its chunked framing is invalid, or it was cut short".to_string();
                            return Ok(if body.is_none() { Responded::BadBody(why) } else { Responded::Cut });
                        }
                        Err(e) => return Err(e.into()),
                    },
                }
            }
        }
        if request_over {
            pieces = None;
        }
    }
}
