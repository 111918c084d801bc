//! Python on WASI through httplib: Python programs built by componentize-py against the
//! `python-command` world, with `guest/python/httplib_wasi` installed into http.client, run
//! by `httplib run`. Unmodified `urllib.request` and `http.client` code against CPython's
//! servers: downloads byte for byte, redirects, a POST, https with `--cacert`, and the
//! exceptions CPython raises where a server misbehaves or the policy refuses.

use httplib_tests::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root: componentize-py runs from it, as the README says.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// FNV-1a over the files a Python component is built from: a rebuild only when they change.
fn sources_hash(files: &[PathBuf]) -> u64 {
    let mut hash = 0xcbf29ce484222325u64;
    for file in files {
        for byte in std::fs::read(file).unwrap() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3);
        }
    }
    hash
}

fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// What the `componentize-py` command runs.
const COMPONENTIZE_PY: &str =
    "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; sys.exit(script())";

/// `componentize-py -d wit -w httplib:http/WORLD componentize APP -p guest/python -p DIR
/// -o OUT`, from the repository root (kept in the target dir while its sources stay the
/// same).
fn componentize(app: &str, dir: &str) -> PathBuf {
    componentize_for("python-command", app, dir)
}

fn componentize_for(world: &str, app: &str, dir: &str) -> PathBuf {
    let root = root();
    let mut sources = files_in(&root.join("guest/python/httplib_wasi"), "py");
    sources.push(root.join(dir).join(format!("{app}.py")));
    sources.extend(files_in(&root.join("wit"), "wit"));
    sources.extend(files_in(&root.join("wit/deps"), "wit"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("python-{app}-{:016x}.wasm", sources_hash(&sources)));
    if out.exists() {
        return out;
    }
    let partial = out.with_extension("partial");
    // componentize-py's own entry point, through python3: found wherever pip put its script.
    let built = Command::new("python3")
        .current_dir(&root)
        .args(["-c", COMPONENTIZE_PY])
        .args(["-d", "wit", "-w", &format!("httplib:http/{world}"), "componentize", app])
        .args(["-p", "guest/python", "-p", dir, "-o"])
        .arg(&partial)
        .output()
        .expect("componentize-py runs: python3 -m pip install componentize-py (.ci/run installs it)");
    assert!(
        built.status.success(),
        "componentize-py failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    std::fs::rename(&partial, &out).unwrap();
    out
}

/// The tests' probe app (tests/python/probe.py), built once.
fn probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| componentize("probe", "tests/python"))
}

/// `httplib run APP ARGS... -- APP_ARGS...`.
fn run(app: &Path, args: &[&str], app_args: &[&str]) -> Output {
    Command::new(httplib_bin!())
        .arg("run")
        .arg(app)
        .args(args)
        .arg("--")
        .args(app_args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256_hex(data: &[u8]) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(data)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn urlopen_downloads_follows_a_redirect_and_posts_against_cpythons_servers() {
    let site = fixture_dir();
    let big = pseudo_random(5 * 1024 * 1024, 29);
    std::fs::write(site.path().join("big.bin"), &big).unwrap();
    std::fs::create_dir(site.path().join("folder")).unwrap();
    std::fs::write(site.path().join("folder/index.html"), "<p>folder</p>\n").unwrap();
    let server = cpython_server(site.path(), "HTTP/1.1");
    let allow = format!("http://127.0.0.1:{}", server.port);
    let out_dir = tempfile::tempdir().unwrap();
    let dir = format!("{}::/out", out_dir.path().display());

    // 5 MiB, byte for byte, written where the app was given a directory.
    let url = format!("http://127.0.0.1:{}/big.bin", server.port);
    let got = run(
        probe(),
        &["--allow", &allow, "--dir", &dir],
        &["urlopen", &url, "", "/out/big.bin"],
    );
    assert!(
        got.status.success(),
        "{}{}",
        stdout(&got),
        String::from_utf8_lossy(&got.stderr)
    );
    let text = stdout(&got);
    assert!(
        text.starts_with(&format!("200 {url} 5242880 {}\n", sha256_hex(&big))),
        "{text}"
    );
    assert!(std::fs::read(out_dir.path().join("big.bin")).unwrap() == big);

    // CPython's 301 from /folder to /folder/, followed by urllib.
    let url = format!("http://127.0.0.1:{}/folder", server.port);
    let got = stdout(&run(probe(), &["--allow", &allow], &["urlopen", &url]));
    assert!(got.starts_with(&format!("200 {url}/ 14 ")), "{got}");
    assert!(got.contains("content-type: text/html\n"), "{got}");

    // A POST with a body and a header, echoed back by CPython's BaseHTTPRequestHandler.
    let echo = cpython_echo_server();
    let url = format!("http://127.0.0.1:{}/form?x=1", echo.port);
    let allow = format!("http://127.0.0.1:{}", echo.port);
    let got = stdout(&run(
        probe(),
        &["--allow", &allow],
        &["urlopen", &url, "name=value&more"],
    ));
    assert!(got.contains("echo: POST /form?x=1\n"), "{got}");
    for field in [
        "Content-Length: 15\n",
        "Content-Type: application/x-www-form-urlencoded\n",
        "X-Probe: yes\n",
        "User-Agent: Python-urllib/3.14\n",
    ] {
        assert!(got.contains(field), "{field:?} missing from {got}");
    }
    assert!(got.ends_with("\nname=value&more\n"), "{got}");
}

/// A server on loopback that answers every connection with `reply`, then closes.
fn misbehaving_server(reply: &str) -> Peer {
    let script = r#"
import socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen()
while True:
    c, _ = l.accept()
    c.recv(65536)
    c.sendall(sys.argv[2].encode())
    c.close()
"#;
    python_peer(script, free_port(), &[reply.as_ref()])
}

/// The probe's `client` mode: http.client's GET / to 127.0.0.1:`port`, granted; what it printed.
fn probe_client_get(port: u16) -> String {
    stdout(&run(
        probe(),
        &["--allow", "127.0.0.1"],
        &["client", "127.0.0.1", &port.to_string(), "/"],
    ))
}

#[test]
fn http_client_raises_cpythons_exceptions() {
    // Cut short of its Content-Length: IncompleteRead, with the bytes that came.
    let cut = misbehaving_server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    let got = probe_client_get(cut.port);
    assert_eq!(
        got,
        "200 OK 11 100\nraised http.client.IncompleteRead partial=10 expected=90: IncompleteRead(10 bytes read, 90 more expected)\n"
    );

    // Closed without a status line: RemoteDisconnected.
    let silent = misbehaving_server("");
    let got = probe_client_get(silent.port);
    assert_eq!(
        got,
        "raised http.client.RemoteDisconnected: Remote end closed connection without response\n"
    );

    // Nobody listening: urllib's URLError around ConnectionRefusedError.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let got = stdout(&run(probe(), &["--allow", "127.0.0.1"], &["urlopen", &url]));
    assert!(got.contains("reason builtins.ConnectionRefusedError: "), "{got}");

    // A 404 is urllib's HTTPError.
    let site = fixture_dir();
    let server = cpython_server(site.path(), "HTTP/1.1");
    let url = format!("http://127.0.0.1:{}/nope", server.port);
    let got = stdout(&run(probe(), &["--allow", "127.0.0.1"], &["urlopen", &url]));
    assert_eq!(got, "raised urllib.error.HTTPError: HTTP Error 404: File not found\n");

    // No rule grants it: PermissionError, and nothing reaches the server.
    let got = stdout(&run(
        probe(),
        &[],
        &["client", "127.0.0.1", &server.port.to_string(), "/"],
    ));
    assert!(
        got.starts_with("raised builtins.PermissionError: ") && got.contains("not allowed by the policy"),
        "{got}"
    );
}

#[test]
fn urlopen_over_https_trusts_what_httplib_run_cacert_names() {
    let (_pki, ca_pem, cert_pem, key_pem) = loopback_pki();
    let site = fixture_dir();
    let server = cpython_https_server(site.path(), &cert_pem, &key_pem);
    let url = format!("https://127.0.0.1:{}/hello.txt", server.port);
    let allow = format!("https://127.0.0.1:{}", server.port);
    let cacert = ca_pem.display().to_string();
    let got = stdout(&run(
        probe(),
        &["--allow", &allow, "--cacert", &cacert],
        &["urlopen", &url],
    ));
    assert!(
        got.starts_with(&format!("200 {url} 13 {}\n", sha256_hex(b"hello, world\n"))),
        "{got}"
    );
    // Without the CA: the certificate fails as CPython's ssl says it (URLError around it).
    let got = stdout(&run(probe(), &["--allow", &allow], &["urlopen", &url]));
    assert!(
        got.contains("reason httplib_wasi._errors.SSLCertVerificationError: "),
        "{got}"
    );
}

/// A server that reads a request body of either framing (CPython's http.server reads only a
/// Content-Length) and answers with the method, path and body it got.
const CHUNKED_BODY_READER: &str = r#"
import http.server, sys
class Reader(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            body = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)):
                body += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = f"{self.command} {self.path}: ".encode() + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Reader).serve_forever()
"#;

/// The probe composed with `--adapter wasi-http`, run by the stock wasmtime CLI with `-S http`
/// alone (no sockets granted): urllib over `wasi:http/outgoing-handler`.
#[test]
fn urlopen_composed_with_the_wasi_http_adapter_runs_under_stock_wasmtime_run_s_http() {
    let out_dir = tempfile::tempdir().unwrap();
    let (composed, made) = compose_with_adapter(&httplib_bin!(), probe(), out_dir.path(), "wasi-http");
    assert!(made.contains("it imports only WASI 0.2"), "{made}");
    let wasmtime = |flags: &[&str], args: &[&str]| {
        let out = Command::new(stock_wasmtime())
            .arg("run")
            .args(flags)
            .arg(&composed)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            stdout(&out),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let http = ["-S", "http"];

    // 5 MiB byte for byte, and CPython's 301 from /folder to /folder/ followed by urllib.
    let site = fixture_dir();
    let big = pseudo_random(5 * 1024 * 1024, 7);
    std::fs::create_dir(site.path().join("folder")).unwrap();
    std::fs::write(site.path().join("folder/index.html"), "<p>folder</p>\n").unwrap();
    let server = cpython_server(site.path(), "HTTP/1.1");
    let url = format!("http://127.0.0.1:{}/big.bin", server.port);
    let (ok, got, err) = wasmtime(&http, &["urlopen", &url]);
    assert!(ok, "{got}{err}");
    assert!(
        got.starts_with(&format!("200 {url} 5242880 {}\n", sha256_hex(&big))),
        "{got}"
    );
    let url = format!("http://127.0.0.1:{}/folder", server.port);
    let (ok, got, err) = wasmtime(&http, &["urlopen", &url]);
    assert!(ok, "{got}{err}");
    assert!(got.starts_with(&format!("200 {url}/ 14 ")), "{got}");
    assert!(got.contains("content-type: text/html\n"), "{got}");

    // A POST: the fields CPython's server received are urllib's, Host the runtime's.
    let echo = cpython_echo_server();
    let url = format!("http://127.0.0.1:{}/form?x=1", echo.port);
    let (ok, got, err) = wasmtime(&http, &["urlopen", &url, "name=value&more"]);
    assert!(ok, "{got}{err}");
    assert!(got.contains("echo: POST /form?x=1\n"), "{got}");
    for field in [
        "Content-Length: 15\n".to_owned(),
        "Content-Type: application/x-www-form-urlencoded\n".to_owned(),
        "X-Probe: yes\n".to_owned(),
        "User-Agent: Python-urllib/3.14\n".to_owned(),
        format!("host: 127.0.0.1:{}\n", echo.port),
    ] {
        assert!(
            got.to_ascii_lowercase().contains(&field.to_ascii_lowercase()),
            "{field:?} missing from {got}"
        );
    }
    assert!(got.ends_with("\nname=value&more\n"), "{got}");

    // A body with no length (http.client sends an iterable chunked): the adapter decodes the
    // chunks, the runtime frames the body its own way, and the server reads it whole.
    let reader = python_peer(CHUNKED_BODY_READER, free_port(), &[]);
    let port = reader.port.to_string();
    let (ok, got, err) = wasmtime(
        &http,
        &["chunked", "127.0.0.1", &port, "/up", "hello ", "wide ", "world"],
    );
    assert!(ok, "{got}{err}");
    assert_eq!(got, "200 POST /up: hello wide world\n");

    // http.client's keep-alive: three requests on one HTTPConnection (a 404 among them, whose
    // error page has a length), and a refused connection as CPython raises it.
    let port = server.port.to_string();
    let (ok, got, err) = wasmtime(
        &http,
        &["keepalive", "127.0.0.1", &port, "/hello.txt", "/nope", "/big.bin"],
    );
    assert!(ok, "{got}{err}");
    assert!(got.starts_with("/hello.txt 200 13\n/nope 404 "), "{got}");
    assert!(got.ends_with("/big.bin 200 5242880\n"), "{got}");
    let closed = free_port();
    let (ok, got, _) = wasmtime(&http, &["client", "127.0.0.1", &closed.to_string(), "/"]);
    assert!(!ok);
    assert!(got.contains("raised builtins.ConnectionRefusedError"), "{got}");

    // https is the runtime's: its TLS, its roots. Stock wasmtime trusts the webpki roots and
    // takes no CA of ours, so a server with a certificate from a local CA fails the handshake;
    // wasi:http's code for it is TLS-protocol-error alone, raised as CPython's SSLError from
    // the request (urllib's URLError around it), as on a socket.
    let (_pki, _ca, cert_pem, key_pem) = loopback_pki();
    let tls = cpython_https_server(site.path(), &cert_pem, &key_pem);
    let url = format!("https://127.0.0.1:{}/hello.txt", tls.port);
    let (ok, got, _) = wasmtime(&http, &["urlopen", &url]);
    assert!(!ok);
    assert!(
        got.contains("reason httplib_wasi._errors.SSLError: the runtime's TLS handshake failed"),
        "{got}"
    );

    // Verification off (CERT_NONE) cannot be honoured, since the runtime always verifies:
    // refused in words before anything is sent, not quietly verified anyway.
    let (ok, got, _) = wasmtime(&http, &["insecure", "127.0.0.1", &tls.port.to_string(), "/hello.txt"]);
    assert!(!ok);
    assert!(
        got.contains("SSLError: certificate verification cannot be turned off: the runtime makes the TLS"),
        "{got}"
    );

    // Without `-S http` the runtime has no outgoing-handler to give: it refuses to start.
    let (ok, _, err) = wasmtime(&[], &["urlopen", &url]);
    assert!(!ok);
    assert!(err.contains("wasi:http/"), "{err}");
}

/// The README's example, built and run as pasted: guest/python/examples/fetch.py.
#[test]
fn the_readmes_fetch_example_runs_as_pasted() {
    let fetch = componentize("fetch", "guest/python/examples");
    let site = fixture_dir();
    let server = cpython_server(site.path(), "HTTP/1.1");
    let url = format!("http://127.0.0.1:{}/hello.txt", server.port);
    let allow = format!("http://127.0.0.1:{}", server.port);
    let got = run(&fetch, &["--allow", &allow], &[&url]);
    assert!(got.status.success(), "{}", String::from_utf8_lossy(&got.stderr));
    assert_eq!(stdout(&got), format!("200 OK {url}\nhello, world\n"));

    // Composed with the wasi-sockets adapter, under the stock wasmtime CLI.
    let out_dir = tempfile::tempdir().unwrap();
    let (composed, _) = compose_with_adapter(&httplib_bin!(), &fetch, out_dir.path(), "wasi-sockets");
    let got = Command::new(stock_wasmtime())
        .args(["run", "-S", "inherit-network", "-S", "allow-ip-name-lookup"])
        .arg(&composed)
        .arg(&url)
        .output()
        .unwrap();
    assert!(got.status.success(), "{}", String::from_utf8_lossy(&got.stderr));
    assert_eq!(stdout(&got), format!("200 OK {url}\nhello, world\n"));
}

/// A handler written as for CPython's http.server (guest/python/examples/echo_handler.py),
/// served by `httplib serve --app`, answering curl: GET, POST, two requests on one
/// connection, a 404 page by `send_error`, and the server's 501 for a method it lacks.
#[test]
fn a_python_base_http_request_handler_answers_curl() {
    if !curl_here() {
        eprintln!("curl is not installed: skipped (.ci/run installs it)");
        return;
    }
    let handler = componentize_for("python-handler", "echo_handler", "guest/python/examples");
    let site = fixture_dir();
    let app = handler.display().to_string();
    let (server, _) = cli_server(&httplib_bin!(), site.path(), &["--app", &app, "--protocol", "HTTP/1.1"]);
    let base = format!("http://127.0.0.1:{}", server.port);
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-s", "-S", "-i"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
    };

    let got = curl(&[&format!("{base}/")]);
    assert!(
        got.starts_with("HTTP/1.1 200 OK\nServer: BaseHTTP/0.6 httplib/"),
        "{got}"
    );
    assert!(
        got.contains("\nContent-Type: text/plain\nContent-Length: 21\n"),
        "{got}"
    );
    assert!(got.ends_with("\n\nGET / from 127.0.0.1\n"), "{got}");

    let got = curl(&["--data-binary", "name=value&more", &format!("{base}/echo")]);
    assert!(got.starts_with("HTTP/1.1 200 OK\n"), "{got}");
    assert!(got.ends_with("\n\nname=value&more"), "{got}");

    // Kept alive: curl sends the second request on the first connection.
    let out = Command::new("curl")
        .args([
            "-s",
            "-v",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            &format!("{base}/"),
            &format!("{base}/"),
        ])
        .output()
        .unwrap();
    let trace = String::from_utf8_lossy(&out.stderr);
    assert_eq!(trace.matches("< HTTP/1.1 200 OK").count(), 2, "{trace}");
    assert!(trace.contains("Re-using existing connection"), "{trace}");

    let got = curl(&[&format!("{base}/nope")]);
    assert!(got.starts_with("HTTP/1.1 404 Nothing here\n"), "{got}");
    assert!(got.contains("<p>Message: Nothing here.</p>"), "{got}");

    let got = curl(&["-X", "PUT", &format!("{base}/")]);
    assert!(got.starts_with("HTTP/1.1 501 Unsupported method ('PUT')\n"), "{got}");
}
