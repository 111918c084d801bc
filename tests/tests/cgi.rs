//! CGIHTTPRequestHandler done the sandboxed way: a WebAssembly script under /cgi-bin runs with
//! CPython's CGI/1.1 environment and the request body on stdin, and cannot see the server's
//! files; native scripts are refused with 403; a failing script costs only its own request.

use httplib_host::server::{ServerConfig, ServerHandle};
use httplib_tests::*;
use std::path::Path;
use std::process::Command;

/// A served directory with the test script at /cgi-bin/env.wasm and a native one beside it.
fn cgi_site() -> tempfile::TempDir {
    let dir = fixture_dir();
    let bin = dir.path().join("cgi-bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(env!("CGI_SCRIPT_WASM"), bin.join("env.wasm")).unwrap();
    let native = bin.join("native.sh");
    let marker = dir.path().join("native-ran");
    std::fs::write(
        &native,
        format!("#!/bin/sh\ntouch {}\necho\necho ran\n", marker.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&native, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn cgi_server(dir: &Path, protocol: &str) -> ServerHandle {
    our_server_with(ServerConfig {
        directory: dir.to_path_buf(),
        protocol_version: protocol.into(),
        log_requests: false,
        cgi_directories: vec!["/cgi-bin".into(), "/htbin".into()],
        ..ServerConfig::default()
    })
}

fn get(addr: std::net::SocketAddr, request: &str) -> (String, String) {
    let (head, body) = split_response(&raw_exchange(addr, request.as_bytes()));
    (head, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn cpython_client_posts_to_a_wasm_script_and_it_sees_the_cgi_environment() {
    let dir = cgi_site();
    let server = cgi_server(dir.path(), "HTTP/1.1");
    let port = server.local_addr().port();
    let script = r#"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
c.request("POST", "/cgi-bin/env.wasm/extra%20path?x=1&y=2", body=b"name=value&more",
          headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "a=1",
                   "Authorization": "Basic dXNlcjpwYXNz", "User-Agent": "cpython-test"})
r = c.getresponse()
print(r.status, r.reason, r.getheader("Content-Type"))
sys.stdout.write(r.read().decode())
"#;
    let out = Command::new("python3")
        .args(["-c", script, &port.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("200 OK text/plain"));
    let body: Vec<&str> = lines.collect();
    for want in [
        "argv=[\"env.wasm\"]",
        "GATEWAY_INTERFACE=CGI/1.1",
        "REQUEST_METHOD=POST",
        "SCRIPT_NAME=/cgi-bin/env.wasm",
        "PATH_INFO=/extra path",
        "QUERY_STRING=x=1&y=2",
        "CONTENT_TYPE=application/x-www-form-urlencoded",
        "CONTENT_LENGTH=15",
        "HTTP_COOKIE=a=1",
        "HTTP_USER_AGENT=cpython-test",
        "AUTH_TYPE=Basic",
        "REMOTE_USER=user",
        "REMOTE_ADDR=127.0.0.1",
        "SERVER_NAME=127.0.0.1",
        "SERVER_PROTOCOL=HTTP/1.1",
        "SERVER_SOFTWARE=SimpleHTTP/0.6 httplib/0.1.0",
        "stdin=name=value&more",
        "can_read_root=false",
    ] {
        assert!(body.contains(&want), "{want:?} missing from:\n{text}");
    }
    assert!(body.contains(&format!("SERVER_PORT={port}").as_str()), "{text}");
    // Only CGI variables: nothing of the server's own environment leaks in.
    assert!(
        !body.iter().any(|l| l.starts_with("PATH=") || l.starts_with("HOME=")),
        "{text}"
    );
}

/// A chunked body's data (what a client decodes), from a raw response body.
fn dechunk(mut body: &[u8]) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            return (data, false);
        };
        let size = usize::from_str_radix(std::str::from_utf8(&body[..eol]).unwrap(), 16).unwrap();
        body = &body[eol + 2..];
        if size == 0 {
            return (data, body.starts_with(b"\r\n"));
        }
        if body.len() < size + 2 {
            data.extend_from_slice(&body[..body.len().min(size)]);
            return (data, false);
        }
        data.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[test]
fn script_output_is_framed_by_the_server_and_keeps_the_connection() {
    let dir = cgi_site();
    let server = cgi_server(dir.path(), "HTTP/1.1");
    let addr = server.local_addr();
    // HTTP/1.1, no Content-Length from the script: chunked, and the connection stays for the
    // next request (two on one connection, the second closing it).
    let raw = raw_exchange(
        addr,
        b"GET /cgi-bin/env.wasm?plain+words HTTP/1.1\r\nHost: x\r\n\r\nGET /cgi-bin/env.wasm/sized HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&raw).into_owned();
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{text}");
    let (head, rest) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        header(&head, "Server").is_some() && header(&head, "Date").is_some(),
        "{head}"
    );
    assert_eq!(header(&head, "Content-Type"), Some("text/plain"));
    assert_eq!(header(&head, "Transfer-Encoding"), Some("chunked"));
    let (body, whole) = dechunk(&rest);
    assert!(whole, "the final chunk came");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("argv=[\"env.wasm\", \"plain words\"]\n"), "{body}");
    assert!(body.contains("REQUEST_METHOD=GET\n"), "{body}");
    assert!(
        text.ends_with("Content-Length: 6\r\n\r\nsized\n") || text.contains("\r\n\r\nsized\n"),
        "{text}"
    );
    // HTTP/1.0: the close ends the body, and says so.
    let (head, body) = get(addr, "GET /cgi-bin/env.wasm HTTP/1.0\r\n\r\n");
    assert_eq!(header(&head, "Connection"), Some("close"), "{head}");
    assert!(body.contains("GATEWAY_INTERFACE=CGI/1.1"), "{body}");
    // HEAD gets the head only.
    let raw = raw_exchange(addr, b"HEAD /cgi-bin/env.wasm HTTP/1.0\r\n\r\n");
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(body.is_empty(), "{}", String::from_utf8_lossy(&body));
}

/// RFC 3875 6.3.3: the script's `Status:` is the response's status line (as nginx, Apache and
/// every FastCGI server send it); CPython's CGIHTTPRequestHandler sends its own 200 and the
/// script's Status as an ordinary header, measured here beside ours with the same script.
#[test]
fn the_scripts_status_is_the_status_line_where_cpython_sends_200() {
    let dir = cgi_site();
    let server = cgi_server(dir.path(), "HTTP/1.0");
    let addr = server.local_addr();
    let (head, body) = get(addr, "GET /cgi-bin/env.wasm/notfound HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.0 404 Not Found\r\n"), "{head}");
    assert!(header(&head, "Status").is_none(), "{head}");
    assert_eq!(body, "no such thing\n");
    let (head, _) = get(addr, "GET /cgi-bin/env.wasm/redirect HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.0 302 Found\r\n"), "{head}");
    assert_eq!(header(&head, "Location"), Some("/elsewhere"));

    // CPython with a Python script that prints the same block.
    let site = tempfile::tempdir().unwrap();
    let bin = site.path().join("cgi-bin");
    std::fs::create_dir(&bin).unwrap();
    let script = bin.join("notfound.py");
    std::fs::write(
        &script,
        "#!/usr/bin/env python3\nprint(\"Status: 404 Not Found\\r\\nContent-Type: text/plain\\r\\n\\r\\nno such thing\")\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port();
    let peer = python_peer(
        "import http.server, sys, os, warnings; warnings.simplefilter('ignore'); os.chdir(sys.argv[2]); \
         http.server.test(HandlerClass=http.server.CGIHTTPRequestHandler, port=int(sys.argv[1]), bind='127.0.0.1')",
        port,
        &[site.path().as_os_str()],
    );
    let (head, _) = get(
        ([127, 0, 0, 1], peer.port).into(),
        "GET /cgi-bin/notfound.py HTTP/1.0\r\n\r\n",
    );
    assert!(
        head.starts_with("HTTP/1.0 200 Script output follows\r\n"),
        "CPython: {head}"
    );
    assert_eq!(header(&head, "Status"), Some("404 Not Found"), "CPython: {head}");
}

#[test]
fn a_scripts_lines_arrive_as_it_prints_them() {
    use std::io::{BufRead, Write};
    let dir = cgi_site();
    let server = cgi_server(dir.path(), "HTTP/1.1");
    let mut conn = std::net::TcpStream::connect(server.local_addr()).unwrap();
    let started = std::time::Instant::now();
    conn.write_all(b"GET /cgi-bin/env.wasm/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reader = std::io::BufReader::new(conn);
    let mut arrivals = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        if line.starts_with("line ") {
            arrivals.push((line.trim().to_string(), started.elapsed()));
        }
        line.clear();
    }
    let names: Vec<&str> = arrivals.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(names, ["line 1", "line 2", "line 3"]);
    // The script takes 1.5 s; its first line comes at once, not with the rest at its end.
    let (first, last) = (arrivals[0].1, arrivals[2].1);
    assert!(last - first >= std::time::Duration::from_millis(800), "{arrivals:?}");
}

#[test]
fn a_script_stopped_by_a_limit_leaves_the_body_visibly_cut() {
    let dir = cgi_site();
    let server = cgi_server(dir.path(), "HTTP/1.1");
    let raw = raw_exchange(
        server.local_addr(),
        b"GET /cgi-bin/env.wasm/hog HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let (head, rest) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let (body, whole) = dechunk(&rest);
    assert_eq!(body, b"before the limit\n");
    assert!(!whole, "no final chunk after a script the memory limit stopped");
    // curl sees it as a transfer cut short.
    if Command::new("curl").arg("--version").output().is_ok() {
        let url = format!("http://{}/cgi-bin/env.wasm/hog", server.local_addr());
        let out = Command::new("curl").args(["-s", &url]).output().unwrap();
        assert_eq!(out.status.code(), Some(18), "curl: partial file");
    }
}

#[test]
fn a_burst_of_scripts_past_the_limit_is_503_with_retry_after_never_403() {
    let dir = cgi_site();
    // A runtime of its own: the script places it fills are not the other tests'.
    let runtime = std::sync::Arc::new(httplib_host::Runtime::new().unwrap());
    let config = ServerConfig {
        directory: dir.path().to_path_buf(),
        log_requests: false,
        cgi_directories: vec!["/cgi-bin".into()],
        ..ServerConfig::default()
    };
    let server = httplib_host::server::Server::bind("127.0.0.1:0".parse().unwrap(), runtime, config)
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let burst = httplib_host::cgi::MAX_CONCURRENT_SCRIPTS + 16;
    let answers: Vec<String> = std::thread::scope(|s| {
        let requests: Vec<_> = (0..burst)
            .map(|_| s.spawn(move || get(addr, "GET /cgi-bin/env.wasm/slow HTTP/1.0\r\n\r\n").0))
            .collect();
        requests.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let ok = answers.iter().filter(|h| h.starts_with("HTTP/1.0 200 ")).count();
    let busy: Vec<&String> = answers.iter().filter(|h| h.starts_with("HTTP/1.0 503 ")).collect();
    assert_eq!(ok + busy.len(), burst, "{answers:?}");
    assert!(ok <= httplib_host::cgi::MAX_CONCURRENT_SCRIPTS, "{ok} ran at once");
    assert!(!busy.is_empty(), "{burst} at once: some wait for a place");
    assert!(busy.iter().all(|h| header(h, "Retry-After") == Some("1")), "{busy:?}");
}

#[test]
fn native_scripts_are_refused_and_never_run() {
    let dir = cgi_site();
    let server = cgi_server(dir.path(), "HTTP/1.0");
    let (head, body) = get(server.local_addr(), "GET /cgi-bin/native.sh HTTP/1.0\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.0 403 CGI script is not executable ('/cgi-bin/native.sh')\r\n"),
        "{head}"
    );
    assert!(
        body.contains("Only WebAssembly components run as CGI scripts here"),
        "{body}"
    );
    assert!(!dir.path().join("native-ran").exists());
    // A core module (not a component) is refused the same way.
    std::fs::write(dir.path().join("cgi-bin/core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let (head, _) = get(server.local_addr(), "GET /cgi-bin/core.wasm HTTP/1.0\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.0 403 CGI script is not executable ('/cgi-bin/core.wasm')"),
        "{head}"
    );
}

#[test]
fn cpythons_errors_for_missing_scripts_directories_and_post_elsewhere() {
    let dir = cgi_site();
    let server = cgi_server(dir.path(), "HTTP/1.0");
    let addr = server.local_addr();
    let (head, _) = get(addr, "GET /cgi-bin/nope HTTP/1.0\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.0 404 No such CGI script ('/cgi-bin/nope')\r\n"),
        "{head}"
    );
    let (head, _) = get(addr, "GET /cgi-bin/ HTTP/1.0\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.0 403 CGI script is not a plain file ('/cgi-bin/')\r\n"),
        "{head}"
    );
    let (head, _) = get(addr, "POST /hello.txt HTTP/1.0\r\nContent-Length: 2\r\n\r\nab");
    assert!(
        head.starts_with("HTTP/1.0 501 Can only POST to CGI scripts\r\n"),
        "{head}"
    );
    // Files outside the CGI directories are still served as files.
    let (head, body) = get(addr, "GET /hello.txt HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert_eq!(body, "hello, world\n");
}

#[test]
fn a_failing_or_trapping_script_costs_only_its_request() {
    let dir = cgi_site();
    let server = cgi_server(dir.path(), "HTTP/1.0");
    let addr = server.local_addr();
    // Both write nothing: the client gets a 500 saying so rather than a bare 200 line.
    let (head, body) = get(addr, "GET /cgi-bin/env.wasm/exit3 HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.0 500 CGI script failed\r\n"), "{head}");
    // wasi:cli 0.2's exit carries success or failure only: exit(3) arrives as status 1.
    assert!(body.contains("exited with status 0x1"), "{body}");
    let (head, body) = get(addr, "GET /cgi-bin/env.wasm/trap HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.0 500 CGI script failed\r\n"), "{head}");
    assert!(body.contains("The script was stopped: it trapped"), "{body}");
    assert!(
        !body.contains("wasm") && !body.contains("backtrace"),
        "no wasmtime words: {body}"
    );
    let (head, body) = get(addr, "GET /cgi-bin/env.wasm HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.0 200 "), "{head}");
    assert!(body.contains("GATEWAY_INTERFACE=CGI/1.1"), "{body}");
}

#[test]
fn the_cli_runs_scripts_only_with_dash_dash_cgi() {
    let dir = cgi_site();
    let bin = httplib_bin!();
    let (plain, _) = cli_server(&bin, dir.path(), &[]);
    let addr = ([127, 0, 0, 1], plain.port).into();
    // Without --cgi the script is a file like any other, and POST is CPython's 501.
    let raw = raw_exchange(addr, b"GET /cgi-bin/env.wasm HTTP/1.0\r\n\r\n");
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert_eq!(body, std::fs::read(env!("CGI_SCRIPT_WASM")).unwrap());
    let (head, _) = get(addr, "POST /cgi-bin/env.wasm HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.0 501 Unsupported method ('POST')\r\n"),
        "{head}"
    );
    drop(plain);
    let (cgi, _) = cli_server(&bin, dir.path(), &["--cgi"]);
    let out = Command::new("curl")
        .args(["-s", "-d", "from curl"])
        .arg(format!("http://127.0.0.1:{}/cgi-bin/env.wasm/p", cgi.port))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("stdin=from curl\n") && text.contains("PATH_INFO=/p\n"),
        "{text}"
    );
}

#[test]
fn a_body_too_large_for_a_script_gets_413_and_the_server_carries_on() {
    let dir = cgi_site();
    let server = cgi_server(dir.path(), "HTTP/1.0");
    let port = server.local_addr().port().to_string();
    // 17 MiB, sent whole by CPython's client (declared and chunked), the answer then read.
    let script = r#"
import http.client, sys
body = b"x" * (17 * 1024 * 1024)
for chunked in (False, True):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
    if chunked:
        c.request("POST", "/cgi-bin/env.wasm", body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                  encode_chunked=True)
    else:
        c.request("POST", "/cgi-bin/env.wasm", body=body)
    r = c.getresponse()
    print(r.status, r.reason)
    c.close()
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
c.request("POST", "/cgi-bin/env.wasm", body=b"small")
r = c.getresponse()
print(r.status, b"CONTENT_LENGTH=5" in r.read())
"#;
    let out = Command::new("python3").args(["-c", script, &port]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "413 Request Entity Too Large\n413 Request Entity Too Large\n200 True\n"
    );
}

/// A script that calls out (guest/sdk/examples/cgi_fetch.rs): `?URL` fetched with httplib's
/// client, composed in by the server, its sockets limited to `--cgi-allow`.
#[test]
fn a_script_that_imports_the_client_reaches_only_what_cgi_allow_grants() {
    let site = cgi_site();
    std::fs::copy(env!("CGI_FETCH_WASM"), site.path().join("cgi-bin/fetch.wasm")).unwrap();
    let upstream_dir = fixture_dir();
    let upstream = cpython_server(upstream_dir.path(), "HTTP/1.1");
    let granted = format!("http://127.0.0.1:{}", upstream.port);
    let bin = httplib_bin!();
    let curl = |port: u16, url: &str| {
        let out = Command::new("curl")
            .args(["-s", "-i"])
            .arg(format!("http://127.0.0.1:{port}/cgi-bin/fetch.wasm?{url}"))
            .output()
            .unwrap();
        out.stdout
    };

    let (server, _) = cli_server(&bin, site.path(), &["--cgi", "--cgi-allow", &granted]);
    let (head, body) = split_response(&curl(server.port, &format!("{granted}/big.bin")));
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(body == pseudo_random(5 * 1024 * 1024, 7), "{} bytes", body.len());
    // Another origin on the same machine (this very server) is refused inside the script.
    let own = format!("http://127.0.0.1:{}/hello.txt", server.port);
    let (head, body) = split_response(&curl(server.port, &own));
    assert!(head.starts_with("HTTP/1.0 502 Bad Gateway\r\n"), "{head}");
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains(&format!(
            "PermissionError: denied by host policy: connection to http://127.0.0.1:{} (127.0.0.1, loopback) is not allowed by the policy",
            server.port
        )),
        "{body}"
    );
    drop(server);

    // Without --cgi-allow, nothing.
    let (server, _) = cli_server(&bin, site.path(), &["--cgi"]);
    let (head, body) = split_response(&curl(server.port, &format!("{granted}/hello.txt")));
    assert!(head.starts_with("HTTP/1.0 502 Bad Gateway\r\n"), "{head}");
    assert!(
        String::from_utf8_lossy(&body).contains("is not allowed by the policy"),
        "{body:?}"
    );
}

/// Slow uploads to a script, more of them than the server answers at once: each waiting
/// upload is parked with what arrived of its body (no instance held), so a new client is
/// answered meanwhile and every script then gets its whole body. Without parking the same
/// uploads hold every instance and the rest get 503.
#[test]
fn slow_uploads_to_a_script_wait_parked_and_each_script_gets_its_whole_body() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;
    const ANSWERED_AT_ONCE: usize = 2;
    const UPLOADS: usize = 6;
    let dir = cgi_site();
    let answers = |park_after: Option<Duration>| {
        let server = our_server_with(ServerConfig {
            directory: dir.path().to_path_buf(),
            protocol_version: "HTTP/1.1".into(),
            log_requests: false,
            cgi_directories: vec!["/cgi-bin".into()],
            max_connections: ANSWERED_AT_ONCE,
            park_after,
            ..ServerConfig::default()
        });
        let addr = server.local_addr();
        // Each sends its head and 2 of its 12 body bytes, and waits (past the park delay).
        let mut uploads: Vec<TcpStream> = (0..UPLOADS)
            .map(|i| {
                let mut s = TcpStream::connect(addr).unwrap();
                let head = format!("POST /cgi-bin/env.wasm/{i} HTTP/1.0\r\nContent-Length: 12\r\n\r\nab");
                s.write_all(head.as_bytes()).unwrap();
                // Past the park delay: the instance it took is free again for the next.
                std::thread::sleep(Duration::from_millis(200));
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        let (fresh, _) = get(addr, "GET / HTTP/1.0\r\n\r\n");
        // The rest in two pieces, each after a wait: parked again between them. One
        // connection at a time: a parked one coming back when every instance is taken is
        // answered 503, as a new one would be.
        for s in &mut uploads {
            s.write_all(b"cdefg").unwrap();
            std::thread::sleep(Duration::from_millis(200));
        }
        // Each closed once answered: its slot is free when the server's lingering close sees it.
        let heads_and_bodies: Vec<(String, String)> = uploads
            .into_iter()
            .map(|mut s| {
                let _ = s.write_all(b"hijkl");
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut raw = Vec::new();
                let _ = s.read_to_end(&mut raw);
                let (head, body) = split_response(&raw);
                (head, String::from_utf8_lossy(&body).into_owned())
            })
            .collect();
        (fresh, heads_and_bodies)
    };

    let status = |head: &str| head.split(' ').nth(1).unwrap_or("").to_string();
    let (fresh, uploads) = answers(Some(httplib_host::server::PARK_AFTER));
    assert_eq!(status(&fresh), "200", "{fresh}");
    for (i, (head, body)) in uploads.iter().enumerate() {
        assert_eq!(status(head), "200", "upload {i}: {head}");
        assert!(body.contains("stdin=abcdefghijkl\n"), "upload {i}: {body}");
        assert!(body.contains(&format!("PATH_INFO=/{i}\n")), "upload {i}: {body}");
        assert!(body.contains("CONTENT_LENGTH=12\n"), "upload {i}: {body}");
    }

    // Without parking, the waiting uploads hold every instance.
    let (fresh, uploads) = answers(None);
    let busy = uploads.iter().filter(|(head, _)| status(head) == "503").count();
    assert_eq!(status(&fresh), "503", "{fresh}");
    assert_eq!(busy, UPLOADS - ANSWERED_AT_ONCE, "{uploads:?}");
}
