//! Request and response heads parsed by proto (the code the server and client run) beside raw
//! httparse, in bytes per second. httparse is zero-copy and stops at the head; proto also applies
//! CPython's rules (latin-1 text, continuation lines, limits) and builds owned headers.

use bytes::BytesMut;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use httplib_guest::client::Response;
use httplib_guest::client::SharedStream;
use httplib_guest::io::BufStream;
use httplib_guest::proto::headers::{FieldBlock, FieldLine};
use httplib_guest::proto::limits::MAX_LINE;
use httplib_guest::proto::line::{Line, find_line};
use httplib_guest::proto::request_line::{Parsed, parse_request_line};
use httplib_guest::proto::request_parse::{HeadParse, HeadScanner};
use httplib_guest::proto::response_parse::{ResponseParse, ResponseScanner};
use httplib_guest::proto::status_line::parse_status_line;
use httplib_guest::server::{Handler, HandlerConfig};
use httplib_guest::transport::{Stream, TlsOptions, TransportError};
use std::cell::RefCell;
use std::rc::Rc;

/// What curl sends.
const CURL_REQUEST: &[u8] =
    b"GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

/// What Firefox sends for a page.
const BROWSER_REQUEST: &[u8] = b"GET /docs/index.html?lang=en HTTP/1.1\r\n\
Host: localhost:8000\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Connection: keep-alive\r\n\
Referer: http://localhost:8000/docs/\r\n\
Cookie: session=4f2a9c1e7b3d5a8f; theme=dark; consent=yes\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: same-origin\r\n\
If-Modified-Since: Sat, 21 Nov 2026 10:00:00 GMT\r\n\
Priority: u=0, i\r\n\r\n";

/// What nginx answers for a file.
const NGINX_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Server: nginx/1.22.1\r\n\
Date: Sun, 22 Nov 2026 18:12:00 GMT\r\n\
Content-Type: application/octet-stream\r\n\
Content-Length: 1024\r\n\
Last-Modified: Sun, 22 Nov 2026 18:11:58 GMT\r\n\
Connection: keep-alive\r\n\
ETag: \"6740c9ae-400\"\r\n\
Accept-Ranges: bytes\r\n\r\n";

/// The lines of a head, as `BufStream::read_line` hands them to the parsers.
fn lines(mut head: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || match find_line(head, MAX_LINE) {
        Line::Complete(n) => {
            let (line, rest) = head.split_at(n);
            head = rest;
            Some(line)
        }
        _ => None,
    })
}

fn proto_fields<'a>(lines: impl Iterator<Item = &'a [u8]>) -> usize {
    let mut block = FieldBlock::new();
    for line in lines {
        if block.push_line(line).unwrap() == FieldLine::End {
            break;
        }
    }
    block.headers.len()
}

fn proto_request(head: &[u8]) -> usize {
    let mut lines = lines(head);
    let Parsed::Request(line) = parse_request_line(lines.next().unwrap()) else {
        panic!("not a request")
    };
    black_box(line);
    proto_fields(lines)
}

fn proto_response(head: &[u8]) -> usize {
    let mut lines = lines(head);
    black_box(parse_status_line(lines.next().unwrap()).unwrap());
    proto_fields(lines)
}

/// Heads arriving in a connection's read buffer, one after another: the parsers take each off
/// its front. Refilled (a copy of the bytes, as a read makes) when all are taken.
struct Arriving {
    head: &'static [u8],
    buf: BytesMut,
}

impl Arriving {
    const HEADS: usize = 256;

    fn new(head: &'static [u8]) -> Self {
        Self {
            head,
            buf: BytesMut::new(),
        }
    }

    fn buffer(&mut self) -> &mut BytesMut {
        if self.buf.is_empty() {
            for _ in 0..Self::HEADS {
                self.buf.extend_from_slice(self.head);
            }
        }
        &mut self.buf
    }
}

/// The server's head parser (request line, httparse over the fields, the rules on top).
fn proto_request_parse(heads: &mut Arriving) -> usize {
    match HeadScanner::new().feed(heads.buffer()) {
        HeadParse::Complete(_, h) => h.headers.len(),
        other => panic!("{other:?}"),
    }
}

/// The client's head parser (status line, httparse over the fields, CPython's limits).
fn proto_response_parse(heads: &mut Arriving) -> usize {
    match ResponseScanner::new().feed(heads.buffer()) {
        ResponseParse::Complete { headers, .. } => headers.len(),
        other => panic!("{other:?}"),
    }
}

fn httparse_request(head: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    assert!(request.parse(head).unwrap().is_complete());
    request.headers.len()
}

fn httparse_response(head: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    assert!(response.parse(head).unwrap().is_complete());
    response.headers.len()
}

/// The same bytes again and again, like a client pipelining one request: the server's whole
/// read path (buffering, lines, request line, fields, framing) with no socket under it.
struct Replay {
    data: Vec<u8>,
    pos: usize,
}

impl Stream for Replay {
    fn read(&mut self, max: usize) -> Result<Vec<u8>, TransportError> {
        let start = self.pos % self.data.len();
        let end = (start + max).min(self.data.len());
        self.pos += end - start;
        Ok(self.data[start..end].to_vec())
    }
    fn write(&mut self, _: &[u8]) -> Result<(), TransportError> {
        Ok(())
    }
    fn shutdown_send(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
    fn set_timeout(&mut self, _: Option<u64>) -> Result<(), TransportError> {
        Ok(())
    }
    fn start_tls(&mut self, _: &str, _: &TlsOptions) -> Result<(), TransportError> {
        Err(TransportError::Other("no TLS here".into()))
    }
}

fn handler_over(head: &[u8]) -> Handler {
    let config = HandlerConfig {
        protocol_version: "HTTP/1.1".into(),
        ..HandlerConfig::default()
    };
    Handler::new(
        Box::new(Replay {
            data: head.repeat(64),
            pos: 0,
        }),
        "127.0.0.1",
        config,
    )
}

fn heads(c: &mut Criterion) {
    for (name, head) in [("curl", CURL_REQUEST), ("browser", BROWSER_REQUEST)] {
        assert_eq!(proto_request(head), httparse_request(head));
        let mut group = c.benchmark_group(format!("request head ({name}, {} bytes)", head.len()));
        group.throughput(Throughput::Bytes(head.len() as u64));
        group.bench_function("httparse", |b| b.iter(|| httparse_request(black_box(head))));
        group.bench_function("proto (line reader)", |b| b.iter(|| proto_request(black_box(head))));
        let mut arriving = Arriving::new(head);
        assert_eq!(proto_request_parse(&mut arriving), httparse_request(head));
        group.bench_function("proto::request_parse", |b| {
            b.iter(|| proto_request_parse(black_box(&mut arriving)))
        });
        let mut handler = handler_over(head);
        group.bench_function("Handler::next_request", |b| {
            b.iter(|| {
                assert!(handler.next_request().unwrap());
                black_box(&handler.request);
            })
        });
        group.finish();
    }
    let head = NGINX_RESPONSE;
    assert_eq!(proto_response(head), httparse_response(head));
    let mut group = c.benchmark_group(format!("response head (nginx, {} bytes)", head.len()));
    group.throughput(Throughput::Bytes(head.len() as u64));
    group.bench_function("httparse", |b| b.iter(|| httparse_response(black_box(head))));
    group.bench_function("proto (line reader)", |b| b.iter(|| proto_response(black_box(head))));
    let mut arriving = Arriving::new(head);
    assert_eq!(proto_response_parse(&mut arriving), httparse_response(head));
    group.bench_function("proto::response_parse", |b| {
        b.iter(|| proto_response_parse(black_box(&mut arriving)))
    });
    // The client's whole read path: buffering, the head, the framing (heads only, replayed:
    // the body of each is never read, so the next head follows).
    let stream: SharedStream = Rc::new(RefCell::new(BufStream::new(
        Box::new(Replay {
            data: head.repeat(64),
            pos: 0,
        }),
        64 * 1024,
    )));
    group.bench_function("Response::begin", |b| {
        b.iter(|| black_box(Response::begin(stream.clone(), "GET", "/", 0).unwrap().status))
    });
    group.finish();
}

criterion_group!(benches, heads);
criterion_main!(benches);
