//! `httplib serve --app`: the SDK's handler component (guest/sdk/examples/hello_handler.rs)
//! composed with the guest and served over real sockets, asked by curl, CPython's
//! http.client and raw bytes: every route, keep-alive, chunked bodies, a trap that loses one
//! connection, a loop stopped by the CPU limit, the policy on its outbound connections, and
//! what is not a handler component refused.

use httplib_tests::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const HELLO: &str = env!("HELLO_HANDLER_WASM");
const SPIN: &str = env!("SPIN_HANDLER_WASM");
const FETCH_APP: &str = env!("FETCH_APP_WASM");

/// `httplib serve --app APP` over `dir`, with `extra` arguments.
fn serve_app(app: &str, dir: &Path, extra: &[&str]) -> Peer {
    let mut args = vec!["--app", app];
    args.extend_from_slice(extra);
    let (peer, banner) = cli_server(&httplib_bin!(), dir, &args);
    assert!(banner.starts_with("Serving HTTP"), "{banner}");
    peer
}

fn addr(peer: &Peer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], peer.port))
}

/// Python code run with `python3 -c`, its stdout.
fn python(code: &str) -> String {
    let out = Command::new("python3").args(["-c", code]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").arg("-sS").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_route_answers_curl_and_http_client_as_the_example_says() {
    let dir = fixture_dir();
    std::fs::write(dir.path().join("page.txt"), b"a page\n").unwrap();
    let peer = serve_app(HELLO, dir.path(), &["-p", "HTTP/1.1"]);
    let base = format!("http://127.0.0.1:{}", peer.port);

    // http.client: one connection kept alive across every route; a chunked POST.
    let script = format!(
        r#"
import http.client
c = http.client.HTTPConnection("127.0.0.1", {port})
def ask(method, path, body=None, headers={{}}, **kw):
    c.request(method, path, body=body, headers=headers, **kw)
    r = c.getresponse()
    data = r.read()
    print(r.status, r.getheader("Content-Type"), repr(data))
ask("GET", "/hello?name=Ada%20Lovelace")
ask("GET", "/hello")
ask("GET", "/hello?name=caf%C3%A9+au+lait")
ask("POST", "/echo", b"x" * 100000, {{"Content-Type": "application/x-test"}})
ask("POST", "/echo", iter([b"chunk one ", b"chunk two"]), {{"Content-Type": "text/plain"}}, encode_chunked=True)
ask("GET", "/page.txt")
ask("HEAD", "/page.txt")
ask("GET", "/missing")
ask("PUT", "/x", b"")
"#,
        port = peer.port
    );
    let out = python(&script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "200 text/plain; charset=utf-8 b'Hello, Ada Lovelace!\\n'");
    assert_eq!(lines[1], "200 text/plain; charset=utf-8 b'Hello, world!\\n'");
    assert_eq!(
        lines[2],
        "200 text/plain; charset=utf-8 b'Hello, caf\\xc3\\xa9 au lait!\\n'"
    );
    assert!(lines[3].starts_with("200 application/x-test b'xxxx"), "{}", lines[3]);
    assert_eq!(lines[3].matches('x').count(), 100000 + 1, "the whole body back");
    assert_eq!(lines[4], "200 text/plain b'chunk one chunk two'");
    assert_eq!(lines[5], "200 text/plain b'a page\\n'");
    assert_eq!(lines[6], "200 text/plain b''");
    assert!(lines[7].starts_with("404 text/html;charset=utf-8"), "{}", lines[7]);
    assert!(lines[8].starts_with("501 text/html;charset=utf-8"), "{}", lines[8]);
    assert!(
        lines[8].contains(r"Message: Unsupported method (\'PUT\')."),
        "{}",
        lines[8]
    );

    if curl_here() {
        assert_eq!(curl(&[&format!("{base}/hello?name=X")]), "Hello, X!\n");
        // HTTP/1.0 too, and a POST body sent chunked by curl.
        assert_eq!(curl(&["-0", &format!("{base}/hello?name=ten")]), "Hello, ten!\n");
        let echoed = curl(&[
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            "Content-Type: text/x-curl",
            "--data-binary",
            "from curl",
            "-w",
            " %{content_type} %{http_code}",
            &format!("{base}/echo"),
        ]);
        assert_eq!(echoed, "from curl text/x-curl 200");
        let head = curl(&["-i", "-X", "DELETE", &format!("{base}/hello")]);
        assert!(
            head.starts_with("HTTP/1.1 501 Unsupported method ('DELETE')\r\n"),
            "{head}"
        );
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection_in_both_versions() {
    let dir = fixture_dir();
    let peer = serve_app(HELLO, dir.path(), &["-p", "HTTP/1.1"]);
    let mut conn = TcpStream::connect(addr(&peer)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut pipelined = Vec::new();
    for name in ["a", "b", "c"] {
        pipelined.extend_from_slice(format!("GET /hello?name={name} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    pipelined.extend_from_slice(b"GET /hello?name=last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    conn.write_all(&pipelined).unwrap();
    let mut all = Vec::new();
    conn.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 4, "{text}");
    for name in ["a", "b", "c", "last"] {
        assert!(text.contains(&format!("Hello, {name}!\n")), "{text}");
    }
    // HTTP/1.0 with keep-alive asked for: two answers on one connection.
    let mut conn = TcpStream::connect(addr(&peer)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    conn.write_all(
        b"GET /hello?name=one HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello?name=two HTTP/1.0\r\n\r\n",
    )
    .unwrap();
    let mut all = Vec::new();
    conn.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.contains("Hello, one!\n") && text.contains("Hello, two!\n"),
        "{text}"
    );
}

#[test]
fn a_panicking_app_loses_its_connection_with_500_and_the_next_one_is_served() {
    let dir = fixture_dir();
    let peer = serve_app(HELLO, dir.path(), &["-p", "HTTP/1.1"]);
    let raw = raw_exchange(addr(&peer), b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 500 Internal Server Error\r\n"), "{head}");
    assert_eq!(header(&head, "Connection"), Some("close"));
    assert!(String::from_utf8_lossy(&body).contains("Error code: 500"));
    let raw = raw_exchange(
        addr(&peer),
        b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(raw.ends_with(b"Hello, world!\n"), "{}", String::from_utf8_lossy(&raw));
}

#[test]
fn a_looping_app_is_stopped_by_the_cpu_limit_while_others_are_served() {
    let dir = fixture_dir();
    let peer = serve_app(SPIN, dir.path(), &["--cpu-limit", "1"]);
    let target = addr(&peer);
    let spinning = std::thread::spawn(move || {
        let started = Instant::now();
        let raw = raw_exchange(target, b"GET /spin HTTP/1.0\r\n\r\n");
        (started.elapsed(), raw)
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let raw = raw_exchange(target, b"GET /other HTTP/1.0\r\n\r\n");
    assert!(raw.ends_with(b"ok\n"), "{}", String::from_utf8_lossy(&raw));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "another client waited {:?} behind the loop",
        started.elapsed()
    );
    let (took, raw) = spinning.join().unwrap();
    let (head, _) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.0 500 "), "{head}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[test]
fn fetch_is_refused_by_default_and_granted_by_allow() {
    let upstream_dir = fixture_dir();
    std::fs::write(upstream_dir.path().join("up.txt"), b"from upstream\n").unwrap();
    let upstream = cpython_server(upstream_dir.path(), "HTTP/1.0");
    let url = format!("http://127.0.0.1:{}/up.txt", upstream.port);
    let ask = format!("GET /fetch?url={url} HTTP/1.0\r\n\r\n");

    let dir = fixture_dir();
    let denied = serve_app(HELLO, dir.path(), &[]);
    let (head, body) = split_response(&raw_exchange(addr(&denied), ask.as_bytes()));
    assert!(head.starts_with("HTTP/1.0 502 "), "{head}");
    let body = String::from_utf8(body).unwrap();
    assert!(body.starts_with("PermissionError: "), "{body}");
    assert!(body.contains(&format!("127.0.0.1:{}", upstream.port)), "{body}");

    let rule = format!("http://127.0.0.1:{}", upstream.port);
    let granted = serve_app(HELLO, dir.path(), &["--allow", &rule]);
    let (head, body) = split_response(&raw_exchange(addr(&granted), ask.as_bytes()));
    assert!(head.starts_with("HTTP/1.0 200 "), "{head}");
    assert_eq!(body, b"from upstream\n");
}

#[test]
fn what_is_not_a_handler_component_is_refused_with_exit_126() {
    let dir = fixture_dir();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm at all").unwrap();
    for (app, says) in [
        (
            FETCH_APP,
            "not a handler component: it exports no httplib:http/request-handler",
        ),
        (junk.to_str().unwrap(), "not a WebAssembly component"),
    ] {
        let out = Command::new(httplib_bin!())
            .args(["serve", "0", "--bind", "127.0.0.1", "--app", app])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(126), "{app}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

/// VmRSS of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn idle_and_mid_head_connections_in_front_of_an_app_leave_a_fresh_client_answered() {
    const IDLE: usize = 500;
    const MID_HEAD: usize = 500;
    let limit = httplib_host::server::raise_open_file_limit().unwrap();
    assert!(limit >= (IDLE + MID_HEAD) as u64 + 100, "open-file limit {limit}");
    let dir = fixture_dir();
    let peer = serve_app(HELLO, dir.path(), &["-p", "HTTP/1.1"]);
    let target = addr(&peer);
    let read_answer = |s: &mut TcpStream| {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(b"Hello, idle!\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    };
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let mut s = TcpStream::connect(target).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(b"GET /hello?name=idle HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        read_answer(&mut s);
        idle.push(s);
    }
    let mid_head: Vec<TcpStream> = (0..MID_HEAD)
        .map(|_| {
            let mut s = TcpStream::connect(target).unwrap();
            s.write_all(b"GET /hello?name=slow HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    eprintln!(
        "{IDLE} idle and {MID_HEAD} mid-head connections to an app: server RSS {} MiB",
        rss_kib(peer.child.id()) / 1024
    );
    let started = Instant::now();
    let raw = raw_exchange(
        target,
        b"GET /hello?name=fresh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(raw.ends_with(b"Hello, fresh!\n"), "{}", String::from_utf8_lossy(&raw));
    eprintln!("a fresh client answered in {:?}", started.elapsed());
    // The idle ones still answer.
    for s in idle.iter_mut().step_by(50) {
        s.write_all(b"GET /hello?name=idle HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        read_answer(s);
    }
    drop(mid_head);
}
