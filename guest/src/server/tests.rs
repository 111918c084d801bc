//! The request loop per state, over a scripted stream (as ureq-proto's `server/test/state_*`):
//! awaiting a request, reading its head, reading its body, answering, and between requests.
//! Each script is what the client sends, piece by piece, and where the host says a read timed
//! out; what the handler wrote and the phases it reported are checked.

use super::{Handler, HandlerConfig};
use crate::error::HttpError;
use crate::proto::limits::MAX_EMPTY_LINES_BEFORE_REQUEST;
use crate::transport::{ServerPhase, Stream, TlsOptions, TransportError};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// One thing the peer (or the host) does when the handler reads.
#[derive(Debug, Clone)]
enum Step {
    /// These bytes arrive.
    Send(&'static [u8]),
    /// The read times out (the host's deadline passed).
    Timeout,
    /// The host parks the connection: the read finds the stream closed, and `carry` is
    /// taken (in `AwaitingBody` only, as the host does).
    Park,
}

/// What the handler did, seen from the other end.
#[derive(Default)]
struct Seen {
    output: Vec<u8>,
    phases: Vec<ServerPhase>,
    read_timeouts: Vec<Option<u64>>,
    shut: bool,
    /// The state carried over a park.
    carried: Option<Vec<u8>>,
}

/// A stream that plays `steps` in order, then end-of-stream.
struct Script {
    steps: VecDeque<Step>,
    seen: Rc<RefCell<Seen>>,
    /// Parked waiting for a body: `carry` is taken.
    parked_mid_body: bool,
    /// State for this handler from one before it.
    carried_in: Option<Vec<u8>>,
}

impl Stream for Script {
    fn read(&mut self, max: usize) -> Result<Vec<u8>, TransportError> {
        match self.steps.pop_front() {
            None => Ok(Vec::new()),
            Some(Step::Timeout) => Err(TransportError::Timeout),
            Some(Step::Park) => {
                self.parked_mid_body = self.seen.borrow().phases.last() == Some(&ServerPhase::AwaitingBody);
                Err(TransportError::Closed)
            }
            Some(Step::Send(bytes)) if bytes.len() > max => {
                self.steps.push_front(Step::Send(&bytes[max..]));
                Ok(bytes[..max].to_vec())
            }
            Some(Step::Send(bytes)) => Ok(bytes.to_vec()),
        }
    }
    fn write(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.seen.borrow_mut().output.extend_from_slice(data);
        Ok(())
    }
    fn shutdown_send(&mut self) -> Result<(), TransportError> {
        self.seen.borrow_mut().shut = true;
        Ok(())
    }
    fn set_timeout(&mut self, _: Option<u64>) -> Result<(), TransportError> {
        Ok(())
    }
    fn set_read_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), TransportError> {
        self.seen.borrow_mut().read_timeouts.push(timeout_ms);
        Ok(())
    }
    fn set_phase(&mut self, phase: ServerPhase) {
        self.seen.borrow_mut().phases.push(phase);
    }
    fn carry(&mut self, state: Vec<u8>) -> bool {
        if self.parked_mid_body {
            self.seen.borrow_mut().carried = Some(state);
        }
        self.parked_mid_body
    }
    fn carried(&mut self) -> Option<Vec<u8>> {
        self.carried_in.take()
    }
    fn start_tls(&mut self, _: &str, _: &TlsOptions) -> Result<(), TransportError> {
        Err(TransportError::Tls("not here".into()))
    }
}

/// A handler (HTTP/1.1, no log, the given waits) over `steps`.
fn handler(steps: &[Step]) -> (Handler, Rc<RefCell<Seen>>) {
    resumed(steps, None)
}

/// A handler as `handler`, resuming a connection parked with `carried`.
fn resumed(steps: &[Step], carried: Option<Vec<u8>>) -> (Handler, Rc<RefCell<Seen>>) {
    let seen = Rc::new(RefCell::new(Seen::default()));
    let script = Script {
        steps: steps.iter().cloned().collect(),
        seen: seen.clone(),
        parked_mid_body: false,
        carried_in: carried,
    };
    let config = HandlerConfig {
        protocol_version: "HTTP/1.1".into(),
        log_requests: false,
        idle_timeout_ms: Some(75_000),
        head_timeout_ms: Some(60_000),
        body_timeout_ms: Some(30_000),
        ..HandlerConfig::default()
    };
    (Handler::new(Box::new(script), "127.0.0.1", config), seen)
}

fn output(seen: &Rc<RefCell<Seen>>) -> String {
    String::from_utf8_lossy(&seen.borrow().output).into_owned()
}

/// Answer the current request with 200 and `body` (as a `do_GET` would).
fn answer(h: &mut Handler, body: &str) {
    h.send_response(200, None).unwrap();
    h.send_header("Content-Length", &body.len().to_string()).unwrap();
    h.end_headers().unwrap();
    h.write(body.as_bytes()).unwrap();
}

// ---- awaiting a request ----

#[test]
fn awaiting_a_client_that_closes_ends_the_connection_quietly() {
    let (mut h, seen) = handler(&[]);
    assert!(!h.next_request().unwrap());
    assert_eq!(output(&seen), "");
    assert_eq!(
        seen.borrow().phases,
        [ServerPhase::AwaitingRequest, ServerPhase::Responding]
    );
    assert_eq!(
        seen.borrow().read_timeouts.first(),
        Some(&Some(60_000)),
        "a new connection's silence is bounded by the head timeout"
    );
}

#[test]
fn awaiting_a_silent_client_times_out_quietly() {
    let (mut h, seen) = handler(&[Step::Timeout]);
    assert!(!h.next_request().unwrap());
    assert_eq!(output(&seen), "", "no 408 to a connection that never began a request");
}

#[test]
fn between_keep_alive_requests_the_wait_is_the_idle_timeout() {
    let (mut h, seen) = handler(&[Step::Send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")]);
    assert!(h.next_request().unwrap());
    answer(&mut h, "one");
    assert!(!h.next_request().unwrap());
    let timeouts = seen.borrow().read_timeouts.clone();
    assert_eq!(timeouts.first(), Some(&Some(60_000)), "{timeouts:?}");
    assert!(timeouts.contains(&Some(75_000)), "then the idle timeout: {timeouts:?}");
}

// ---- reading the head ----

#[test]
fn empty_lines_before_a_request_line_are_skipped() {
    let steps = [
        Step::Send(b"\r"),
        Step::Send(b"\n\n"),
        Step::Send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n"),
    ];
    let (mut h, _) = handler(&steps);
    assert!(h.next_request().unwrap());
    assert_eq!(h.request.path, "/after");
    // Past the limit, the connection ends unanswered (as CPython ends it at the first).
    let many: &'static [u8] = Box::leak(
        format!(
            "{}GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "\r\n".repeat(MAX_EMPTY_LINES_BEFORE_REQUEST + 1)
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    let (mut h, seen) = handler(&[Step::Send(many)]);
    assert!(!h.next_request().unwrap());
    assert_eq!(output(&seen), "");
}

#[test]
fn a_head_trickled_a_byte_at_a_time_is_one_request() {
    let bytes: &'static [u8] = b"GET /a?b HTTP/1.1\r\nHost: x\r\nX-Y: z\r\n\r\n";
    let steps: Vec<Step> = (0..bytes.len()).map(|i| Step::Send(&bytes[i..i + 1])).collect();
    let (mut h, seen) = handler(&steps);
    assert!(h.next_request().unwrap());
    assert_eq!(h.request.command, "GET");
    assert_eq!(h.request.path, "/a?b");
    assert_eq!(h.request.request_version, "HTTP/1.1");
    assert_eq!(h.request.headers.get_joined("x-y").as_deref(), Some("z"));
    assert!(!h.close_connection);
    // The first byte's arrival makes the connection responding (one host call, `await-request`);
    // the head needing more reads, it is reading-request until whole.
    let phases = seen.borrow().phases.clone();
    assert_eq!(
        phases,
        [
            ServerPhase::AwaitingRequest,
            ServerPhase::Responding,
            ServerPhase::ReadingRequest,
            ServerPhase::Responding
        ]
    );
}

#[test]
fn a_head_that_stops_arriving_gets_408_and_the_connection_closes() {
    let (mut h, seen) = handler(&[Step::Send(b"GET / HTTP/1.1\r\nHost"), Step::Timeout]);
    assert!(!h.next_request().unwrap());
    let out = output(&seen);
    assert!(out.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{out}");
    assert!(out.contains("\r\nConnection: close\r\n"), "{out}");
}

#[test]
fn a_head_cut_by_the_end_of_the_stream_is_dropped_unanswered() {
    let (mut h, seen) = handler(&[Step::Send(b"GET / HTTP/1.1\r\nHost: x\r\nHo")]);
    assert!(!h.next_request().unwrap());
    assert_eq!(output(&seen), "");
}

#[test]
fn malformed_heads_are_answered_and_close() {
    let too_long: &'static [u8] = Box::leak(
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000))
            .into_bytes()
            .into_boxed_slice(),
    );
    let cases: [(&'static [u8], &str); 4] = [
        (b"GET / HTTP/1.1 extra\r\n\r\n", "HTTP/1.1 400 "),
        (b"GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505 "),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 400 ",
        ),
        (too_long, "HTTP/1.1 414 "),
    ];
    for (request, status) in cases {
        let (mut h, seen) = handler(&[
            Step::Send(request),
            Step::Send(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"),
        ]);
        assert!(!h.next_request().unwrap(), "{status}");
        let out = output(&seen);
        assert!(out.starts_with(status), "{status}: {}", &out[..out.len().min(200)]);
        assert!(!out.contains("/next"), "the request after a rejected one is never read");
    }
}

// ---- reading the body ----

#[test]
fn a_content_length_body_is_read_to_its_end_and_no_further() {
    let (mut h, _) = handler(&[
        Step::Send(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello"),
        Step::Send(b" world"),
        Step::Send(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"),
    ]);
    assert!(h.next_request().unwrap());
    assert_eq!(h.body_length(), Some(11));
    let mut body = Vec::new();
    loop {
        let piece = h.read_body(4).unwrap();
        if piece.is_empty() {
            break;
        }
        assert!(piece.len() <= 4);
        body.extend(piece);
    }
    assert_eq!(body, b"hello world");
    answer(&mut h, "ok");
    assert!(h.next_request().unwrap());
    assert_eq!(h.request.path, "/next");
}

#[test]
fn a_chunked_body_is_decoded_and_its_trailers_dropped() {
    let (mut h, _) = handler(&[
        Step::Send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
        Step::Send(b"lo\r\n6;ext=1\r\n world\r\n0\r\nT: x\r\n\r\n"),
    ]);
    assert!(h.next_request().unwrap());
    let mut body = Vec::new();
    loop {
        let piece = h.read_body(1 << 16).unwrap();
        if piece.is_empty() {
            break;
        }
        body.extend(piece);
    }
    assert_eq!(body, b"hello world");
}

#[test]
fn a_body_cut_short_is_incomplete_and_closes_the_connection() {
    let (mut h, seen) = handler(&[Step::Send(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    )]);
    assert!(h.next_request().unwrap());
    assert_eq!(h.read_body(100).unwrap(), b"abc");
    assert_eq!(
        h.read_body(100),
        Err(HttpError::IncompleteRead {
            partial: 0,
            expected: Some(7)
        })
    );
    assert!(h.close_connection);
    assert_eq!(
        seen.borrow().read_timeouts.last(),
        Some(&Some(30_000)),
        "the body timeout"
    );
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_read() {
    let (mut h, seen) = handler(&[Step::Send(
        b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    )]);
    assert!(h.next_request().unwrap());
    assert_eq!(output(&seen), "HTTP/1.1 100 Continue\r\n\r\n");
}

// ---- between requests ----

#[test]
fn a_small_unread_body_is_drained_and_the_connection_kept() {
    let (mut h, _) = handler(&[
        Step::Send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
        Step::Send(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"),
    ]);
    assert!(h.next_request().unwrap());
    answer(&mut h, "ignored your body");
    assert!(h.next_request().unwrap(), "the body was drained, not read as a request");
    assert_eq!(h.request.path, "/second");
}

#[test]
fn a_drain_that_waits_is_carried_over_a_park_and_goes_on_in_the_next_instance() {
    let (mut h, seen) = handler(&[
        Step::Send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhel"),
        Step::Park,
    ]);
    assert!(h.next_request().unwrap());
    answer(&mut h, "ignored your body");
    assert!(!h.next_request().unwrap(), "this instance is done with the connection");
    assert!(seen.borrow().phases.contains(&ServerPhase::AwaitingBody));
    let carried = seen.borrow().carried.clone();
    assert!(carried.is_some());
    // The next instance drains the 7 bytes left, then reads the next request.
    let (mut next, next_seen) = resumed(
        &[
            Step::Send(b"lo wor"),
            Step::Send(b"d"),
            Step::Send(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"),
        ],
        carried,
    );
    assert!(
        next.next_request().unwrap(),
        "the body was drained, not read as a request"
    );
    assert_eq!(next.request.path, "/second");
    // The wait after the park is for a next request on a kept connection.
    assert!(next_seen.borrow().read_timeouts.contains(&Some(75_000)));
}

#[test]
fn a_park_in_a_wait_that_cannot_be_carried_ends_the_connection() {
    // A chunked body is not carried: its wait ends the connection as a close would.
    let (mut h, seen) = handler(&[
        Step::Send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"),
        Step::Park,
    ]);
    assert!(h.next_request().unwrap());
    assert!(h.read_body(100).is_ok());
    assert!(h.read_body(100).is_err());
    assert!(seen.borrow().carried.is_none());
    // State that does not decode never lets body bytes be read as a request.
    let (mut next, _) = resumed(
        &[Step::Send(b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")],
        Some(b"junk".to_vec()),
    );
    assert!(!next.next_request().unwrap());
}

#[test]
fn a_large_unread_body_closes_the_connection_instead() {
    let (mut h, _) = handler(&[Step::Send(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\nxx",
    )]);
    assert!(h.next_request().unwrap());
    answer(&mut h, "no");
    assert!(!h.next_request().unwrap());
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let (mut h, seen) = handler(&[Step::Send(
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )]);
    let mut paths = Vec::new();
    while h.next_request().unwrap() {
        let path = h.request.path.clone();
        answer(&mut h, &path);
        paths.push(path);
    }
    assert_eq!(paths, ["/1", "/2", "/3"]);
    let out = output(&seen);
    assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 3);
    assert!(out.ends_with("\r\n\r\n/3"), "{out}");
}

#[test]
fn http_1_0_and_connection_close_end_after_one_answer() {
    for request in [
        &b"GET / HTTP/1.0\r\n\r\nGET /again HTTP/1.0\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /again HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let (mut h, _) = handler(&[Step::Send(request)]);
        assert!(h.next_request().unwrap());
        assert!(h.close_connection);
        answer(&mut h, "once");
        assert!(!h.next_request().unwrap());
    }
}

#[test]
fn an_unsupported_method_gets_cpythons_501() {
    let (mut h, seen) = handler(&[Step::Send(b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")]);
    assert!(h.next_request().unwrap());
    h.unsupported_method().unwrap();
    let out = output(&seen);
    assert!(out.starts_with("HTTP/1.1 501 Unsupported method ('BREW')\r\n"), "{out}");
}

#[test]
fn an_http_1_1_request_without_host_is_400() {
    let (mut h, seen) = handler(&[Step::Send(b"GET / HTTP/1.1\r\n\r\n")]);
    assert!(!h.next_request().unwrap());
    let out = output(&seen);
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
}

// ---- saying that the connection closes ----

/// The head of the first response the handler wrote.
fn first_head(seen: &Rc<RefCell<Seen>>) -> String {
    let out = output(seen);
    out[..out.find("\r\n\r\n").expect("a whole head") + 4].to_string()
}

#[test]
fn an_http11_response_that_ends_the_connection_says_connection_close() {
    for request in [
        &b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        b"GET / HTTP/1.0\r\n\r\n",
    ] {
        let (mut h, seen) = handler(&[Step::Send(request)]);
        assert!(h.next_request().unwrap());
        answer(&mut h, "hi");
        let head = first_head(&seen);
        assert_eq!(head.matches("Connection: close\r\n").count(), 1, "{head}");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(!h.next_request().unwrap());
    }
}

#[test]
fn a_kept_connection_and_an_http10_server_keep_cpythons_bytes() {
    let (mut h, seen) = handler(&[Step::Send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")]);
    assert!(h.next_request().unwrap());
    answer(&mut h, "hi");
    assert!(!first_head(&seen).contains("Connection"), "{}", first_head(&seen));

    let (mut h, seen) = handler(&[Step::Send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")]);
    h.config.protocol_version = "HTTP/1.0".into();
    assert!(h.next_request().unwrap());
    answer(&mut h, "hi");
    let head = first_head(&seen);
    assert!(
        head.starts_with("HTTP/1.0 200 OK\r\n") && !head.contains("Connection"),
        "{head}"
    );
}

#[test]
fn a_connection_field_the_handler_sent_is_not_said_twice() {
    let (mut h, seen) = handler(&[Step::Send(b"GET / HTTP/1.0\r\n\r\n")]);
    assert!(h.next_request().unwrap());
    h.send_response(200, None).unwrap();
    h.send_header("Connection", "Close").unwrap();
    h.end_headers().unwrap();
    let head = first_head(&seen);
    assert_eq!(head.to_ascii_lowercase().matches("connection:").count(), 1, "{head}");
}

#[test]
fn an_interim_100_continue_says_nothing_of_the_close() {
    let (mut h, seen) = handler(&[
        Step::Send(
            b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n",
        ),
        Step::Send(b"hi"),
    ]);
    assert!(h.next_request().unwrap());
    assert_eq!(h.read_body(10).unwrap(), b"hi");
    answer(&mut h, "ok");
    let out = output(&seen);
    assert!(
        out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{out}"
    );
    assert_eq!(out.matches("Connection: close\r\n").count(), 1, "{out}");
}

// ---- responses given as fields and pieces (a wasi:http app's) ----

#[test]
fn a_head_and_pieces_are_framed_chunked_and_the_connection_kept() {
    let (mut h, seen) = handler(&[Step::Send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")]);
    assert!(h.next_request().unwrap());
    let fields = vec![
        ("content-type".to_string(), b"text/plain".to_vec()),
        ("x-bytes".to_string(), vec![b'a', 0xe9]),
        ("Transfer-Encoding".to_string(), b"gzip".to_vec()),
    ];
    h.send_head(200, &fields).unwrap();
    assert_eq!(output(&seen), "", "the head waits for the body's first piece");
    h.send_body(b"hello").unwrap();
    h.end_body(true).unwrap();
    let out = seen.borrow().output.clone();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\nServer: "), "{text}");
    assert!(out.windows(13).any(|w| w == b"x-bytes: a\xe9\r\n"), "{text}");
    assert!(text.contains("\r\ncontent-type: text/plain\r\n"), "{text}");
    assert!(
        text.ends_with("\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("Transfer-Encoding").count(),
        1,
        "the app's own is dropped: {text}"
    );
    assert!(!h.close_connection);
}

#[test]
fn a_body_past_its_length_is_cut_and_closes() {
    let (mut h, seen) = handler(&[Step::Send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")]);
    assert!(h.next_request().unwrap());
    h.send_head(200, &[("Content-Length".to_string(), b"3".to_vec())])
        .unwrap();
    assert!(h.send_body(b"abcdef").is_err());
    h.end_body(true).unwrap();
    assert!(
        output(&seen).ends_with("Content-Length: 3\r\n\r\nabc"),
        "{}",
        output(&seen)
    );
    assert!(h.close_connection);
    assert!(!h.next_request().unwrap());
}
