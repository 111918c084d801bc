//! The server's exports: the `handler` resource over one accepted connection (the request
//! loop), and the `exchange` it hands out (the current request's attributes and verbs, for
//! host code or a handler component playing `do_METHOD`). Both share the one
//! `httplib_guest::server::Handler`.

use crate::bindings::exports::httplib::http::exchange as wx;
use crate::bindings::exports::httplib::http::server as ws;
use crate::bindings::httplib::http::transport as wt;
use crate::bindings::httplib::http::types as wtypes;
use crate::bindings::wasi;
use crate::{Component, WResult, WitScripts, WitStream, wit};
use httplib_guest::proto::mime::SystemTypesSeen;
use httplib_guest::server;
use std::cell::RefCell;
use std::rc::Rc;

/// One served connection: its handler and its client's address.
struct Served {
    handler: RefCell<server::Handler>,
    client: wtypes::SocketAddress,
}

/// The exported `handler` resource.
pub(crate) struct HandlerResource(Rc<Served>);

/// The exported `exchange` resource: the same connection's current request.
pub(crate) struct ExchangeResource(Rc<Served>);

impl ws::Guest for Component {
    type Handler = HandlerResource;

    fn closing_response(config: ws::HandlerConfig, code: u16, retry_after_secs: Option<u32>) -> Vec<u8> {
        server::closing_response(&config.into(), code, retry_after_secs)
    }

    fn serve_connection(
        connection: wt::TcpStream,
        client_address: wtypes::SocketAddress,
        config: ws::HandlerConfig,
    ) -> WResult<()> {
        wit(handler(connection, &client_address, config).serve_directory())
    }
}

/// The guest's handler for an accepted connection, with the host's CGI runner, the machine's
/// MIME table and the one-call stderr writer: what `handler`'s constructor and
/// `serve-connection` both answer with.
fn handler(connection: wt::TcpStream, client_address: &wtypes::SocketAddress, c: ws::HandlerConfig) -> server::Handler {
    let config = server::HandlerConfig::from(c);
    server::Handler::new(Box::new(WitStream(connection)), &client_address.host, config)
        .with_scripts(Box::new(WitScripts))
        .with_system_types(Box::new(system_mime_type))
        .with_log_writer(write_stderr)
}

impl ws::GuestHandler for HandlerResource {
    fn new(connection: wt::TcpStream, client_address: wtypes::SocketAddress, c: ws::HandlerConfig) -> Self {
        let handler = handler(connection, &client_address, c);
        HandlerResource(Rc::new(Served {
            handler: RefCell::new(handler),
            client: client_address,
        }))
    }
    fn serve_directory(&self) -> WResult<()> {
        wit(self.0.handler.borrow_mut().serve_directory())
    }
    fn next_request(&self) -> WResult<Option<wx::Request>> {
        let mut handler = self.0.handler.borrow_mut();
        if !wit(handler.next_request())? {
            return Ok(None);
        }
        Ok(Some(request(&handler.request)))
    }
    fn exchange(&self) -> ws::Exchange {
        ws::Exchange::new(ExchangeResource(self.0.clone()))
    }
}

/// The WIT record of the current request (a copy across the WIT edge).
fn request(r: &server::Request) -> wx::Request {
    wx::Request {
        command: r.command.clone(),
        path: r.path.clone(),
        request_version: r.request_version.clone(),
        requestline: r.requestline.clone(),
        headers: r.headers.to_vec(),
    }
}

impl wx::Guest for Component {
    type Exchange = ExchangeResource;
}

impl ExchangeResource {
    fn handler(&self) -> std::cell::RefMut<'_, server::Handler> {
        self.0.handler.borrow_mut()
    }
}

impl wx::GuestExchange for ExchangeResource {
    fn request(&self) -> wx::Request {
        request(&self.handler().request)
    }
    fn client_address(&self) -> wtypes::SocketAddress {
        self.0.client.clone()
    }
    fn serve_file(&self) -> WResult<()> {
        wit(self.handler().serve_file())
    }
    fn unsupported_method(&self) -> WResult<()> {
        wit(self.handler().unsupported_method())
    }
    fn send_response(&self, code: u16, message: Option<String>) -> WResult<()> {
        wit(self.handler().send_response(code, message.as_deref()))
    }
    fn send_response_only(&self, code: u16, message: Option<String>) -> WResult<()> {
        wit(self.handler().send_response_only(code, message.as_deref()))
    }
    fn send_header(&self, keyword: String, value: String) -> WResult<()> {
        wit(self.handler().send_header(&keyword, &value))
    }
    fn end_headers(&self) -> WResult<()> {
        wit(self.handler().end_headers())
    }
    fn flush_headers(&self) -> WResult<()> {
        wit(self.handler().flush_headers())
    }
    fn write(&self, data: Vec<u8>) -> WResult<()> {
        wit(self.handler().write(&data))
    }
    fn send_error(&self, code: u16, message: Option<String>, explain: Option<String>) -> WResult<()> {
        wit(self.handler().send_error(code, message.as_deref(), explain.as_deref()))
    }
    fn read_body(&self, max: u64) -> WResult<Vec<u8>> {
        wit(self.handler().read_body(usize::try_from(max).unwrap_or(usize::MAX)))
    }
    fn send_head(&self, status: u16, fields: Vec<(String, Vec<u8>)>) -> WResult<()> {
        wit(self.handler().send_head(status, &fields))
    }
    fn send_body(&self, data: Vec<u8>) -> WResult<()> {
        wit(self.handler().send_body(&data))
    }
    fn end_body(&self, whole: bool) -> WResult<()> {
        wit(self.handler().end_body(whole))
    }
    fn close_connection(&self) -> bool {
        self.handler().close_connection
    }
    fn set_close_connection(&self, close: bool) {
        self.handler().close_connection = close;
    }
    fn log_request(&self, code: Option<u16>, size: Option<u64>) {
        self.handler().log_request(code, size)
    }
    fn log_error(&self, message: String) {
        self.handler().log_error(&message)
    }
    fn log_message(&self, message: String) {
        self.handler().log_message(&message)
    }
    fn version_string(&self) -> String {
        self.handler().version_string()
    }
    fn date_time_string(&self, timestamp: Option<i64>) -> String {
        httplib_guest::proto::date::date_time_string(timestamp.unwrap_or_else(httplib_guest::clock::now_secs))
    }
    fn log_date_time_string(&self) -> String {
        self.handler().log_date_time_string()
    }
    fn address_string(&self) -> String {
        self.handler().address_string()
    }
}

/// What `blocking-write-and-flush` takes at most in one call (wasi:io/streams, 4096 bytes).
const BLOCKING_WRITE_MAX: usize = 4096;

thread_local! {
    /// The component's standard error, asked for once.
    static STDERR: wasi::io::streams::OutputStream = wasi::cli::stderr::get_stderr();
}

/// A log line to standard error: one host call for a line up to [`BLOCKING_WRITE_MAX`].
fn write_stderr(line: &str) {
    STDERR.with(|stderr| {
        for chunk in line.as_bytes().chunks(BLOCKING_WRITE_MAX) {
            if stderr.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    });
}

thread_local! {
    /// The machine's MIME table as this instance has seen it (asking is a host call).
    static SYSTEM_TYPES: RefCell<SystemTypesSeen> = RefCell::default();
}

/// The machine's type for `extension`, asked of the host once an instance.
fn system_mime_type(extension: &str) -> Option<String> {
    SYSTEM_TYPES.with(|seen| seen.borrow_mut().get(extension, wt::system_mime_type))
}
