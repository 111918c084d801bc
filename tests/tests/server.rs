//! Our server (the guest's handler, SimpleHTTPRequestHandler) against real clients: CPython's
//! http.client, curl, and raw bytes over TCP compared with what CPython's own server sends.

use httplib_tests::*;
use std::process::Command;

#[test]
fn cpython_http_client_gets_5mib_byte_exact() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.0");
    let out_file = dir.path().join("downloaded.bin");
    let script = r#"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
c.request("GET", "/big.bin")
r = c.getresponse()
body = r.read()
open(sys.argv[2], "wb").write(body)
print(r.status, r.getheader("Content-Length"), r.getheader("Content-type"), len(body))
"#;
    let out = Command::new("python3")
        .args(["-c", script, &server.local_addr().port().to_string()])
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "200 5242880 application/octet-stream 5242880"
    );
    assert!(std::fs::read(&out_file).unwrap() == std::fs::read(dir.path().join("big.bin")).unwrap());
}

#[test]
fn cpython_http_client_keeps_the_connection_alive_over_http11() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.1");
    let script = r#"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
ports = []
for path in ["/hello.txt", "/site/", "/missing", "/hello.txt"]:
    c.request("GET", path)
    ports.append(c.sock.getsockname()[1])
    r = c.getresponse()
    body = r.read()
    print(r.status, len(body))
print("connections", len(set(ports)), ports[0] == ports[1] == ports[2] != ports[3])
"#;
    let out = Command::new("python3")
        .args(["-c", script, &server.local_addr().port().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // send_error closes the connection, as CPython's does: http.client reconnects after it.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 13\n200 15\n404 335\n200 13\nconnections 2 True\n"
    );
}

/// A response after which the server closes says so on HTTP/1.1 (RFC 9112 9.6, as nginx does):
/// a client that asked for `Connection: close`, and an HTTP/1.0 client, learn it from the head
/// instead of waiting for the end of the stream; a kept connection's responses are CPython's.
#[test]
fn an_http11_response_before_the_close_says_connection_close() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.1");
    let raw = raw_exchange(
        server.local_addr(),
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&raw);
    let heads: Vec<&str> = text.split("hello, world\n").collect();
    assert_eq!(heads.len(), 3, "{text}");
    assert_eq!(header(heads[0], "Connection"), None, "{text}");
    assert_eq!(header(heads[1], "Connection"), Some("close"), "{text}");
    let (head, body) = split_response(&raw_exchange(server.local_addr(), b"GET /hello.txt HTTP/1.0\r\n\r\n"));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(header(&head, "Connection"), Some("close"), "{head}");
    assert_eq!(body, b"hello, world\n");
}

#[test]
fn curl_gets_file_byte_exact_and_listing_matches_cpythons() {
    let dir = fixture_dir();
    let ours = our_server(dir.path(), "HTTP/1.0");
    let theirs = cpython_server(dir.path(), "HTTP/1.0");
    let out_file = dir.path().join("curl.bin");
    let status = Command::new("curl")
        .args(["-sf", "-o"])
        .arg(&out_file)
        .arg(format!("http://{}/big.bin", ours.local_addr()))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read(&out_file).unwrap() == std::fs::read(dir.path().join("big.bin")).unwrap());
    std::fs::remove_file(&out_file).unwrap();

    let get = |url: String| Command::new("curl").args(["-sf", &url]).output().unwrap().stdout;
    let our_listing = get(format!("http://{}/list/", ours.local_addr()));
    let their_listing = get(format!("http://127.0.0.1:{}/list/", theirs.port));
    assert!(
        String::from_utf8_lossy(&our_listing)
            .contains("<li><a href=\"a%26b%20%3Cc%3E.txt\">a&amp;b &lt;c&gt;.txt</a></li>")
    );
    assert_eq!(
        String::from_utf8_lossy(&our_listing),
        String::from_utf8_lossy(&their_listing)
    );
}

#[test]
fn not_found_page_is_cpythons_with_a_status_line() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.0");
    let raw = raw_exchange(server.local_addr(), b"GET /missing HTTP/1.0\r\n\r\n");
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.0 404 File not found\r\n"), "{head}");
    assert_eq!(
        header(&head, "Server"),
        Some(format!("SimpleHTTP/0.6 httplib/{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(header(&head, "Connection"), Some("close"));
    assert_eq!(header(&head, "Content-Type"), Some("text/html;charset=utf-8"));
    assert_eq!(header(&head, "Content-Length"), Some(body.len().to_string().as_str()));
    let expected = "<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"utf-8\">\n        <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n        <p>Error code: 404</p>\n        <p>Message: File not found.</p>\n        <p>Error code explanation: 404 - Nothing matches the given URI.</p>\n    </body>\n</html>\n";
    assert_eq!(String::from_utf8_lossy(&body), expected);
}

#[test]
fn directory_without_slash_redirects_keeping_the_query() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.0");
    let raw = raw_exchange(server.local_addr(), b"GET /site?x=1 HTTP/1.0\r\n\r\n");
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.0 301 Moved Permanently\r\n"), "{head}");
    assert_eq!(header(&head, "Location"), Some("/site/?x=1"));
    assert_eq!(header(&head, "Content-Length"), Some("0"));
    assert!(body.is_empty());
    let raw = raw_exchange(server.local_addr(), b"GET /site/ HTTP/1.0\r\n\r\n");
    assert_eq!(split_response(&raw).1, b"<h1>index</h1>\n");
}

#[test]
fn head_sends_headers_only() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.0");
    let raw = raw_exchange(server.local_addr(), b"HEAD /hello.txt HTTP/1.0\r\n\r\n");
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"));
    assert_eq!(header(&head, "Content-type"), Some("text/plain"));
    assert_eq!(header(&head, "Content-Length"), Some("13"));
    assert!(header(&head, "Last-Modified").is_some_and(|v| v.ends_with(" GMT")));
    assert!(body.is_empty());
}

#[test]
fn if_modified_since_gets_304() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.0");
    let raw = raw_exchange(server.local_addr(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
    let (head, _) = split_response(&raw);
    let last_modified = header(&head, "Last-Modified").unwrap().to_string();
    let req = format!("GET /hello.txt HTTP/1.0\r\nIf-Modified-Since: {last_modified}\r\n\r\n");
    let raw = raw_exchange(server.local_addr(), req.as_bytes());
    assert!(
        raw.starts_with(b"HTTP/1.0 304 Not Modified\r\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    // An If-None-Match makes the date irrelevant (CPython ignores If-Modified-Since then).
    let req = format!("GET /hello.txt HTTP/1.0\r\nIf-Modified-Since: {last_modified}\r\nIf-None-Match: \"x\"\r\n\r\n");
    let raw = raw_exchange(server.local_addr(), req.as_bytes());
    assert!(raw.starts_with(b"HTTP/1.0 200 OK\r\n"));
}

#[test]
fn paths_cannot_climb_out_of_the_served_directory() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret.txt"), b"secret").unwrap();
    std::fs::create_dir(outer.path().join("www")).unwrap();
    std::fs::write(outer.path().join("www/pub.txt"), b"public").unwrap();
    let server = our_server(&outer.path().join("www"), "HTTP/1.0");
    for target in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "//../secret.txt",
    ] {
        let raw = raw_exchange(server.local_addr(), format!("GET {target} HTTP/1.0\r\n\r\n").as_bytes());
        assert!(
            raw.starts_with(b"HTTP/1.0 404 "),
            "{target}: {}",
            String::from_utf8_lossy(&raw)
        );
        assert!(!String::from_utf8_lossy(&raw).contains("secret\n") && !raw.ends_with(b"secret"));
    }
    // A symlink pointing outside the directory is not followed either.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outer.path().join("secret.txt"), outer.path().join("www/link.txt")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", outer.path().join("www/up.txt")).unwrap();
        std::os::unix::fs::symlink("..", outer.path().join("www/updir")).unwrap();
        std::os::unix::fs::symlink("pub.txt", outer.path().join("www/in.txt")).unwrap();
        // Absolute or relative, to a file or a directory out of it: 404, and a directory out
        // of it is not even said to exist (no 301 to its slashed name).
        for target in ["/link.txt", "/up.txt", "/updir/secret.txt", "/updir", "/updir/"] {
            let raw = raw_exchange(server.local_addr(), format!("GET {target} HTTP/1.0\r\n\r\n").as_bytes());
            assert!(
                raw.starts_with(b"HTTP/1.0 404 "),
                "{target}: {}",
                String::from_utf8_lossy(&raw)
            );
        }
        // One that stays inside is followed.
        let raw = raw_exchange(server.local_addr(), b"GET /in.txt HTTP/1.0\r\n\r\n");
        assert_eq!(split_response(&raw).1, b"public");
    }
    let raw = raw_exchange(server.local_addr(), b"GET /pub.txt HTTP/1.0\r\n\r\n");
    assert_eq!(split_response(&raw).1, b"public");
}

#[test]
fn unsupported_method_is_501_and_bad_requests_get_status_lines() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.0");
    let raw = raw_exchange(
        server.local_addr(),
        b"POST /hello.txt HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
    );
    let (head, body) = split_response(&raw);
    assert!(
        head.starts_with("HTTP/1.0 501 Unsupported method ('POST')\r\n"),
        "{head}"
    );
    assert!(
        String::from_utf8_lossy(&body).contains("<p>Message: Unsupported method (&#x27;POST&#x27;).</p>")
            || String::from_utf8_lossy(&body).contains("<p>Message: Unsupported method ('POST').</p>")
    );
    let raw = raw_exchange(server.local_addr(), b"GET / HTTP/2.0\r\n\r\n");
    assert!(
        raw.starts_with(b"HTTP/1.0 505 Invalid HTTP version (2.0)\r\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let raw = raw_exchange(server.local_addr(), b"GET / HTTP/1.1\r\n\r\n");
    assert!(
        raw.starts_with(b"HTTP/1.0 400 "),
        "missing Host: {}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn http11_serves_pipelined_requests_on_one_connection() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.1");
    let raw = raw_exchange(
        server.local_addr(),
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /site/index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{text}");
    assert!(text.ends_with("<h1>index</h1>\n"));
}

#[test]
fn cli_serve_prints_cpythons_banner_and_serves() {
    let dir = fixture_dir();
    let (peer, banner) = cli_server(&httplib_bin!(), dir.path(), &[]);
    let port = peer.port;
    assert_eq!(
        banner,
        format!("Serving HTTP on 127.0.0.1 port {port} (http://127.0.0.1:{port}/) ...\n")
    );
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{port}/hello.txt")])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hello, world\n");
}

/// Request smuggling (RFC 9112 6.1, 6.3, 5.1, 5.2): each ambiguous request is refused with 400
/// (501 for a transfer coding not implemented, as nginx) and the connection closed, so
/// nothing after it is read as a request.
#[test]
fn ambiguous_framing_is_400_and_closes() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.1");
    let follow = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    for &(case, status) in AMBIGUOUS_FRAMING {
        let raw = raw_exchange(server.local_addr(), format!("{case}{follow}").as_bytes());
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{case:?} got {text}");
        assert_eq!(
            text.matches("HTTP/1.1 ").count(),
            1,
            "{case:?}: a second response came: {text}"
        );
        assert!(header(&text, "Connection") == Some("close"), "{case:?}");
    }
}

#[test]
fn request_line_and_header_limits_match_cpython() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.0");
    let long_target = format!("GET /{} HTTP/1.0\r\n\r\n", "a".repeat(65_536));
    let raw = raw_exchange(server.local_addr(), long_target.as_bytes());
    assert!(
        raw.starts_with(b"HTTP/1.0 414 Request-URI Too Long\r\n"),
        "{}",
        String::from_utf8_lossy(&raw[..60.min(raw.len())])
    );
    let long_header = format!("GET / HTTP/1.0\r\nX-Long: {}\r\n\r\n", "a".repeat(65_536));
    let raw = raw_exchange(server.local_addr(), long_header.as_bytes());
    assert!(
        raw.starts_with(b"HTTP/1.0 431 Line too long\r\n"),
        "{}",
        String::from_utf8_lossy(&raw[..60.min(raw.len())])
    );
    // CPython counts the blank line among its 100: 99 fields pass, 100 do not (both servers).
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    for (fields, status) in [(99, "200 OK"), (100, "431 Too many headers")] {
        let many: String = (0..fields).map(|i| format!("X-{i}: v\r\n")).collect();
        let request = format!("GET /hello.txt HTTP/1.0\r\n{many}\r\n");
        for addr in [server.local_addr(), ([127, 0, 0, 1], peer.port).into()] {
            let raw = raw_exchange(addr, request.as_bytes());
            let line = String::from_utf8_lossy(&raw[..raw.len().min(60)]).into_owned();
            assert!(
                line.contains(&format!(" {status}\r\n")),
                "{fields} fields to {addr}: {line}"
            );
        }
    }
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.1");
    let mut s = std::net::TcpStream::connect(server.local_addr()).unwrap();
    use std::io::{Read, Write};
    s.write_all(
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut interim = [0u8; 25];
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"abc").unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.starts_with(b"HTTP/1.1 200 OK\r\n") && rest.ends_with(b"hello, world\n"));
}

#[test]
fn files_sent_by_the_host_keep_framing_on_a_kept_alive_connection() {
    // Files over one copy block go socket-ward by sendfile in the host, smaller ones through
    // the guest: sizes on both sides of that line, back to back on one connection, each
    // byte-exact and each followed by a response that must still parse.
    let dir = fixture_dir();
    for size in [65_535usize, 65_536, 65_537, 3 * 1024 * 1024 + 7] {
        std::fs::write(
            dir.path().join(format!("f{size}.bin")),
            pseudo_random(size, size as u64),
        )
        .unwrap();
    }
    let server = our_server(dir.path(), "HTTP/1.1");
    let script = r#"
import http.client, sys, hashlib
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
ports = set()
for name in ["f65535.bin", "f65536.bin", "f65537.bin", "f3145735.bin", "big.bin", "hello.txt", "f3145735.bin"]:
    c.request("GET", "/" + name)
    ports.add(c.sock.getsockname()[1])
    r = c.getresponse()
    body = r.read()
    want = open(sys.argv[2] + "/" + name, "rb").read()
    print(name, r.status, body == want)
c.request("HEAD", "/big.bin")
r = c.getresponse()
print("HEAD", r.status, r.getheader("Content-Length"), len(r.read()))
print("connections", len(ports))
"#;
    let out = Command::new("python3")
        .args(["-c", script, &server.local_addr().port().to_string()])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "f65535.bin 200 True\nf65536.bin 200 True\nf65537.bin 200 True\nf3145735.bin 200 True\n\
         big.bin 200 True\nhello.txt 200 True\nf3145735.bin 200 True\nHEAD 200 5242880 0\nconnections 1\n"
    );
}

#[test]
fn serving_a_file_instead_of_a_directory_is_refused_at_start() {
    let dir = fixture_dir();
    let file = dir.path().join("hello.txt");
    let out = Command::new(httplib_bin!())
        .args(["serve", "0", "--bind", "127.0.0.1", "--directory"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "it started: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("httplib serve: directory {}: Not a directory\n", file.display())
    );
}

#[test]
fn modules_fonts_and_wasm_get_the_types_browsers_need() {
    let dir = fixture_dir();
    for name in ["app.mjs", "app.js", "f.woff", "f.woff2", "m.wasm"] {
        std::fs::write(dir.path().join(name), b"x").unwrap();
    }
    let server = our_server(dir.path(), "HTTP/1.0");
    for (name, expected) in [
        ("app.mjs", "text/javascript"),
        ("app.js", "text/javascript"),
        ("f.woff", "font/woff"),
        ("f.woff2", "font/woff2"),
        ("m.wasm", "application/wasm"),
    ] {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{content_type}"])
            .arg(format!("http://{}/{name}", server.local_addr()))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{name}");
    }
}

#[test]
fn byte_ranges_let_curl_fetch_a_part_and_resume() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.1");
    let url = format!("http://{}/big.bin", server.local_addr());
    let whole = std::fs::read(dir.path().join("big.bin")).unwrap();
    let curl = |args: &[&str]| {
        let out = Command::new("curl").args(["-s", "-S"]).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    // A part from the middle (sent by the host's send-file) and a small one (read by the guest).
    for (range, start, end) in [("1000000-2999999", 1_000_000, 2_999_999), ("5-9", 5, 9)] {
        let out = curl(&["-r", range, "-D", "-", "-o", "/dev/null", &url]);
        let head = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(head.starts_with("HTTP/1.1 206 Partial Content\r\n"), "{head}");
        assert_eq!(
            header(&head, "Content-Range"),
            Some(format!("bytes {start}-{end}/{}", whole.len()).as_str())
        );
        let body = curl(&["-r", range, &url]).stdout;
        assert!(body == whole[start..=end], "{range}: {} bytes differ", body.len());
    }
    // The last 100 bytes.
    assert!(curl(&["-r", "-100", &url]).stdout == whole[whole.len() - 100..]);
    // curl -C - resumes a download cut short, byte exact.
    let partial = dir.path().join("partial.bin");
    std::fs::write(&partial, &whole[..1_234_567]).unwrap();
    curl(&["-C", "-", "-o", partial.to_str().unwrap(), &url]);
    assert!(std::fs::read(&partial).unwrap() == whole, "the resumed file differs");
    // Past the end: 416 with the length; an If-Range that no longer holds: the whole file.
    let out = Command::new("curl")
        .args(["-s", "-r", "99999999-", "-D", "-", "-o", "/dev/null", &url])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        head.starts_with("HTTP/1.1 416 Requested Range Not Satisfiable\r\n"),
        "{head}"
    );
    assert_eq!(
        header(&head, "Content-Range"),
        Some(format!("bytes */{}", whole.len()).as_str())
    );
    let out = curl(&[
        "-r",
        "0-9",
        "-H",
        "If-Range: Mon, 01 Jan 2001 00:00:00 GMT",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &url,
    ]);
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(header(&head, "Accept-Ranges"), Some("bytes"));
    assert_eq!(header(&head, "Content-Length"), Some(whole.len().to_string().as_str()));
}

/// Content types as `python3 -m http.server` gives them on the same machine: both read its
/// mime.types files (where it has them) before their built-in tables.
#[test]
fn content_types_follow_the_machines_mime_types_as_python_does() {
    let site = tempfile::tempdir().unwrap();
    let names = [
        "a.py", "a.xml", "a.sh", "a.wav", "a.js", "a.json", "a.csv", "a.txt", "a.html", "a.png", "a.gz", "a.PY",
    ];
    for name in names {
        std::fs::write(site.path().join(name), "x").unwrap();
    }
    let python = cpython_server(site.path(), "HTTP/1.0");
    let ours = our_server(site.path(), "HTTP/1.0");
    let content_type = |addr: std::net::SocketAddr, name: &str| {
        let raw = raw_exchange(addr, format!("HEAD /{name} HTTP/1.0\r\n\r\n").as_bytes());
        let (head, _) = split_response(&raw);
        header(&head, "Content-Type").map(str::to_string)
    };
    let python_addr: std::net::SocketAddr = format!("127.0.0.1:{}", python.port).parse().unwrap();
    let with_table = std::path::Path::new("/etc/mime.types").exists();
    for name in names {
        let theirs = content_type(python_addr, name);
        let mine = content_type(ours.local_addr(), name);
        if with_table || !["a.xml", "a.sh", "a.wav", "a.PY"].contains(&name) {
            assert_eq!(mine, theirs, "{name}");
        }
    }
}

/// A bind address that is neither an address nor a name says which it was given. The name
/// lookup it causes stays inside a network namespace of the test's own (no resolver there).
#[test]
fn a_bad_bind_address_is_named() {
    if !Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: this machine makes no network namespace (unshare -n)");
        return;
    }
    let out = Command::new("unshare")
        .arg("-n")
        .arg(httplib_bin!())
        .args(["serve", "-b", "999.1.1.1", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("httplib serve: --bind 999.1.1.1: not an address"),
        "{err}"
    );
}

/// Under `ulimit -v 4000000` the instance pool (terabytes of address space) cannot be
/// reserved: the server says so and makes its instances on demand, and serves.
#[test]
fn a_limited_address_space_falls_back_to_instances_on_demand() {
    use std::io::{BufRead, BufReader};
    let dir = fixture_dir();
    let port = free_port();
    let script = format!(
        "ulimit -v 4000000 && exec {} serve {port} --bind 127.0.0.1 --directory {}",
        httplib_bin!().display(),
        dir.path().display()
    );
    let child = Command::new("sh")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut peer = Peer { child, port };
    let mut stderr = BufReader::new(peer.child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("httplib serve: cannot reserve the instance pool (")
            && line.ends_with("making instances on demand instead\n"),
        "{line}"
    );
    wait_for_port(port);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..3 {
        let raw = raw_exchange(addr, b"GET /hello.txt HTTP/1.0\r\n\r\n");
        assert_eq!(split_response(&raw).1, b"hello, world\n");
    }
}

/// Names that are not UTF-8 (a Latin-1 file name, a folder whose name has a stray byte) are
/// listed as `python3 -m http.server` lists them, byte for byte: the name as the bytes it is,
/// the link as surrogatepass quoting writes it.
#[test]
fn names_that_are_not_utf8_are_listed_as_python_lists_them() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join(OsStr::from_bytes(b"caf\xe9 <1>.txt")), "x").unwrap();
    std::fs::write(site.path().join("ok.txt"), "y").unwrap();
    std::fs::create_dir(site.path().join(OsStr::from_bytes(b"d\xff"))).unwrap();
    std::os::unix::fs::symlink("ok.txt", site.path().join("link")).unwrap();
    let python = cpython_server(site.path(), "HTTP/1.0");
    let ours = our_server(site.path(), "HTTP/1.0");
    let python_addr: std::net::SocketAddr = format!("127.0.0.1:{}", python.port).parse().unwrap();
    let theirs = split_response(&raw_exchange(python_addr, b"GET / HTTP/1.0\r\n\r\n")).1;
    let mine = split_response(&raw_exchange(ours.local_addr(), b"GET / HTTP/1.0\r\n\r\n")).1;
    assert!(
        mine.windows(b"caf\xe9 &lt;1&gt;.txt".len())
            .any(|w| w == b"caf\xe9 &lt;1&gt;.txt"),
        "{}",
        String::from_utf8_lossy(&mine)
    );
    assert_eq!(String::from_utf8_lossy(&mine), String::from_utf8_lossy(&theirs));
    assert!(mine == theirs, "byte for byte");
}
