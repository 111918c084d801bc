//! Limits per session, over real sockets: each one exceeded gives `limit-exceeded`, never a
//! trap, and the session goes on; a silent server is ended by the deadline, the default I/O
//! timeout and the cancel handle; sessions with different limits side by side.

use httplib_host::bindings::client::{Body, ConnectionOptions};
use httplib_host::bindings::types::HttpError;
use httplib_host::client::{ClientError, ClientSession, DebugOutput};
use httplib_host::limits::SessionLimits;
use httplib_host::policy::OutboundPolicy;
use httplib_host::view::HttplibCtx;
use httplib_tests::*;
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn session(limits: SessionLimits) -> ClientSession {
    let ctx = HttplibCtx::new(OutboundPolicy::allow_only(["127.0.0.1:*"])).with_limits(limits);
    ClientSession::with_context(&runtime(), ctx, DebugOutput::Stdout).unwrap()
}

fn http_error<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (HttpError, String) {
    match r {
        Err(ClientError::Http(e, message)) => (e, message),
        other => panic!("expected an http error, got {other:?}"),
    }
}

fn limit_exceeded<T: std::fmt::Debug>(r: Result<T, ClientError>) -> String {
    match http_error(r) {
        (HttpError::LimitExceeded(why), _) => why,
        other => panic!("expected limit-exceeded, got {other:?}"),
    }
}

/// A listener that accepts and then never says a word.
fn silent_server() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn a_body_larger_than_memory_is_refused_not_trapped_and_the_session_goes_on() {
    let site = fixture_dir();
    std::fs::write(site.path().join("80mib.bin"), vec![7u8; 80 << 20]).unwrap();
    let peer = cpython_server(site.path(), "HTTP/1.1");
    let mut s = session(SessionLimits {
        memory: Some(64 << 20),
        ..SessionLimits::default()
    });
    let c = s
        .open("127.0.0.1", Some(peer.port), &ConnectionOptions::http())
        .unwrap();
    s.request(c, "GET", "/80mib.bin", &Body::None, &[]).unwrap();
    let r = s.getresponse(c).unwrap();
    let why = limit_exceeded(s.read(r, None));
    assert!(why.contains("83886080-byte body"), "{why}");
    // The same response still reads in pieces, to the last byte.
    let mut total = 0;
    loop {
        let piece = s.read(r, Some(1 << 20)).unwrap();
        if piece.is_empty() {
            break;
        }
        total += piece.len();
    }
    assert_eq!(total, 80 << 20);
    // And a new connection's request works.
    let c2 = s
        .open("127.0.0.1", Some(peer.port), &ConnectionOptions::http())
        .unwrap();
    s.request(c2, "GET", "/hello.txt", &Body::None, &[]).unwrap();
    let r2 = s.getresponse(c2).unwrap();
    assert_eq!(s.read(r2, None).unwrap(), b"hello, world\n");
}

#[test]
fn a_response_body_limit_refuses_what_is_declared_larger() {
    let site = fixture_dir();
    let peer = cpython_server(site.path(), "HTTP/1.1");
    let mut s = session(SessionLimits {
        max_response_body: Some(1000),
        ..SessionLimits::default()
    });
    let c = s
        .open("127.0.0.1", Some(peer.port), &ConnectionOptions::http())
        .unwrap();
    s.request(c, "GET", "/big.bin", &Body::None, &[]).unwrap();
    let why = limit_exceeded(s.getresponse(c));
    assert!(why.contains("over the session's limit of 1000 bytes"), "{why}");
    s.request(c, "GET", "/hello.txt", &Body::None, &[]).unwrap();
    let r = s.getresponse(c).unwrap();
    assert_eq!(s.read(r, None).unwrap(), b"hello, world\n");
}

#[test]
fn a_silent_server_is_ended_by_the_deadline_the_io_timeout_and_cancel() {
    let (_listener, port) = silent_server();
    // The request deadline, with no I/O timeout at all.
    let mut s = session(SessionLimits {
        request_deadline: Some(Duration::from_millis(400)),
        io_timeout: None,
        ..SessionLimits::default()
    });
    let c = s.open("127.0.0.1", Some(port), &ConnectionOptions::http()).unwrap();
    let started = Instant::now();
    s.request(c, "GET", "/", &Body::None, &[]).unwrap();
    let why = limit_exceeded(s.getresponse(c));
    let took = started.elapsed();
    assert!(why.contains("deadline of 0.4 s"), "{why}");
    assert!(
        took >= Duration::from_millis(380) && took < Duration::from_secs(3),
        "{took:?}"
    );

    // The session's default I/O timeout, when the caller set none.
    let mut s = session(SessionLimits {
        io_timeout: Some(Duration::from_millis(300)),
        ..SessionLimits::default()
    });
    let c = s.open("127.0.0.1", Some(port), &ConnectionOptions::http()).unwrap();
    s.request(c, "GET", "/", &Body::None, &[]).unwrap();
    assert!(matches!(http_error(s.getresponse(c)).0, HttpError::Timeout));

    // The cancel handle, from another thread, while the session blocks.
    let mut s = session(SessionLimits {
        io_timeout: None,
        ..SessionLimits::default()
    });
    let cancel = s.cancel_handle();
    let c = s.open("127.0.0.1", Some(port), &ConnectionOptions::http()).unwrap();
    s.request(c, "GET", "/", &Body::None, &[]).unwrap();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel();
    });
    let started = Instant::now();
    let (error, why) = http_error(s.getresponse(c));
    assert_eq!(error, HttpError::Cancelled);
    assert_eq!(why, "CancelledError: the session was cancelled");
    assert!(started.elapsed() < Duration::from_secs(3));
    canceller.join().unwrap();
}

#[test]
fn open_connections_are_counted_and_freed() {
    let site = fixture_dir();
    let peer = cpython_server(site.path(), "HTTP/1.1");
    let mut s = session(SessionLimits {
        max_connections: 2,
        ..SessionLimits::default()
    });
    let mut conns = Vec::new();
    for _ in 0..2 {
        let c = s
            .open("127.0.0.1", Some(peer.port), &ConnectionOptions::http())
            .unwrap();
        s.connect(c).unwrap();
        conns.push(c);
    }
    let third = s
        .open("127.0.0.1", Some(peer.port), &ConnectionOptions::http())
        .unwrap();
    let why = limit_exceeded(s.connect(third));
    assert!(why.contains("2 connections open"), "{why}");
    s.close(conns[0]).unwrap();
    s.connect(third).unwrap();
    s.request(third, "GET", "/hello.txt", &Body::None, &[]).unwrap();
    let r = s.getresponse(third).unwrap();
    assert_eq!(s.read(r, None).unwrap(), b"hello, world\n");
}

#[test]
fn eight_sessions_with_eight_limits_in_one_process() {
    let site = fixture_dir();
    std::fs::write(site.path().join("1mib.bin"), vec![1u8; 1 << 20]).unwrap();
    let peer = cpython_server(site.path(), "HTTP/1.1");
    let port = peer.port;
    let threads: Vec<_> = (1..=8u64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = session(SessionLimits {
                    max_response_body: Some(i * 256 * 1024),
                    memory: Some((8 + 4 * i as usize) << 20),
                    ..SessionLimits::default()
                });
                let c = s.open("127.0.0.1", Some(port), &ConnectionOptions::http()).unwrap();
                s.request(c, "GET", "/1mib.bin", &Body::None, &[]).unwrap();
                let got = s.getresponse(c).and_then(|r| s.read(r, Some(2 << 20)));
                (i, got.map(|b| b.len()).map_err(|e| e.to_string()))
            })
        })
        .collect();
    for t in threads {
        let (i, got) = t.join().unwrap();
        if i < 4 {
            assert!(got.as_ref().is_err_and(|e| e.contains("limit")), "{i}: {got:?}");
        } else {
            assert_eq!(got, Ok(1 << 20), "{i}");
        }
    }
}

/// VmSize of this process, in KiB.
fn address_space_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A runtime reserves address space for its pool; at wasmtime's 4 GiB a memory that was
/// 16 TiB each, and an eighth runtime in one process failed with ENOMEM.
#[test]
fn eight_runtimes_in_one_process_each_running_a_session() {
    use httplib_host::Runtime;
    let site = fixture_dir();
    let peer = cpython_server(site.path(), "HTTP/1.1");
    let before = address_space_kib();
    let runtimes: Vec<Runtime> = (0..8).map(|_| Runtime::new().unwrap()).collect();
    let each = (address_space_kib() - before) / 8;
    println!(
        "address space one Runtime reserves: {:.1} GiB",
        each as f64 / (1 << 20) as f64
    );
    assert!(each < 512 << 20, "{each} KiB");
    for runtime in &runtimes {
        let ctx = HttplibCtx::new(OutboundPolicy::allow_only(["127.0.0.1:*"]));
        let mut s = ClientSession::with_context(runtime, ctx, DebugOutput::Stdout).unwrap();
        let c = s
            .open("127.0.0.1", Some(peer.port), &ConnectionOptions::http())
            .unwrap();
        s.request(c, "GET", "/hello.txt", &Body::None, &[]).unwrap();
        let r = s.getresponse(c).unwrap();
        assert_eq!(s.read(r, None).unwrap(), b"hello, world\n");
    }
}

/// An embedder's own engine (epoch interruption on, its own ticker) runs the guest: the CPU
/// limit and the sessions work on it.
#[test]
fn a_runtime_on_the_embedders_engine() {
    use httplib_host::wasmtime::{Config, Engine};
    use httplib_host::{Runtime, RuntimeOptions};
    let site = fixture_dir();
    let peer = cpython_server(site.path(), "HTTP/1.1");
    let mut config = Config::new();
    config.epoch_interruption(true);
    let engine = Engine::new(&config).unwrap();
    httplib_host::start_epoch_ticker(&engine);
    let runtime = Runtime::from_engine(&engine, RuntimeOptions::default()).unwrap();
    assert!(Engine::same(runtime.engine(), &engine));
    let ctx = HttplibCtx::new(OutboundPolicy::allow_only(["127.0.0.1:*"]));
    let mut s = ClientSession::with_context(&runtime, ctx, DebugOutput::Stdout).unwrap();
    let c = s
        .open("127.0.0.1", Some(peer.port), &ConnectionOptions::http())
        .unwrap();
    s.request(c, "GET", "/hello.txt", &Body::None, &[]).unwrap();
    let r = s.getresponse(c).unwrap();
    assert_eq!(s.read(r, None).unwrap(), b"hello, world\n");
}
