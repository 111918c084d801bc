//! The server's head rules, each fed at every split point (as client/tests.rs does for
//! responses): a head is never complete, rejected or accepted before all of it arrived, and
//! never takes a byte of the request after it.

use super::*;
use bytes::BytesMut;

const NEXT: &[u8] = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n";

/// `scanner.feed` over a buffer holding `bytes`: a head it takes, it takes off the front,
/// and leaves every byte after it.
fn feed(scanner: &mut HeadScanner, bytes: &[u8]) -> HeadParse {
    let mut buf = BytesMut::from(bytes);
    let parsed = scanner.feed(&mut buf);
    match &parsed {
        HeadParse::Complete(n, _) | HeadParse::Blank(n) => assert!(buf[..] == bytes[*n..], "took more than the head"),
        HeadParse::Partial => assert!(buf[..] == *bytes, "took bytes of a partial head"),
        // The connection closes: what is left is never read.
        HeadParse::Reject(_) => {}
    }
    parsed
}

/// Feed `head` then `NEXT` a prefix at a time, for every prefix length: the result once the
/// whole head is in, after only `Partial` before.
fn feed_every_split(head: &[u8]) -> HeadParse {
    let whole = [head, NEXT].concat();
    // Every split point of a small head; of a big one (the limit tests), the first and last
    // few hundred and a stride between (all of them would be quadratic in the test itself).
    let splits: Vec<usize> = if whole.len() <= 4096 {
        (1..=whole.len()).collect()
    } else {
        let edge = |k: usize| k <= 300 || k + 300 >= head.len() && k <= head.len() + 300;
        (1..=whole.len()).filter(|&k| edge(k) || k % 4099 == 0).collect()
    };
    let mut last = None;
    for &split in &splits {
        let mut scanner = HeadScanner::new();
        // One scanner fed growing prefixes (the way the server uses it: at each earlier split
        // point), and a fresh one fed the prefix at once: both must agree.
        let mut grown = HeadParse::Partial;
        for &k in splits.iter().take_while(|&&k| k <= split) {
            grown = feed(&mut scanner, &whole[..k]);
            if grown != HeadParse::Partial {
                break;
            }
        }
        let at_once = feed(&mut HeadScanner::new(), &whole[..split]);
        assert_eq!(grown, at_once, "split {split}");
        if split < head.len() {
            match &at_once {
                HeadParse::Partial => {}
                // Limits may refuse before the head ends, and the request line is judged when
                // it ends; the header block only once all of it is in.
                HeadParse::Reject(r) if matches!(r.code, 414 | 431) => return at_once,
                HeadParse::Reject(r) if r.line.is_none() && head[..split].contains(&b'\n') => return at_once,
                other => panic!("decided at {split} of {}: {other:?}", head.len()),
            }
        } else {
            match &at_once {
                HeadParse::Complete(n, _) | HeadParse::Blank(n) => assert_eq!(*n, head.len(), "consumed"),
                HeadParse::Reject(_) => {}
                HeadParse::Partial => panic!("still partial with the whole head in: {head:?}"),
            }
            if let Some(prev) = &last {
                assert_eq!(prev, &at_once, "changed its mind at {split}");
            }
            last = Some(at_once);
        }
    }
    last.unwrap()
}

fn rejected(head: &str) -> Rejection {
    match feed_every_split(head.as_bytes()) {
        HeadParse::Reject(r) => r,
        other => panic!("{head:?}: {other:?}"),
    }
}

fn accepted(head: &str) -> RequestHead {
    match feed_every_split(head.as_bytes()) {
        HeadParse::Complete(_, h) => h,
        other => panic!("{head:?}: {other:?}"),
    }
}

#[test]
fn the_fourteen_smuggling_shapes_are_400() {
    for (head, why) in [
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "Content-Length with Transfer-Encoding",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "conflicting Content-Length",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n",
            "conflicting Content-Length",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "does not end in chunked",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \x0c5\r\n\r\n",
            "control character in Content-Length",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\x0c\r\n\r\n",
            "control character in Content-Length",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0cchunked\r\n\r\n",
            "control character in Transfer-Encoding",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x0c\r\n\r\n",
            "control character in Transfer-Encoding",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "repeated Transfer-Encoding",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            "chunked applied twice",
        ),
        (
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "Transfer-Encoding in an HTTP/1.0 request",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n",
            "invalid header name",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
            "obsolete line folding",
        ),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n", "CR or NUL"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n", "CR or NUL"),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            "missing or repeated Host",
        ),
        ("GET / HTTP/1.1\r\n\r\n", "missing or repeated Host"),
        (
            "GET / HTTP/1.1\r\n Host: x\r\n\r\n",
            "whitespace before the first header",
        ),
    ] {
        let r = rejected(head);
        assert_eq!(r.code, 400, "{head:?}");
        assert!(r.message.as_deref().unwrap_or("").contains(why), "{head:?}: {r:?}");
        assert_eq!(r.line.as_ref().map(|l| l.command()), head.split(' ').next());
    }
    // Other rule breakers the same way.
    for head in [
        "GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX(y): z\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-Bare-CR: a\rb\n\n",
    ] {
        assert_eq!(rejected(head).code, 400, "{head:?}");
    }
}

#[test]
fn host_expect_connection_and_framing() {
    let h = accepted(
        "POST /up HTTP/1.1\r\nHOST: x\r\nExpect: 100-Continue\r\nConnection: Keep-Alive\r\nContent-Length: 7\r\n\r\n",
    );
    assert_eq!((h.line.command(), h.line.path()), ("POST", "/up"));
    assert!(h.expect_continue);
    assert_eq!(h.connection, ConnectionField::KeepAlive);
    assert_eq!(h.body, RequestBody::Length(7));
    let h = accepted("PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n");
    assert_eq!(h.body, RequestBody::Chunked);
    // A coding the server does not implement is 501, as nginx answers it.
    for te in ["gzip, chunked", "identity", "gzip"] {
        let r = rejected(&format!("PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {te}\r\n\r\n"));
        assert_eq!(r.code, 501, "{te}");
    }
    // HTTP/1.0 needs no Host; a value keeps inner spaces and loses outer ones.
    let h = accepted("GET / HTTP/1.0\r\nX-Pad:   a  b \t\r\n\r\n");
    assert_eq!(h.headers.get("x-pad"), Some(&b"a  b"[..]));
    assert_eq!(h.body, RequestBody::None);
    // Bare LF line ends, and Latin-1 values.
    let HeadParse::Complete(_, h) = feed_every_split(b"GET / HTTP/1.1\nHost: x\nX-Caf: caf\xe9\n\n") else {
        panic!("bare LF and Latin-1 refused");
    };
    assert_eq!(h.headers.get("x-caf"), Some(&b"caf\xe9"[..]));
}

#[test]
fn http_0_9_and_a_blank_line() {
    let h = accepted("GET /old\r\n");
    assert_eq!((h.line.version(), h.headers.len()), ("HTTP/0.9", 0));
    assert_eq!(feed_every_split(b"\r\n"), HeadParse::Blank(2));
}

#[test]
fn request_line_refusals_keep_cpythons_words() {
    let r = rejected("GET / HTTP/1.1 extra\r\n\r\n");
    assert_eq!(r.code, 400);
    let r = rejected("GET / HTTP/2.0\r\nHost: x\r\n\r\n");
    assert_eq!(r.code, 505);
    assert!(r.line.is_none());
}

#[test]
fn the_414_and_431_limits() {
    // A request line of MAX_LINE bytes with its CRLF passes; one byte more is 414, known as
    // soon as it is over, without waiting for its end.
    let target = "a".repeat(MAX_LINE - "GET / HTTP/1.0\r\n".len());
    let ok = format!("GET /{target} HTTP/1.0\r\n\r\n");
    assert_eq!(ok.split("\r\n").next().unwrap().len() + 2, MAX_LINE);
    accepted(&ok);
    let long = format!("GET /{target}a HTTP/1.0\r\n\r\n");
    assert_eq!(rejected(&long).code, 414);
    let mut s = HeadScanner::new();
    assert_eq!(feed(&mut s, &long.as_bytes()[..MAX_LINE]), HeadParse::Partial);
    assert!(matches!(feed(&mut s, &long.as_bytes()[..MAX_LINE + 1]), HeadParse::Reject(r) if r.code == 414));

    // A header line over MAX_LINE: 431 "Line too long", before its end arrives.
    let head = format!("GET / HTTP/1.0\r\nX-Big: {}\r\n\r\n", "v".repeat(MAX_LINE));
    let r = rejected(&head);
    assert_eq!((r.code, r.message.as_deref()), (431, Some("Line too long")));
    // Lines under the limit adding up past MAX_REQUEST_HEAD: 431.
    let mut head = String::from("GET / HTTP/1.0\r\n");
    for i in 0..3 {
        head.push_str(&format!("X-{i}: {}\r\n", "v".repeat(60_000)));
    }
    head.push_str("\r\n");
    let r = rejected(&head);
    assert_eq!(r.code, 431);
    assert!(r.explain.unwrap().contains("bytes of request head"));
    // 99 fields are CPython's most (the blank line is the 100th of its `_MAXHEADERS` lines,
    // as CPython 3.11's http.server shows: 100 fields are answered 431); 100 are "Too many
    // headers".
    let fields = |n: usize| (0..n).map(|i| format!("X-{i}: v\r\n")).collect::<String>();
    assert_eq!(
        accepted(&format!("GET / HTTP/1.0\r\n{}\r\n", fields(99))).headers.len(),
        99
    );
    let r = rejected(&format!("GET / HTTP/1.0\r\n{}\r\n", fields(100)));
    assert_eq!((r.code, r.message.as_deref()), (431, Some("Too many headers")));
}

#[test]
fn a_trickled_head_is_scanned_once() {
    // 100 KiB of head fed a byte at a time: each byte is looked at once (a quadratic scan
    // would take minutes here).
    let head = format!(
        "GET / HTTP/1.0\r\n{}\r\n",
        "X-Pad: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n".repeat(2000)
    );
    let bytes = head.as_bytes();
    let mut s = HeadScanner::new();
    let mut result = HeadParse::Partial;
    for k in 1..=bytes.len() {
        result = feed(&mut s, &bytes[..k]);
        if result != HeadParse::Partial {
            break;
        }
    }
    assert!(
        matches!(result, HeadParse::Reject(r) if r.code == 431),
        "2000 fields are too many"
    );
}

#[test]
fn cpythons_header_count_counts_the_blank_line_on_both_paths() {
    // parse_headers raises once it holds more than _MAXHEADERS lines, the blank one included:
    // 99 fields pass, 100 do not, however they are spelled (httparse's path or the line reader).
    for (fields, fold) in [(99, false), (100, false), (99, true), (100, true)] {
        let mut head = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        for i in 1..fields {
            head.extend(format!("X-{i}: v\r\n").as_bytes());
        }
        head.extend(b"\r\n");
        if fold {
            // A bare LF line ending makes httparse step aside for this head.
            let at = head.len() - 2;
            head.splice(at..at + 2, *b"\n");
        }
        match feed(&mut HeadScanner::new(), &head) {
            HeadParse::Complete(_, h) if fields == 99 => assert_eq!(h.headers.len(), 99),
            HeadParse::Reject(r) if fields == 100 => {
                assert_eq!((r.code, r.message.as_deref()), (431, Some("Too many headers")))
            }
            other => panic!("{fields} fields, fold {fold}: {other:?}"),
        }
    }
}
