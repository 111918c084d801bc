//! Ten thousand idle keep-alive connections against `httplib serve`: between requests a
//! connection is parked (a descriptor, no thread, no instance), so they cost almost nothing and
//! a new client is answered at once.

use httplib_tests::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The connections held idle (issue 15's figure).
const IDLE: usize = 10_000;
const REQUEST: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";

/// (RSS in KiB, threads, open descriptors) of process `pid`.
fn footprint(pid: u32) -> (u64, u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    (field("VmRSS:"), field("Threads:"), fds)
}

/// Read one answer to `REQUEST` (the fixture's hello.txt) off `s`.
fn answer(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"hello, world\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed after {} bytes: {:?}",
            got.len(),
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn ten_thousand_idle_keep_alive_connections_cost_almost_nothing() {
    // The client end of every connection is in this process too.
    let limit = httplib_host::server::raise_open_file_limit().unwrap();
    assert!(
        limit >= IDLE as u64 + 100,
        "the open-file hard limit ({limit}) cannot hold {IDLE} connections"
    );
    let dir = fixture_dir();
    let (server, _) = cli_server(&httplib_bin!(), dir.path(), &["--protocol", "HTTP/1.1"]);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port));
    let pid = server.child.id();

    let mut idle = Vec::with_capacity(IDLE);
    let start = Instant::now();
    while idle.len() < IDLE {
        // A batch at a time: sent together, then answered.
        let mut batch: Vec<TcpStream> = (0..200.min(IDLE - idle.len()))
            .map(|_| {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(REQUEST).unwrap();
                s
            })
            .collect();
        for s in &mut batch {
            assert!(answer(s).starts_with(b"HTTP/1.1 200 OK\r\n"));
        }
        idle.extend(batch);
    }
    let opened = start.elapsed();
    // Parked after PARK_AFTER; spare worker threads gone after WORKER_LINGER.
    std::thread::sleep(Duration::from_secs(3));
    let (rss_kib, threads, fds) = footprint(pid);
    eprintln!(
        "{IDLE} idle connections (opened and answered in {opened:?}): server RSS {} MiB, {threads} threads, {fds} descriptors",
        rss_kib / 1024
    );
    assert!(rss_kib < 1024 * 1024, "RSS {rss_kib} KiB with {IDLE} idle connections");
    // The accept loop, the parking lot, the spare workers (one a core) and wasmtime's:
    // none of them per connection.
    assert!(threads <= 20, "{threads} threads with {IDLE} idle connections");
    // One descriptor a parked connection.
    assert!(fds < IDLE + 100, "{fds} descriptors");

    // A new client is answered at once.
    let mut took: Vec<Duration> = (0..11)
        .map(|_| {
            let t = Instant::now();
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(REQUEST).unwrap();
            assert!(answer(&mut s).starts_with(b"HTTP/1.1 200 OK\r\n"));
            t.elapsed()
        })
        .collect();
    took.sort();
    eprintln!(
        "a new client, {IDLE} idle: answered in {:?} to {:?} (median {:?})",
        took[0], took[10], took[5]
    );
    assert!(took[5] < Duration::from_millis(50), "answered in {took:?}");

    // And the idle ones are still there: each of a sample answers a second request.
    for s in idle.iter_mut().step_by(97) {
        s.write_all(REQUEST).unwrap();
        assert!(answer(s).starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
    assert_eq!(idle.len(), IDLE);
}

/// Connections mid-request at once: more than a thread-per-connection server would want to
/// hold, far fewer than `MAX_CONNECTIONS` (2016), so none is evicted.
const MID_REQUEST: usize = 500;

#[test]
fn connections_mid_request_hold_no_thread_each() {
    let dir = fixture_dir();
    let (server, _) = cli_server(&httplib_bin!(), dir.path(), &["--protocol", "HTTP/1.1"]);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port));
    let pid = server.child.id();
    let (_, threads_before, _) = footprint(pid);

    // Each has sent half a request head: its guest is reading it (an instance each, not
    // parked), waiting for the rest.
    let mut slow: Vec<TcpStream> = (0..MID_REQUEST)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let (rss_kib, threads, _) = footprint(pid);
    eprintln!(
        "{MID_REQUEST} connections mid-request: {threads} server threads ({threads_before} before), RSS {} MiB",
        rss_kib / 1024
    );
    // The reactor's threads (one a core), the parking lot, the epoch ticker and wasmtime's:
    // with a thread a connection there were more than MID_REQUEST.
    assert!(
        threads <= 24,
        "{threads} threads with {MID_REQUEST} connections mid-request"
    );

    // A new client is answered meanwhile.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(REQUEST).unwrap();
    assert!(answer(&mut s).starts_with(b"HTTP/1.1 200 OK\r\n"));

    // And every one of them, its head finished, is answered.
    for s in &mut slow {
        s.write_all(b"\r\n").unwrap();
    }
    for s in &mut slow {
        assert!(answer(s).starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
}

#[test]
fn out_of_descriptors_the_longest_idle_connections_make_room_for_new_ones() {
    out_of_descriptors_idle_ones_make_room("one-thread");
}

#[test]
fn with_every_thread_accepting_out_of_descriptors_idle_connections_make_room() {
    out_of_descriptors_idle_ones_make_room("every-thread");
}

fn out_of_descriptors_idle_ones_make_room(accept: &str) {
    // A server allowed 256 descriptors, and 600 clients one after another, each answered once
    // and then left idle: an attacker holding connections open to exhaust descriptors.
    const LIMIT: u32 = 256;
    const CLIENTS: usize = 600;
    let dir = fixture_dir();
    let args = ["--protocol", "HTTP/1.1", "--accept", accept];
    let (server, _) = cli_server_with_open_file_limit(&httplib_bin!(), dir.path(), &args, LIMIT);
    let port = server.port;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    let mut held = Vec::new();
    for _ in 0..CLIENTS {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(REQUEST).unwrap();
        assert!(
            answer(&mut s).starts_with(b"HTTP/1.1 200 OK\r\n"),
            "client {} not answered",
            held.len()
        );
        held.push(s);
    }
    // Every client was answered; the server closed the longest idle to do it, and the newest
    // are still open.
    let mut closed = 0;
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        if matches!(s.read(&mut [0u8; 1]), Ok(0)) {
            closed += 1;
        }
    }
    eprintln!("{CLIENTS} clients against {LIMIT} descriptors: all answered, {closed} idle ones closed to make room");
    assert!(closed >= CLIENTS - LIMIT as usize, "only {closed} closed");
    let last = held.last_mut().unwrap();
    last.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    last.write_all(REQUEST).unwrap();
    assert!(answer(last).starts_with(b"HTTP/1.1 200 OK\r\n"));
}

/// Connections in the middle of a request body, at once (issue 24's measure is 2000, in
/// bench/slow_uploads.py; this many keeps the test quick).
const MID_BODY: usize = 400;
/// Most RSS a connection waiting mid-body may cost the server (issue 24).
const MID_BODY_MAX_KIB: u64 = 128;

/// A body the static handler drains before the next request, arriving slowly: each waiting
/// connection is parked (its stream and a few bytes of state, no instance), and each then
/// goes on where it was: the rest of its body drained, its next request answered.
#[test]
fn connections_waiting_mid_body_are_parked_and_go_on_where_they_were() {
    let dir = fixture_dir();
    let (server, _) = cli_server(&httplib_bin!(), dir.path(), &["--protocol", "HTTP/1.1"]);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port));
    let pid = server.child.id();
    // Warm: the first connections' instances, pools and buffers are not what we measure.
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(REQUEST).unwrap();
        answer(&mut s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let (rss_before, _, _) = footprint(pid);
    let mut slow: Vec<TcpStream> = (0..MID_BODY)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx")
                .unwrap();
            s
        })
        .collect();
    // Each is answered at once, then waits in its body (drained before a next request).
    for s in &mut slow {
        assert!(answer(s).starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let (rss_during, _, _) = footprint(pid);
    let per_connection = rss_during.saturating_sub(rss_before) / MID_BODY as u64;
    eprintln!(
        "{MID_BODY} connections mid-body: server RSS {} MiB, {per_connection} KiB each",
        rss_during / 1024
    );
    assert!(
        per_connection <= MID_BODY_MAX_KIB,
        "{per_connection} KiB a connection waiting mid-body"
    );

    // The rest of each body, in two pieces (parked again between them), then a next request:
    // the body is drained, never read as a request, and the next request answered.
    let rest = vec![b'y'; 99_999];
    for s in &mut slow {
        s.write_all(&rest[..50_000]).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    for s in &mut slow {
        s.write_all(&rest[50_000..]).unwrap();
        s.write_all(REQUEST).unwrap();
    }
    for s in &mut slow {
        assert!(answer(s).starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
}
