//! The stream's states over real loopback connections: plain and TLS wires, each waiting by
//! blocking or by readiness, their timeouts, and the switch to TLS.

use super::*;
use crate::transport::tls::{Identity, TlsSettings, server_config};
use std::net::TcpListener;

/// A connected loopback pair: (accepted, connecting), both blocking.
fn pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (server, client)
}

/// Run `f` to its end on a single-threaded tokio runtime (what the server's reactor is).
fn on_reactor<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A stream over `sock` that waits as `wait` says.
fn stream(sock: std::net::TcpStream, wait: WaitBy) -> TcpStream {
    match wait {
        WaitBy::Blocking => TcpStream::new(sock),
        WaitBy::Readiness => {
            sock.set_nonblocking(true).unwrap();
            TcpStream::new(sock).wait_by_readiness().unwrap()
        }
    }
}

fn both(test: impl Fn(WaitBy)) {
    test(WaitBy::Blocking);
    test(WaitBy::Readiness);
}

#[test]
fn plain_bytes_both_ways_and_end_of_stream() {
    both(|wait| {
        on_reactor(async {
            let (server, mut client) = pair();
            let mut s = stream(server, wait);
            assert_eq!(s.waits_by(), wait);
            client.write_all(b"ping").unwrap();
            assert_eq!(s.read(100).await.unwrap(), b"ping");
            s.write_all(b"pong").await.unwrap();
            let mut got = [0u8; 4];
            client.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"pong");
            s.shutdown(Shutdown::Write).unwrap();
            assert_eq!(client.read(&mut got).unwrap(), 0, "the peer sees end-of-stream");
            drop(client);
            assert!(s.read(100).await.unwrap().is_empty());
        })
    });
}

#[test]
fn a_silent_peer_times_a_read_out() {
    both(|wait| {
        on_reactor(async {
            let (server, _client) = pair();
            let mut s = stream(server, wait);
            s.set_read_timeout(Some(50)).unwrap();
            let started = Instant::now();
            assert_eq!(s.read(100).await, Err(SocketError::Timeout));
            assert!(started.elapsed() >= Duration::from_millis(50));
            // `read_within` overrides the read timeout for one read, and the next is as before.
            let started = Instant::now();
            assert_eq!(
                s.read_within(100, Some(Duration::from_millis(10))).await,
                Err(SocketError::Timeout)
            );
            assert!(started.elapsed() < Duration::from_millis(50));
        })
    });
}

#[test]
fn a_request_deadline_ends_a_read_before_its_timeout() {
    both(|wait| {
        on_reactor(async {
            let (server, _client) = pair();
            let mut s = stream(server, wait);
            s.set_read_timeout(Some(10_000)).unwrap();
            let deadline = Instant::now() + Duration::from_millis(30);
            assert_eq!(s.read_by(100, Some(deadline)).await, Ok(None));
        })
    });
}

#[test]
fn a_peer_that_reads_nothing_times_a_write_out() {
    both(|wait| {
        on_reactor(async {
            let (server, _client) = pair();
            let mut s = stream(server, wait);
            s.set_write_timeout(Some(Duration::from_millis(100))).unwrap();
            // Far more than the socket buffers hold.
            let big = vec![0u8; 64 << 20];
            assert_eq!(s.write_all(&big).await, Err(SocketError::Timeout));
        })
    });
}

/// A self-signed certificate for "localhost", as a server config and the PEM to trust it.
fn tls_server() -> (Arc<rustls::ServerConfig>, Vec<u8>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let identity = Identity {
        certs: vec![made.cert.der().clone()],
        key: rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into()),
    };
    (server_config(identity, &[]).unwrap(), made.cert.pem().into_bytes())
}

#[test]
fn tls_both_ways_in_every_pairing_of_waits() {
    let (config, ca) = tls_server();
    for server_wait in [WaitBy::Blocking, WaitBy::Readiness] {
        for client_wait in [WaitBy::Blocking, WaitBy::Readiness] {
            let (server_sock, client_sock) = pair();
            let config = config.clone();
            let server = std::thread::spawn(move || {
                on_reactor(async move {
                    if server_wait == WaitBy::Readiness {
                        server_sock.set_nonblocking(true).unwrap();
                    }
                    let timeout = Some(Duration::from_secs(10));
                    let mut s = TcpStream::accept_tls(server_sock, config, timeout, server_wait)
                        .await
                        .unwrap();
                    assert!(s.is_tls());
                    let got = s.read(100).await.unwrap();
                    s.write_all(&[got.as_slice(), b" back"].concat()).await.unwrap();
                    s.shutdown(Shutdown::Write).unwrap();
                })
            });
            on_reactor(async {
                let mut c = stream(client_sock, client_wait);
                c.set_timeout(Some(10_000)).unwrap();
                let settings = TlsSettings {
                    verify: true,
                    ca_certs: Some(ca.clone()),
                    ..TlsSettings::default()
                };
                c.start_tls("localhost", &settings, &Default::default()).await.unwrap();
                assert_eq!(c.alpn_protocol().as_deref(), Some("http/1.1"));
                assert_eq!(
                    c.start_tls("localhost", &settings, &Default::default()).await,
                    Err(SocketError::Tls("the stream is already TLS".into()))
                );
                c.write_all(b"hello").await.unwrap();
                assert_eq!(c.read(100).await.unwrap(), b"hello back");
                // close_notify, then the end of the stream.
                assert!(c.read(100).await.unwrap().is_empty());
            });
            server.join().unwrap();
        }
    }
}

#[test]
fn a_handshake_that_never_comes_ends_at_its_deadline() {
    let (config, _) = tls_server();
    both(|wait| {
        let config = config.clone();
        on_reactor(async move {
            let (server, _silent_client) = pair();
            if wait == WaitBy::Readiness {
                server.set_nonblocking(true).unwrap();
            }
            let started = Instant::now();
            let timeout = Some(Duration::from_millis(100));
            let result = TcpStream::accept_tls(server, config, timeout, wait).await;
            assert!(matches!(result, Err(SocketError::Timeout)), "{:?}", result.err());
            let took = started.elapsed();
            assert!(
                took >= Duration::from_millis(100) && took < Duration::from_secs(2),
                "{took:?}"
            );
        })
    });
}

#[test]
fn a_plaintext_client_fails_the_handshake_in_words() {
    let (config, _) = tls_server();
    let (server, mut client) = pair();
    client.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let result = on_reactor(TcpStream::accept_tls(
        server,
        config,
        Some(Duration::from_secs(5)),
        WaitBy::Blocking,
    ));
    assert!(matches!(result, Err(SocketError::Tls(_))), "{:?}", result.err());
}

#[test]
fn connecting_by_readiness_names_a_refused_address() {
    on_reactor(async {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        for wait in [WaitBy::Blocking, WaitBy::Readiness] {
            let refused = TcpStream::connect("127.0.0.1", &[addr], Some(1000), None, wait, |_| Ok(())).await;
            assert_eq!(
                refused.err(),
                Some(SocketError::ConnectionRefused(format!("connection to {addr} refused")))
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let s = TcpStream::connect("127.0.0.1", &[addr], Some(1000), None, WaitBy::Readiness, |_| Ok(()))
            .await
            .unwrap();
        assert_eq!(s.peer_address().unwrap(), addr);
        assert_eq!(s.waits_by(), WaitBy::Readiness);
        let denied = TcpStream::connect("127.0.0.1", &[addr], None, None, WaitBy::Blocking, |_| {
            Err(SocketError::Denied("no".into()))
        })
        .await;
        assert_eq!(denied.err(), Some(SocketError::Denied("no".into())));
    });
}

#[test]
fn a_file_goes_out_whole_on_either_wire() {
    let (config, ca) = tls_server();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    // Plain: sendfile(2); 1000 bytes in, the rest.
    on_reactor(async {
        let (server, mut client) = pair();
        let mut s = stream(server, WaitBy::Readiness);
        let file = std::fs::File::open(&path).unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got
        });
        assert_eq!(
            s.send_file(&file, 1000, 1 << 30).await.unwrap(),
            content.len() as u64 - 1000
        );
        drop(s);
        assert_eq!(reader.join().unwrap(), content[1000..]);
    });
    // TLS: through rustls in blocks.
    let (server_sock, client_sock) = pair();
    let served = {
        let path = path.clone();
        std::thread::spawn(move || {
            on_reactor(async move {
                let mut s = TcpStream::accept_tls(server_sock, config, None, WaitBy::Blocking)
                    .await
                    .unwrap();
                let file = std::fs::File::open(path).unwrap();
                s.send_file(&file, 0, 1 << 30).await.unwrap();
                s.shutdown(Shutdown::Write).unwrap();
            })
        })
    };
    on_reactor(async {
        let mut c = TcpStream::new(client_sock);
        let settings = TlsSettings {
            verify: true,
            ca_certs: Some(ca),
            ..TlsSettings::default()
        };
        c.start_tls("localhost", &settings, &Default::default()).await.unwrap();
        let mut got = Vec::new();
        loop {
            let piece = c.read(1 << 16).await.unwrap();
            if piece.is_empty() {
                break;
            }
            got.extend(piece);
        }
        assert_eq!(got, content);
    });
    served.join().unwrap();
}
