//! HTTPResponse: reading the status line and headers, then the body by its framing.

use crate::error::HttpError;
use crate::io::{BufStream, LineRead};
use crate::proto::body::{BodyDecoder, BodyRead};
use crate::proto::content_coding::ContentDecoder;
use crate::proto::framing::{ResponseFraming, response_framing};
use crate::proto::headers::{FieldBlock, FieldLine};
use crate::proto::limits::{MAX_INTERIM_RESPONSES, MAX_LINE};
use crate::proto::response_parse::{ResponseParse, ResponseScanner};
use crate::proto::status_line::{StatusLine, parse_status_line};
use crate::proto::{Headers, latin1};
use crate::transport::GuestLimits;
use std::cell::RefCell;
use std::rc::Rc;

/// The socket a connection and its current response share.
pub type SharedStream = Rc<RefCell<BufStream>>;

/// Where a response's reading stands.
enum Reading {
    /// The body is being read from the connection's stream.
    Open(SharedStream),
    /// The body reached its end by its framing: the connection may carry another request.
    Ended,
    /// Closed before its end (`close`, or the body cut short or broken): the stream holds
    /// unread bytes and cannot carry another request.
    Closed,
}

/// One response, reading from the connection's stream until its body ends.
pub struct Response {
    /// `status`.
    pub status: u16,
    /// `reason`.
    pub reason: std::borrow::Cow<'static, str>,
    /// `version`: 10 or 11.
    pub version: u8,
    /// `headers` / `msg`, in arrival order.
    pub headers: Headers,
    /// `url`: the request target this answers.
    pub url: String,
    /// The final status line and header lines as received, blank line included, when they
    /// were read line by line (else `headers.source()` is the head: `raw_head()`).
    read_by_line: Option<Vec<u8>>,
    framing: ResponseFraming,
    /// The body by its framing, and how much of it is left.
    body: BodyDecoder,
    /// Reading from the stream, or done with it (and how).
    state: Reading,
    /// Total body bytes handed out, for IncompleteRead's figure.
    delivered: u64,
    debuglevel: u32,
    /// The Content-Encoding decoder, made by the first `read_decoded`.
    content: Option<ContentDecoder>,
    /// The session's limits on bodies.
    limits: GuestLimits,
    /// An error met after `read(amt)` had gathered bytes: those are handed out first, and the
    /// error on the next read, so no body byte is lost to it.
    deferred: Option<HttpError>,
}

impl Response {
    /// `HTTPResponse.begin()`: status line (skipping 100 Continue), headers, framing.
    pub fn begin(stream: SharedStream, method: &str, url: &str, debuglevel: u32) -> Result<Response, HttpError> {
        let mut interim = 0;
        let (status, head, raw_head) = loop {
            // Whole heads that arrived in full go through proto's scanner and httparse; any
            // other (and every head under set_debuglevel, whose lines are printed as read)
            // is read line by line, as CPython reads it.
            let fast = if debuglevel == 0 { whole_head(&stream)? } else { None };
            let (raw_head, status, headers) = match fast {
                Some((status, headers)) => (None, status, headers),
                None => {
                    let line = read_line(&stream, "status line")?;
                    let mut raw = line.clone();
                    if debuglevel > 0 {
                        println!("reply: {}", crate::proto::pyrepr::py_repr(&latin1(&line)));
                    }
                    if line.is_empty() {
                        return Err(HttpError::RemoteDisconnected(
                            "Remote end closed connection without response".into(),
                        ));
                    }
                    let status = parse_status_line(&line)?;
                    let headers = read_headers(&stream, &mut raw)?;
                    (Some(raw), status, headers)
                }
            };
            if status.status != 100 {
                break (status, headers, raw_head);
            }
            interim += 1;
            if interim > MAX_INTERIM_RESPONSES {
                return Err(HttpError::HttpException(format!(
                    "got more than {MAX_INTERIM_RESPONSES} interim responses"
                )));
            }
        };
        if debuglevel > 0 {
            for (name, value) in head.iter() {
                println!("header: {name}: {}", latin1(value));
            }
        }
        let framing = response_framing(status.version, status.status, method, &head);
        let mut response = Response {
            status: status.status,
            reason: status.reason,
            version: status.version,
            headers: head,
            url: url.to_string(),
            read_by_line: raw_head,
            body: BodyDecoder::new(framing.length, framing.chunked, true),
            framing,
            state: Reading::Open(stream),
            delivered: 0,
            debuglevel,
            content: None,
            limits: GuestLimits::default(),
            deferred: None,
        };
        if response.body.is_done() {
            response.finish();
        }
        Ok(response)
    }

    /// The final status line and header lines as received, blank line included.
    pub fn raw_head(&self) -> &[u8] {
        match &self.read_by_line {
            Some(raw) => raw,
            None => self.headers.source(),
        }
    }

    /// `will_close`: the connection closes after this response.
    pub fn will_close(&self) -> bool {
        self.framing.will_close
    }

    /// `chunked`: the body is chunk-encoded.
    pub fn chunked(&self) -> bool {
        self.framing.chunked
    }

    /// Bytes still expected under Content-Length framing (CPython `length`).
    pub fn length(&self) -> Option<u64> {
        match self.body.left() {
            Some(left) => Some(left),
            // Read to its end (or bodiless): none left.
            None => self.framing.length.map(|_| 0),
        }
    }

    /// `isclosed()`: the body is done (or the response was closed).
    pub fn isclosed(&self) -> bool {
        !matches!(self.state, Reading::Open(_))
    }

    /// `close()`: stop reading. The connection is reusable only if the body had ended.
    pub fn close(&mut self) {
        if let Reading::Open(_) = self.state {
            self.state = Reading::Closed;
        }
    }

    /// The body ended: release the stream (which the connection may reuse).
    fn finish(&mut self) {
        self.state = Reading::Ended;
    }

    /// The body was read to its end, so the connection can carry another request.
    pub fn finished_cleanly(&self) -> bool {
        matches!(self.state, Reading::Ended)
    }

    /// The stream, while the body is being read.
    fn stream(&self) -> Option<SharedStream> {
        match &self.state {
            Reading::Open(stream) => Some(stream.clone()),
            _ => None,
        }
    }

    fn incomplete(&mut self, expected: Option<u64>) -> HttpError {
        self.state = Reading::Closed;
        HttpError::IncompleteRead {
            partial: self.delivered,
            expected,
        }
    }

    /// Apply the session's limits: a declared body over `max-response-body` is refused now.
    pub fn with_limits(mut self, limits: GuestLimits) -> Result<Self, HttpError> {
        self.limits = limits;
        if let (Some(max), Some(len)) = (limits.max_response_body, self.length())
            && len > max
        {
            return Err(HttpError::LimitExceeded(format!(
                "the response body of {len} bytes is over the session's limit of {max} bytes"
            )));
        }
        Ok(self)
    }

    /// `read(amt)`: up to `amt` body bytes, or all the rest. Blocks until that many arrive or the body ends.
    ///
    /// All the rest is refused, before anything is read, when the body is declared larger than
    /// the session's `max_read_all` (the response stays readable in pieces); a body of unknown
    /// length that grows past it ends the response with the same error.
    pub fn read(&mut self, amt: Option<usize>) -> Result<Vec<u8>, HttpError> {
        let max_all = self.limits.max_read_all;
        if amt.is_none()
            && let Some(len) = self.length()
            && len > max_all
        {
            return Err(read_all_refused(len, max_all));
        }
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        let mut out = Vec::new();
        loop {
            if amt.is_none() && out.len() as u64 > max_all {
                self.state = Reading::Closed;
                return Err(read_all_refused(out.len() as u64, max_all));
            }
            let want = match amt {
                Some(a) if out.len() >= a => break,
                Some(a) => a - out.len(),
                None => usize::MAX,
            };
            let piece = match self.read1(Some(want)) {
                Ok(piece) => piece,
                Err(e) if amt.is_some() && !out.is_empty() => {
                    self.deferred = Some(e);
                    break;
                }
                Err(e) => return Err(e),
            };
            if piece.is_empty() {
                break;
            }
            if out.is_empty() {
                out = piece;
            } else {
                out.extend_from_slice(&piece);
            }
        }
        Ok(out)
    }

    /// `read1(n)`: at most `n` body bytes with at most one transport read. Empty at the end.
    pub fn read1(&mut self, n: Option<usize>) -> Result<Vec<u8>, HttpError> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        let Some(stream) = self.stream() else {
            return Ok(Vec::new());
        };
        let max = n.unwrap_or(usize::MAX);
        if max == 0 {
            return Ok(Vec::new());
        }
        let got = stream.borrow_mut().read_body(&mut self.body, max)?;
        let data = match got {
            BodyRead::Data(data) => data,
            BodyRead::End => {
                self.finish();
                return Ok(Vec::new());
            }
            BodyRead::Cut { left } => return Err(self.incomplete(left)),
            BodyRead::Bad(crate::proto::ProtoError::BadChunk(_)) => return Err(self.incomplete(None)),
            BodyRead::Bad(other) => {
                self.state = Reading::Closed;
                return Err(other.into());
            }
        };
        self.delivered += data.len() as u64;
        if let Some(max) = self.limits.max_response_body
            && self.delivered > max
        {
            self.state = Reading::Closed;
            return Err(HttpError::LimitExceeded(format!(
                "the response body went over the session's limit of {max} bytes"
            )));
        }
        if self.body.is_done() {
            self.finish();
        }
        Ok(data)
    }

    /// Up to `amt` bytes of the body with its Content-Encoding undone (gzip, deflate, br;
    /// urllib3's `decode_content`); empty at the end. Each call reads at most `amt` coded
    /// bytes from the transport and hands out at most `amt` decoded ones, however well the
    /// body compresses.
    pub fn read_decoded(&mut self, amt: usize) -> Result<Vec<u8>, HttpError> {
        let mut decoder = match self.content.take() {
            Some(d) => d,
            None => ContentDecoder::new(self.headers.get_joined("content-encoding").as_deref())?,
        };
        let result = loop {
            match decoder.pull(amt) {
                Ok(out) if !out.is_empty() => break Ok(out),
                Ok(_) => {}
                Err(e) => break Err(e.into()),
            }
            match self.read1(Some(amt)) {
                Ok(coded) if coded.is_empty() => break decoder.finish().map(|()| Vec::new()).map_err(Into::into),
                Ok(coded) => decoder.push(&coded),
                Err(e) => break Err(e),
            }
        };
        self.content = Some(decoder);
        result
    }

    /// `readline(limit)`: body bytes up to and including "\n".
    pub fn readline(&mut self, limit: Option<usize>) -> Result<Vec<u8>, HttpError> {
        let mut line = Vec::new();
        while limit.is_none_or(|l| line.len() < l) {
            let peeked = self.peek(1)?;
            if peeked.is_empty() {
                break;
            }
            let room = limit.map_or(usize::MAX, |l| l - line.len());
            let upto = peeked
                .iter()
                .position(|&b| b == b'\n')
                .map_or(peeked.len(), |i| i + 1)
                .min(room);
            let got = self.read1(Some(upto))?;
            let done = got.last() == Some(&b'\n');
            line.extend_from_slice(&got);
            if done {
                break;
            }
        }
        Ok(line)
    }

    /// `peek(n)`: body bytes already buffered (reading once if none are), not consumed.
    pub fn peek(&mut self, n: usize) -> Result<Vec<u8>, HttpError> {
        let Some(stream) = self.stream() else {
            return Ok(Vec::new());
        };
        let got = stream.borrow_mut().peek_body(&mut self.body, n)?;
        match got {
            BodyRead::Data(data) => Ok(data),
            BodyRead::End => {
                self.finish();
                Ok(Vec::new())
            }
            BodyRead::Cut { .. } => Ok(Vec::new()),
            BodyRead::Bad(e) => Err(e.into()),
        }
    }

    /// The connection's debug level (`set_debuglevel`).
    pub fn debuglevel(&self) -> u32 {
        self.debuglevel
    }
}

/// The next head, when all of it arrives and proto's fast path takes it: its bytes, status
/// line and fields. None leaves the buffer as it was, for the line reader.
fn whole_head(stream: &SharedStream) -> Result<Option<(StatusLine, Headers)>, HttpError> {
    let mut s = stream.borrow_mut();
    let mut scanner = ResponseScanner::new();
    loop {
        match scanner.feed(s.buffered_mut()) {
            ResponseParse::Complete { status, headers } => return Ok(Some((status, headers))),
            ResponseParse::LineByLine => return Ok(None),
            ResponseParse::Partial => {
                if s.fill()? == 0 {
                    return Ok(None);
                }
            }
        }
    }
}

/// One line of at most MAX_LINE bytes, or `LineTooLong(what)`.
fn read_line(stream: &SharedStream, what: &'static str) -> Result<Vec<u8>, HttpError> {
    match stream.borrow_mut().read_line(MAX_LINE)? {
        LineRead::Line(l) => Ok(l),
        LineRead::TooLong => Err(HttpError::LineTooLong(what.into())),
    }
}

/// `parse_headers`: lines up to the blank one, with CPython's limits; `raw` gets the bytes.
fn read_headers(stream: &SharedStream, raw: &mut Vec<u8>) -> Result<Headers, HttpError> {
    let mut block = FieldBlock::new();
    loop {
        let line = read_line(stream, "header line")?;
        raw.extend_from_slice(&line);
        if line.is_empty() || block.push_line(&line)? == FieldLine::End {
            return Ok(block.headers);
        }
    }
}

fn read_all_refused(len: u64, max: u64) -> HttpError {
    HttpError::LimitExceeded(format!(
        "read() of a {len}-byte body is over the {max} bytes one read may gather in guest memory; read it in pieces"
    ))
}
