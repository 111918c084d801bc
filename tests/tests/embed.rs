//! Host code playing do_METHOD over the guest's handler (the `do_methods` example's own
//! handler), and the sandbox's promise: a guest that fails loses its own connection only, and
//! an instance kept for the next connection shows it nothing of the last (`instance_reuse`).

#[allow(dead_code)]
#[path = "../../host/examples/do_methods.rs"]
mod do_methods;
#[path = "embed/instance_reuse.rs"]
mod instance_reuse;

use httplib_host::server::{Server, ServerConfig};
use httplib_host::{Runtime, RuntimeOptions};
use httplib_tests::*;
use std::process::Command;
use std::sync::Arc;

fn example_server(dir: &std::path::Path) -> httplib_host::server::ServerHandle {
    let config = ServerConfig {
        directory: dir.to_path_buf(),
        protocol_version: "HTTP/1.1".into(),
        log_requests: false,
        handler: Some(Arc::new(do_methods::handle)),
        ..ServerConfig::default()
    };
    Server::bind("127.0.0.1:0".parse().unwrap(), runtime(), config)
        .unwrap()
        .spawn()
        .unwrap()
}

#[test]
fn host_code_answers_get_and_post_and_falls_back_to_files() {
    let dir = fixture_dir();
    let server = example_server(dir.path());
    let base = format!("http://{}", server.local_addr());
    let curl = |args: &[&str]| {
        let out = Command::new("curl").args(["-s"]).args(args).output().unwrap();
        assert!(out.status.success());
        out.stdout
    };
    assert_eq!(curl(&[&format!("{base}/hello")]), b"hello from host code\n");
    let payload = pseudo_random(300_000, 3);
    let payload_file = dir.path().join("payload.bin");
    std::fs::write(&payload_file, &payload).unwrap();
    let echoed = curl(&[
        "--data-binary",
        &format!("@{}", payload_file.display()),
        &format!("{base}/echo"),
    ]);
    assert!(echoed == payload, "echo differs ({} bytes back)", echoed.len());
    // Chunked request bodies reach do_POST de-chunked.
    let echoed = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "chunky",
        &format!("{base}/echo"),
    ]);
    assert_eq!(echoed, b"chunky");
    assert_eq!(curl(&[&format!("{base}/hello.txt")]), b"hello, world\n");
}

#[test]
fn missing_do_method_is_501_and_unread_bodies_never_become_requests() {
    let dir = fixture_dir();
    let server = example_server(dir.path());
    // PUT has no do_PUT: 501 (which closes, as send_error does).
    let raw = raw_exchange(
        server.local_addr(),
        b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert!(
        raw.starts_with(b"HTTP/1.1 501 Unsupported method ('PUT')\r\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    // A request whose handler never reads its body (GET /hello with a body, answered 200
    // keep-alive): the body is drained, never parsed as a request.
    let smuggled = b"GET /site/index.html HTTP/1.1\r\nHost: h\r\n\r\n";
    let mut req = format!(
        "GET /hello HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
        smuggled.len()
    )
    .into_bytes();
    req.extend_from_slice(smuggled);
    req.extend_from_slice(b"GET /hello.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    let raw = String::from_utf8_lossy(&raw_exchange(server.local_addr(), &req)).into_owned();
    assert_eq!(raw.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{raw}");
    assert!(
        raw.contains("hello from host code") && raw.ends_with("hello, world\n"),
        "{raw}"
    );
    assert!(
        !raw.contains("<h1>index</h1>"),
        "the body was served as a request: {raw}"
    );
    // The same with a chunked body: unread, the connection is closed rather than misread.
    let chunk = format!(
        "{:X}\r\n{}\r\n0\r\n\r\n",
        smuggled.len(),
        String::from_utf8_lossy(smuggled)
    );
    let req = format!(
        "GET /hello HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n"
    );
    let raw = String::from_utf8_lossy(&raw_exchange(server.local_addr(), req.as_bytes())).into_owned();
    assert_eq!(raw.matches("HTTP/1.1 ").count(), 1, "one response, then close: {raw}");
    assert!(
        raw.starts_with("HTTP/1.1 200 OK\r\n") && !raw.contains("<h1>index</h1>"),
        "{raw}"
    );
}

#[test]
fn a_guest_out_of_memory_loses_only_its_own_connection() {
    let dir = fixture_dir();
    // Small enough that 60 header lines of 60 KB (3.6 MB held by the guest) cannot fit.
    let runtime = Arc::new(
        Runtime::with_options(RuntimeOptions {
            memory_limit: 3 * 1024 * 1024,
            ..RuntimeOptions::default()
        })
        .unwrap(),
    );
    let config = ServerConfig {
        directory: dir.path().to_path_buf(),
        log_requests: false,
        ..ServerConfig::default()
    };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), runtime, config)
        .unwrap()
        .spawn()
        .unwrap();
    let ok = raw_exchange(server.local_addr(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
    assert!(
        ok.ends_with(b"hello, world\n"),
        "a normal request must fit: {}",
        String::from_utf8_lossy(&ok)
    );
    let mut big = b"GET /hello.txt HTTP/1.0\r\n".to_vec();
    for i in 0..60 {
        big.extend_from_slice(format!("X-Big-{i}: {}\r\n", "v".repeat(60_000)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    let lost = try_raw_exchange(server.local_addr(), &big).unwrap_or_default();
    assert!(
        !lost.starts_with(b"HTTP/1.0 200"),
        "the oversized request should not have been served"
    );
    for _ in 0..3 {
        let ok = raw_exchange(server.local_addr(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
        assert!(
            ok.ends_with(b"hello, world\n"),
            "server must survive: {}",
            String::from_utf8_lossy(&ok)
        );
    }
}
