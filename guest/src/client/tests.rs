//! The client state machines over scripted in-memory streams: every response fed in pieces of
//! every size, CPython's state errors, request encoding, and each exception.

use super::*;
use crate::error::HttpError;
use crate::io::testing::ScriptedStream;
use crate::transport::{ConnectOptions, Stream, Transport, TransportError};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Hands out one scripted stream per connect, recording what was written to each.
struct FakeTransport {
    responses: RefCell<VecDeque<Vec<u8>>>,
    piece: usize,
    connects: RefCell<usize>,
    written: RefCell<Vec<Rc<RefCell<Vec<u8>>>>>,
}

impl FakeTransport {
    fn new(responses: &[&[u8]], piece: usize) -> Rc<Self> {
        Rc::new(Self {
            responses: RefCell::new(responses.iter().map(|r| r.to_vec()).collect()),
            piece,
            connects: RefCell::new(0),
            written: RefCell::new(Vec::new()),
        })
    }

    fn sent(&self, connection: usize) -> String {
        String::from_utf8_lossy(&self.written.borrow()[connection].borrow()).into_owned()
    }
}

impl Transport for FakeTransport {
    fn connect(&self, _: &str, _: u16, _: &ConnectOptions) -> Result<Box<dyn Stream>, TransportError> {
        *self.connects.borrow_mut() += 1;
        let input = self
            .responses
            .borrow_mut()
            .pop_front()
            .ok_or(TransportError::ConnectionRefused("no more".into()))?;
        let (stream, output) = ScriptedStream::new(&input, self.piece);
        self.written.borrow_mut().push(output);
        Ok(Box::new(stream))
    }
    fn audit(&self, _: &str, _: &[String]) -> Result<(), TransportError> {
        Ok(())
    }
}

fn conn(t: &Rc<FakeTransport>) -> Connection {
    Connection::new(t.clone(), "example.com", None, ConnectionOptions::default()).unwrap()
}

/// GET `path`, returning (status, body) or the first error.
fn get(c: &mut Connection, method: &str) -> Result<(u16, Vec<u8>), HttpError> {
    c.request(method, "/", Body::None, &[], false)?;
    let r = c.getresponse()?;
    let mut r = r.borrow_mut();
    let body = r.read(None)?;
    Ok((r.status, body))
}

#[test]
fn framings_decode_at_every_piece_size() {
    let cases: &[(&[u8], &str, u16, &[u8])] = &[
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", "GET", 200, b"hello"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\nT: 1\r\n\r\n", "GET", 200, b"hello"),
        (b"HTTP/1.0 200 OK\r\n\r\nread to close", "GET", 200, b"read to close"),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\nX: y\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", "GET", 201, b"ok"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", 200, b""),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "GET", 204, b""),
        (b"HTTP/1.1 304 Not Modified\r\n\r\n", "GET", 304, b""),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nclose-delimited", "GET", 200, b"close-delimited"),
        (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "GET", 200, b"ok"),
    ];
    for (wire, method, status, body) in cases {
        for piece in 1..=wire.len() {
            let t = FakeTransport::new(&[wire], piece);
            let mut c = conn(&t);
            assert_eq!(
                get(&mut c, method),
                Ok((*status, body.to_vec())),
                "{:?} in pieces of {piece}",
                String::from_utf8_lossy(wire)
            );
        }
    }
}

#[test]
fn reads_in_small_amounts_and_lines() {
    let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab\nc\r\n3\r\nd\nE\r\n0\r\n\r\n";
    for piece in 1..=wire.len() {
        let t = FakeTransport::new(&[wire], piece);
        let mut c = conn(&t);
        c.request("GET", "/", Body::None, &[], false).unwrap();
        let r = c.getresponse().unwrap();
        let mut r = r.borrow_mut();
        assert_eq!(r.peek(1).unwrap()[0], b'a');
        assert_eq!(r.readline(None).unwrap(), b"ab\n");
        assert_eq!(r.read(Some(2)).unwrap(), b"cd");
        assert_eq!(r.readline(Some(1)).unwrap(), b"\n");
        assert_eq!(r.read1(Some(10)).unwrap(), b"E");
        assert_eq!(r.read(None).unwrap(), b"");
        assert!(r.isclosed());
    }
}

#[test]
fn request_heads_are_cpythons() {
    let t = FakeTransport::new(
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".repeat(6).as_slice()],
        1000,
    );
    let mut c = conn(&t);
    c.request("GET", "/a", Body::None, &[], false).unwrap();
    c.getresponse().unwrap();
    c.request("POST", "/b", Body::None, &[], false).unwrap();
    c.getresponse().unwrap();
    c.request(
        "PUT",
        "/c",
        Body::Text("caf\u{e9}".into()),
        &[("X-A".into(), b"1".to_vec())],
        false,
    )
    .unwrap();
    c.getresponse().unwrap();
    c.request(
        "POST",
        "/d",
        Body::Chunks(vec![b"ab".to_vec(), vec![], b"cde".to_vec()]),
        &[],
        false,
    )
    .unwrap();
    c.getresponse().unwrap();
    c.request(
        "GET",
        "/e",
        Body::None,
        &[
            ("Host".into(), b"other".to_vec()),
            ("Accept-Encoding".into(), b"gzip".to_vec()),
        ],
        false,
    )
    .unwrap();
    c.getresponse().unwrap();
    let te = [("Transfer-Encoding".to_string(), b"chunked".to_vec())];
    c.request("POST", "/f", Body::Bytes(b"xyz".to_vec()), &te, true)
        .unwrap();
    c.getresponse().unwrap();
    assert_eq!(*t.connects.borrow(), 1, "keep-alive reuses the connection");
    assert_eq!(
        t.sent(0),
        [
            "GET /a HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: identity\r\n\r\n",
            "POST /b HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: identity\r\nContent-Length: 0\r\n\r\n",
            "PUT /c HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: identity\r\nContent-Length: 4\r\nX-A: 1\r\n\r\ncaf\u{fffd}",
            "POST /d HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
            "GET /e HTTP/1.1\r\nHost: other\r\nAccept-Encoding: gzip\r\n\r\n",
            "POST /f HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n",
        ]
        .concat()
    );
}

#[test]
fn host_header_forms() {
    let ok: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for (host, port, expected) in [
        ("example.com", None, "Host: example.com\r\n"),
        ("example.com:8080", None, "Host: example.com:8080\r\n"),
        ("[::1]:8000", None, "Host: [::1]:8000\r\n"),
        ("fe80::1%eth0", Some(80), "Host: [fe80::1]\r\n"),
    ] {
        let t = FakeTransport::new(&[ok], 100);
        let mut c = Connection::new(t.clone(), host, port, ConnectionOptions::default()).unwrap();
        c.request("GET", "/", Body::None, &[], false).unwrap();
        assert!(t.sent(0).contains(expected), "{host}: {}", t.sent(0));
    }
    let t = FakeTransport::new(&[ok], 100);
    let mut c = conn(&t);
    c.request("GET", "http://absolute.example:81/x", Body::None, &[], false)
        .unwrap();
    assert!(
        t.sent(0)
            .starts_with("GET http://absolute.example:81/x HTTP/1.1\r\nHost: absolute.example:81\r\n")
    );
}

#[test]
fn putrequest_putheader_endheaders_send() {
    let t = FakeTransport::new(&[b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], 100);
    let mut c = conn(&t);
    c.putrequest("PATCH", "", true, true).unwrap();
    c.putheader("X-Multi", &[b"a", b"b"]).unwrap();
    c.putheader("Content-Length", &[b"4"]).unwrap();
    c.endheaders(Body::None, false).unwrap();
    c.send(b"data").unwrap();
    assert_eq!(
        t.sent(0),
        "PATCH / HTTP/1.1\r\nX-Multi: a\r\n\tb\r\nContent-Length: 4\r\n\r\ndata"
    );
    assert_eq!(c.getresponse().unwrap().borrow().status, 200);
}

#[test]
fn state_errors_are_raised_where_cpython_raises_them() {
    let t = FakeTransport::new(&[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], 100);
    let mut c = conn(&t);
    assert_eq!(c.getresponse().err(), Some(HttpError::ResponseNotReady("Idle".into())));
    assert_eq!(
        c.putheader("X", &[b"1"]),
        Err(HttpError::CannotSendHeader(String::new()))
    );
    c.putrequest("GET", "/", false, false).unwrap();
    assert_eq!(
        c.putrequest("GET", "/", false, false),
        Err(HttpError::CannotSendRequest("Request-started".into()))
    );
    assert_eq!(
        c.getresponse().err(),
        Some(HttpError::ResponseNotReady("Request-started".into()))
    );
    c.endheaders(Body::None, false).unwrap();
    assert_eq!(
        c.endheaders(Body::None, false),
        Err(HttpError::CannotSendHeader(String::new()))
    );
    assert_eq!(
        c.putrequest("GET", "/", false, false),
        Err(HttpError::CannotSendRequest("Request-sent".into()))
    );
    let r = c.getresponse().unwrap();
    // A second getresponse while the first body is unread.
    c.request("GET", "/", Body::None, &[], false).unwrap();
    assert_eq!(
        c.getresponse().err(),
        Some(HttpError::ResponseNotReady("Request-sent".into()))
    );
    assert_eq!(r.borrow_mut().read(None).unwrap(), b"ok");
}

#[test]
fn not_connected_without_auto_open() {
    let t = FakeTransport::new(&[], 100);
    let options = ConnectionOptions {
        auto_open: false,
        ..ConnectionOptions::default()
    };
    let mut c = Connection::new(t.clone(), "example.com", None, options).unwrap();
    assert_eq!(
        c.request("GET", "/", Body::None, &[], false),
        Err(HttpError::NotConnected)
    );
    assert_eq!(*t.connects.borrow(), 0);
}

#[test]
fn reconnects_after_a_closing_response() {
    let closing: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na";
    let t = FakeTransport::new(&[closing, closing], 7);
    let mut c = conn(&t);
    assert_eq!(get(&mut c, "GET").unwrap().1, b"a");
    assert_eq!(get(&mut c, "GET").unwrap().1, b"a");
    assert_eq!(*t.connects.borrow(), 2);
    // A response closed before its end also forces a new connection.
    let keep: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    let t = FakeTransport::new(&[keep, keep], 100);
    let mut c = conn(&t);
    c.request("GET", "/", Body::None, &[], false).unwrap();
    c.getresponse().unwrap().borrow_mut().close();
    assert_eq!(get(&mut c, "GET").unwrap().1, b"hello");
    assert_eq!(*t.connects.borrow(), 2);
}

#[test]
fn invalid_requests_write_nothing() {
    let t = FakeTransport::new(&[b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], 100);
    let mut c = conn(&t);
    assert!(matches!(
        c.request("GET", "/a b", Body::None, &[], false),
        Err(HttpError::InvalidUrl(_))
    ));
    assert!(matches!(
        c.request("GE\nT", "/", Body::None, &[], false),
        Err(HttpError::InvalidArgument(_))
    ));
    assert!(matches!(
        c.request("GET", "/", Body::None, &[("X".into(), b"a\r\nB: c".to_vec())], false),
        Err(HttpError::InvalidHeader(_))
    ));
    assert!(matches!(
        c.request("GET", "/", Body::None, &[("X Y".into(), b"a".to_vec())], false),
        Err(HttpError::InvalidHeader(_))
    ));
    assert!(
        matches!(c.request("POST", "/", Body::Text("\u{2603}".into()), &[], false), Err(HttpError::InvalidArgument(m)) if m.contains("Latin-1"))
    );
    assert_eq!(*t.connects.borrow(), 0, "nothing reached a socket");
    assert!(matches!(
        Connection::new(t.clone(), "bad host", None, ConnectionOptions::default()),
        Err(HttpError::InvalidUrl(_))
    ));
    assert!(
        matches!(Connection::new(t.clone(), "h:port", None, ConnectionOptions::default()), Err(HttpError::InvalidUrl(m)) if m == "nonnumeric port: 'port'")
    );
    // The connection is still usable after a refused request.
    assert_eq!(get(&mut c, "GET").unwrap().0, 200);
}

#[test]
fn each_response_exception() {
    let many_headers = format!("HTTP/1.1 200 OK\r\n{}\r\n", "X: y\r\n".repeat(100));
    let long_status = format!("HTTP/1.1 200 {}\r\n\r\n", "a".repeat(65_536));
    let long_header = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(65_536));
    let endless_continue = "HTTP/1.1 100 Continue\r\n\r\n".repeat(101);
    let cases: Vec<(Vec<u8>, HttpError)> = vec![
        (
            b"".to_vec(),
            HttpError::RemoteDisconnected("Remote end closed connection without response".into()),
        ),
        (b"garbage\r\n".to_vec(), HttpError::BadStatusLine("garbage\r\n".into())),
        (
            b"HTTP/1.1 2000 OK\r\n\r\n".to_vec(),
            HttpError::BadStatusLine("HTTP/1.1 2000 OK\r\n".into()),
        ),
        (
            b"HTTP/2.0 200 OK\r\n\r\n".to_vec(),
            HttpError::UnknownProtocol("HTTP/2.0".into()),
        ),
        (many_headers.into_bytes(), HttpError::TooManyHeaders),
        (long_status.into_bytes(), HttpError::LineTooLong("status line".into())),
        (long_header.into_bytes(), HttpError::LineTooLong("header line".into())),
        (
            endless_continue.into_bytes(),
            HttpError::HttpException("got more than 100 interim responses".into()),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec(),
            HttpError::IncompleteRead {
                partial: 3,
                expected: Some(7),
            },
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab".to_vec(),
            HttpError::IncompleteRead {
                partial: 2,
                expected: None,
            },
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            HttpError::IncompleteRead {
                partial: 0,
                expected: None,
            },
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n".to_vec(),
            HttpError::IncompleteRead {
                partial: 0,
                expected: None,
            },
        ),
    ];
    for (wire, expected) in cases {
        for piece in [1, 7, 65_537] {
            let t = FakeTransport::new(&[&wire], piece);
            let mut c = conn(&t);
            let mut delivered = Vec::new();
            let err = (|| -> Result<(), HttpError> {
                c.request("GET", "/", Body::None, &[], false)?;
                let r = c.getresponse()?;
                loop {
                    let piece = r.borrow_mut().read1(Some(1024))?;
                    if piece.is_empty() {
                        return Ok(());
                    }
                    delivered.extend(piece);
                }
            })();
            assert_eq!(
                err,
                Err(expected.clone()),
                "piece {piece}: {:?}",
                String::from_utf8_lossy(&wire[..wire.len().min(60)])
            );
        }
    }
    assert_eq!(
        HttpError::IncompleteRead {
            partial: 3,
            expected: Some(7)
        }
        .to_string(),
        "IncompleteRead(3 bytes read, 7 more expected)"
    );
}

#[test]
fn read_amt_hands_out_what_it_gathered_before_the_body_was_cut_and_raises_next() {
    for wire in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"[..],
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n5\r\n"[..],
    ] {
        for piece in [1, 7, 65_537] {
            let t = FakeTransport::new(&[wire], piece);
            let mut c = conn(&t);
            c.request("GET", "/", Body::None, &[], false).unwrap();
            let r = c.getresponse().unwrap();
            let mut got = Vec::new();
            let err = loop {
                match r.borrow_mut().read(Some(64 * 1024)) {
                    Ok(bytes) => {
                        assert!(!bytes.is_empty(), "the cut must not read as a clean end");
                        got.extend(bytes);
                    }
                    Err(e) => break e,
                }
            };
            assert_eq!(got, b"abc", "piece {piece}");
            assert!(matches!(err, HttpError::IncompleteRead { partial: 3, .. }), "{err:?}");
        }
    }
}

#[test]
fn a_huge_content_length_allocates_nothing_up_front() {
    let t = FakeTransport::new(
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nabc"],
        100,
    );
    let mut c = conn(&t);
    c.request("GET", "/", Body::None, &[], false).unwrap();
    let r = c.getresponse().unwrap();
    assert_eq!(r.borrow().length(), Some(u64::MAX));
    assert_eq!(r.borrow_mut().read1(Some(1 << 20)).unwrap(), b"abc");
    assert!(matches!(
        r.borrow_mut().read1(Some(1 << 20)),
        Err(HttpError::IncompleteRead { partial: 3, .. })
    ));
}

#[test]
fn debuglevel_and_tunnel_connect_line() {
    let t = FakeTransport::new(
        &[b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
        100,
    );
    let mut c = Connection::new(t.clone(), "proxy", Some(3128), ConnectionOptions::default()).unwrap();
    c.set_tunnel(
        "target.example",
        Some(8080),
        vec![("Proxy-Authorization".into(), b"Basic x".to_vec())],
    )
    .unwrap();
    c.request("GET", "/", Body::None, &[], false).unwrap();
    assert!(t.sent(0).starts_with("CONNECT target.example:8080 HTTP/1.1\r\nHost: target.example:8080\r\nProxy-Authorization: Basic x\r\n\r\nGET / HTTP/1.1\r\nHost: target.example:8080\r\n"), "{}", t.sent(0));
    assert_eq!(c.getresponse().unwrap().borrow().status, 200);
    assert!(c.proxy_response_headers().is_some());
    // HTTPS through the tunnel: TLS starts after the proxy's 200, for the target's name.
    // (Pieces of 19 bytes: the proxy's reply arrives alone, as it must before a handshake.)
    let t = FakeTransport::new(&[b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"], 19);
    let options = ConnectionOptions {
        tls: Some(Default::default()),
        ..ConnectionOptions::default()
    };
    let mut c = Connection::new(t.clone(), "proxy", Some(3128), options).unwrap();
    c.set_tunnel("secure.example", None, vec![]).unwrap();
    c.request("GET", "/", Body::None, &[], false).unwrap();
    assert!(t.sent(0).starts_with("CONNECT secure.example:443 HTTP/1.1\r\nHost: secure.example:443\r\n\r\n<<start-tls secure.example>>GET / HTTP/1.1\r\nHost: secure.example\r\n"), "{}", t.sent(0));
    let t = FakeTransport::new(&[b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"], 100);
    let mut c = Connection::new(t.clone(), "proxy", Some(3128), ConnectionOptions::default()).unwrap();
    c.set_tunnel("target.example", None, vec![]).unwrap();
    assert_eq!(
        c.connect(),
        Err(HttpError::Io(
            "Tunnel connection failed: 407 Proxy Authentication Required".into()
        ))
    );
}

// ---- more of CPython's test_httplib ----

#[test]
fn content_length_and_chunked_sync_leave_the_next_response_intact() {
    // test_content_length_sync / test_chunked_sync: pipelined bytes after a body are the next response's.
    let wire: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nd\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    for piece in 1..=wire.len() {
        let t = FakeTransport::new(&[wire], piece);
        let mut c = conn(&t);
        assert_eq!(get(&mut c, "GET").unwrap(), (200, b"abc".to_vec()));
        assert_eq!(get(&mut c, "GET").unwrap(), (200, b"d".to_vec()));
        assert_eq!(get(&mut c, "GET").unwrap(), (204, vec![]));
        assert_eq!(*t.connects.borrow(), 1);
    }
}

#[test]
fn empty_chunked_body_and_encode_chunked_with_explicit_header() {
    // TransferEncodingTest.test_empty_body / test_explicit_headers.
    let t = FakeTransport::new(
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".repeat(2).as_slice()],
        100,
    );
    let mut c = conn(&t);
    c.request("POST", "/", Body::Chunks(vec![]), &[], false).unwrap();
    c.getresponse().unwrap();
    let te = [("Transfer-Encoding".to_string(), b"gzip, chunked".to_vec())];
    c.request("POST", "/", Body::Bytes(b"raw".to_vec()), &te, false)
        .unwrap();
    c.getresponse().unwrap();
    let sent = t.sent(0);
    assert!(
        sent.contains("Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST"),
        "{sent}"
    );
    // encode_chunked=False with the caller's Transfer-Encoding: the caller framed the body.
    assert!(sent.ends_with("Transfer-Encoding: gzip, chunked\r\n\r\nraw"), "{sent}");
}

#[test]
fn early_eof_with_close_and_reconnect_after_remote_disconnected() {
    // test_early_eof: a close-delimited body ends at EOF without error.
    let t = FakeTransport::new(&[b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial"], 3);
    assert_eq!(get(&mut conn(&t), "GET").unwrap().1, b"partial");
    // PersistenceTest.test_disconnected: after RemoteDisconnected the next request reconnects.
    let t = FakeTransport::new(&[b"", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], 100);
    let mut c = conn(&t);
    assert!(matches!(get(&mut c, "GET"), Err(HttpError::RemoteDisconnected(_))));
    assert_eq!(get(&mut c, "GET").unwrap().1, b"ok");
    assert_eq!(*t.connects.borrow(), 2);
}

#[test]
fn headers_of_100_responses_are_limited_too_and_repeats_join() {
    // test_overflowing_header_limit_after_100 (CVE-2021-3737).
    let wire = format!("HTTP/1.1 100 OK\r\n{}", "r\n".repeat(32_768));
    let t = FakeTransport::new(&[wire.as_bytes()], 4096);
    assert_eq!(get(&mut conn(&t), "GET"), Err(HttpError::TooManyHeaders));
    // test_response_headers: repeated fields joined with ", " by getheader, kept apart in headers.
    let t = FakeTransport::new(
        &[b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 0\r\n\r\n"],
        100,
    );
    let mut c = conn(&t);
    c.request("GET", "/", Body::None, &[], false).unwrap();
    let r = c.getresponse().unwrap();
    let r = r.borrow();
    assert_eq!(r.headers.get_joined("Set-Cookie").as_deref(), Some("a=1, b=2"));
    assert_eq!(r.headers.len(), 3);
    assert_eq!(r.headers.iter().nth(1).unwrap().0, "set-cookie");
}

#[test]
fn partial_reads_past_the_end_and_status_without_reason() {
    // BasicTest.test_partial_reads_past_end, test_status_lines.
    let t = FakeTransport::new(&[b"HTTP/1.1 200\r\nContent-Length: 4\r\n\r\nText"], 100);
    let mut c = conn(&t);
    c.request("GET", "/", Body::None, &[], false).unwrap();
    let r = c.getresponse().unwrap();
    let mut r = r.borrow_mut();
    assert_eq!(r.reason, "");
    assert_eq!(r.read(Some(10)).unwrap(), b"Text");
    assert!(r.isclosed());
    assert_eq!(r.read(Some(10)).unwrap(), b"");
}

#[test]
fn raw_head_is_the_final_head_byte_for_byte() {
    let wire: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200  Fine \r\nX-Odd:   spaced\r\nX-Fold: a\r\n  b\r\nContent-Length: 0\r\n\r\n";
    for piece in [1, 5, 200] {
        let t = FakeTransport::new(&[wire], piece);
        let mut c = conn(&t);
        c.request("GET", "/", Body::None, &[], false).unwrap();
        let r = c.getresponse().unwrap();
        assert_eq!(r.borrow().raw_head(), &wire[25..]);
        assert_eq!(r.borrow().reason, "Fine");
    }
}
