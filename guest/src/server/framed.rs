//! Responses given as fields and body pieces (a `wasi:http` app's, through the exchange's
//! `send-head`, `send-body` and `end-body`): the framing is planned by
//! `proto::response_framing`, written here on the handler's connection.

use super::handler::Handler;
use crate::clock::now_secs;
use crate::error::HttpError;
use crate::proto::date::date_time_string;
use crate::proto::response_framing::{self, BodyWriter, Exchange};

impl Handler {
    /// What the current request and the server allow for a response's framing.
    fn framing_exchange(&self) -> Exchange {
        Exchange {
            head_request: self.request.command == "HEAD",
            chunked_allowed: self.http11() && self.request.request_version.as_str() >= "HTTP/1.1",
        }
    }

    /// `send-head`: the status line, Server and Date unless `fields` has them, the fields
    /// the framing keeps, and the framing's own field; written with the body's first piece.
    pub fn send_head(&mut self, status: u16, fields: &[(String, Vec<u8>)]) -> Result<(), HttpError> {
        if self.framed.is_some() {
            return Err(HttpError::CannotSendHeader(
                "the response's head was already sent".into(),
            ));
        }
        if !(100..=999).contains(&status) {
            return Err(HttpError::InvalidArgument(format!(
                "status code {status} is not 3 digits"
            )));
        }
        let exchange = self.framing_exchange();
        let head =
            response_framing::plan(status, fields, exchange).map_err(|e| HttpError::InvalidHeader(e.to_string()))?;
        let has = |name: &str| head.fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let (server, date) = (has("server"), has("date"));
        self.log_request(Some(status), None);
        self.send_response_only(status, None)?;
        if !server {
            let version = self.version_string();
            self.send_header("Server", &version)?;
        }
        if !date {
            self.send_header("Date", &date_time_string(now_secs()))?;
        }
        for (name, value) in &head.fields {
            // Field values are bytes; as Latin-1 text each byte goes out as it came.
            let value: String = value.iter().map(|&b| char::from(b)).collect();
            self.send_header(name, &value)?;
        }
        if let Some((name, value)) = &head.framing_field {
            self.send_header(name, value)?;
        }
        if head.delimit == response_framing::Delimit::Close {
            self.close_connection = true;
        }
        self.end_head_unsent();
        self.framed = Some(BodyWriter::new(&head, status, exchange));
        Ok(())
    }

    /// `send-body`: `data` framed, in one write with the head when that is still unsent.
    pub fn send_body(&mut self, data: &[u8]) -> Result<(), HttpError> {
        let Some(body) = self.framed.as_mut() else {
            return Err(HttpError::CannotSendRequest("no response head was sent".into()));
        };
        let (bytes, fits) = body.frame(data);
        let bytes = bytes.into_owned();
        self.write_after_head(&bytes)?;
        fits.map_err(|e| {
            self.close_connection = true;
            HttpError::InvalidArgument(e.to_string())
        })
    }

    /// `end-body`: the last chunk when `whole`; a body cut short closes the connection.
    pub fn end_body(&mut self, whole: bool) -> Result<(), HttpError> {
        let Some(body) = self.framed.take() else {
            return Err(HttpError::CannotSendRequest("no response head was sent".into()));
        };
        let end = body.end(whole);
        if end.close {
            self.close_connection = true;
        }
        self.write_after_head(end.tail)
    }
}
