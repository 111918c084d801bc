//! The cases of CPython's test_httpservers (BaseHTTPServerTestCase, SimpleHTTPServerTestCase,
//! BaseHTTPRequestHandlerTestCase, RequestHandlerLoggingTestCase), as raw bytes over real sockets.

use httplib_host::server::{Exchange, ServerConfig, ServerHandle};
use httplib_tests::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;

/// BaseHTTPServerTestCase's request handler, as host code: a do_TEST, do_KEEP, do_CUSTOM,
/// do_LATINONEHEADER, do_SEND_ERROR and do_HEAD (no do_GET: GET must be 501).
fn base_handler(ex: &mut Exchange<'_>) -> anyhow::Result<bool> {
    match ex.request.command.as_str() {
        "TEST" => {
            ex.send_response(204, None)?;
            ex.send_header("Content-Type", "text/html")?;
            ex.send_header("Connection", "close")?;
            ex.end_headers()?;
        }
        "KEEP" => {
            ex.send_response(204, None)?;
            ex.send_header("Content-Type", "text/html")?;
            ex.send_header("Connection", "keep-alive")?;
            ex.end_headers()?;
        }
        "CUSTOM" => {
            ex.send_response(999, None)?;
            ex.send_header("Content-Type", "text/html")?;
            ex.send_header("Connection", "close")?;
            ex.end_headers()?;
        }
        "LATINONEHEADER" => {
            ex.send_response(999, None)?;
            ex.send_header("X-Special", "D\u{e4}ngerous Mind")?;
            ex.send_header("Connection", "close")?;
            ex.end_headers()?;
            let body = "\u{c5}\u{e4}\u{f6}".as_bytes();
            ex.write(body)?;
        }
        "SEND_ERROR" => {
            let code: u16 = ex.request.path[1..].parse()?;
            ex.send_error(code, None, None)?;
        }
        "EXPLAIN" => {
            ex.send_error(999, Some(""), Some("This is a custom error message"))?;
        }
        "ESCAPE" => ex.send_error(404, Some("<script>alert('hello')</script>"), None)?,
        "HEAD" => ex.send_error(404, Some("File Not Found: /testtest"), None)?,
        "INJECT" => {
            // Header injection is refused before anything is written; the handler carries on.
            let refused = [
                ex.send_header("X-Bad", "a\r\nInjected: 1").is_err(),
                ex.send_header("X-Bad\r\nInjected", "1").is_err(),
                ex.send_header("X-Bad", "a\nb").is_err(),
            ];
            let body = format!(
                "{refused:?} {} {} {}",
                ex.version_string()?,
                ex.address_string()?,
                ex.date_time_string(Some(784_111_777))?
            );
            ex.send_response(200, None)?;
            ex.send_header("Content-Length", &body.len().to_string())?;
            ex.end_headers()?;
            ex.write(body.as_bytes())?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn base_server(protocol: &str) -> ServerHandle {
    our_server_with(ServerConfig {
        protocol_version: protocol.into(),
        log_requests: false,
        handler: Some(Arc::new(base_handler)),
        ..ServerConfig::default()
    })
}

fn exchange(server: &ServerHandle, request: &str) -> String {
    String::from_utf8_lossy(&raw_exchange(server.local_addr(), request.as_bytes())).into_owned()
}

fn status_line(response: &str) -> &str {
    response.split("\r\n").next().unwrap_or("")
}

#[test]
fn base_send_header_refuses_cr_lf_and_helpers_answer() {
    let s = base_server("HTTP/1.1");
    let r = exchange(&s, "INJECT / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (head, body) = split_response(r.as_bytes());
    assert!(!head.contains("Injected"), "{head}");
    let version = format!("BaseHTTP/0.6 httplib/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("[true, true, true] {version} 127.0.0.1 Sun, 06 Nov 1994 08:49:37 GMT")
    );
}

#[test]
fn base_command_without_do_method_is_501() {
    let s = base_server("HTTP/1.1");
    let r = exchange(&s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_line(&r), "HTTP/1.1 501 Unsupported method ('GET')");
}

#[test]
fn base_request_line_versions() {
    let s = base_server("HTTP/1.1");
    for (line, expected) in [
        ("GET / HTTP/bogus", "HTTP/1.1 400 Bad request version ('HTTP/bogus')"),
        ("GET / HTTP/8", "HTTP/1.1 400 Bad request version ('HTTP/8')"),
        ("GET / HTTP/1.1.1", "HTTP/1.1 400 Bad request version ('HTTP/1.1.1')"),
        ("GET / HTTP/+1.1", "HTTP/1.1 400 Bad request version ('HTTP/+1.1')"),
        ("GET / HTTP/1.-1", "HTTP/1.1 400 Bad request version ('HTTP/1.-1')"),
        (
            "GET / HTTP/12345678901.1",
            "HTTP/1.1 400 Bad request version ('HTTP/12345678901.1')",
        ),
        ("GET / HTTP/9.9", "HTTP/1.1 505 Invalid HTTP version (9.9)"),
        ("PUT /", "HTTP/1.1 400 Bad HTTP/0.9 request type ('PUT')"),
        (
            "GET / / / HTTP/1.1",
            "HTTP/1.1 400 Bad request syntax ('GET / / / HTTP/1.1')",
        ),
    ] {
        let r = exchange(&s, &format!("{line}\r\n\r\n"));
        assert_eq!(status_line(&r), expected, "{line}");
    }
}

#[test]
fn base_blank_request_line_gets_no_response() {
    let s = base_server("HTTP/1.1");
    assert_eq!(exchange(&s, "\r\n"), "");
}

#[test]
fn base_connection_header_decides_keep_alive() {
    let s = base_server("HTTP/1.1");
    // KEEP answers 204 keep-alive: the second request on the same connection is answered too.
    let r = exchange(
        &s,
        "KEEP / HTTP/1.1\r\nHost: x\r\n\r\nTEST / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.matches("HTTP/1.1 204 No Content\r\n").count(), 2, "{r}");
    // Connection: close from the client wins for the rest of the connection.
    let r = exchange(
        &s,
        "KEEP / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nKEEP / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(
        r.matches("HTTP/1.1 204").count(),
        2,
        "send_header('Connection', 'keep-alive') reopens: {r}"
    );
    // TEST sends Connection: close: nothing after it is answered.
    let r = exchange(
        &s,
        "TEST / HTTP/1.1\r\nHost: x\r\n\r\nKEEP / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.matches("HTTP/1.1 204").count(), 1, "{r}");
    // An HTTP/1.0 server closes after one request whatever the client asks.
    let s10 = base_server("HTTP/1.0");
    let r = exchange(
        &s10,
        "TEST / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\nTEST / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.matches("HTTP/1.0 204").count(), 1, "{r}");
}

#[test]
fn base_custom_status_latin1_header_and_explain() {
    let s = base_server("HTTP/1.1");
    let raw = raw_exchange(s.local_addr(), b"CUSTOM / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        raw.starts_with(b"HTTP/1.1 999 \r\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let raw = raw_exchange(s.local_addr(), b"LATINONEHEADER / HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = split_response(&raw);
    let latin1_line: &[u8] = b"\r\nX-Special: D\xe4ngerous Mind\r\n";
    assert!(raw.windows(latin1_line.len()).any(|w| w == latin1_line), "{head}");
    assert_eq!(body, "\u{c5}\u{e4}\u{f6}".as_bytes());
    let r = exchange(&s, "EXPLAIN / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 999 \r\n"), "{r}");
    assert!(
        r.contains("<p>Error code explanation: 999 - This is a custom error message.</p>"),
        "{r}"
    );
}

#[test]
fn base_send_error_bodies_lengths_and_escaping() {
    let s = base_server("HTTP/1.1");
    for (code, has_body) in [
        (100, false),
        (101, false),
        (200, true),
        (204, false),
        (205, false),
        (304, false),
        (404, true),
        (599, true),
    ] {
        let r = raw_exchange(
            s.local_addr(),
            format!("SEND_ERROR /{code} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        let (head, body) = split_response(&r);
        assert_eq!(!body.is_empty(), has_body, "{code}: {head}");
        assert_eq!(header(&head, "Content-Length").is_some(), has_body, "{code}: {head}");
        if has_body {
            assert_eq!(header(&head, "Content-Length"), Some(body.len().to_string().as_str()));
        }
        assert_eq!(header(&head, "Connection"), Some("close"));
    }
    // HEAD: headers with the page's Content-Length, no body.
    let r = raw_exchange(s.local_addr(), b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = split_response(&r);
    assert!(head.starts_with("HTTP/1.1 404 File Not Found: /testtest\r\n"), "{head}");
    assert!(header(&head, "Content-Length").is_some_and(|l| l != "0"));
    assert!(body.is_empty());
    // The message is HTML-escaped in the page.
    let r = exchange(&s, "ESCAPE / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        r.contains("<p>Message: &lt;script&gt;alert('hello')&lt;/script&gt;.</p>"),
        "{r}"
    );
}

#[test]
fn continue_is_sent_rejected_or_skipped_as_configured() {
    let dir = fixture_dir();
    let config = |expect_continue, protocol: &str| ServerConfig {
        directory: dir.path().to_path_buf(),
        protocol_version: protocol.into(),
        log_requests: false,
        expect_continue,
        ..ServerConfig::default()
    };
    let req = "GET /hello.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
    let s = our_server_with(config(true, "HTTP/1.1"));
    assert!(exchange(&s, req).starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
    let s = our_server_with(config(false, "HTTP/1.1"));
    let r = exchange(&s, req);
    assert!(r.starts_with("HTTP/1.1 417 Expectation Failed\r\n"), "{r}");
    assert_eq!(r.matches("HTTP/1.1").count(), 1);
    // An HTTP/1.0 server, or an HTTP/1.0 request, gets no interim response.
    let s = our_server_with(config(true, "HTTP/1.0"));
    assert!(exchange(&s, req).starts_with("HTTP/1.0 200 OK\r\n"));
    let s = our_server_with(config(true, "HTTP/1.1"));
    let r = exchange(&s, "GET /hello.txt HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
}

#[test]
fn http09_get_is_answered_with_the_body_alone() {
    let dir = fixture_dir();
    let s = our_server(dir.path(), "HTTP/1.0");
    assert_eq!(raw_exchange(s.local_addr(), b"GET /hello.txt\r\n"), b"hello, world\n");
}

#[test]
fn simple_get_rules() {
    let dir = fixture_dir();
    let s = our_server(dir.path(), "HTTP/1.0");
    // A file asked for as a directory is 404, as CPython's Issue17324 fix has it.
    assert!(exchange(&s, "GET /hello.txt/ HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 404 File not found\r\n"));
    // The leading-// collapse keeps the redirect on this host (gh-87389).
    let r = exchange(&s, "GET //site HTTP/1.0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.0 301 "), "{r}");
    assert_eq!(header(&r, "Location"), Some("/site/"));
    // Query strings and repeated slashes do not change which file is served.
    assert!(exchange(&s, "GET /hello.txt?? HTTP/1.0\r\n\r\n").ends_with("hello, world\n"));
    assert!(exchange(&s, "GET /site//index.html?a=b//c HTTP/1.0\r\n\r\n").ends_with("<h1>index</h1>\n"));
    // index.htm is the second choice.
    std::fs::create_dir(dir.path().join("htm")).unwrap();
    std::fs::write(dir.path().join("htm/index.htm"), b"htm").unwrap();
    assert!(exchange(&s, "GET /htm/ HTTP/1.0\r\n\r\n").ends_with("\r\n\r\nhtm"));
    // POST and PUT have no do_ method in SimpleHTTPRequestHandler.
    for method in ["POST", "PUT", "DELETE"] {
        let r = exchange(&s, &format!("{method} /hello.txt HTTP/1.0\r\n\r\n"));
        assert_eq!(status_line(&r), format!("HTTP/1.0 501 Unsupported method ('{method}')"));
    }
}

#[test]
fn simple_browser_cache_rules() {
    let dir = fixture_dir();
    let s = our_server(dir.path(), "HTTP/1.0");
    let r = exchange(&s, "GET /hello.txt HTTP/1.0\r\n\r\n");
    let last_modified = header(&r, "Last-Modified").unwrap().to_string();
    let get = |ims: &str| {
        exchange(
            &s,
            &format!("GET /hello.txt HTTP/1.0\r\nIf-Modified-Since: {ims}\r\n\r\n"),
        )
    };
    assert!(get(&last_modified).starts_with("HTTP/1.0 304 Not Modified\r\n"));
    assert!(get("Fri, 31 Dec 9999 23:59:59 GMT").starts_with("HTTP/1.0 304"));
    assert!(
        get("Thu, 01 Jan 1970 00:00:00 GMT").starts_with("HTTP/1.0 200"),
        "file changed since"
    );
    assert!(
        get("not a date").starts_with("HTTP/1.0 200"),
        "an ill-formed date is ignored"
    );
}

#[test]
fn class_attributes_reach_the_guest() {
    let dir = fixture_dir();
    let s = our_server_with(ServerConfig {
        directory: dir.path().to_path_buf(),
        log_requests: false,
        server_version: Some("MyServer/1.2".into()),
        error_message_format: Some("code=%(code)d msg=%(message)s".into()),
        error_content_type: Some("text/plain".into()),
        extensions_map: vec![(".txt".into(), "text/x-custom".into())],
        index_pages: vec!["hello.txt".into()],
        ..ServerConfig::default()
    });
    let r = exchange(&s, "GET /missing HTTP/1.0\r\n\r\n");
    assert!(
        header(&r, "Server").is_some_and(|v| v.starts_with("MyServer/1.2 ")),
        "{r}"
    );
    assert_eq!(header(&r, "Content-Type"), Some("text/plain"));
    assert!(r.ends_with("\r\n\r\ncode=404 msg=File not found"), "{r}");
    let r = exchange(&s, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!(
        header(&r, "Content-type"),
        Some("text/x-custom"),
        "index_pages and extensions_map: {r}"
    );
    assert!(r.ends_with("hello, world\n"));
}

/// `HTTPLIB_FUEL` (bench/fuel's knob): each connection's count of the guest's work is logged
/// when it ends, more for more requests, and the request log is CPython's all the same.
#[test]
fn with_httplib_fuel_each_connection_logs_the_guests_work() {
    let dir = fixture_dir();
    let (peer, stderr) = cli_server_logging(
        &httplib_bin!(),
        dir.path(),
        &["--protocol", "HTTP/1.1"],
        &[("HTTPLIB_FUEL", "1")],
    );
    let port = peer.port;
    // Read on a thread of its own, so that a line that never comes fails the test, not hangs it.
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .try_for_each(|l| tx.send(l))
    });
    let next_line = || {
        lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a log line")
    };
    let fuel_of = |gets: usize| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let me = s.local_addr().unwrap();
        let mut request = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n".repeat(gets - 1);
        request.push_str("GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).unwrap();
        let mut answers = String::new();
        s.read_to_string(&mut answers).unwrap();
        assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), gets, "{answers}");
        // The request lines, then this connection's count (wait_for_port's connection, which
        // asked nothing, has a count of its own before them).
        let mine = format!("httplib: the connection from {me} took ");
        let mut requests = 0;
        let count = loop {
            let line = next_line();
            if let Some(rest) = line.strip_prefix(&mine) {
                break rest
                    .strip_suffix(" units of wasm fuel")
                    .unwrap_or_else(|| panic!("{line}"))
                    .to_string();
            }
            if line.contains(" - - [") {
                assert!(line.ends_with("\"GET /hello.txt HTTP/1.1\" 200 -"), "{line}");
                requests += 1;
            } else {
                assert!(line.starts_with("httplib: the connection from "), "{line}");
            }
        };
        assert_eq!(requests, gets);
        count.parse::<u64>().unwrap()
    };
    let one = fuel_of(1);
    let three = fuel_of(3);
    assert!(one > 0 && three > one, "1 GET: {one}, 3 GETs: {three}");
}

#[test]
fn logging_is_cpythons_format_with_control_characters_escaped() {
    let dir = fixture_dir();
    let (peer, stderr) = cli_server_logging(&httplib_bin!(), dir.path(), &[], &[]);
    let port = peer.port;
    let mut lines = BufReader::new(stderr).lines();
    raw_exchange(([127, 0, 0, 1], port).into(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
    let line = lines.next().unwrap().unwrap();
    let (prefix, rest) = line.split_once(" - - [").unwrap();
    assert_eq!(prefix, "127.0.0.1");
    let (date, message) = rest.split_once("] ").unwrap();
    assert_eq!(date.len(), "22/Nov/2026 15:00:00".len(), "{date}");
    assert_eq!(message, "\"GET /hello.txt HTTP/1.0\" 200 -");
    // An error logs its code and message first, then the request line.
    raw_exchange(([127, 0, 0, 1], port).into(), b"GET /\x1b[31mred HTTP/1.0\r\n\r\n");
    let error_line = lines.next().unwrap().unwrap();
    assert!(error_line.ends_with("code 404, message File not found"), "{error_line}");
    let request_line = lines.next().unwrap().unwrap();
    assert!(
        request_line.ends_with("\"GET /\\x1b[31mred HTTP/1.0\" 404 -"),
        "{request_line}"
    );
    // A line longer than one stderr write takes (the component writes 4096 bytes a call)
    // comes out whole, on one line, before the next request's.
    let long = "a".repeat(10_000);
    raw_exchange(
        ([127, 0, 0, 1], port).into(),
        format!("GET /{long} HTTP/1.0\r\n\r\n").as_bytes(),
    );
    raw_exchange(([127, 0, 0, 1], port).into(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
    let _error_line = lines.next().unwrap().unwrap();
    let request_line = lines.next().unwrap().unwrap();
    assert!(
        request_line.ends_with(&format!("\"GET /{long} HTTP/1.0\" 404 -")),
        "{} bytes, ending {:?}",
        request_line.len(),
        &request_line[request_line.len().saturating_sub(60)..]
    );
    let next = lines.next().unwrap().unwrap();
    assert!(next.ends_with("\"GET /hello.txt HTTP/1.0\" 200 -"), "{next}");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    s.read_to_end(&mut Vec::new()).unwrap();
}
