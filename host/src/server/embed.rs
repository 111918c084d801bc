//! Host code playing BaseHTTPRequestHandler's `do_METHOD`: the guest parses and validates each
//! request and frames the response; the embedder decides what to answer through `Exchange`.

use crate::bindings::exports::httplib::http::exchange::{Guest as ExchangeExports, Request};
use crate::bindings::types::HttpError;
use crate::runtime::ServedExports;
use crate::view::HostState;
use crate::view::HttplibView;
use crate::wait::Wait;
use anyhow::{Result, anyhow};
use wasmtime::Store;
use wasmtime::component::ResourceAny;

/// Answers requests, as a BaseHTTPRequestHandler subclass's `do_GET`, `do_POST`... would.
/// `T` is the store's data (httplib's [`HostState`] unless the embedder brings its own).
pub trait RequestHandler<T: HttplibView + 'static = HostState>: Send + Sync + 'static {
    /// Answer `ex.request`. Return `Ok(false)` when there is no `do_METHOD` for its command:
    /// the guest then answers 501 "Unsupported method", as CPython does. An `Err` closes the connection.
    fn handle(&self, ex: &mut Exchange<'_, T>) -> Result<bool>;
}

impl<T, F> RequestHandler<T> for F
where
    T: HttplibView + 'static,
    F: Fn(&mut Exchange<'_, T>) -> Result<bool> + Send + Sync + 'static,
{
    fn handle(&self, ex: &mut Exchange<'_, T>) -> Result<bool> {
        self(ex)
    }
}

/// One request being answered: the parsed request and BaseHTTPRequestHandler's verbs.
pub struct Exchange<'a, T: HttplibView + 'static = HostState> {
    store: &'a mut Store<T>,
    guest: &'a ExchangeExports,
    exchange: ResourceAny,
    /// `command`, `path`, `request_version`, `requestline`, `headers`.
    pub request: Request,
}

fn guest_err(e: HttpError) -> anyhow::Error {
    anyhow::Error::from(e)
}

macro_rules! verb {
    ($self:ident, $call:ident $(, $arg:expr)*) => {{
        let api = $self.guest.exchange();
        api.$call(&mut *$self.store, $self.exchange $(, $arg)*).wait()?.map_err(guest_err)
    }};
}

impl<T: HttplibView + 'static> Exchange<'_, T> {
    /// The store's data, for the embedder's own state beside httplib's.
    pub fn data(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// The first value of a request header, by case-insensitive name, decoded as Latin-1.
    pub fn header(&self, name: &str) -> Option<String> {
        self.request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.iter().map(|&b| b as char).collect())
    }

    /// `send_response(code, message)`.
    pub fn send_response(&mut self, code: u16, message: Option<&str>) -> Result<()> {
        verb!(self, call_send_response, code, message)
    }

    /// `send_response_only(code, message)`: the status line alone, no Server or Date.
    pub fn send_response_only(&mut self, code: u16, message: Option<&str>) -> Result<()> {
        verb!(self, call_send_response_only, code, message)
    }

    /// `send_header(keyword, value)`: CR or LF in either is refused.
    pub fn send_header(&mut self, keyword: &str, value: &str) -> Result<()> {
        verb!(self, call_send_header, keyword, value)
    }

    /// `end_headers()`.
    pub fn end_headers(&mut self) -> Result<()> {
        verb!(self, call_end_headers)
    }

    /// `flush_headers()`.
    pub fn flush_headers(&mut self) -> Result<()> {
        verb!(self, call_flush_headers)
    }

    /// `wfile.write(data)`.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        verb!(self, call_write, data)
    }

    /// `send_error(code, message, explain)`.
    pub fn send_error(&mut self, code: u16, message: Option<&str>, explain: Option<&str>) -> Result<()> {
        verb!(self, call_send_error, code, message, explain)
    }

    /// `rfile.read(max)` over the request body; empty at its end.
    pub fn read_body(&mut self, max: u64) -> Result<Vec<u8>> {
        verb!(self, call_read_body, max)
    }

    /// The whole request body, refusing more than `limit` bytes.
    pub fn read_body_to_end(&mut self, limit: usize) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let piece = self.read_body(64 * 1024)?;
            if piece.is_empty() {
                return Ok(body);
            }
            body.extend_from_slice(&piece);
            if body.len() > limit {
                return Err(anyhow!("request body over {limit} bytes"));
            }
        }
    }

    /// SimpleHTTPRequestHandler's do_GET / do_HEAD for this request, from the served directory.
    pub fn serve_file(&mut self) -> Result<()> {
        verb!(self, call_serve_file)
    }

    /// `close_connection`.
    pub fn close_connection(&mut self) -> Result<bool> {
        let api = self.guest.exchange();
        Ok(api.call_close_connection(&mut *self.store, self.exchange).wait()?)
    }

    /// Set `close_connection`.
    pub fn set_close_connection(&mut self, close: bool) -> Result<()> {
        let api = self.guest.exchange();
        Ok(api
            .call_set_close_connection(&mut *self.store, self.exchange, close)
            .wait()?)
    }

    /// `log_message(message)`.
    pub fn log_message(&mut self, message: &str) -> Result<()> {
        let api = self.guest.exchange();
        Ok(api.call_log_message(&mut *self.store, self.exchange, message).wait()?)
    }

    /// `log_request(code, size)`.
    pub fn log_request(&mut self, code: Option<u16>, size: Option<u64>) -> Result<()> {
        let api = self.guest.exchange();
        Ok(api
            .call_log_request(&mut *self.store, self.exchange, code, size)
            .wait()?)
    }

    /// `log_error(message)`.
    pub fn log_error(&mut self, message: &str) -> Result<()> {
        let api = self.guest.exchange();
        Ok(api.call_log_error(&mut *self.store, self.exchange, message).wait()?)
    }

    /// `version_string()`: server_version and sys_version.
    pub fn version_string(&mut self) -> Result<String> {
        let api = self.guest.exchange();
        Ok(api.call_version_string(&mut *self.store, self.exchange).wait()?)
    }

    /// `date_time_string(timestamp)`: an IMF-fixdate, now when `None`.
    pub fn date_time_string(&mut self, timestamp: Option<i64>) -> Result<String> {
        let api = self.guest.exchange();
        Ok(api
            .call_date_time_string(&mut *self.store, self.exchange, timestamp)
            .wait()?)
    }

    /// `address_string()`: the client's IP address.
    pub fn address_string(&mut self) -> Result<String> {
        let api = self.guest.exchange();
        Ok(api.call_address_string(&mut *self.store, self.exchange).wait()?)
    }
}

/// The request loop for an embedder: next request, the embedder's answer, until the connection ends.
pub fn serve_with<T: HttplibView + 'static>(
    user: &dyn RequestHandler<T>,
    store: &mut Store<T>,
    guest: &ServedExports,
    handler: ResourceAny,
) -> Result<()> {
    let api = guest.server.handler();
    let exchange = api.call_exchange(&mut *store, handler).wait()?;
    let result = (|| {
        while let Some(request) = api.call_next_request(&mut *store, handler).wait()?.map_err(guest_err)? {
            let mut ex = Exchange {
                store: &mut *store,
                guest: &guest.exchange,
                exchange,
                request,
            };
            if !user.handle(&mut ex)? {
                guest
                    .exchange
                    .exchange()
                    .call_unsupported_method(&mut *store, exchange)
                    .wait()?
                    .map_err(guest_err)?;
            }
        }
        Ok(())
    })();
    exchange.resource_drop_async(&mut *store).wait()?;
    result
}
