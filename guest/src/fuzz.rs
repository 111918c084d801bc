//! The fuzz targets' bodies: each feeds arbitrary bytes to one parser through the same code
//! the component runs, and checks what must hold whatever the input. `fuzz/` (cargo-fuzz, on
//! nightly) drives them; `guest/tests/fuzz_corpora.rs` replays the checked-in corpora on stable.

use crate::client::{Body, Connection, ConnectionOptions};
use crate::io::testing::ScriptedStream;
use crate::proto::chunked::{ChunkedDecoder, Decoded};
use crate::proto::limits::MAX_REQUEST_HEAD;
use crate::proto::response_parse::{ResponseParse, ResponseScanner, by_line};
use crate::server::{Handler, HandlerConfig};
use crate::transport::{ConnectOptions, Stream, Transport, TransportError};
use std::cell::RefCell;
use std::rc::Rc;

/// Most requests answered from one input (bounds the work per input).
const MAX_REQUESTS: usize = 64;

/// The piece size the transport hands out, from the input's first byte (1..=256), and the rest.
fn split_piece(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((&first, rest)) => (usize::from(first) + 1, rest),
        None => (1, data),
    }
}

/// The server's request loop (request line, field lines, framing, Host, Expect, bodies) over
/// `data` as one connection's input; every parsed request is answered 404 after its body is
/// read. Whatever the input, nothing panics, and each answer starts with a status line.
/// The request head parser's ways in agree: the whole input at once (httparse's fast path,
/// when it is a whole ordinary head) and the same bytes `piece` at a time (the line-aware path).
fn scanner_paths_agree(input: &[u8], piece: usize) {
    use crate::proto::request_parse::{HeadParse, HeadScanner};
    let feed = |scanner: &mut HeadScanner, bytes: &[u8]| {
        let mut buf = bytes::BytesMut::from(bytes);
        let parsed = scanner.feed(&mut buf);
        if let HeadParse::Complete(n, _) | HeadParse::Blank(n) = &parsed {
            assert_eq!(&buf[..], &bytes[*n..], "took more than the head");
        }
        parsed
    };
    let at_once = feed(&mut HeadScanner::new(), input);
    let mut scanner = HeadScanner::new();
    let mut grown = HeadParse::Partial;
    let mut fed = 0;
    while grown == HeadParse::Partial && fed < input.len() {
        fed = (fed + piece.max(1)).min(input.len());
        grown = feed(&mut scanner, &input[..fed]);
    }
    assert_eq!(grown, at_once, "fed {piece} bytes at a time against all at once");
}

/// The server's request loop over arbitrary bytes: no panic, and every answer well framed.
pub fn request_head(data: &[u8]) {
    let (piece, input) = split_piece(data);
    scanner_paths_agree(input, piece);
    let (stream, output) = ScriptedStream::new(input, piece);
    let config = HandlerConfig {
        protocol_version: "HTTP/1.1".into(),
        log_requests: false,
        ..HandlerConfig::default()
    };
    let mut handler = Handler::new(Box::new(stream), "192.0.2.1", config);
    for _ in 0..MAX_REQUESTS {
        match handler.next_request() {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
        assert!(handler.request.requestline.len() <= MAX_REQUEST_HEAD);
        loop {
            match handler.read_body(4096) {
                Ok(piece) if !piece.is_empty() => {}
                _ => break,
            }
        }
        if handler.send_error(404, None, None).is_err() {
            break;
        }
    }
    let out = output.borrow();
    assert!(
        out.is_empty() || out.starts_with(b"HTTP/1."),
        "an answer without a status line"
    );
}

/// One connection that answers with `data`, for the client.
struct OneAnswer {
    input: RefCell<Option<(Vec<u8>, usize)>>,
}

impl Transport for OneAnswer {
    fn connect(&self, _: &str, _: u16, _: &ConnectOptions) -> Result<Box<dyn Stream>, TransportError> {
        let (input, piece) = self
            .input
            .borrow_mut()
            .take()
            .ok_or(TransportError::ConnectionRefused("one connection only".into()))?;
        Ok(Box::new(ScriptedStream::new(&input, piece).0))
    }
    fn audit(&self, _: &str, _: &[String]) -> Result<(), TransportError> {
        Ok(())
    }
}

/// The client's response reading (status line, 1xx, headers, framing, body) over `data` as
/// the server's answer to a GET (or a HEAD, by the first byte's low bit). Nothing panics; a
/// body read whole agrees with Content-Length when the response was framed by it.
/// Where the client's fast paths take a head, they read it as the line reader does: the whole
/// input at once (httparse over all of it) and `piece` bytes at a time (the scanner).
fn response_paths_agree(input: &[u8], piece: usize) {
    let at_once = ResponseScanner::new().feed(&mut bytes::BytesMut::from(input));
    if let ResponseParse::Complete { status, headers } = &at_once {
        assert_eq!(Some((status.clone(), headers.clone())), by_line(headers.source()));
    }
    let mut scanner = ResponseScanner::new();
    let mut grown = ResponseParse::Partial;
    let mut fed = 0;
    while grown == ResponseParse::Partial && fed < input.len() {
        fed = (fed + piece.max(1)).min(input.len());
        grown = scanner.feed(&mut bytes::BytesMut::from(&input[..fed]));
    }
    // Both take a head, or neither does.
    if matches!(at_once, ResponseParse::Complete { .. }) || matches!(grown, ResponseParse::Complete { .. }) {
        assert_eq!(grown, at_once, "fed {piece} bytes at a time against all at once");
    }
}

/// The client's response reading over arbitrary bytes: the fast and line-aware paths agree.
pub fn response_head(data: &[u8]) {
    let (piece, input) = split_piece(data);
    response_paths_agree(input, piece);
    let method = if piece % 2 == 0 { "GET" } else { "HEAD" };
    let transport = Rc::new(OneAnswer {
        input: RefCell::new(Some((input.to_vec(), piece))),
    });
    let Ok(mut conn) = Connection::new(transport, "example.com", None, ConnectionOptions::default()) else {
        return;
    };
    if conn.request(method, "/", Body::None, &[], false).is_err() {
        return;
    }
    let Ok(response) = conn.getresponse() else {
        return;
    };
    let mut response = response.borrow_mut();
    let length = response.length();
    if let Ok(body) = response.read(None) {
        assert!(body.len() <= input.len());
        if let Some(n) = length {
            assert_eq!(body.len() as u64, n, "a whole read disagrees with the length");
        }
    }
}

/// The chunked decoder over `data`, fed in pieces: it never claims more bytes than it was
/// given, and its data adds up to no more than the input.
pub fn chunked(data: &[u8]) {
    let (piece, input) = split_piece(data);
    let mut decoder = ChunkedDecoder::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut body = 0usize;
    loop {
        match decoder.decode(&buf) {
            Ok(Decoded::NeedMore) => {
                if fed == input.len() {
                    return;
                }
                let end = (fed + piece).min(input.len());
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            Ok(Decoded::Skip(n)) | Ok(Decoded::Data(n)) | Ok(Decoded::End(n)) if n > buf.len() => {
                panic!("the decoder claimed {n} bytes of {}", buf.len())
            }
            Ok(Decoded::Skip(n)) => {
                buf.drain(..n);
            }
            Ok(Decoded::Data(n)) => {
                body += n;
                assert!(body <= input.len());
                buf.drain(..n);
            }
            Ok(Decoded::End(_)) | Err(_) => return,
        }
    }
}

/// translate_path over `data` as a request path: no name it yields is empty, ".", ".." or
/// holds a "/" or NUL, so the file path it makes never leaves the served root.
pub fn translate_path(data: &[u8]) {
    let path = String::from_utf8_lossy(data);
    if let Some(fs) = crate::proto::translate_path::translate_path(&path) {
        for part in fs.parts() {
            assert!(!part.is_empty() && part != "." && part != "..", "{part:?}");
            assert!(!part.contains(['/', '\0']), "{part:?}");
        }
        let joined = fs.under("/srv");
        assert!(joined == "/srv" || joined.starts_with("/srv/"), "{joined}");
    }
}
