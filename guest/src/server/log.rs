//! BaseHTTPRequestHandler's log verbs (`log_request`, `log_error`, `log_message`) and the
//! strings they are made of (`version_string`, `log_date_time_string`, `address_string`):
//! each line made in a buffer the handler keeps, and written whole by its `LineWriter`.

use super::handler::Handler;
use crate::clock::now_secs;
use crate::proto::log_line::{push_log_line, push_request_log_line};

impl Handler {
    /// `log_request(code, size)`.
    pub fn log_request(&self, code: Option<u16>, size: Option<u64>) {
        self.log_request_at(code, size, now_secs());
    }

    /// `log_request(code, size)` at a time already read (`send_response`'s, its Date's).
    pub(super) fn log_request_at(&self, code: Option<u16>, size: Option<u64>, now: i64) {
        if self.config.log_requests {
            let mut dates = self.dates.borrow_mut();
            let mut line = self.log_buffer.borrow_mut();
            line.clear();
            let requestline = &self.request.requestline;
            push_request_log_line(&mut line, &self.client_host, dates.log(now), requestline, code, size);
            (self.log_writer)(&line);
        }
    }

    /// `log_error(message)`.
    pub fn log_error(&self, message: &str) {
        self.log_message(message);
    }

    /// `log_message(message)` to stderr.
    pub fn log_message(&self, message: &str) {
        if self.config.log_requests {
            let mut dates = self.dates.borrow_mut();
            let mut line = self.log_buffer.borrow_mut();
            line.clear();
            push_log_line(&mut line, &self.client_host, dates.log(now_secs()), message);
            (self.log_writer)(&line);
        }
    }

    /// `version_string()`.
    pub fn version_string(&self) -> String {
        [&self.config.server_version, " ", &self.config.sys_version].concat()
    }

    /// `log_date_time_string()`.
    pub fn log_date_time_string(&self) -> String {
        self.dates.borrow_mut().log(now_secs()).to_owned()
    }

    /// `address_string()`: the client's address.
    pub fn address_string(&self) -> String {
        self.client_host.clone()
    }
}
