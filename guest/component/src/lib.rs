//! The WIT edge of the httplib component: wit-bindgen bindings, type conversions, and the
//! exported resources as thin wrappers over httplib-guest's `client` and `server`. No protocol
//! logic lives here, and this is the only crate of the guest with unsafe code (wit-bindgen's
//! generated glue): httplib-guest forbids it.

#![cfg(target_arch = "wasm32")]
#![deny(missing_docs)]

/// wit-bindgen's bindings of the `httplib` world (generated, undocumented: the WIT is the doc).
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "httplib",
        generate_all,
    });
}

mod client_rules;
mod served;

use bindings::exports::httplib::http::client as wc;
use bindings::exports::httplib::http::server as ws;
use bindings::httplib::http::cgi as wcgi;
use bindings::httplib::http::transport as wt;
use bindings::httplib::http::types as wtypes;
use bindings::wasi;
use httplib_guest::client::{self, Body};
use httplib_guest::error::HttpError as Error;
use httplib_guest::server;
use httplib_guest::transport::{self as tp, TransportError};
use std::cell::RefCell;
use std::rc::Rc;
use wasi::filesystem::types as wfs;

pub(crate) struct Component;
bindings::export!(Component with_types_in bindings);

// ---- transport: WIT imports behind the guest's traits ----

// ---- conversions: each WIT type the guest mirrors, its cases or fields listed once ----

/// `From` both ways between a WIT variant and the guest's mirror of it: cases with one
/// payload of the same type on both sides, cases without one, and any others written out.
macro_rules! mirror_variant {
    (
        $wit:ident <=> $ours:ident,
        payload { $($p:ident),* $(,)? }
        bare { $($b:ident),* $(,)? }
        to_ours { $($wpat:pat => $oexpr:expr,)* }
        to_wit { $($opat:pat => $wexpr:expr,)* }
    ) => {
        impl From<$wit> for $ours {
            fn from(e: $wit) -> Self {
                match e {
                    $($wit::$p(m) => $ours::$p(m),)*
                    $($wit::$b => $ours::$b,)*
                    $($wpat => $oexpr,)*
                }
            }
        }
        impl From<$ours> for $wit {
            fn from(e: $ours) -> Self {
                match e {
                    $($ours::$p(m) => $wit::$p(m),)*
                    $($ours::$b => $wit::$b,)*
                    $($opat => $wexpr,)*
                }
            }
        }
    };
}

/// `From` between a WIT record and the guest's mirror of it, field by field: `both` ways, or
/// `to_ours` alone.
macro_rules! mirror_record {
    (to_ours $wit:ty, $ours:ty { $($f:ident),* $(,)? }) => {
        impl From<$wit> for $ours {
            fn from(x: $wit) -> Self {
                Self { $($f: x.$f),* }
            }
        }
    };
    (both $wit:ty, $ours:ty { $($f:ident),* $(,)? }) => {
        mirror_record!(to_ours $wit, $ours { $($f),* });
        impl From<$ours> for $wit {
            fn from(x: $ours) -> Self {
                Self { $($f: x.$f),* }
            }
        }
    };
}

use wt::ErrorCode;
use wtypes::HttpError as WitHttpError;

mirror_variant! {
    ErrorCode <=> TransportError,
    payload { ConnectionRefused, ConnectionReset, NameUnresolvable, Tls, Certificate, Denied, LimitExceeded, Other }
    bare { Timeout, Cancelled, Closed }
    to_ours {}
    to_wit {}
}

mirror_variant! {
    WitHttpError <=> Error,
    payload {
        HttpException, InvalidUrl, UnknownProtocol, ImproperConnectionState, CannotSendRequest,
        CannotSendHeader, ResponseNotReady, BadStatusLine, LineTooLong, RemoteDisconnected,
        InvalidHeader, InvalidArgument, ConnectionRefused, ConnectionReset, Tls,
        CertificateVerification, Denied, NameUnresolvable, Io, ContentDecoding, LimitExceeded,
    }
    bare { NotConnected, UnknownTransferEncoding, UnimplementedFileMode, TooManyHeaders, Timeout, Cancelled }
    to_ours {
        WitHttpError::IncompleteRead(r) => Error::IncompleteRead { partial: r.partial, expected: r.expected },
    }
    to_wit {
        Error::IncompleteRead { partial, expected } => WitHttpError::IncompleteRead(wtypes::IncompleteRead { partial, expected }),
    }
}

mirror_record!(both wtypes::TlsOptions, tp::TlsOptions {
    server_name, verify, ca_certs, system_roots, client_identity, alpn_protocols,
});

mirror_record!(to_ours ws::HandlerConfig, server::HandlerConfig {
    protocol_version, server_version, sys_version, directory, error_message_format,
    error_content_type, extensions_map, index_pages, log_requests, timeout_ms,
    idle_timeout_ms, head_timeout_ms, body_timeout_ms, expect_continue, cgi_directories,
    server_name, server_port,
});

/// A host `tcp-stream` as the guest's `Stream`.
pub(crate) struct WitStream(pub(crate) wt::TcpStream);

impl tp::Stream for WitStream {
    fn read(&mut self, max: usize) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.read(max as u64)?)
    }
    fn write(&mut self, data: &[u8]) -> Result<(), TransportError> {
        Ok(self.0.write(data)?)
    }
    fn shutdown_send(&mut self) -> Result<(), TransportError> {
        Ok(self.0.shutdown(wt::ShutdownType::Send)?)
    }
    fn set_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), TransportError> {
        Ok(self.0.set_timeout(timeout_ms)?)
    }
    fn set_read_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), TransportError> {
        Ok(self.0.set_read_timeout(timeout_ms)?)
    }
    fn set_phase(&mut self, phase: tp::ServerPhase) {
        self.0.set_phase(match phase {
            tp::ServerPhase::AwaitingRequest => wt::ServerPhase::AwaitingRequest,
            tp::ServerPhase::ReadingRequest => wt::ServerPhase::ReadingRequest,
            tp::ServerPhase::Responding => wt::ServerPhase::Responding,
            tp::ServerPhase::AwaitingBody => wt::ServerPhase::AwaitingBody,
        })
    }
    fn await_request(&mut self, max: usize, timeout_ms: Option<u64>) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.await_request(max as u64, timeout_ms)?)
    }
    fn carry(&mut self, state: Vec<u8>) -> bool {
        self.0.carry(&state)
    }
    fn carried(&mut self) -> Option<Vec<u8>> {
        self.0.carried()
    }
    fn start_tls(&mut self, host: &str, options: &tp::TlsOptions) -> Result<(), TransportError> {
        Ok(self.0.start_tls(host, &options.clone().into())?)
    }
    fn send_file(&mut self, path: &str, offset: u64, len: u64) -> Result<Option<u64>, TransportError> {
        match open_preopened(path) {
            Some(file) => Ok(Some(self.0.send_file(&file, offset, len)?)),
            None => Ok(None),
        }
    }
    fn open_file(&mut self, path: &str) -> Result<Option<tp::FileAt>, TransportError> {
        let found = PREOPENS.with(|preopens| {
            let (dir, rel) = beneath_preopen(preopens, path)?;
            // An error: the host cannot look; wasi:filesystem is asked instead.
            wt::open_file(dir, rel).ok()
        });
        Ok(found.map(|(seen, file)| match (seen.kind, file) {
            (wt::FileKind::File, Some(file)) => tp::FileAt::File(tp::HostFile {
                size: seen.size,
                modified_seconds: seen.modified_seconds,
                handle: Box::new(file),
            }),
            (wt::FileKind::Directory, _) => tp::FileAt::Directory,
            (wt::FileKind::Other, _) => tp::FileAt::Other,
            (wt::FileKind::File | wt::FileKind::Missing, _) => tp::FileAt::Missing,
        }))
    }
    fn send_head_and_file(
        &mut self,
        head: &[u8],
        file: tp::HostFile,
        offset: u64,
        len: u64,
    ) -> Result<u64, TransportError> {
        let Ok(descriptor) = file.handle.downcast::<wfs::Descriptor>() else {
            return Err(TransportError::Other("not a file this transport opened".into()));
        };
        Ok(self.0.send_head_and_file(head, *descriptor, offset, len)?)
    }
    fn list_directory(&mut self, path: &str) -> Result<Option<Vec<tp::RawEntry>>, TransportError> {
        let Some(dir) = open_preopened_dir(path) else {
            return Ok(None);
        };
        let entries = wt::list_directory(&dir)?;
        let kind = |k: wt::EntryKind| match k {
            wt::EntryKind::File => tp::EntryKind::File,
            wt::EntryKind::Directory => tp::EntryKind::Directory,
            wt::EntryKind::Symlink => tp::EntryKind::Symlink,
            wt::EntryKind::Other => tp::EntryKind::Other,
        };
        let entries = entries.into_iter().map(|e| tp::RawEntry {
            name: e.name,
            kind: kind(e.kind),
        });
        Ok(Some(entries.collect()))
    }
}

/// `path` (a guest path under a preopen) opened as a directory for reading.
fn open_preopened_dir(path: &str) -> Option<wfs::Descriptor> {
    PREOPENS.with(|preopens| {
        let (dir, rel) = beneath_preopen(preopens, path)?;
        let rel = if rel.is_empty() { "." } else { rel };
        dir.open_at(
            wfs::PathFlags::SYMLINK_FOLLOW,
            rel,
            wfs::OpenFlags::DIRECTORY,
            wfs::DescriptorFlags::READ,
        )
        .ok()
    })
}

thread_local! {
    /// The host's preopened directories and their guest paths, asked for once.
    static PREOPENS: Vec<(wfs::Descriptor, String)> = wasi::filesystem::preopens::get_directories();
}

/// `path` (a guest path under a preopen) opened for reading as a wasi:filesystem descriptor.
fn open_preopened(path: &str) -> Option<wfs::Descriptor> {
    PREOPENS.with(|preopens| {
        let (dir, rel) = beneath_preopen(preopens, path)?;
        dir.open_at(
            wfs::PathFlags::SYMLINK_FOLLOW,
            rel,
            wfs::OpenFlags::empty(),
            wfs::DescriptorFlags::READ,
        )
        .ok()
    })
}

/// The preopen `path` (a guest path) lies under, and the path relative to it ("" for the
/// preopen itself).
fn beneath_preopen<'a>(
    preopens: &'a [(wfs::Descriptor, String)],
    path: &'a str,
) -> Option<(&'a wfs::Descriptor, &'a str)> {
    preopens.iter().find_map(|(dir, root)| {
        let rel = path.strip_prefix(root.trim_end_matches('/'))?;
        (rel.is_empty() || rel.starts_with('/')).then(|| (dir, rel.trim_start_matches('/')))
    })
}

/// The host's `connect` and `audit`.
struct WitTransport;

impl tp::Transport for WitTransport {
    fn connect(&self, host: &str, port: u16, o: &tp::ConnectOptions) -> Result<Box<dyn tp::Stream>, TransportError> {
        let options = wt::ConnectOptions {
            timeout_ms: o.timeout_ms,
            connect_timeout_ms: o.connect_timeout_ms,
            source_address: o.source_address.as_ref().map(|(h, p)| wtypes::SocketAddress {
                host: h.clone(),
                port: *p,
            }),
            tls: o.tls.clone().map(Into::into),
            tunnel: o.tunnel.as_ref().map(|(host, port, tls)| wt::TunnelTarget {
                host: host.clone(),
                port: *port,
                tls: *tls,
            }),
        };
        Ok(Box::new(WitStream(wt::connect(host, port, &options)?)))
    }
    fn audit(&self, event: &str, args: &[String]) -> Result<(), TransportError> {
        Ok(wt::audit(event, args)?)
    }
    fn limits(&self) -> tp::GuestLimits {
        let l = wt::session_limits();
        tp::GuestLimits {
            max_response_body: l.max_response_body,
            max_read_all: l.max_read_all,
        }
    }
}

/// CGI scripts run by the host's sandbox (the `cgi` import).
pub(crate) struct WitScripts;

/// A script the host runs, its stdout read as it writes it.
struct WitScript(wcgi::Script);

impl server::ScriptRunner for WitScripts {
    fn start(
        &self,
        program: &[u8],
        args: &[String],
        env: &[(String, String)],
        stdin: &[u8],
    ) -> Result<Box<dyn server::RunningScript>, server::ScriptError> {
        match wcgi::start(program, args, env, stdin) {
            Ok(script) => Ok(Box::new(WitScript(script))),
            Err(wcgi::CgiError::Disabled) => Err(server::ScriptError::Disabled),
            Err(wcgi::CgiError::NotRunnable(why)) => Err(server::ScriptError::NotRunnable(why)),
            Err(wcgi::CgiError::Busy(secs)) => Err(server::ScriptError::Busy(secs)),
        }
    }
}

impl server::RunningScript for WitScript {
    fn read(&mut self, max: usize) -> Vec<u8> {
        self.0.read(max as u64)
    }
    fn finish(&mut self) -> server::ScriptEnd {
        let end = self.0.finish();
        server::ScriptEnd {
            exit_code: end.exit_code,
            stopped: end.stopped.map(|stop| match stop {
                wcgi::StopReason::Trapped => server::ScriptStop::Trapped,
                wcgi::StopReason::TimeLimit => server::ScriptStop::TimeLimit,
                wcgi::StopReason::MemoryLimit => server::ScriptStop::MemoryLimit,
            }),
            stderr: end.stderr,
        }
    }
}

/// A result as the WIT returns it.
pub(crate) type WResult<T> = Result<T, wtypes::HttpError>;

/// The guest's error as the WIT's.
pub(crate) fn wit<T>(r: Result<T, Error>) -> WResult<T> {
    r.map_err(Into::into)
}

// ---- client ----

impl From<wc::Body> for Body {
    fn from(b: wc::Body) -> Self {
        match b {
            wc::Body::None => Body::None,
            wc::Body::Bytes(b) => Body::Bytes(b),
            wc::Body::Text(t) => Body::Text(t),
            wc::Body::Chunks(c) => Body::Chunks(c),
            wc::Body::Streamed => Body::Stream,
        }
    }
}

/// The exported `connection` resource.
struct ConnectionResource(RefCell<client::Connection>);

/// The exported `response` resource.
struct ResponseResource(Rc<RefCell<client::Response>>);

impl wc::Guest for Component {
    type Connection = ConnectionResource;
    type Response = ResponseResource;
    type CookieJar = client_rules::CookieJarResource;

    fn split_url(url: String) -> WResult<wc::UrlParts> {
        wit(client_rules::split_url(&url))
    }

    fn follow_redirect(
        url: String,
        method: String,
        status: u16,
        location: Option<String>,
        headers: Vec<wtypes::Header>,
    ) -> WResult<Option<wc::Redirect>> {
        wit(client_rules::follow_redirect(
            &url,
            &method,
            status,
            location.as_deref(),
            &headers,
        ))
    }

    fn plan_request(
        url: String,
        proxy: wc::ProxySetting,
        credentials: Option<String>,
        headers: Vec<wtypes::Header>,
    ) -> WResult<wc::RequestPlan> {
        wit(client_rules::plan_request(
            &url,
            &proxy,
            credentials.as_deref(),
            &headers,
        ))
    }

    fn form_data(boundary: String, parts: Vec<wc::FormPart>) -> wc::FormLayout {
        client_rules::form_data(&boundary, parts)
    }

    fn form_urlencode(data: Vec<u8>) -> String {
        httplib_guest::proto::form::urlencode(&data)
    }

    fn content_disposition_filename(value: String) -> Option<String> {
        httplib_guest::proto::content_disposition::filename(&value)
    }

    fn error_message(error: wtypes::HttpError) -> String {
        Error::from(error).to_string()
    }

    fn reason_phrase(code: u16) -> Option<String> {
        httplib_guest::proto::status::reason_phrase(code).map(str::to_string)
    }

    fn status_constants() -> Vec<wc::StatusConstant> {
        httplib_guest::proto::status::STATUS_TABLE
            .iter()
            .map(|(code, name, phrase, _)| wc::StatusConstant {
                name: name.to_string(),
                code: *code,
                phrase: phrase.to_string(),
            })
            .collect()
    }

    fn http_port() -> u16 {
        httplib_guest::proto::limits::HTTP_PORT
    }

    fn https_port() -> u16 {
        httplib_guest::proto::limits::HTTPS_PORT
    }
}

impl wc::GuestConnection for ConnectionResource {
    fn open(host: String, port: Option<u16>, o: wc::ConnectionOptions) -> WResult<wc::Connection> {
        let options = client::ConnectionOptions {
            timeout_ms: o.timeout_ms,
            connect_timeout_ms: o.connect_timeout_ms,
            source_address: o.source_address.map(|a| (a.host, a.port)),
            blocksize: (o.blocksize as usize).max(1),
            tls: o.tls.map(Into::into),
            auto_open: o.auto_open,
        };
        let conn = wit(client::Connection::new(Rc::new(WitTransport), &host, port, options))?;
        Ok(wc::Connection::new(ConnectionResource(RefCell::new(conn))))
    }
    fn host(&self) -> String {
        self.0.borrow().host.clone()
    }
    fn port(&self) -> u16 {
        self.0.borrow().port
    }
    fn set_debuglevel(&self, level: u32) {
        self.0.borrow_mut().set_debuglevel(level)
    }
    fn set_http_version(&self, version: String) -> WResult<()> {
        wit(self.0.borrow_mut().set_http_version(&version))
    }
    fn set_tunnel(&self, host: String, port: Option<u16>, headers: Vec<(String, Vec<u8>)>) -> WResult<()> {
        wit(self.0.borrow_mut().set_tunnel(&host, port, headers))
    }
    fn get_proxy_response_headers(&self) -> Option<Vec<(String, Vec<u8>)>> {
        self.0.borrow().proxy_response_headers().map(|h| h.to_vec())
    }
    fn connect(&self) -> WResult<()> {
        wit(self.0.borrow_mut().connect())
    }
    fn close(&self) {
        self.0.borrow_mut().close()
    }
    fn request(
        &self,
        method: String,
        url: String,
        body: wc::Body,
        headers: Vec<(String, Vec<u8>)>,
        encode_chunked: bool,
    ) -> WResult<()> {
        wit(self
            .0
            .borrow_mut()
            .request(&method, &url, body.into(), &headers, encode_chunked))
    }
    fn putrequest(&self, method: String, url: String, skip_host: bool, skip_accept_encoding: bool) -> WResult<()> {
        wit(self
            .0
            .borrow_mut()
            .putrequest(&method, &url, skip_host, skip_accept_encoding))
    }
    fn putheader(&self, name: String, values: Vec<Vec<u8>>) -> WResult<()> {
        let values: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        wit(self.0.borrow_mut().putheader(&name, &values))
    }
    fn endheaders(&self, message_body: Option<wc::Body>, encode_chunked: bool) -> WResult<()> {
        wit(self
            .0
            .borrow_mut()
            .endheaders(message_body.map_or(Body::None, Into::into), encode_chunked))
    }
    fn send(&self, data: Vec<u8>) -> WResult<()> {
        wit(self.0.borrow_mut().send(&data))
    }
    fn send_body(&self, data: Vec<u8>) -> WResult<()> {
        wit(self.0.borrow_mut().send_body(&data))
    }
    fn end_body(&self) -> WResult<()> {
        wit(self.0.borrow_mut().end_body())
    }
    fn getresponse(&self) -> WResult<wc::Response> {
        let r = wit(self.0.borrow_mut().getresponse())?;
        Ok(wc::Response::new(ResponseResource(r)))
    }
}

fn amount(n: Option<u64>) -> Option<usize> {
    n.map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

impl wc::GuestResponse for ResponseResource {
    fn status(&self) -> u16 {
        self.0.borrow().status
    }
    fn reason(&self) -> String {
        self.0.borrow().reason.to_string()
    }
    fn version(&self) -> u8 {
        self.0.borrow().version
    }
    fn headers(&self) -> Vec<(String, Vec<u8>)> {
        self.0.borrow().headers.to_vec()
    }
    fn raw_head(&self) -> Vec<u8> {
        self.0.borrow().raw_head().to_vec()
    }
    fn getheader(&self, name: String) -> Option<String> {
        self.0.borrow().headers.get_joined(&name)
    }
    fn url(&self) -> String {
        self.0.borrow().url.clone()
    }
    fn length(&self) -> Option<u64> {
        self.0.borrow().length()
    }
    fn chunked(&self) -> bool {
        self.0.borrow().chunked()
    }
    fn will_close(&self) -> bool {
        self.0.borrow().will_close()
    }
    fn read(&self, amt: Option<u64>) -> WResult<Vec<u8>> {
        wit(self.0.borrow_mut().read(amount(amt)))
    }
    fn read1(&self, n: Option<u64>) -> WResult<Vec<u8>> {
        wit(self.0.borrow_mut().read1(amount(n)))
    }
    fn read_decoded(&self, amt: u64) -> WResult<Vec<u8>> {
        wit(self.0.borrow_mut().read_decoded(amount(Some(amt)).unwrap_or(0)))
    }
    fn readline(&self, limit: Option<u64>) -> WResult<Vec<u8>> {
        wit(self.0.borrow_mut().readline(amount(limit)))
    }
    fn peek(&self, n: u64) -> WResult<Vec<u8>> {
        wit(self.0.borrow_mut().peek(amount(Some(n)).unwrap_or(0)))
    }
    fn isclosed(&self) -> bool {
        self.0.borrow().isclosed()
    }
    fn close(&self) {
        self.0.borrow_mut().close()
    }
}
