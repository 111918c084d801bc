//! The async API (`AsyncClientSession`, `Server::serve_until`) driven from tokio's
//! single-threaded runtime: calls are awaited without blocking the executor (a session's
//! guest yields at every would-block, on the runtime's one thread), and dropping a call's or
//! the server's future closes its sockets and gives back its instances.

use httplib_host::bindings::client::{Body, ConnectionOptions};
use httplib_host::client::{AsyncClientSession, ClientError};
use httplib_host::policy::OutboundPolicy;
use httplib_host::server::{Server, ServerConfig};
use httplib_host::view::{HttplibCtx, HttplibCtxView, HttplibView};
use httplib_host::wasmtime::component::{Linker, ResourceTable};
use httplib_host::wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use httplib_tests::{fixture_dir, runtime};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a peer in these tests waits for something that should come at once.
const PROMPTLY: Duration = Duration::from_secs(5);

fn single_threaded() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn session() -> AsyncClientSession {
    AsyncClientSession::new(&runtime(), OutboundPolicy::allow_only(["127.0.0.1:*"])).unwrap()
}

/// GET `path` from `addr`: status and body.
async fn get(s: &mut AsyncClientSession, addr: SocketAddr, path: &str) -> Result<(u16, Vec<u8>), ClientError> {
    let c = s
        .open("127.0.0.1", Some(addr.port()), &ConnectionOptions::http())
        .await?;
    s.request(c, "GET", path, &Body::None, &[]).await?;
    let r = s.getresponse(c).await?;
    let status = s.status(r).await?;
    let body = s.read(r, None).await?;
    s.close_response(r).await?;
    s.release(c).await?;
    Ok((status, body))
}

/// A peer that answers each connection's request after `delay`, with "late".
fn slow_peer(delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf);
                std::thread::sleep(delay);
                let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlate");
            });
        }
    });
    addr
}

#[test]
fn an_async_client_and_server_serve_each_other_on_one_thread() {
    let dir = fixture_dir();
    let config = ServerConfig {
        directory: dir.path().to_path_buf(),
        log_requests: false,
        ..ServerConfig::default()
    };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), runtime(), config).unwrap();
    let addr = server.local_addr();
    single_threaded().block_on(async move {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve_until(async {
            let _ = stopped.await;
        }));
        // Four sessions at once, each two requests: all on this one thread.
        let mut tasks = Vec::new();
        for _ in 0..4 {
            tasks.push(tokio::spawn(async move {
                let mut s = session();
                let small = get(&mut s, addr, "/hello.txt").await.unwrap();
                let big = get(&mut s, addr, "/big.bin").await.unwrap();
                (small, big)
            }));
        }
        let expected_big = std::fs::read(dir.path().join("big.bin")).unwrap();
        for t in tasks {
            let ((status, body), (big_status, big)) = t.await.unwrap();
            assert_eq!((status, body.as_slice()), (200, &b"hello, world\n"[..]));
            assert_eq!(big_status, 200);
            assert!(big == expected_big, "5 MiB body differs ({} bytes)", big.len());
        }
        stop.send(()).unwrap();
        let still_open = tokio::time::timeout(PROMPTLY, serving).await.unwrap().unwrap().unwrap();
        assert_eq!(still_open, 0);
    });
    assert!(
        TcpStream::connect(addr).is_err(),
        "the listener is closed after serve_until returned"
    );
}

#[test]
fn a_call_in_flight_does_not_block_the_executor() {
    let addr = slow_peer(Duration::from_millis(400));
    single_threaded().block_on(async move {
        let ticks = Arc::new(AtomicU32::new(0));
        let counted = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                counted.fetch_add(1, Ordering::Relaxed);
            }
        });
        let mut s = session();
        let (status, body) = get(&mut s, addr, "/").await.unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"late"[..]));
        ticker.abort();
        // 400 ms of waiting at 10 ms a tick: a blocked executor would have counted none.
        let n = ticks.load(Ordering::Relaxed);
        assert!(n >= 10, "the ticker ran {n} times while the request waited");
    });
}

/// An embedder's store type whose drop is reported: the instance's store is gone.
struct Watched {
    wasi: WasiCtx,
    table: ResourceTable,
    httplib: HttplibCtx,
    dropped: mpsc::Sender<()>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

impl WasiView for Watched {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HttplibView for Watched {
    fn httplib(&mut self) -> HttplibCtxView<'_> {
        HttplibCtxView {
            ctx: &mut self.httplib,
            table: &mut self.table,
        }
    }
}

#[test]
fn dropping_a_call_closes_its_socket_and_returns_the_instance() {
    // A peer that reads the request and never answers; it reports when its socket closes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (closed, closed_seen) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf);
        let waited = Instant::now();
        let eof = matches!(sock.read(&mut buf), Ok(0) | Err(_));
        let _ = closed.send((eof, waited.elapsed()));
    });

    let runtime = runtime();
    let mut linker = Linker::<Watched>::new(runtime.engine());
    httplib_host::view::add_to_linker(&mut linker).unwrap();
    let pre = runtime.prepare(&linker).unwrap();
    let (dropped, dropped_seen) = mpsc::channel();
    let state = Watched {
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        httplib: HttplibCtx::new(OutboundPolicy::allow_only(["127.0.0.1:*"])),
        dropped,
    };
    let (store, guest) = runtime.instantiate_in(&pre, state).unwrap();

    single_threaded().block_on(async move {
        let mut s = AsyncClientSession::from_instance(store, guest);
        let c = s
            .open("127.0.0.1", Some(port), &ConnectionOptions::http())
            .await
            .unwrap();
        s.request(c, "GET", "/never", &Body::None, &[]).await.unwrap();
        let started = Instant::now();
        let waited = tokio::time::timeout(Duration::from_millis(300), s.getresponse(c)).await;
        assert!(waited.is_err(), "the peer never answers");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(s.is_cancelled());
        // The store went with the dropped call: at once, not when the session goes.
        dropped_seen
            .try_recv()
            .expect("the session's store was dropped with the call");

        let (eof, after) = closed_seen
            .recv_timeout(PROMPTLY)
            .expect("the peer's socket was closed");
        assert!(eof, "the peer saw end-of-stream");
        assert!(after < PROMPTLY, "closed {after:?} after the request");
        match s.reason_phrase(200).await {
            Err(ClientError::Cancelled) => {}
            other => panic!("a call after cancelling: {other:?}"),
        }
    });
}

#[test]
fn dropping_the_server_future_closes_every_connection() {
    let dir = fixture_dir();
    // Larger than loopback's socket buffers can hold, so its answer is still being written.
    let huge = 64 * 1024 * 1024;
    std::fs::write(dir.path().join("huge.bin"), vec![b'x'; huge]).unwrap();
    let config = ServerConfig {
        directory: dir.path().to_path_buf(),
        protocol_version: "HTTP/1.1".into(),
        log_requests: false,
        ..ServerConfig::default()
    };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), runtime(), config).unwrap();
    let addr = server.local_addr();
    single_threaded().block_on(async move {
        let serving = tokio::spawn(server.serve_until(std::future::pending()));
        // Let it start (this test's own socket calls below block the thread).
        tokio::task::yield_now().await;
        // One connection mid-head (its guest waiting), one idle after an answer (parked)...
        let mut mid_head = TcpStream::connect(addr).unwrap();
        mid_head.write_all(b"GET /hello.txt HTTP/1.1\r\n").unwrap();
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        idle.set_read_timeout(Some(PROMPTLY)).unwrap();
        let mut buf = [0u8; 4096];
        let n = idle.read(&mut buf).unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200 OK"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        // And one mid-response: a graceful drain would let it finish; dropping does not.
        let mut reader = TcpStream::connect(addr).unwrap();
        reader.write_all(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;

        serving.abort();
        assert!(serving.await.unwrap_err().is_cancelled());
        reader.set_read_timeout(Some(PROMPTLY)).unwrap();
        let mut got = 0;
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            got += n;
        }
        assert!(
            got < huge,
            "the whole {got} bytes were sent after the future was dropped"
        );
        for sock in [&mut mid_head, &mut idle] {
            sock.set_read_timeout(Some(PROMPTLY)).unwrap();
            let started = Instant::now();
            let got = sock.read(&mut buf);
            assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
            assert!(started.elapsed() < PROMPTLY);
        }
    });
    let deadline = Instant::now() + PROMPTLY;
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "the listener still accepts");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A session that yields keeps http.client's timeouts and errors: the connection's `timeout`
/// ends a read that waits too long (a deadline on the socket's readiness, the executor
/// free), and a refused connect is refused.
#[test]
fn a_yielding_sessions_timeouts_and_refusals_are_http_clients() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf);
        std::thread::sleep(Duration::from_secs(10));
    });
    single_threaded().block_on(async move {
        let mut s = session();
        let options = ConnectionOptions {
            timeout_ms: Some(300),
            ..ConnectionOptions::http()
        };
        let c = s.open("127.0.0.1", Some(port), &options).await.unwrap();
        s.request(c, "GET", "/", &Body::None, &[]).await.unwrap();
        let started = Instant::now();
        match s.getresponse(c).await {
            Err(ClientError::Http(_, message)) => assert!(message.contains("timed out"), "{message}"),
            other => panic!("a silent peer: {other:?}"),
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{took:?}"
        );
        // A refused connect is http.client's ConnectionRefusedError, as in a blocking session.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let c = s
            .open("127.0.0.1", Some(closed), &ConnectionOptions::http())
            .await
            .unwrap();
        match s.request(c, "GET", "/", &Body::None, &[]).await {
            Err(ClientError::Http(_, message)) => assert!(message.contains("refused"), "{message}"),
            other => panic!("a closed port: {other:?}"),
        }
        // The session goes on after an exception, as http.client's does.
        assert!(!s.is_cancelled());
        assert_eq!(s.reason_phrase(404).await.unwrap().as_deref(), Some("Not Found"));
    });
}

/// An async session awaited outside any tokio runtime says what it needs, as an error (the
/// host does not panic), and goes on.
#[test]
fn an_async_session_outside_tokio_is_an_error_not_a_panic() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut s = session();
    let c = httplib_host::block_on(s.open("127.0.0.1", Some(port), &ConnectionOptions::http())).unwrap();
    match httplib_host::block_on(s.request(c, "GET", "/", &Body::None, &[])) {
        Err(ClientError::Http(_, message)) => assert!(message.contains("tokio runtime"), "{message}"),
        other => panic!("outside tokio: {other:?}"),
    }
    assert!(!s.is_cancelled());
}

/// An async session's sockets go through the same policy as a blocking session's: every
/// spelling of loopback and the cloud-metadata address is refused before a socket opens,
/// with names resolved off the executor.
#[test]
fn an_async_session_is_held_to_its_policy_in_every_spelling() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    single_threaded().block_on(async move {
        let policy = OutboundPolicy::allow(["https://api.example.com"]).unwrap();
        let mut s = AsyncClientSession::new(&runtime(), policy).unwrap();
        for host in [
            "127.0.0.1",
            "127.1",
            "2130706433",
            "0x7f.0.0.1",
            "::ffff:127.0.0.1",
            "localhost",
            "169.254.169.254",
        ] {
            let c = s.open(host, Some(port), &ConnectionOptions::http()).await.unwrap();
            match s.request(c, "GET", "/", &Body::None, &[]).await {
                Err(ClientError::Http(_, message)) => {
                    assert!(message.contains("not allowed by the policy"), "{host}: {message}")
                }
                other => panic!("{host}: {other:?}"),
            }
            s.release(c).await.unwrap();
        }
    });
    // Nothing reached the listener.
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "a refused destination was connected to");
}
