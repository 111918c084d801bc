//! One session's transfers: connections reused while URLs keep to the same origin and
//! proxy, requests sent, redirects followed, bodies copied to the output.

use super::args::FetchArgs;
use super::failure::ClientErrorOrIo;
use super::output::{READ_CHUNK, progress_meter};
use super::upload::{Payload, Piece, piece_length};
use crate::bindings::client::{Body, ConnectionOptions, ProxySetting, RequestPlan, Route};
use crate::bindings::types::TlsOptions;
use crate::client::{ClientError, ClientSession, Connection, CookieJar, Response};
use std::fs::File;
use std::io::{Read, Write};

/// What `--compressed` asks for: the codings the guest decodes (`read-decoded`); curl 7.88
/// asks for "deflate, gzip, br, zstd" where built with them.
pub(super) const ACCEPT_ENCODING: &str = "deflate, gzip, br";
/// Size of each part of a file body streamed to the server.
const SEND_CHUNK: usize = 256 * 1024;

/// One session's connections, reused while URLs keep to the same scheme, host, port and proxy.
pub(super) struct Fetcher<'a> {
    pub(super) session: &'a mut ClientSession,
    /// The body goes to a terminal nobody asked for explicitly: refuse binary, as curl does.
    pub(super) guard_terminal: bool,
    pub(super) current: Option<(Route, (String, String, u16), Connection)>,
    /// Show a progress meter on stderr (a file is written, stderr is a terminal, no -s).
    pub(super) progress: bool,
    pub(super) args: &'a FetchArgs,
    pub(super) tls: TlsOptions,
    /// Body bytes written for the transfer under way.
    pub(super) received: u64,
    /// The proxy to plan each request with (-x, else the environment).
    pub(super) proxy: ProxySetting,
    /// A body from stdin went out already: it cannot be sent again.
    pub(super) stdin_sent: bool,
    /// When the transfer under way made its connection (none: it used a kept one).
    pub(super) connected_at: Option<std::time::Instant>,
    /// The address the last connection went to, as the connect audit event told it.
    pub(super) remote: std::sync::Arc<std::sync::Mutex<Option<(String, u16)>>>,
    /// The cookie engine (-b FILE, -c): cookies received are kept and sent where they match.
    pub(super) jar: Option<CookieJar>,
    /// Headers -H removed ("Name:"), lower-cased: http.client's own Host and
    /// Accept-Encoding among them are then not sent.
    pub(super) removed: Vec<String>,
}

type FetchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Whether a connection was kept from an earlier request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    New,
    Reused,
}

/// Whether a request failed because its kept connection had died: nothing of an answer came
/// (the server closed it, or reset it when written to).
fn died_unanswered(e: &(dyn std::error::Error + 'static)) -> bool {
    use crate::bindings::types::HttpError;
    matches!(
        e.downcast_ref::<ClientError>(),
        Some(ClientError::Http(
            HttpError::RemoteDisconnected(_) | HttpError::ConnectionReset(_),
            _
        ))
    )
}

/// How a body's parts reach the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// After `endheaders`, as raw bytes (`send`): the length was declared.
    Raw,
    /// In a `body::streamed` request (`send-body`), chunk-encoded where no length was given.
    Body,
}

/// The pieces' whole length; none when one is stdin (its length is not known beforehand).
fn known_length(pieces: &[Piece]) -> Result<Option<u64>, ClientErrorOrIo> {
    let mut sum = 0;
    for piece in pieces {
        if matches!(piece, Piece::Stdin) {
            return Ok(None);
        }
        sum += piece_length(piece).map_err(|e| ClientErrorOrIo::Read(e.0))?;
    }
    Ok(Some(sum))
}

/// The last response of a URL's requests (after the redirects -L followed), its body unread.
pub(super) struct Answer {
    pub(super) response: Response,
    pub(super) status: u16,
    /// The URL that answered: curl's `url_effective`.
    pub(super) url: String,
    /// The status line and headers of every response on the way, as they arrived (-i, -D).
    pub(super) heads: Vec<u8>,
    /// How many redirects were followed.
    pub(super) redirects: i64,
    /// Where a redirect not followed would have gone (for -w's %{redirect_url}).
    pub(super) redirect_url: Option<String>,
}

impl Fetcher<'_> {
    /// The connection for a planned request: direct, to the proxy (http), or tunnelled through
    /// it (https); and whether it was kept from an earlier request (`Reused`) or is new. A
    /// connection to a proxy serves every plain-http URL it is asked for, as curl's does.
    fn connection(&mut self, plan: &RequestPlan) -> FetchResult<(Connection, Kept)> {
        let url = &plan.url;
        let key = match &plan.route {
            Route::Forward(_) => (String::new(), String::new(), 0),
            _ => (url.scheme.clone(), url.host.clone(), url.port),
        };
        if let Some((route, k, c)) = &self.current
            && *route == plan.route
            && *k == key
        {
            return Ok((*c, Kept::Reused));
        }
        if let Some((_, _, old)) = self.current.take() {
            self.session.release(old)?;
        }
        let https = url.scheme == "https";
        let millis = |secs: f64| (secs * 1000.0).max(1.0) as u64;
        // A connect never outlasts -m either: the cancel that ends a transfer at its max time
        // reaches sockets once they are connected.
        let connect = match (self.args.connect_timeout, self.args.max_time) {
            (Some(c), Some(m)) => Some(c.min(m)),
            (c, m) => c.or(m),
        };
        let options = ConnectionOptions {
            timeout_ms: self.args.timeout.map(millis),
            connect_timeout_ms: connect.map(millis),
            tls: https.then(|| self.tls.clone()),
            ..ConnectionOptions::http()
        };
        let c = match &plan.route {
            Route::Direct => self.session.open(&url.host, Some(url.port), &options)?,
            Route::Tunnel(p) => {
                let c = self.session.open(&p.host, Some(p.port), &options)?;
                self.session
                    .set_tunnel(c, &url.host, Some(url.port), &plan.tunnel_headers)?;
                c
            }
            Route::Forward(p) => self.session.open(&p.host, Some(p.port), &options)?,
        };
        if self.args.verbose {
            self.session.set_debuglevel(c, 1)?;
        }
        if self.args.http10 {
            self.session.set_http_version(c, "HTTP/1.0")?;
        }
        // Connected now, not by the first request, so -w can say when.
        self.session.connect(c)?;
        self.connected_at = Some(std::time::Instant::now());
        self.current = Some((plan.route.clone(), key, c));
        Ok((c, Kept::New))
    }

    /// Drop the kept connection (it died under a request).
    fn forget_connection(&mut self) {
        if let Some((_, _, c)) = self.current.take() {
            let _ = self.session.release(c);
        }
    }

    /// One request and, with -L, the redirects it leads to: the last response, its body not
    /// yet read.
    pub(super) fn fetch_head(
        &mut self,
        url: &str,
        method: &str,
        payload: &Payload,
        headers: &[(String, Vec<u8>)],
    ) -> FetchResult<Answer> {
        let (mut url, mut method) = (url.to_string(), method.to_string());
        let mut payload = payload;
        let mut headers = headers.to_vec();
        // Credentials (-u, a URL's user:password@, -H Authorization) stay with the first origin.
        let mut user = self.args.user.clone();
        let mut redirects = 0;
        let mut heads = Vec::new();
        loop {
            let (response, status) = self.send(&url, &method, payload, &headers, user.as_deref())?;
            heads.extend(self.session.raw_head(response)?);
            self.keep_cookies(response, &url)?;
            // -w's %{redirect_url} asks where an unfollowed redirect goes: the guest says.
            let next = match self.args.location || self.args.write_out.is_some() {
                true => {
                    let location = self.session.getheader(response, "location")?;
                    self.session
                        .follow_redirect(&url, &method, status, location.as_deref(), &headers)?
                }
                false => None,
            };
            let next = match next {
                Some(next) if self.args.location => next,
                unfollowed => {
                    return Ok(Answer {
                        response,
                        status,
                        url,
                        heads,
                        redirects,
                        redirect_url: unfollowed.map(|n| n.url),
                    });
                }
            };
            if self.args.max_redirs >= 0 && redirects >= self.args.max_redirs {
                self.session.close_response(response)?;
                return Err(Box::new(ClientErrorOrIo::TooManyRedirects(redirects)));
            }
            redirects += 1;
            // The redirect's own body is read and dropped, so the connection can be reused.
            self.drop_body(response)?;
            // The guest said which headers go on; -u goes no further than the first origin.
            if !next.keep_body {
                payload = &Payload::None;
            }
            if !next.same_origin {
                user = None;
            }
            headers = next.headers;
            url = next.url;
            method = next.method;
        }
    }

    /// The headers with the jar's cookies for `url` added, before any Cookie given (-b's
    /// text, -H), as curl orders them.
    fn with_cookies(&mut self, url: &str, headers: &[(String, Vec<u8>)]) -> FetchResult<Vec<(String, Vec<u8>)>> {
        let mut headers = headers.to_vec();
        let Some(jar) = self.jar else { return Ok(headers) };
        let Some(cookies) = self.session.cookie_header(jar, url)? else {
            return Ok(headers);
        };
        match headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case("cookie")) {
            Some((_, given)) => *given = [cookies.as_bytes(), b"; ", given].concat(),
            None => headers.push(("Cookie".into(), cookies.into_bytes())),
        }
        Ok(headers)
    }

    /// Give the jar every Set-Cookie of a response to `url`.
    fn keep_cookies(&mut self, r: Response, url: &str) -> FetchResult<()> {
        let Some(jar) = self.jar else { return Ok(()) };
        for (name, value) in self.session.headers(r)? {
            if name.eq_ignore_ascii_case("set-cookie") {
                // Header bytes are Latin-1, as Python reads them.
                let value: String = value.iter().map(|&b| char::from(b)).collect();
                self.session.set_cookie(jar, url, &value)?;
            }
        }
        Ok(())
    }

    /// Read a response's body to its end without keeping it, and close it (its connection
    /// stays usable).
    pub(super) fn drop_body(&mut self, r: Response) -> Result<(), ClientErrorOrIo> {
        while !self.session.read1(r, Some(READ_CHUNK))?.is_empty() {}
        self.session.close_response(r)?;
        Ok(())
    }

    /// Close a response without reading the rest of its body (its connection closes too).
    pub(super) fn close_response(&mut self, r: Response) -> FetchResult<()> {
        Ok(self.session.close_response(r)?)
    }

    /// The address and port last connected to.
    pub(super) fn remote(&self) -> Option<(String, u16)> {
        self.remote.lock().map(|r| r.clone()).unwrap_or(None)
    }

    /// A response header's value, if it has one.
    pub(super) fn header(&mut self, r: Response, name: &str) -> FetchResult<Option<String>> {
        Ok(self.session.getheader(r, name)?)
    }

    /// Send one request; its response, with the status read.
    fn send(
        &mut self,
        url: &str,
        method: &str,
        payload: &Payload,
        headers: &[(String, Vec<u8>)],
        user: Option<&str>,
    ) -> FetchResult<(Response, u16)> {
        let with_cookies = self.with_cookies(url, headers)?;
        let plan = self.session.plan_request(url, &self.proxy, user, &with_cookies)?;
        // A kept connection the server closed meanwhile (after a response that did not say
        // so) fails before any answer: the request goes again on a new one, as curl's does.
        let (c, kept) = self.connection(&plan)?;
        match self.exchange(c, &plan, method, payload) {
            Err(e) if kept == Kept::Reused && died_unanswered(e.as_ref()) => {
                self.forget_connection();
                let (c, _) = self.connection(&plan)?;
                self.exchange(c, &plan, method, payload)
            }
            other => other,
        }
    }

    /// One request on `c` as planned, and its response, with the status read.
    fn exchange(
        &mut self,
        c: Connection,
        plan: &RequestPlan,
        method: &str,
        payload: &Payload,
    ) -> FetchResult<(Response, u16)> {
        let (target, headers) = (&plan.target, &plan.headers[..]);
        let removed = |name: &str| self.removed.iter().any(|r| r == name);
        if removed("host") || removed("accept-encoding") {
            self.send_skipping(c, method, target, payload, headers)?;
            let response = self.session.getresponse(c)?;
            let status = self.session.status(response)?;
            return Ok((response, status));
        }
        match payload {
            Payload::None => self.session.request(c, method, target, &Body::None, headers)?,
            Payload::Pieces(pieces) => self.send_pieces(c, method, target, pieces, headers)?,
        }
        let response = self.session.getresponse(c)?;
        let status = self.session.status(response)?;
        Ok((response, status))
    }

    /// A request without the Host or Accept-Encoding http.client adds (-H "Host:",
    /// -H "Accept-Encoding:"): `putrequest` told to skip them, the headers, Content-Length as
    /// `request` gives it, then the body as it is (a pipe, whose length is unknown, cannot).
    fn send_skipping(
        &mut self,
        c: Connection,
        method: &str,
        target: &str,
        payload: &Payload,
        headers: &[(String, Vec<u8>)],
    ) -> FetchResult<()> {
        let pieces: &[Piece] = match payload {
            Payload::None => &[],
            Payload::Pieces(pieces) => pieces,
        };
        let Some(length) = known_length(pieces)? else {
            let why = "a body from stdin cannot go with -H \"Host:\" or -H \"Accept-Encoding:\"";
            return Err(Box::new(ClientErrorOrIo::Usage(why.into())));
        };
        let removed = |name: &str| self.removed.iter().any(|r| r == name);
        let (skip_host, skip_accept_encoding) = (removed("host"), removed("accept-encoding"));
        self.session
            .putrequest(c, method, target, skip_host, skip_accept_encoding)?;
        for (name, value) in headers {
            self.session.putheader(c, name, std::slice::from_ref(value))?;
        }
        // As `request` does: a length for a body, and 0 for a method that expects one.
        let expects_body = matches!(method, "POST" | "PUT" | "PATCH");
        let has_length = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
        if !has_length && (!pieces.is_empty() || expects_body) {
            self.session
                .putheader(c, "Content-Length", &[length.to_string().into_bytes()])?;
        }
        self.session.endheaders(c, None, false)?;
        self.stream_pieces(c, pieces, Framing::Raw)
    }

    /// A body in pieces: with a Content-Length when their lengths are known, else (stdin)
    /// chunked; bytes sent as they are, files and stdin streamed a part at a time.
    fn send_pieces(
        &mut self,
        c: Connection,
        method: &str,
        target: &str,
        pieces: &[Piece],
        headers: &[(String, Vec<u8>)],
    ) -> FetchResult<()> {
        if self.stdin_sent && pieces.iter().any(|p| matches!(p, Piece::Stdin)) {
            return Err(Box::new(ClientErrorOrIo::Rewind));
        }
        if let [Piece::Bytes(bytes)] = pieces {
            self.session
                .request(c, method, target, &Body::Bytes(bytes.clone()), headers)?;
            return Ok(());
        }
        let mut headers = headers.to_vec();
        if let Some(length) = known_length(pieces)?
            && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            headers.push(("Content-Length".into(), length.to_string().into_bytes()));
        }
        self.session.request(c, method, target, &Body::Streamed, &headers)?;
        self.stream_pieces(c, pieces, Framing::Body)?;
        self.session.end_body(c)?;
        Ok(())
    }

    /// Each piece's bytes after the head: as they are, files and stdin a part at a time.
    fn stream_pieces(&mut self, c: Connection, pieces: &[Piece], framing: Framing) -> FetchResult<()> {
        let mut buf = vec![0u8; SEND_CHUNK];
        for piece in pieces {
            let mut source: Box<dyn Read> = match piece {
                Piece::Bytes(bytes) => {
                    self.send_part(c, bytes, framing)?;
                    continue;
                }
                Piece::File(path) => {
                    Box::new(File::open(path).map_err(|e| ClientErrorOrIo::Read(format!("{}: {e}", path.display())))?)
                }
                Piece::Stdin => {
                    self.stdin_sent = true;
                    Box::new(std::io::stdin())
                }
            };
            loop {
                let n = source
                    .read(&mut buf)
                    .map_err(|e| ClientErrorOrIo::Read(e.to_string()))?;
                if n == 0 {
                    break;
                }
                self.send_part(c, &buf[..n], framing)?;
            }
        }
        Ok(())
    }

    /// One part of a body: `send` after `endheaders`, `send-body` in a streamed request.
    fn send_part(&mut self, c: Connection, data: &[u8], framing: Framing) -> FetchResult<()> {
        match framing {
            Framing::Raw => self.session.send(c, data)?,
            Framing::Body => self.session.send_body(c, data)?,
        }
        Ok(())
    }

    /// The body to `out`, then the response closed; how many bytes it held.
    pub(super) fn copy_body(&mut self, r: Response, out: &mut dyn Write) -> Result<u64, ClientErrorOrIo> {
        let meter = match self.progress {
            // With --compressed the length is of the coded bytes, not of those counted.
            true => Some(progress_meter(match self.args.compressed {
                true => None,
                false => self.session.length(r)?,
            })),
            false => None,
        };
        let copied = self.copy_body_to(r, out, meter.as_ref());
        if let Some(meter) = meter {
            match copied {
                Ok(_) => meter.finish(),
                Err(_) => meter.abandon(),
            }
        }
        let size = copied?;
        self.session.close_response(r)?;
        Ok(size)
    }

    fn copy_body_to(
        &mut self,
        r: Response,
        out: &mut dyn Write,
        meter: Option<&indicatif::ProgressBar>,
    ) -> Result<u64, ClientErrorOrIo> {
        let mut size = 0;
        loop {
            let data = match self.args.compressed {
                true => self.session.read_decoded(r, READ_CHUNK)?,
                false => self.session.read1(r, Some(READ_CHUNK))?,
            };
            if data.is_empty() {
                return Ok(size);
            }
            if size == 0 && self.guard_terminal && data.contains(&0) {
                return Err(ClientErrorOrIo::BinaryToTerminal);
            }
            out.write_all(&data)?;
            size += data.len() as u64;
            self.received += data.len() as u64;
            if let Some(meter) = meter {
                meter.inc(data.len() as u64);
            }
        }
    }

    pub(super) fn finish(&mut self) {
        if let Some((_, _, c)) = self.current.take() {
            let _ = self.session.release(c);
        }
    }
}
