//! Our client (the guest's HTTPConnection/HTTPResponse) against real servers: CPython's
//! http.server, and scripted raw-TCP servers for framings CPython does not send.

use httplib_host::bindings::client::Body;
use httplib_host::bindings::client::ConnectionOptions;
use httplib_host::bindings::types::HttpError;
use httplib_host::client::{ClientError, ClientSession};
use httplib_host::policy::OutboundPolicy;
use httplib_tests::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

fn session() -> ClientSession {
    ClientSession::new(&runtime(), OutboundPolicy::allow_all()).unwrap()
}

/// Read a whole response body with read1 calls, as the CLI does.
fn read_all(s: &mut ClientSession, r: httplib_host::client::Response) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let piece = s.read1(r, Some(100_000)).unwrap();
        if piece.is_empty() {
            return body;
        }
        body.extend_from_slice(&piece);
    }
}

#[test]
fn cli_get_fetches_5mib_from_cpython_byte_exact() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    let out = Command::new(httplib_bin!())
        .args(["get", &format!("http://127.0.0.1:{}/big.bin", peer.port)])
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let expected = std::fs::read(dir.path().join("big.bin")).unwrap();
    assert_eq!(out.stdout.len(), expected.len());
    assert!(out.stdout == expected, "body differs from the file");
}

#[test]
fn cli_get_several_urls_concatenates_bodies() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.1");
    let base = format!("http://127.0.0.1:{}", peer.port);
    let out = Command::new(httplib_bin!())
        .args([
            "get",
            &format!("{base}/hello.txt"),
            &format!("{base}/site/"),
            &format!("{base}/hello.txt"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"hello, world\n<h1>index</h1>\nhello, world\n");
}

#[test]
fn keep_alive_reuses_one_connection_to_cpython() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.1");
    let mut s = session();
    let c = s
        .open("127.0.0.1", Some(peer.port), &ConnectionOptions::http())
        .unwrap();
    for path in ["/hello.txt", "/site/index.html", "/hello.txt"] {
        s.request(c, "GET", path, &Body::None, &[]).unwrap();
        let r = s.getresponse(c).unwrap();
        assert_eq!(s.status(r).unwrap(), 200);
        assert_eq!(s.version(r).unwrap(), 11);
        let body = s.read(r, None).unwrap();
        assert_eq!(body, std::fs::read(dir.path().join(&path[1..])).unwrap());
        s.close_response(r).unwrap();
    }
    s.release(c).unwrap();
}

#[test]
fn not_found_is_a_response_not_an_error() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    let mut s = session();
    let c = s
        .open(&format!("127.0.0.1:{}", peer.port), None, &ConnectionOptions::http())
        .unwrap();
    s.request(c, "GET", "/missing", &Body::None, &[]).unwrap();
    let r = s.getresponse(c).unwrap();
    assert_eq!(s.status(r).unwrap(), 404);
    assert_eq!(s.reason(r).unwrap(), "File not found");
    assert_eq!(
        s.getheader(r, "content-type").unwrap().as_deref(),
        Some("text/html;charset=utf-8")
    );
    let body = read_all(&mut s, r);
    assert!(String::from_utf8_lossy(&body).contains("Error code: 404"));
}

/// A one-shot server that records the request head and answers with `response`.
fn scripted_server(response: &'static [u8]) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && sock.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        // Read the body too: closing with unread input makes the kernel reset the connection.
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        if let Some(len) = text
            .split("content-length:")
            .nth(1)
            .and_then(|v| v.lines().next()?.trim().parse::<usize>().ok())
        {
            let mut body = vec![0u8; len];
            sock.read_exact(&mut body).unwrap();
            head.extend_from_slice(&body);
        }
        // Response bytes go out in small pieces to exercise every split.
        for piece in response.chunks(3) {
            sock.write_all(piece).unwrap();
            sock.flush().unwrap();
        }
        head
    });
    (port, t)
}

/// `scripted_server`'s recorded request: the head, then any body it read.
fn head_of(recorded: &[u8]) -> String {
    let end = recorded
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(recorded.len(), |i| i + 4);
    String::from_utf8_lossy(&recorded[..end]).into_owned()
}

#[test]
fn chunked_response_with_trailers_decodes_and_request_head_is_cpythons() {
    let (port, server) = scripted_server(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Case: Kept\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: t\r\n\r\n",
    );
    let mut s = session();
    let c = s.open("127.0.0.1", Some(port), &ConnectionOptions::http()).unwrap();
    s.request(c, "GET", "/x?y=1", &Body::None, &[("X-Custom".into(), b"v".to_vec())])
        .unwrap();
    let r = s.getresponse(c).unwrap();
    assert_eq!(s.headers(r).unwrap()[1], ("X-Case".to_string(), b"Kept".to_vec()));
    assert_eq!(read_all(&mut s, r), b"hello, world");
    let head = server.join().unwrap();
    assert_eq!(
        String::from_utf8(head).unwrap(),
        format!("GET /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: identity\r\nX-Custom: v\r\n\r\n")
    );
}

#[test]
fn truncated_body_is_incomplete_read_with_cpythons_figures() {
    let (port, _server) = scripted_server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    let mut s = session();
    let c = s.open("127.0.0.1", Some(port), &ConnectionOptions::http()).unwrap();
    s.request(c, "GET", "/", &Body::None, &[]).unwrap();
    let r = s.getresponse(c).unwrap();
    let mut got = Vec::new();
    let err = loop {
        match s.read1(r, Some(1024)) {
            Ok(piece) if piece.is_empty() => panic!("a truncated body must not end cleanly"),
            Ok(piece) => got.extend_from_slice(&piece),
            Err(e) => break e,
        }
    };
    assert_eq!(got, b"abc");
    match err {
        ClientError::Http(HttpError::IncompleteRead(ir), message) => {
            assert_eq!((ir.partial, ir.expected), (3, Some(7)));
            assert_eq!(message, "IncompleteRead(3 bytes read, 7 more expected)");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn post_body_gets_content_length_and_reaches_the_server() {
    let (port, server) = scripted_server(b"HTTP/1.0 204 No Content\r\n\r\n");
    let mut s = session();
    let c = s.open("127.0.0.1", Some(port), &ConnectionOptions::http()).unwrap();
    s.request(c, "POST", "/submit", &Body::Text("caf\u{e9}".into()), &[])
        .unwrap();
    let r = s.getresponse(c).unwrap();
    assert_eq!(s.status(r).unwrap(), 204);
    assert!(s.read(r, None).unwrap().is_empty());
    let recorded = server.join().unwrap();
    let head = head_of(&recorded);
    assert!(head.contains("\r\nContent-Length: 4\r\n"), "{head}");
    assert!(
        recorded.ends_with(b"\r\n\r\ncaf\xe9"),
        "the body is Latin-1 after the head"
    );
}

#[test]
fn refused_connection_and_bad_port_are_python_style_errors() {
    let port = free_port();
    let out = Command::new(httplib_bin!())
        .args(["get", &format!("http://127.0.0.1:{port}/")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "ConnectionRefusedError: connection to 127.0.0.1:{port} refused"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let mut s = session();
    match s.open("example.com:http", None, &ConnectionOptions::http()) {
        Err(ClientError::Http(HttpError::InvalidUrl(m), _)) => assert_eq!(m, "nonnumeric port: 'http'"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn outbound_policy_denies_unlisted_destinations() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    let mut s = ClientSession::new(&runtime(), OutboundPolicy::allow_only(["example.invalid:80"])).unwrap();
    let c = s
        .open("127.0.0.1", Some(peer.port), &ConnectionOptions::http())
        .unwrap();
    match s.request(c, "GET", "/hello.txt", &Body::None, &[]) {
        Err(ClientError::Http(HttpError::Denied(m), _)) => assert!(m.contains("127.0.0.1"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// The exception (and Python's wording of it) for a canned response.
fn exception_for(response: &'static [u8]) -> (HttpError, String) {
    let (port, _server) = scripted_server(response);
    let mut s = session();
    let c = s.open("127.0.0.1", Some(port), &ConnectionOptions::http()).unwrap();
    s.request(c, "GET", "/", &Body::None, &[]).unwrap();
    let result = s.getresponse(c).and_then(|r| s.read(r, None));
    match result {
        Err(ClientError::Http(e, message)) => (e, message),
        other => panic!("expected an exception, got {other:?}"),
    }
}

#[test]
fn each_exception_over_a_real_socket() {
    let (e, m) = exception_for(b"");
    assert!(matches!(e, HttpError::RemoteDisconnected(_)));
    assert_eq!(m, "RemoteDisconnected: Remote end closed connection without response");
    let (e, _) = exception_for(b"ICY 200 OK\r\n\r\n");
    assert_eq!(e, HttpError::BadStatusLine("ICY 200 OK\r\n".into()));
    let (e, m) = exception_for(b"HTTP/3 200 OK\r\n\r\n");
    assert_eq!(
        (e, m.as_str()),
        (HttpError::UnknownProtocol("HTTP/3".into()), "UnknownProtocol: HTTP/3")
    );
    let long: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(70_000))
            .into_bytes()
            .into_boxed_slice(),
    );
    let (e, m) = exception_for(long);
    assert_eq!(e, HttpError::LineTooLong("header line".into()));
    assert_eq!(m, "LineTooLong: got more than 65536 bytes when reading header line");
    let many: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\n{}\r\n", "A: b\r\n".repeat(101))
            .into_bytes()
            .into_boxed_slice(),
    );
    let (e, m) = exception_for(many);
    assert_eq!(
        (e, m.as_str()),
        (HttpError::TooManyHeaders, "HTTPException: got more than 100 headers")
    );
    let (e, _) = exception_for(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n");
    assert!(matches!(e, HttpError::IncompleteRead(_)));
}

#[test]
fn state_errors_through_the_component() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.1");
    let mut s = session();
    let c = s
        .open("127.0.0.1", Some(peer.port), &ConnectionOptions::http())
        .unwrap();
    assert!(matches!(s.getresponse(c), Err(ClientError::Http(HttpError::ResponseNotReady(m), _)) if m == "Idle"));
    assert!(matches!(
        s.putheader(c, "X", &[b"1".to_vec()]),
        Err(ClientError::Http(HttpError::CannotSendHeader(_), _))
    ));
    s.putrequest(c, "GET", "/hello.txt", false, false).unwrap();
    assert!(
        matches!(s.putrequest(c, "GET", "/", false, false), Err(ClientError::Http(HttpError::CannotSendRequest(m), _)) if m == "Request-started")
    );
    s.putheader(c, "X-Multi", &[b"a".to_vec(), b"b".to_vec()]).unwrap();
    s.endheaders(c, None, false).unwrap();
    let r = s.getresponse(c).unwrap();
    assert_eq!(s.peek(r, 5).unwrap(), b"hello");
    assert_eq!(s.readline(r, None).unwrap(), b"hello, world\n");
    assert!(s.isclosed(r).unwrap());
    let (will_close, chunked, length, url) = s.framing(r).unwrap();
    assert_eq!(
        (will_close, chunked, length, url.as_str()),
        (false, false, Some(0), "/hello.txt")
    );

    let manual = ConnectionOptions {
        auto_open: false,
        ..ConnectionOptions::http()
    };
    let c = s.open("127.0.0.1", Some(peer.port), &manual).unwrap();
    assert!(
        matches!(s.request(c, "GET", "/", &Body::None, &[]), Err(ClientError::Http(HttpError::NotConnected, m)) if m == "NotConnected")
    );
    // As in CPython, the request counts as sent until the connection is closed.
    assert!(
        matches!(s.request(c, "GET", "/", &Body::None, &[]), Err(ClientError::Http(HttpError::CannotSendRequest(m), _)) if m == "Request-sent")
    );
    s.close(c).unwrap();
    s.connect(c).unwrap();
    s.request(c, "GET", "/hello.txt", &Body::None, &[]).unwrap();
    let r = s.getresponse(c).unwrap();
    assert_eq!(s.read(r, None).unwrap(), b"hello, world\n");
}

#[test]
fn status_constants_and_ports() {
    let mut s = session();
    assert_eq!(s.default_ports().unwrap(), (80, 443));
    assert_eq!(s.reason_phrase(404).unwrap().as_deref(), Some("Not Found"));
    let constants = s.status_constants().unwrap();
    let find = |name: &str| {
        constants
            .iter()
            .find(|c| c.name == name)
            .map(|c| (c.code, c.phrase.clone()))
    };
    assert_eq!(find("NOT_FOUND"), Some((404, "Not Found".into())));
    assert_eq!(find("IM_A_TEAPOT"), Some((418, "I'm a Teapot".into())));
    assert_eq!(find("CONTINUE"), Some((100, "Continue".into())));
    assert!(constants.len() >= 60);
}

#[test]
fn chunked_request_bodies_reach_cpython_de_chunked() {
    // CPython's http.server does not de-chunk; our own server does (issue 4's read_body).
    let dir = fixture_dir();
    let config = httplib_host::server::ServerConfig {
        directory: dir.path().to_path_buf(),
        log_requests: false,
        handler: Some(std::sync::Arc::new(|ex: &mut httplib_host::server::Exchange<'_>| {
            let body = ex.read_body_to_end(1 << 20)?;
            ex.send_response(200, None)?;
            ex.send_header("Content-Length", &body.len().to_string())?;
            ex.end_headers()?;
            ex.write(&body)?;
            Ok(true)
        })),
        ..Default::default()
    };
    let server = our_server_with(config);
    let mut s = session();
    let c = s
        .open(
            "127.0.0.1",
            Some(server.local_addr().port()),
            &ConnectionOptions::http(),
        )
        .unwrap();
    let chunks = Body::Chunks(vec![b"one ".to_vec(), vec![], b"two".to_vec()]);
    s.request(c, "POST", "/", &chunks, &[]).unwrap();
    let r = s.getresponse(c).unwrap();
    assert_eq!(s.read(r, None).unwrap(), b"one two");
}
