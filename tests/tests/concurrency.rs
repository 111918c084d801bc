//! ThreadingHTTPServer and better: every connection its own instance, so slow, idle or
//! half-sent clients delay nobody; a stopping server finishes what is in flight.

use httplib_tests::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bound on how long a request that must not be delayed may take (generous: debug build,
/// loaded CI machine; a stall behind a stuck client would last until the test's own timeouts).
const NOT_DELAYED: Duration = Duration::from_secs(10);

#[test]
fn sixty_four_parallel_clients_all_get_200() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.1");
    let addr = server.local_addr();
    let threads: Vec<_> = (0..64)
        .map(|i| {
            std::thread::spawn(move || {
                let path = if i % 2 == 0 { "/hello.txt" } else { "/site/" };
                let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                raw_exchange(addr, req.as_bytes())
            })
        })
        .collect();
    for t in threads {
        let raw = t.join().unwrap();
        assert!(
            raw.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(&raw)
        );
    }
}

#[test]
fn a_half_sent_request_delays_nobody() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.1");
    let mut slow = TcpStream::connect(server.local_addr()).unwrap();
    slow.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let started = Instant::now();
    for _ in 0..5 {
        let raw = raw_exchange(server.local_addr(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
        assert!(raw.ends_with(b"hello, world\n"));
    }
    assert!(
        started.elapsed() < NOT_DELAYED,
        "served behind a stuck client: {:?}",
        started.elapsed()
    );
    // The slow client, finishing its request, is served too.
    slow.write_all(b"1\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = Vec::new();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    slow.read_to_end(&mut out).unwrap();
    assert!(out.ends_with(b"hello, world\n"), "{}", String::from_utf8_lossy(&out));
}

#[test]
fn a_thousand_idle_connections_do_not_stop_a_new_client() {
    let dir = fixture_dir();
    let server = our_server(dir.path(), "HTTP/1.1");
    let idle: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    // Let the server accept them all and give each its instance.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let out = Command::new("curl")
        .args(["-s", "-m", "20", &format!("http://{}/hello.txt", server.local_addr())])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hello, world\n");
    assert!(started.elapsed() < NOT_DELAYED);
    // And the idle ones are all still being served: each can still make a request.
    for mut s in idle.into_iter().step_by(100) {
        s.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.read_to_end(&mut out).unwrap();
        assert!(out.ends_with(b"hello, world\n"));
    }
}

#[test]
fn cli_serve_exits_zero_on_sigterm_after_finishing_in_flight_responses() {
    let dir = fixture_dir();
    let port = free_port();
    let child = Command::new(httplib_bin!())
        .args([
            "serve",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--protocol",
            "HTTP/1.1",
            "--directory",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port);
    // A keep-alive connection that stays idle, and a 5 MiB download read slowly.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut downloading = TcpStream::connect(("127.0.0.1", port)).unwrap();
    downloading
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 4096];
    let n = downloading.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut rest = first[..n].to_vec();
    downloading.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    downloading.read_to_end(&mut rest).unwrap();
    let (_, body) = split_response(&rest);
    assert_eq!(body.len(), 5 * 1024 * 1024, "the in-flight download was cut short");

    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    // SIGTERM is the graceful stop, not Ctrl-C: no KeyboardInterrupt line, only the banner.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("Serving HTTP on 127.0.0.1") && stdout.lines().count() == 1,
        "{stdout}"
    );
    // The idle keep-alive connection got its response and was then closed.
    let mut got = Vec::new();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    idle.read_to_end(&mut got).unwrap();
    assert!(got.ends_with(b"hello, world\n"));
}
