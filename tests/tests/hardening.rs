//! A server that slow or greedy clients cannot hold down, tried from the attacker's side over
//! real sockets: slow heads past the instance cap, idle and stalled connections, a dripping TLS
//! handshake, oversized heads and bodies, huge listings, FIFOs, heads cut short, and running
//! out of file descriptors. The timeouts are shortened through their options so tests stay quick.

use httplib_host::server::{Accepting, ServerConfig, ServerHandle};
use httplib_tests::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A partial head that never ends, as slowloris sends it.
const PARTIAL_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nX-a: ";

fn server(dir: &std::path::Path, config: ServerConfig) -> ServerHandle {
    our_server_with(ServerConfig {
        directory: dir.to_path_buf(),
        log_requests: false,
        ..config
    })
}

/// Connect with a read timeout, so no test can hang on a server that fails to answer.
fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Read until the server closes (or resets, or 10 s pass): what arrived, and how long it took.
fn read_until_closed(s: &mut TcpStream) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    (out, start.elapsed())
}

/// GET `path` on a fresh connection: the status line and the time to the whole answer.
fn timed_get(addr: SocketAddr, path: &str) -> (String, Duration) {
    let start = Instant::now();
    let raw = try_raw_exchange(addr, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).unwrap_or_default();
    let text = String::from_utf8_lossy(&raw);
    (text.lines().next().unwrap_or("").to_string(), start.elapsed())
}

#[test]
fn slowloris_past_the_instance_cap_leaves_room_for_a_fresh_client() {
    slowloris_past_the_cap(Accepting::OneThread);
}

#[test]
fn with_every_thread_accepting_slowloris_past_the_cap_leaves_room_for_a_fresh_client() {
    slowloris_past_the_cap(Accepting::EveryThread);
}

fn slowloris_past_the_cap(accepting: Accepting) {
    let dir = fixture_dir();
    let max = 24;
    let srv = server(
        dir.path(),
        ServerConfig {
            protocol_version: "HTTP/1.1".into(),
            max_connections: max,
            accepting,
            ..ServerConfig::default()
        },
    );
    let addr = srv.local_addr();
    // Twice the cap of partial heads: every instance taken, and more waiting.
    let mut held = Vec::new();
    for _ in 0..2 * max {
        let mut s = connect(addr);
        s.write_all(PARTIAL_HEAD).unwrap();
        held.push(s);
    }
    // The heads have now been arriving for longer than a normal client's would.
    std::thread::sleep(Duration::from_millis(1500));
    let (status, took) = timed_get(addr, "/hello.txt");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(took < Duration::from_secs(1), "a fresh client waited {took:?}");
    // Those past the cap were told why rather than met with silence (the others still hold
    // their partial heads, and have nothing to read).
    let mut told_busy = 0;
    for s in held.iter_mut().skip(max) {
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let (raw, _) = read_until_closed(s);
        if raw.starts_with(b"HTTP/1.1 503 Service Unavailable\r\n") {
            let (head, _) = split_response(&raw);
            assert_eq!(header(&head, "Retry-After"), Some("1"));
            told_busy += 1;
        }
    }
    assert!(told_busy > 0, "no connection past the cap was answered 503");
}

#[test]
fn when_no_connection_can_be_closed_a_new_one_gets_503_not_silence() {
    no_room_means_503(Accepting::OneThread);
}

#[test]
fn with_every_thread_accepting_when_no_connection_can_be_closed_a_new_one_gets_503() {
    no_room_means_503(Accepting::EveryThread);
}

fn no_room_means_503(accepting: Accepting) {
    let dir = fixture_dir();
    std::fs::write(dir.path().join("huge.bin"), vec![7u8; 64 << 20]).unwrap();
    let max = 4;
    let srv = server(
        dir.path(),
        ServerConfig {
            max_connections: max,
            accepting,
            ..ServerConfig::default()
        },
    );
    let addr = srv.local_addr();
    // Downloads that are never read: each holds its instance while its send waits.
    let mut stalled = Vec::new();
    for _ in 0..max {
        let mut s = connect(addr);
        s.write_all(b"GET /huge.bin HTTP/1.0\r\n\r\n").unwrap();
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let raw = try_raw_exchange(addr, b"GET /hello.txt HTTP/1.0\r\n\r\n").unwrap();
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.0 503 Service Unavailable\r\n"), "{head}");
    assert_eq!(header(&head, "Retry-After"), Some("1"));
    assert_eq!(header(&head, "Connection"), Some("close"));
    assert_eq!(header(&head, "Content-Length"), Some(body.len().to_string().as_str()));
    assert!(String::from_utf8_lossy(&body).contains("<p>Error code: 503</p>"));
    drop(stalled);
    // Once they are gone, the server serves again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = timed_get(addr, "/hello.txt");
        if status == "HTTP/1.0 200 OK" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after the stalled clients left"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_idle_keep_alive_connection_is_closed_at_its_timeout() {
    let dir = fixture_dir();
    let srv = server(
        dir.path(),
        ServerConfig {
            protocol_version: "HTTP/1.1".into(),
            idle_timeout: Some(Duration::from_millis(600)),
            ..ServerConfig::default()
        },
    );
    let mut s = connect(srv.local_addr());
    s.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.ends_with(b"hello, world\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    // Kept alive after the answer, then closed once idle for the timeout.
    let (rest, idle_for) = read_until_closed(&mut s);
    assert!(rest.is_empty());
    assert!(
        idle_for >= Duration::from_millis(500) && idle_for < Duration::from_secs(5),
        "closed after {idle_for:?}"
    );
}

#[test]
fn a_slow_head_gets_408_at_its_deadline_however_it_trickles() {
    let dir = fixture_dir();
    let srv = server(
        dir.path(),
        ServerConfig {
            head_timeout: Some(Duration::from_millis(800)),
            ..ServerConfig::default()
        },
    );
    // One byte every 100 ms keeps every single read short of any per-read timeout.
    let mut s = connect(srv.local_addr());
    let start = Instant::now();
    let head = b"GET /hello.txt HTTP/1.0\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for byte in head.iter() {
        if s.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if start.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    let (raw, _) = read_until_closed(&mut s);
    let took = start.elapsed();
    assert!(
        raw.starts_with(b"HTTP/1.0 408 Request Timeout\r\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert!(took < Duration::from_secs(5), "the head ran for {took:?}");
}

#[test]
fn a_download_nobody_reads_is_closed_at_the_send_timeout() {
    let dir = fixture_dir();
    let size = 64 << 20;
    std::fs::write(dir.path().join("huge.bin"), vec![1u8; size]).unwrap();
    let srv = server(
        dir.path(),
        ServerConfig {
            send_timeout: Some(Duration::from_millis(500)),
            ..ServerConfig::default()
        },
    );
    let mut s = connect(srv.local_addr());
    s.write_all(b"GET /huge.bin HTTP/1.0\r\n\r\n").unwrap();
    // Read nothing for well past the send timeout, then everything that is left.
    std::thread::sleep(Duration::from_secs(3));
    let (raw, _) = read_until_closed(&mut s);
    assert!(raw.starts_with(b"HTTP/1.0 200 OK\r\n"));
    assert!(
        raw.len() < size / 2,
        "{} bytes arrived: the stalled send was not given up",
        raw.len()
    );
}

#[test]
fn a_dripping_tls_handshake_is_closed_at_its_deadline() {
    let dir = fixture_dir();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = dir.path().join("server.pem");
    std::fs::write(&pem, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
    let (peer, _) = cli_server(
        &httplib_bin!(),
        dir.path(),
        &["--tls-cert", pem.to_str().unwrap(), "--tls-handshake-timeout", "1"],
    );
    let mut s = connect(([127, 0, 0, 1], peer.port).into());
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    // A TLS record header promising a long ClientHello, then a byte every 300 ms.
    let start = Instant::now();
    let mut hello = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    hello.extend(std::iter::repeat_n(0x42, 64));
    let mut closed = false;
    for byte in hello {
        if s.write_all(&[byte]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let took = start.elapsed();
    assert!(closed, "the handshake was still open after {took:?}");
    assert!(took < Duration::from_secs(4), "closed only after {took:?}");
}

#[test]
fn a_head_of_many_huge_headers_gets_431_without_being_held() {
    let dir = fixture_dir();
    let srv = server(dir.path(), ServerConfig::default());
    let mut s = connect(srv.local_addr());
    let mut reader = s.try_clone().unwrap();
    // 90 headers of 65 KB: 5.9 MB of head, written while the answer is read.
    let writer = std::thread::spawn(move || {
        let _ = s.write_all(b"GET /hello.txt HTTP/1.0\r\n");
        let value = "v".repeat(65_000);
        for i in 0..90 {
            if s.write_all(format!("X-Big-{i}: {value}\r\n").as_bytes()).is_err() {
                return;
            }
        }
        let _ = s.write_all(b"\r\n");
    });
    let (raw, _) = read_until_closed(&mut reader);
    let _ = writer.join();
    assert!(
        raw.starts_with(b"HTTP/1.0 431 Request Header Fields Too Large\r\n"),
        "{}",
        String::from_utf8_lossy(&raw[..raw.len().min(200)])
    );
}

#[test]
fn a_listing_of_twenty_thousand_long_names_is_served_whole() {
    let dir = tempfile::tempdir().unwrap();
    let many = dir.path().join("many");
    std::fs::create_dir(&many).unwrap();
    let count = 20_000;
    for i in 0..count {
        // 240 characters each, with ones that the page escapes and quotes.
        let name = format!("{i:05} <&> {}", "n".repeat(230));
        std::fs::File::create(many.join(name)).unwrap();
    }
    let srv = server(dir.path(), ServerConfig::default());
    let raw = raw_exchange(srv.local_addr(), b"GET /many/ HTTP/1.0\r\n\r\n");
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert_eq!(header(&head, "Content-Length"), Some(body.len().to_string().as_str()));
    let page = String::from_utf8(body).unwrap();
    assert_eq!(page.matches("<li><a href=").count(), count);
    assert!(page.contains("<li><a href=\"00000%20%3C%26%3E%20nnn"));
    assert!(page.ends_with("</ul>\n<hr>\n</body>\n</html>\n"));
    assert!(page.len() > 10 << 20, "the page is {} bytes", page.len());
}

#[test]
fn a_fifo_is_not_served_and_holds_nothing() {
    let dir = fixture_dir();
    let fifo = dir.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let srv = server(dir.path(), ServerConfig::default());
    // A writer waiting for the FIFO's first reader: the server must not be that reader.
    let (opened, writer_waits) = std::sync::mpsc::channel();
    let pipe = fifo.clone();
    std::thread::spawn(move || {
        let writer = std::fs::OpenOptions::new().write(true).open(&pipe);
        let _ = opened.send(writer.is_ok());
    });
    std::thread::sleep(Duration::from_millis(100));
    let (status, took) = timed_get(srv.local_addr(), "/pipe");
    assert_eq!(status, "HTTP/1.0 404 File not found");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        writer_waits.recv_timeout(Duration::from_millis(300)).is_err(),
        "the server opened the FIFO (its writer stopped waiting)"
    );
    // Release the writer: this test is its reader (opened without waiting: O_NONBLOCK, Linux's
    // value, this crate having no libc).
    use std::os::unix::fs::OpenOptionsExt;
    const O_NONBLOCK: i32 = 0o4000;
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    assert_eq!(writer_waits.recv_timeout(Duration::from_secs(5)), Ok(true));
    // The directory listing still shows it, as CPython's does; only reading it is refused.
    let (status, _) = timed_get(srv.local_addr(), "/hello.txt");
    assert_eq!(status, "HTTP/1.0 200 OK");
}

#[test]
fn a_head_cut_by_end_of_stream_is_not_executed() {
    let dir = fixture_dir();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let srv = server(
        dir.path(),
        ServerConfig {
            protocol_version: "HTTP/1.1".into(),
            handler: Some(Arc::new(move |ex: &mut httplib_host::server::Exchange<'_>| {
                seen.fetch_add(1, Ordering::SeqCst);
                ex.send_error(204, None, None)?;
                Ok(true)
            })),
            ..ServerConfig::default()
        },
    );
    for cut in [
        &b"GET /x HTTP/1.1\r\nHost: a\r\nX-Cut: "[..],
        b"GET /x HTTP/1.1\r\nHost: a\r\n",
        b"GET /x HTTP/1.0",
        b"GET /x",
    ] {
        let raw = try_raw_exchange(srv.local_addr(), cut).unwrap_or_default();
        assert!(
            raw.is_empty(),
            "{:?} was answered {:?}",
            cut,
            String::from_utf8_lossy(&raw)
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // A whole head is executed.
    let raw = raw_exchange(srv.local_addr(), b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(raw.starts_with(b"HTTP/1.1 204"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn running_out_of_descriptors_is_logged_once_a_second_and_survived() {
    let dir = fixture_dir();
    let port = free_port();
    let script = format!(
        "ulimit -n 64 && exec {} serve {port} --bind 127.0.0.1 --directory {}",
        httplib_bin!().display(),
        dir.path().display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_port(port);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    // Far more connections than descriptors, held for two seconds.
    let held: Vec<TcpStream> = (0..150).filter_map(|_| TcpStream::connect(addr).ok()).collect();
    std::thread::sleep(Duration::from_secs(2));
    drop(held);
    std::thread::sleep(Duration::from_millis(700));
    let (status, _) = timed_get(addr, "/hello.txt");
    let _ = child.kill();
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    let _ = child.wait();
    assert_eq!(status, "HTTP/1.0 200 OK", "{log}");
    let accept_lines = log.lines().filter(|l| l.starts_with("accept failed")).count();
    assert!(accept_lines >= 1, "the shortage was not reported: {log}");
    assert!(accept_lines <= 4, "{accept_lines} lines about accept in ~3 s: {log}");
}

/// A served connection's instance gets the server's `limits`: a memory cap below what the
/// guest needs to start is an instance that cannot be had, answered 503 (not silence), and the
/// default serves.
#[test]
fn served_connections_run_under_the_servers_limits() {
    let dir = fixture_dir();
    let starved = server(
        dir.path(),
        ServerConfig {
            limits: httplib_host::limits::SessionLimits {
                memory: Some(64 * 1024),
                ..Default::default()
            },
            ..ServerConfig::default()
        },
    );
    let reply = raw_exchange(starved.local_addr(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
    let (head, _) = split_response(&reply);
    assert!(head.starts_with("HTTP/1.0 503 "), "{head}");
    let normal = server(dir.path(), ServerConfig::default());
    let reply = raw_exchange(normal.local_addr(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
    assert!(split_response(&reply).0.starts_with("HTTP/1.0 200 "));
}

/// Past its pool, a server runtime makes instances on demand: connections beyond the pooled
/// ones are served, not refused (and their memory goes back when they end).
#[test]
fn connections_past_the_pool_get_instances_made_on_demand() {
    use httplib_host::{Runtime, RuntimeOptions};
    let dir = fixture_dir();
    let runtime = Arc::new(
        Runtime::with_options(RuntimeOptions {
            max_instances: 2,
            ..RuntimeOptions::server()
        })
        .unwrap(),
    );
    let config = ServerConfig {
        directory: dir.path().to_path_buf(),
        log_requests: false,
        protocol_version: "HTTP/1.1".into(),
        ..ServerConfig::default()
    };
    let server = httplib_host::server::Server::bind("127.0.0.1:0".parse().unwrap(), runtime, config)
        .unwrap()
        .spawn()
        .unwrap();
    // Six keep-alive connections, each answered and holding its instance.
    let mut held = Vec::new();
    for _ in 0..6 {
        let mut s = connect(server.local_addr());
        s.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"hello, world\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
        held.push(s);
    }
    let reply = raw_exchange(server.local_addr(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
    let (head, _) = split_response(&reply);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
}
