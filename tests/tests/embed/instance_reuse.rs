//! An instance kept for the next connection (`InstanceReuse::Serial`), tried from the
//! attacker's side: a connection leaves everything it can behind (headers, a body, a second
//! request cut off mid-head, another mid-body), and the next connection in the same instance
//! must see none of it; an instance that trapped is never used again. Included by embed.rs.

use httplib_host::server::{Exchange, InstanceReuse, Server, ServerConfig, ServerHandle, StoreParts};
use httplib_host::view::{HostState, HttplibCtxView, HttplibView};
use httplib_host::wasmtime_wasi::{WasiCtxView, WasiView};
use httplib_host::{Runtime, RuntimeOptions};
use httplib_tests::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A store that knows which instance it is (made once per instance).
struct Tagged {
    host: HostState,
    instance: usize,
}

impl WasiView for Tagged {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.host.ctx()
    }
}

impl HttplibView for Tagged {
    fn httplib(&mut self) -> HttplibCtxView<'_> {
        self.host.httplib()
    }
}

/// Host code answering with what the guest parsed of the request, and which instance ran.
fn echo_what_the_guest_saw(ex: &mut Exchange<'_, Tagged>) -> anyhow::Result<bool> {
    if ex.request.path.starts_with("/many/") {
        ex.serve_file()?;
        return Ok(true);
    }
    let body = ex.read_body_to_end(1 << 20)?;
    let instance = ex.data().instance;
    let mut text = format!("instance {instance}\n{}\n", ex.request.requestline);
    for (name, value) in &ex.request.headers {
        text += &format!("{name}: {}\n", String::from_utf8_lossy(value));
    }
    text += &format!(
        "client {}\nbody {}\n",
        ex.address_string()?,
        String::from_utf8_lossy(&body)
    );
    ex.send_response(200, None)?;
    ex.send_header("Content-Length", &text.len().to_string())?;
    ex.end_headers()?;
    ex.write(text.as_bytes())?;
    Ok(true)
}

/// Who answers: host code (`echo_what_the_guest_saw`, on a thread a connection), or the
/// guest alone (SimpleHTTPRequestHandler, on the reactor).
enum Answers {
    HostCode,
    Files,
}

/// A server of `Tagged` stores under `reuse`, its instances capped at 3 MiB; and how many
/// instances it has made.
fn tagged_server(
    dir: &std::path::Path,
    reuse: InstanceReuse,
    answers: Answers,
) -> (ServerHandle<Tagged>, Arc<AtomicUsize>) {
    let made = Arc::new(AtomicUsize::new(0));
    let counter = made.clone();
    let config = ServerConfig {
        directory: dir.to_path_buf(),
        protocol_version: "HTTP/1.1".into(),
        log_requests: false,
        handler: match answers {
            Answers::HostCode => Some(Arc::new(echo_what_the_guest_saw)),
            Answers::Files => None,
        },
        instance_reuse: reuse,
        ..ServerConfig::for_store(move |parts: StoreParts| Tagged {
            host: HostState {
                wasi: parts.wasi,
                table: Default::default(),
                httplib: parts.httplib,
            },
            instance: counter.fetch_add(1, Ordering::SeqCst) + 1,
        })
    };
    let runtime = Arc::new(
        Runtime::with_options(RuntimeOptions {
            memory_limit: 3 * 1024 * 1024,
            ..RuntimeOptions::default()
        })
        .unwrap(),
    );
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), runtime, config).unwrap();
    (server.spawn().unwrap(), made)
}

/// One response read off `s` (its body by Content-Length), the connection left open.
fn read_one(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).into_owned();
            let len: usize = header(&head, "content-length").map_or(0, |v| v.parse().unwrap());
            if got.len() >= end + 4 + len {
                return String::from_utf8_lossy(&got[..end + 4 + len]).into_owned();
            }
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed mid-response: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
}

/// A connection that leaves all it can in its instance: a request with a secret header and
/// body, answered; then the start of another, cut off mid-head. The instance that answered.
fn leave_a_half_head(addr: SocketAddr) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"POST /first HTTP/1.1\r\nHost: attacker\r\nX-Secret: s3cret-head\r\nContent-Length: 11\r\n\r\ns3cret-body",
    )
    .unwrap();
    let answer = read_one(&mut s);
    assert!(answer.contains("body s3cret-body"), "{answer}");
    s.write_all(b"GET /half-head HTTP/1.1\r\nX-Secret: s3cret-half")
        .unwrap();
    until_closed(s);
    instance_of(&answer)
}

/// Half-close `s` and wait until the server has closed it (its instance then is free).
fn until_closed(mut s: TcpStream) {
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
}

/// A connection that stops mid-body: 4 of the 100 bytes it announced.
fn leave_a_half_body(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"POST /half-body HTTP/1.1\r\nHost: attacker\r\nX-Secret: s3cret-mid\r\nContent-Length: 100\r\n\r\ns3cr",
    )
    .unwrap();
    until_closed(s);
}

fn instance_of(answer: &str) -> usize {
    let line = answer.lines().find(|l| l.starts_with("instance ")).expect(answer);
    line["instance ".len()..].parse().unwrap()
}

/// An honest client's request, on a connection of its own: what it was answered.
fn probe(addr: SocketAddr) -> String {
    let raw = raw_exchange(
        addr,
        b"GET /probe HTTP/1.1\r\nHost: honest\r\nConnection: close\r\n\r\n",
    );
    String::from_utf8_lossy(&raw).into_owned()
}

/// Probe until an answer comes from `instance` (kept instances are taken most recent first,
/// so one made beside it may answer first); every answer on the way must be the probe's own,
/// and nothing else.
fn probe_until(addr: SocketAddr, instance: usize) -> String {
    for _ in 0..50 {
        let answer = probe(addr);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        let (_, body) = answer.split_once("\r\n\r\n").unwrap();
        let expected = format!(
            "instance {}\nGET /probe HTTP/1.1\nHost: honest\nConnection: close\nclient 127.0.0.1\nbody \n",
            instance_of(&answer)
        );
        assert_eq!(body, expected, "the probe saw more than its own request");
        assert!(!answer.contains("s3cr"), "{answer}");
        if instance_of(&answer) == instance {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("instance {instance} never answered again");
}

#[test]
fn a_reused_instance_shows_nothing_of_the_connections_before_it() {
    let dir = fixture_dir();
    let (server, made) = tagged_server(dir.path(), InstanceReuse::Serial, Answers::HostCode);
    let addr = server.local_addr();
    let first = leave_a_half_head(addr);
    probe_until(addr, first);
    leave_a_half_body(addr);
    probe_until(addr, first);
    // Twenty connections, one after another, in one or two instances, not twenty.
    for _ in 0..20 {
        probe(addr);
    }
    let count = made.load(Ordering::SeqCst);
    assert!(
        count <= 3,
        "{count} instances made for 23 connections one after another"
    );

    // An instance that ran out of memory (a listing of 5,000 long names, built whole, against
    // its 3 MiB) is dropped: the next connection is answered by a new one.
    let many = dir.path().join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..5_000 {
        std::fs::File::create(many.join(format!("{i:05} {}", "n".repeat(230)))).unwrap();
    }
    let lost = try_raw_exchange(addr, b"GET /many/ HTTP/1.1\r\nHost: a\r\n\r\n").unwrap_or_default();
    assert!(
        lost.is_empty(),
        "{}",
        String::from_utf8_lossy(&lost[..lost.len().min(300)])
    );
    let before = made.load(Ordering::SeqCst);
    for _ in 0..3 {
        probe(addr);
    }
    assert_eq!(
        made.load(Ordering::SeqCst),
        before + 1,
        "the trapped instance was not replaced"
    );
}

#[test]
fn instances_answer_one_connection_each_unless_reuse_is_asked_for() {
    let dir = fixture_dir();
    let (server, made) = tagged_server(dir.path(), InstanceReuse::Never, Answers::HostCode);
    let addr = server.local_addr();
    let seen: Vec<usize> = (0..5).map(|_| instance_of(&probe(addr))).collect();
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    assert_eq!(made.load(Ordering::SeqCst), 5);
}

#[test]
fn static_files_on_the_reactor_reuse_instances_and_answer_each_connection_its_own() {
    let dir = fixture_dir();
    for (reuse, made_at_most) in [(InstanceReuse::Never, 21), (InstanceReuse::Serial, 3)] {
        let (server, made) = tagged_server(dir.path(), reuse, Answers::Files);
        let addr = server.local_addr();
        // An attacker's request, then half of another, and gone.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /list/ HTTP/1.1\r\nHost: a\r\n\r\nGET /site/ HTTP/1.1\r\nX-Secret: s3cr")
            .unwrap();
        let mut first = [0u8; 64];
        assert!(s.read(&mut first).unwrap() > 0);
        drop(s);
        for _ in 0..20 {
            let raw = raw_exchange(addr, b"GET /hello.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
            let (head, body) = split_response(&raw);
            assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
            assert_eq!(body, b"hello, world\n", "{reuse:?}: {}", String::from_utf8_lossy(&raw));
        }
        let count = made.load(Ordering::SeqCst);
        match reuse {
            InstanceReuse::Never => assert_eq!(count, made_at_most),
            InstanceReuse::Serial => assert!(count <= made_at_most, "{count} instances for 21 connections"),
        }
    }
}

#[test]
fn a_served_directory_replaced_under_its_name_is_served_anew() {
    let dir = fixture_dir();
    let (server, made) = tagged_server(dir.path(), InstanceReuse::Serial, Answers::Files);
    let get = || {
        raw_exchange(
            server.local_addr(),
            b"GET /hello.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        )
    };
    assert!(get().ends_with(b"hello, world\n"));
    assert!(get().ends_with(b"hello, world\n"));
    let before = made.load(Ordering::SeqCst);
    // As a site generator rebuilds: the old tree moved away, a new one in its place.
    let old = dir.path().with_extension("old");
    std::fs::rename(dir.path(), &old).unwrap();
    std::fs::create_dir(dir.path()).unwrap();
    std::fs::write(dir.path().join("hello.txt"), b"rebuilt\n").unwrap();
    let answer = get();
    std::fs::remove_dir_all(&old).unwrap();
    assert!(answer.ends_with(b"rebuilt\n"), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(made.load(Ordering::SeqCst), before + 1);
}
