use super::*;
use httplib_guest::proto::chunked::{LAST_CHUNK, encode_chunk};

fn target(host: &str, port: u16, tls: bool) -> Target {
    Target {
        host: host.into(),
        port,
        tls,
    }
}

fn parse(bytes: &[u8], t: &Target) -> (RequestHead, usize) {
    parse_request(bytes, t).expect("parses").expect("complete")
}

#[test]
fn an_origin_form_request_takes_the_connections_authority_and_drops_hop_by_hop_fields() {
    let bytes = b"POST /up?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept-Encoding: identity\r\n\
                  Connection: keep-alive\r\nContent-Length: 5\r\nX-Mine: a\r\n\r\nhello";
    let (head, used) = parse(bytes, &target("127.0.0.1", 8080, false));
    assert_eq!(used, bytes.len() - 5);
    assert_eq!(head.method, "POST");
    assert!(!head.https);
    assert_eq!(head.authority, "127.0.0.1:8080");
    assert_eq!(head.path_with_query, "/up?x=1");
    assert_eq!(head.body, RequestBody::Length(5));
    let names: Vec<&str> = head.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["accept-encoding", "content-length", "x-mine"]);
}

#[test]
fn https_on_its_default_port_and_an_ipv6_literal_make_the_authority_a_url_would() {
    let (head, _) = parse(
        b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
        &target("example.org", 443, true),
    );
    assert!(head.https);
    assert_eq!(head.authority, "example.org");
    assert_eq!(head.body, RequestBody::None);
    let (head, _) = parse(
        b"GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n",
        &target("::1", 8443, true),
    );
    assert_eq!(head.authority, "[::1]:8443");
    // A Host with the default port spelled out is the same authority.
    let (head, _) = parse(
        b"GET / HTTP/1.1\r\nHost: example.org:80\r\n\r\n",
        &target("example.org", 80, false),
    );
    assert_eq!(head.authority, "example.org");
}

#[test]
fn an_absolute_form_target_goes_where_its_url_says() {
    let (head, _) = parse(
        b"GET https://example.org/a?b HTTP/1.1\r\nHost: example.org\r\n\r\n",
        &target("proxy.local", 3128, false),
    );
    assert!(head.https);
    assert_eq!(head.authority, "example.org");
    assert_eq!(head.path_with_query, "/a?b");
}

#[test]
fn what_cannot_map_is_refused_in_words() {
    let t = target("127.0.0.1", 80, false);
    let err = parse_request(b"CONNECT example.org:443 HTTP/1.1\r\n\r\n", &t).unwrap_err();
    assert!(err.contains("set_tunnel"), "{err}");
    let err = parse_request(b"GET / HTTP/1.1\r\nHost: elsewhere\r\n\r\n", &t).unwrap_err();
    assert!(err.contains("differs"), "{err}");
    let err = parse_request(b"\x16\x03\x01 not http\r\n\r\n", &t).unwrap_err();
    assert!(err.contains("only whole HTTP/1.1 requests"), "{err}");
    let err = parse_request(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &t).unwrap_err();
    assert!(err.contains("501: unknown Transfer-Encoding"), "{err}");
    let err = parse_request(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", &t).unwrap_err();
    assert!(err.contains("400: conflicting Content-Length"), "{err}");
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..=MAX_FIELDS {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(parse_request(&many, &t).unwrap_err().contains("more than 100 headers"));
}

#[test]
fn a_head_arrives_in_pieces_and_an_endless_one_is_cut_off() {
    let t = target("h", 80, false);
    assert_eq!(parse_request(b"GET / HTTP/1.1\r\nHost: h\r\n", &t), Ok(None));
    let mut endless = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    endless.resize(MAX_REQUEST_HEAD + 1, b'a');
    assert!(parse_request(&endless, &t).unwrap_err().contains("without ending"));
}

#[test]
fn a_chunked_body_decodes_across_any_split_and_stops_at_its_end() {
    let body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nGET /next";
    for split in 0..body.len() {
        let mut d = ChunkedDecoder::for_requests();
        let mut pending = body[..split].to_vec();
        let mut out = decode_chunks(&mut d, &mut pending).unwrap();
        pending.extend_from_slice(&body[split..]);
        out.extend(decode_chunks(&mut d, &mut pending).unwrap());
        assert!(d.is_done(), "split at {split}");
        assert_eq!(out, b"hello world", "split at {split}");
        assert_eq!(pending, b"GET /next", "split at {split}");
    }
    let mut d = ChunkedDecoder::for_requests();
    let err = decode_chunks(&mut d, &mut b"zz\r\n".to_vec()).unwrap_err();
    assert!(err.contains("invalid chunk size"), "{err}");
    let mut d = ChunkedDecoder::for_requests();
    let err = decode_chunks(&mut d, &mut b"2\r\nabc\r\n".to_vec()).unwrap_err();
    assert!(err.contains("missing CRLF after chunk data"), "{err}");
}

#[test]
fn a_response_keeps_its_length_or_is_chunked_and_has_no_body_where_http_says_none() {
    let with_length = vec![("content-length".to_owned(), b"3".to_vec())];
    assert_eq!(response_framing(false, 200, &with_length), ResponseFraming::Length(3));
    assert_eq!(response_framing(true, 200, &with_length), ResponseFraming::None);
    assert_eq!(response_framing(false, 304, &[]), ResponseFraming::None);
    assert_eq!(response_framing(false, 204, &[]), ResponseFraming::None);
    assert_eq!(response_framing(false, 200, &[]), ResponseFraming::Chunked);

    let fields = vec![
        ("content-type".to_owned(), b"text/plain".to_vec()),
        ("connection".to_owned(), b"close".to_vec()),
        ("transfer-encoding".to_owned(), b"chunked".to_vec()),
    ];
    let head = response_head(404, &fields, ResponseFraming::Chunked);
    assert_eq!(
        head,
        b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    assert_eq!(encode_chunk(b"abc"), b"3\r\nabc\r\n");
    assert_eq!(LAST_CHUNK, b"0\r\n\r\n");
}
