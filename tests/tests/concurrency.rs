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
    all_sixty_four_get_200(server.local_addr());
}

/// 64 clients at once, half asking for a file and half for a listing, each answered 200.
fn all_sixty_four_get_200(addr: std::net::SocketAddr) {
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

/// One keep-alive GET on `s`: the status line and the body's length (read to its end by
/// Content-Length).
fn keep_alive_get(s: &mut TcpStream, path: &str) -> (String, usize) {
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed mid-head");
        got.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&got[..head_end]).into_owned();
    let len: usize = header(&head, "Content-Length").unwrap().parse().unwrap();
    let mut body = got.len() - head_end;
    while body < len {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed mid-body");
        body += n;
    }
    (head.lines().next().unwrap_or_default().to_string(), len)
}

/// Entries in the directory the greedy clients list (nginx's autoindex and ours take tens of
/// milliseconds over it, most of it one `read-directory` call in the host).
const LISTED: usize = 20_000;
/// How long the greedy clients keep asking.
const GREEDY_FOR: Duration = Duration::from_secs(4);

#[test]
fn clients_listing_a_big_directory_over_and_over_do_not_hold_the_server() {
    let dir = fixture_dir();
    let big = dir.path().join("big");
    std::fs::create_dir(&big).unwrap();
    for i in 0..LISTED {
        std::fs::File::create(big.join(format!("entry-{i:05}.txt"))).unwrap();
    }
    let server = our_server(dir.path(), "HTTP/1.1");
    let addr = server.local_addr();
    // Two greedy clients, as many as the machine's reactor threads here: each asks for the
    // listing again as soon as it has the last one, never leaving its guest idle.
    let greedy: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let start = Instant::now();
                let mut listings = 0;
                while start.elapsed() < GREEDY_FOR {
                    let (status, len) = keep_alive_get(&mut s, "/big/");
                    assert!(status.contains(" 200 ") && len > LISTED * 20, "{status}, {len} bytes");
                    listings += 1;
                }
                listings
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile, small requests on connections of their own: each answered, none waiting
    // anywhere near as long as the greedy clients keep going (without the guest yielding
    // its thread, they waited all of it: 3 s of 3).
    let small: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let start = Instant::now();
                let (mut answered, mut worst) = (0, Duration::ZERO);
                while start.elapsed() < GREEDY_FOR / 2 {
                    let t = Instant::now();
                    let (status, len) = keep_alive_get(&mut s, "/hello.txt");
                    assert!(status.contains(" 200 ") && len == 13, "{status}, {len} bytes");
                    worst = worst.max(t.elapsed());
                    answered += 1;
                }
                (answered, worst)
            })
        })
        .collect();
    let small: Vec<(usize, Duration)> = small.into_iter().map(|t| t.join().unwrap()).collect();
    let listings: Vec<usize> = greedy.into_iter().map(|t| t.join().unwrap()).collect();
    eprintln!("{LISTED}-entry listings {listings:?}; small requests (answered, worst wait): {small:?}");
    for (answered, worst) in small {
        assert!(answered >= 5, "only {answered} small requests answered");
        assert!(worst < GREEDY_FOR / 4, "a small request waited {worst:?}");
    }
}

/// A server whose every reactor thread accepts on a listener of its own (SO_REUSEPORT).
fn every_thread_server(dir: &std::path::Path) -> httplib_host::server::ServerHandle {
    our_server_with(httplib_host::server::ServerConfig {
        directory: dir.to_path_buf(),
        protocol_version: "HTTP/1.1".into(),
        log_requests: false,
        accepting: httplib_host::server::Accepting::EveryThread,
        ..httplib_host::server::ServerConfig::default()
    })
}

#[test]
fn with_every_thread_accepting_sixty_four_parallel_clients_all_get_200() {
    let dir = fixture_dir();
    let server = every_thread_server(dir.path());
    let addr = server.local_addr();
    all_sixty_four_get_200(addr);
    // Every reactor thread (one a core) listens on the port, each on a socket of its own
    // (opened before the first connection is accepted, so surely by now).
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    assert_eq!(listening_sockets(addr.port()), cores);
}

/// How many sockets of this machine listen on TCP `port` (`/proc/net/tcp` and `tcp6`, state
/// 0A is LISTEN).
fn listening_sockets(port: u16) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .map(|table| {
            table
                .lines()
                .skip(1)
                .filter(|row| {
                    let fields: Vec<&str> = row.split_whitespace().collect();
                    let local_port = fields.get(1).and_then(|local| local.rsplit(':').next());
                    local_port.and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port)
                        && fields.get(3) == Some(&"0A")
                })
                .count()
        })
        .sum()
}

#[test]
fn with_every_thread_accepting_a_port_in_use_is_still_refused() {
    // SO_REUSEPORT lets a second socket of the same user share a port; a second server on
    // the same port must still fail to bind, not quietly take half of the first's clients.
    let dir = fixture_dir();
    let first = every_thread_server(dir.path());
    let config = httplib_host::server::ServerConfig {
        directory: dir.path().to_path_buf(),
        accepting: httplib_host::server::Accepting::EveryThread,
        ..httplib_host::server::ServerConfig::default()
    };
    let second = httplib_host::server::Server::bind(first.local_addr(), runtime(), config);
    let err = format!(
        "{:#}",
        second.err().expect("a second server on a port in use is refused")
    );
    assert!(err.contains("in use"), "{err}");
    // The first still answers every client.
    for _ in 0..16 {
        let raw = raw_exchange(first.local_addr(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
        assert!(raw.ends_with(b"hello, world\n"), "{}", String::from_utf8_lossy(&raw));
    }
}
