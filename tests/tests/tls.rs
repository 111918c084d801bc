//! TLS both ways, over real sockets: our client against CPython's ssl-wrapped http.server,
//! CPython's ssl client against `httplib serve --tls-cert`, a CONNECT proxy in between.
//! Certificates are made here, at test time (rcgen); none is committed.

use httplib_tests::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

/// A test CA, a server certificate for localhost and 127.0.0.1, one for another name, and an
/// encrypted copy of the server key with its password file.
struct Pki {
    dir: tempfile::TempDir,
}

const PASSWORD: &str = "s3cret pass";

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "httplib test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        for (stem, names) in [
            ("server", vec!["localhost", "127.0.0.1"]),
            ("wrong", vec!["wrong.example"]),
            ("expired", vec!["localhost", "127.0.0.1"]),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
            params.distinguished_name.push(DnType::CommonName, names[0]);
            if stem == "expired" {
                params.not_before = rcgen::date_time_ymd(2001, 1, 1);
                params.not_after = rcgen::date_time_ymd(2002, 1, 1);
            }
            let cert = params.signed_by(&key, &ca).unwrap();
            std::fs::write(dir.path().join(format!("{stem}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.path().join(format!("{stem}.key")), key.serialize_pem()).unwrap();
            if stem == "server" {
                let der = key.serialize_der();
                let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
                let encrypted = info.encrypt(rand_core::OsRng, PASSWORD).unwrap();
                let pem = encrypted
                    .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
                    .unwrap();
                std::fs::write(dir.path().join("server.enc.key"), pem.as_bytes()).unwrap();
                std::fs::write(
                    dir.path().join("password.txt"),
                    format!("{PASSWORD}\nignored second line\n"),
                )
                .unwrap();
                std::fs::write(
                    dir.path().join("combined.pem"),
                    format!("{}{}", cert.pem(), key.serialize_pem()),
                )
                .unwrap();
            }
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

fn httplib(args: &[&str]) -> Output {
    Command::new(httplib_bin!()).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn client_verifies_cpython_https_server() {
    let pki = Pki::new();
    let site = fixture_dir();
    let peer = cpython_https_server(site.path(), &pki.path("server.pem"), &pki.path("server.key"));
    let url = format!("https://localhost:{}/hello.txt", peer.port);
    let out = httplib(&["get", "--cacert", &pki.arg("ca.pem"), &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, b"hello, world\n");
    // 5 MiB through TLS, byte-exact.
    let out = httplib(&[
        "get",
        "--cacert",
        &pki.arg("ca.pem"),
        &format!("https://127.0.0.1:{}/big.bin", peer.port),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout == std::fs::read(site.path().join("big.bin")).unwrap());
    // Without our CA: Mozilla's roots do not know it.
    let out = httplib(&["get", &url]);
    assert_eq!(out.status.code(), Some(60), "curl's code for a certificate that fails");
    assert!(
        stderr(&out).contains("unknown issuer") && stderr(&out).lines().count() == 1,
        "{}",
        stderr(&out)
    );
    // --insecure accepts it.
    let out = httplib(&["get", "-k", &url]);
    assert_eq!(out.stdout, b"hello, world\n", "{}", stderr(&out));
}

#[test]
fn client_refuses_a_name_mismatch_and_an_expired_certificate() {
    let pki = Pki::new();
    let site = fixture_dir();
    for (stem, cause) in [("wrong", "name mismatch"), ("expired", "expired")] {
        let peer = cpython_https_server(
            site.path(),
            &pki.path(&format!("{stem}.pem")),
            &pki.path(&format!("{stem}.key")),
        );
        let url = format!("https://localhost:{}/hello.txt", peer.port);
        let out = httplib(&["get", "--cacert", &pki.arg("ca.pem"), &url]);
        assert_eq!(out.status.code(), Some(60), "{stem}");
        assert!(stderr(&out).contains(cause), "{stem}: {}", stderr(&out));
    }
}

/// The certificate `openssl req -x509 -subj /CN=localhost -addext subjectAltName=DNS:localhost`
/// makes: self-signed, and marked CA:TRUE. Given with `--cacert`, curl and CPython accept it as
/// the server's own certificate; so must we, still checking the name (and the dates, which
/// webpki checks before it notices the CA flag).
#[test]
fn cacert_accepts_the_servers_own_self_signed_ca_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("self.pem"), dir.path().join("self.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let cacert = cert_path.display().to_string();

    let site = fixture_dir();
    let peer = cpython_https_server(site.path(), &cert_path, &key_path);
    let out = httplib(&[
        "get",
        "--cacert",
        &cacert,
        &format!("https://localhost:{}/hello.txt", peer.port),
    ]);
    assert_eq!(out.stdout, b"hello, world\n", "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0));

    // The same certificate does not vouch for a name it does not carry.
    let out = httplib(&[
        "get",
        "--cacert",
        &cacert,
        &format!("https://127.0.0.1:{}/hello.txt", peer.port),
    ]);
    assert_eq!(out.status.code(), Some(60));
    let err = stderr(&out);
    assert!(
        err.contains("certificate is not valid for '127.0.0.1' but for localhost (name mismatch)"),
        "{err}"
    );
    // Without it, the certificate is refused as self-signed (OpenSSL's words), not as Rust
    // Debug syntax.
    let out = httplib(&["get", &format!("https://localhost:{}/hello.txt", peer.port)]);
    assert_eq!(out.status.code(), Some(60));
    let err = stderr(&out);
    assert!(
        err.contains("certificate verify failed: self-signed certificate"),
        "{err}"
    );
    for debug in ["Other(", "OtherError", "Context {", "CaUsedAsEndEntity"] {
        assert!(!err.contains(debug), "{err}");
    }
}

/// `httplib serve --tls-cert ...` on a free port; returns the child and port once the banner is out.
fn our_https_server(args: &[&str], dir: &Path) -> (Peer, String) {
    cli_server(&httplib_bin!(), dir, args)
}

#[test]
fn cpython_ssl_client_gets_files_from_our_https_server_with_alpn() {
    let pki = Pki::new();
    let site = fixture_dir();
    let (peer, banner) = our_https_server(
        &[
            "--tls-cert",
            &pki.arg("server.pem"),
            "--tls-key",
            &pki.arg("server.key"),
        ],
        site.path(),
    );
    assert_eq!(
        banner,
        format!(
            "Serving HTTPS on 127.0.0.1 port {0} (https://127.0.0.1:{0}/) ...\n",
            peer.port
        )
    );
    let script = r#"
import http.client, ssl, sys, hashlib
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.set_alpn_protocols(["http/1.1"])
c = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=ctx)
c.request("GET", "/hello.txt")
alpn, version = c.sock.selected_alpn_protocol(), c.sock.version()
r = c.getresponse()
print(r.status, r.read().decode().strip(), alpn, version.startswith("TLSv1."))
c.request("GET", "/big.bin")
r = c.getresponse()
print(len(r.read()))
"#;
    let out = Command::new("python3")
        .args(["-c", script, &peer.port.to_string(), &pki.arg("ca.pem")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 hello, world http/1.1 True\n5242880\n"
    );
    // Our own client against our own server.
    let out = httplib(&[
        "get",
        "--cacert",
        &pki.arg("ca.pem"),
        &format!("https://localhost:{}/big.bin", peer.port),
    ]);
    assert!(
        out.stdout == std::fs::read(site.path().join("big.bin")).unwrap(),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_plaintext_client_costs_only_its_own_connection() {
    let pki = Pki::new();
    let site = fixture_dir();
    let (peer, _) = our_https_server(&["--tls-cert", &pki.arg("combined.pem")], site.path());
    let raw =
        try_raw_exchange(([127, 0, 0, 1], peer.port).into(), b"GET /hello.txt HTTP/1.0\r\n\r\n").unwrap_or_default();
    assert!(!raw.ends_with(b"hello, world\n"));
    let out = httplib(&[
        "get",
        "--cacert",
        &pki.arg("ca.pem"),
        &format!("https://localhost:{}/hello.txt", peer.port),
    ]);
    assert_eq!(out.stdout, b"hello, world\n", "{}", stderr(&out));
}

#[test]
fn encrypted_keys_passwords_and_cpythons_messages() {
    let pki = Pki::new();
    let site = fixture_dir();
    let (peer, banner) = our_https_server(
        &[
            "--tls-cert",
            &pki.arg("server.pem"),
            "--tls-key",
            &pki.arg("server.enc.key"),
            "--tls-password-file",
            &pki.arg("password.txt"),
        ],
        site.path(),
    );
    assert!(banner.starts_with("Serving HTTPS on 127.0.0.1"), "{banner}");
    let out = httplib(&[
        "get",
        "--cacert",
        &pki.arg("ca.pem"),
        &format!("https://localhost:{}/hello.txt", peer.port),
    ]);
    assert_eq!(out.stdout, b"hello, world\n", "{}", stderr(&out));
    drop(peer);

    std::fs::write(pki.path("bad-password.txt"), "not it\n").unwrap();
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "0", "--bind", "127.0.0.1"];
        args.extend_from_slice(extra);
        httplib(&args)
    };
    let out = serve(&[
        "--tls-cert",
        &pki.arg("server.pem"),
        "--tls-key",
        &pki.arg("server.enc.key"),
        "--tls-password-file",
        &pki.arg("bad-password.txt"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("wrong password"), "{}", stderr(&out));
    let out = serve(&[
        "--tls-cert",
        &pki.arg("server.pem"),
        "--tls-key",
        &pki.arg("server.enc.key"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("encrypted"), "{}", stderr(&out));
    let out = serve(&["--tls-key", &pki.arg("server.key")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).ends_with("httplib serve: error: --tls-key requires --tls-cert to be set\n"),
        "{}",
        stderr(&out)
    );
    let out = serve(&["--tls-password-file", &pki.arg("password.txt")]);
    assert!(
        stderr(&out).ends_with("error: --tls-password-file requires --tls-cert to be set\n"),
        "{}",
        stderr(&out)
    );
    let out = serve(&[
        "--tls-cert",
        &pki.arg("server.pem"),
        "--tls-password-file",
        &pki.arg("missing.txt"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("error: Failed to read TLS password file: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn https_through_a_connect_tunnel_verifies_the_target_not_the_proxy() {
    let pki = Pki::new();
    let site = fixture_dir();
    let peer = cpython_https_server(site.path(), &pki.path("server.pem"), &pki.path("server.key"));
    let proxy = recording_proxy(None);
    let proxy_port = proxy.port;
    let proxy_url = format!("http://127.0.0.1:{proxy_port}");
    let out = httplib(&[
        "get",
        "--proxy",
        &proxy_url,
        "--cacert",
        &pki.arg("ca.pem"),
        &format!("https://localhost:{}/hello.txt", peer.port),
    ]);
    assert_eq!(out.stdout, b"hello, world\n", "{}", stderr(&out));
    assert_eq!(proxy.lines(), [format!("CONNECT localhost:{} HTTP/1.1", peer.port)]);

    let refusing = recording_proxy(Some(
        "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
    ));
    let out = httplib(&[
        "get",
        "--proxy",
        &format!("http://127.0.0.1:{}", refusing.port),
        "--cacert",
        &pki.arg("ca.pem"),
        &format!("https://localhost:{}/", peer.port),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Tunnel connection failed: 407 Proxy Authentication Required"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plain_http_through_a_proxy_sends_absolute_form() {
    let site = fixture_dir();
    let origin = cpython_server(site.path(), "HTTP/1.0");
    let proxy = recording_proxy(None);
    let proxy_port = proxy.port;
    let out = httplib(&[
        "get",
        "--proxy",
        &format!("http://127.0.0.1:{proxy_port}"),
        &format!("http://127.0.0.1:{}/hello.txt", origin.port),
    ]);
    assert_eq!(out.stdout, b"hello, world\n", "{}", stderr(&out));
    assert_eq!(
        proxy.lines(),
        [format!("GET http://127.0.0.1:{}/hello.txt HTTP/1.1", origin.port)]
    );
}

#[test]
fn an_idle_https_keep_alive_connection_is_parked_and_its_tls_session_carries_on() {
    let pki = Pki::new();
    let site = fixture_dir();
    let (peer, _) = our_https_server(
        &[
            "--tls-cert",
            &pki.arg("server.pem"),
            "--tls-key",
            &pki.arg("server.key"),
            "--protocol",
            "HTTP/1.1",
            // No instance kept for the next connection: a parked connection's is dropped.
            "--instance-reuse",
            "never",
        ],
        site.path(),
    );
    // The server's descriptors: a connection in its instance holds two (the socket, shared by
    // its stream, the open-connection table and the lingering close; the instance's preopened
    // directory), a parked one only its socket.
    let script = r#"
import http.client, os, ssl, sys, time
pid = sys.argv[3]
fds = lambda: len(os.listdir(f"/proc/{pid}/fd"))
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=ctx)
for wait in (0.5, 0.5, 0):
    c.request("GET", "/big.bin")
    r = c.getresponse()
    print(r.status, len(r.read()), end=" ")
    if wait:
        # Still waiting in its instance for PARK_AFTER, then parked.
        time.sleep(0.02)
        answering = fds()
        time.sleep(wait)
        print(answering - fds(), end=" ")
print(c.sock.version().startswith("TLSv1."))
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &peer.port.to_string(),
            &pki.arg("ca.pem"),
            &peer.child.id().to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Parked after each answer (its instance's descriptor gone: one fewer than while it
    // waited in its instance), and the same TLS connection answers again.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 5242880 1 200 5242880 1 200 5242880 True\n"
    );
}

/// An async session over TLS on tokio's one-thread runtime: the handshake (held back 300 ms
/// by a relay), the request and a 5 MiB body, each step awaiting its socket's readiness,
/// while another task on the same thread keeps running; and an unknown issuer refused as
/// the blocking session refuses it.
#[test]
fn an_async_session_speaks_tls_without_blocking_its_executor() {
    use httplib_host::bindings::client::{Body, ConnectionOptions};
    use httplib_host::bindings::types::TlsOptions;
    use httplib_host::client::{AsyncClientSession, ClientError};
    use httplib_host::policy::OutboundPolicy;
    use std::sync::atomic::{AtomicU32, Ordering};
    let pki = Pki::new();
    let site = fixture_dir();
    let peer = cpython_https_server(site.path(), &pki.path("server.pem"), &pki.path("server.key"));
    let big = std::fs::read(site.path().join("big.bin")).unwrap();
    let ca = std::fs::read(pki.path("ca.pem")).unwrap();
    // In front of the server, a relay that holds its first answer (the ServerHello) back
    // 300 ms: the handshake waits, and the ticker must run meanwhile.
    let relay = TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_port = relay.local_addr().unwrap().port();
    let upstream = peer.port;
    std::thread::spawn(move || {
        for client in relay.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut c_in, &mut s_out));
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut first = [0u8; 1];
                if s_in.read_exact(&mut first).is_ok() {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    let _ = c_out.write_all(&first);
                    let _ = std::io::copy(&mut s_in, &mut c_out);
                }
                let _ = c_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let ticks = Arc::new(AtomicU32::new(0));
        let counted = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                counted.fetch_add(1, Ordering::Relaxed);
            }
        });
        let mut s = AsyncClientSession::new(&runtime(), OutboundPolicy::allow_only(["localhost:*"])).unwrap();
        let options = ConnectionOptions {
            tls: Some(TlsOptions {
                ca_certs: Some(ca),
                ..TlsOptions::verified()
            }),
            ..ConnectionOptions::http()
        };
        let c = s.open("localhost", Some(relay_port), &options).await.unwrap();
        s.request(c, "GET", "/big.bin", &Body::None, &[]).await.unwrap();
        let r = s.getresponse(c).await.unwrap();
        assert_eq!(s.status(r).await.unwrap(), 200);
        let body = s.read(r, None).await.unwrap();
        assert!(body == big, "{} bytes", body.len());
        s.close_response(r).await.unwrap();
        s.release(c).await.unwrap();
        ticker.abort();
        // 300 ms of handshake at 5 ms a tick: a blocked executor would have counted none.
        let n = ticks.load(Ordering::Relaxed);
        assert!(n >= 20, "the other task ran {n} times");

        // 8 MiB up to a peer that reads late: the socket fills, rustls holds records back, and
        // they must still go before the answer is awaited.
        let sink = tls_length_echo(&pki.path("server.pem"), &pki.path("server.key"));
        let c = s.open("localhost", Some(sink.port), &options).await.unwrap();
        let upload = vec![b'u'; 8 * 1024 * 1024];
        s.request(c, "POST", "/", &Body::Bytes(upload), &[]).await.unwrap();
        let r = s.getresponse(c).await.unwrap();
        assert_eq!(s.read(r, None).await.unwrap(), b"8388608");
        s.close_response(r).await.unwrap();
        s.release(c).await.unwrap();

        // Mozilla's roots do not know our CA.
        let c = s
            .open("localhost", Some(peer.port), &ConnectionOptions::https())
            .await
            .unwrap();
        match s.request(c, "GET", "/hello.txt", &Body::None, &[]).await {
            Err(ClientError::Http(_, message)) => assert!(message.contains("unknown issuer"), "{message}"),
            other => panic!("an unknown issuer: {other:?}"),
        }
    });
}

/// A TLS peer (CPython's ssl) that waits half a second, reads each request's Content-Length
/// body and answers with how many bytes it read.
fn tls_length_echo(cert: &Path, key: &Path) -> Peer {
    let port = free_port();
    let script = r#"
import http.server, ssl, sys, time
port, cert, key = sys.argv[1:4]
class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        time.sleep(0.5)  # the sender's socket fills up meanwhile
        n = len(self.rfile.read(int(self.headers["Content-Length"])))
        body = str(n).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Echo)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
"#;
    python_peer(script, port, &[cert.as_ref(), key.as_ref()])
}

/// `httplib run --cacert` and `-k`: the SDK's fetch app (which asks for a verified
/// connection) reaches a server whose CA only the operator knows, and fails without it.
#[test]
fn run_trusts_the_operators_ca_or_none_as_told() {
    let pki = Pki::new();
    let site = fixture_dir();
    let peer = cpython_https_server(site.path(), &pki.path("server.pem"), &pki.path("server.key"));
    let url = format!("https://localhost:{}/hello.txt", peer.port);
    let allow = format!("https://localhost:{}", peer.port);
    let run = |extra: &[&str]| {
        Command::new(httplib_bin!())
            .args(["run", env!("FETCH_APP_WASM"), "--allow", &allow])
            .args(extra)
            .args(["--", &url])
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(!out.status.success(), "an unknown CA is refused");
    assert!(stderr(&out).contains("unknown issuer"), "{}", stderr(&out));
    for extra in [&["--cacert", &pki.arg("ca.pem")][..], &["-k"][..]] {
        let out = run(extra);
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
        assert_eq!(out.stdout, b"hello, world\n", "{extra:?}");
    }
}
