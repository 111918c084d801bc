//! `httplib serve --app` given a standard `wasi:http` proxy component (tests/wasi-http-app,
//! built with the `wasip2` crate alone, as `wasmtime serve` runs it): every route asked by
//! curl, CPython's http.client and raw bytes; bodies streamed both ways; a trap that costs
//! its request; its own requests refused by default, granted by `--allow`, and never
//! reaching loopback under a wildcard; the ambiguous requests and a slow-head flood in front
//! of it.

use httplib_tests::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const APP: &str = env!("WASI_HTTP_APP_WASM");

/// `httplib serve --app APP` (HTTP/1.1) over `dir`, with `extra` arguments.
fn serve(dir: &Path, extra: &[&str]) -> Peer {
    let mut args = vec!["--app", APP, "-p", "HTTP/1.1"];
    args.extend_from_slice(extra);
    let (peer, banner) = cli_server(&httplib_bin!(), dir, &args);
    assert!(banner.starts_with("Serving HTTP"), "{banner}");
    peer
}

fn addr(peer: &Peer) -> SocketAddr {
    ([127, 0, 0, 1], peer.port).into()
}

/// curl's stdout for `args` (with -sS).
fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl").arg("-sS").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn every_route_answers_curl_and_http_client_with_bodies_streamed_both_ways() {
    let dir = fixture_dir();
    let peer = serve(dir.path(), &[]);
    let base = format!("http://127.0.0.1:{}", peer.port);

    let (head, body) = split_response(&curl(&["-i", &format!("{base}/hello")]));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(header(&head, "content-type"), Some("text/plain"));
    assert_eq!(header(&head, "Content-Length"), Some("21"));
    assert_eq!(body, b"hello from wasi:http\n");
    let (head, body) = split_response(&curl(&["-I", &format!("{base}/hello")]));
    assert_eq!(header(&head, "Content-Length"), Some("21"), "{head}");
    assert!(body.is_empty());
    let (head, body) = split_response(&curl(&["-i", &format!("{base}/nope")]));
    assert!(head.starts_with("HTTP/1.1 404 Not Found\r\n"), "{head}");
    assert_eq!(body, b"not found\n");

    // The echo streams: 3 MiB each way, with Content-Length and chunked, byte for byte.
    let data = pseudo_random(3 << 20, 11);
    let file = dir.path().join("upload.bin");
    std::fs::write(&file, &data).unwrap();
    let upload = format!("@{}", file.display());
    for extra in [&[][..], &["-H", "Transfer-Encoding: chunked"]] {
        // (No `Expect: 100-continue` here: -i would show the interim response first.)
        let mut args = vec![
            "-i",
            "-H",
            "Expect:",
            "--data-binary",
            &upload,
            "-H",
            "Content-Type: application/x-test",
        ];
        args.extend_from_slice(extra);
        let echo = format!("{base}/echo");
        args.push(&echo);
        let (head, body) = split_response(&curl(&args));
        assert_eq!(header(&head, "content-type"), Some("application/x-test"), "{head}");
        assert_eq!(header(&head, "Transfer-Encoding"), Some("chunked"), "{head}");
        assert!(
            body == data,
            "the echo differs ({} bytes of {})",
            body.len(),
            data.len()
        );
    }
    // curl asks `Expect: 100-continue` for so large a body: the guest answers it.
    let echoed = curl(&["--data-binary", &upload, &format!("{base}/echo")]);
    assert!(
        echoed == data,
        "the echo differs ({} bytes of {})",
        echoed.len(),
        data.len()
    );

    // A body with no length: chunked to HTTP/1.1, the connection's end to HTTP/1.0.
    assert_eq!(curl(&[&format!("{base}/big?n=5000000")]).len(), 5_000_000);
    let raw = raw_exchange(addr(&peer), b"GET /big?n=100000 HTTP/1.0\r\n\r\n");
    let (head, body) = split_response(&raw);
    assert_eq!(header(&head, "Transfer-Encoding"), None, "{head}");
    assert_eq!(header(&head, "Connection"), Some("close"), "{head}");
    assert_eq!(body, vec![b'x'; 100_000]);

    // http.client: one connection kept alive across routes, a chunked POST among them.
    let script = format!(
        r#"
import http.client
c = http.client.HTTPConnection("127.0.0.1", {port})
ports = set()
def ask(method, path, body=None, **kw):
    c.request(method, path, body=body, **kw)
    ports.add(c.sock.getsockname()[1])
    r = c.getresponse()
    print(r.status, r.getheader("content-type"), repr(r.read()))
ask("GET", "/hello")
ask("POST", "/echo", body=iter([b"one ", b"two"]), headers={{"Content-Type": "text/x-a"}}, encode_chunked=True)
ask("GET", "/nope")
ask("HEAD", "/hello")
ask("GET", "/hello")
print("connections", len(ports))
"#,
        port = peer.port
    );
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 text/plain b'hello from wasi:http\\n'\n\
         200 text/x-a b'one two'\n\
         404 text/plain b'not found\\n'\n\
         200 text/plain b''\n\
         200 text/plain b'hello from wasi:http\\n'\n\
         connections 1\n"
    );
}

#[test]
fn a_trap_gets_500_and_the_next_request_is_served() {
    let dir = fixture_dir();
    let peer = serve(dir.path(), &[]);
    let (head, body) = split_response(&raw_exchange(addr(&peer), b"GET /trap HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
    assert_eq!(header(&head, "Connection"), Some("close"));
    assert!(
        String::from_utf8_lossy(&body).contains("The app failed"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let raw = raw_exchange(
        addr(&peer),
        b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        raw.ends_with(b"hello from wasi:http\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

/// Counts connections to a loopback port nobody else uses, answering none.
fn counting_listener() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn);
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (port, count)
}

#[test]
fn its_requests_are_refused_by_default_granted_by_allow_and_never_loopback_by_wildcard() {
    let upstream_dir = fixture_dir();
    let upstream = cpython_server(upstream_dir.path(), "HTTP/1.0");
    let url = format!("http://127.0.0.1:{}/hello.txt", upstream.port);
    let ask = format!("GET /fetch?url={url} HTTP/1.0\r\n\r\n");
    let dir = fixture_dir();

    let denied = serve(dir.path(), &[]);
    let (head, body) = split_response(&raw_exchange(addr(&denied), ask.as_bytes()));
    assert!(head.starts_with("HTTP/1.1 502 "), "{head}");
    assert_eq!(body, b"ErrorCode::HttpRequestDenied\n");

    let rule = format!("http://127.0.0.1:{}", upstream.port);
    let granted = serve(dir.path(), &["--allow", &rule]);
    let (head, body) = split_response(&raw_exchange(addr(&granted), ask.as_bytes()));
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, b"hello, world\n");

    // A wildcard reaches no loopback or link-local address, however it is named.
    let (port, connections) = counting_listener();
    let wildcard = serve(dir.path(), &["--allow", "http://*:*"]);
    for host in [
        "127.0.0.1",
        "localhost",
        "127.1",
        "[::ffff:127.0.0.1]",
        "2130706433",
        "169.254.169.254",
    ] {
        let ask = format!("GET /fetch?url=http://{host}:{port}/ HTTP/1.0\r\n\r\n");
        let (head, body) = split_response(&raw_exchange(addr(&wildcard), ask.as_bytes()));
        assert!(head.starts_with("HTTP/1.1 502 "), "{host}: {head}");
        assert_eq!(body, b"ErrorCode::HttpRequestDenied\n", "{host}");
    }
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a connection was made"
    );
}

#[test]
fn ambiguous_requests_never_reach_the_component() {
    let dir = fixture_dir();
    let peer = serve(dir.path(), &[]);
    let follow = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    for &(case, status) in AMBIGUOUS_FRAMING {
        let raw = raw_exchange(addr(&peer), format!("{case}{follow}").as_bytes());
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{case:?} got {text}");
        assert!(
            !text.contains("hello from wasi:http"),
            "{case:?}: the request after it was answered"
        );
        assert_eq!(header(&text, "Connection"), Some("close"), "{case:?}");
    }
    // A bad chunked body reaches the app's /echo, which is already answering: the app's read
    // fails, and the answer is the guest's 400 when none had begun, else cut short (no last
    // chunk); the request after it is never read.
    assert_eq!(AMBIGUOUS_FRAMING.len() + AMBIGUOUS_CHUNKS.len(), 41);
    for &body in AMBIGUOUS_CHUNKS {
        let case = format!("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}{follow}");
        let raw = raw_exchange(addr(&peer), case.as_bytes());
        let text = String::from_utf8_lossy(&raw);
        let refused = text.starts_with("HTTP/1.1 400 ");
        let cut = text.starts_with("HTTP/1.1 200 ") && !text.ends_with("0\r\n\r\n");
        assert!(refused || cut, "{body:?} got {text}");
        assert!(
            !text.contains("hello from wasi:http"),
            "{body:?}: the request after it was answered"
        );
    }
    // The strict spelling of the same, an extension with whitespace before its `;`, is read.
    let case = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 ; a=b\r\nhello\r\n0\r\n\r\n{follow}"
    );
    let text = String::from_utf8_lossy(&raw_exchange(addr(&peer), case.as_bytes())).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 200 ") && text.contains("hello from wasi:http"),
        "{text}"
    );
}

#[test]
fn slow_heads_in_front_of_the_component_leave_a_fresh_client_answered() {
    const SLOW: usize = 300;
    let dir = fixture_dir();
    let peer = serve(dir.path(), &["--head-timeout", "2"]);
    let slow: Vec<TcpStream> = (0..SLOW)
        .map(|_| {
            let mut s = TcpStream::connect(addr(&peer)).unwrap();
            s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
            s
        })
        .collect();
    let raw = raw_exchange(
        addr(&peer),
        b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        raw.ends_with(b"hello from wasi:http\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    // Each slow head gets 408 at the head timeout, and its connection closes.
    let mut first = slow.into_iter().next().unwrap();
    first.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    first.read_to_end(&mut answer).unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 408 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
