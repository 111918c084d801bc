//! `httplib compose --adapter wasi-sockets`: the SDK's example app and the guest in one
//! component that imports only standard WASI 0.2, run by a host that links wasmtime-wasi's
//! WASI 0.2 and nothing of httplib, against CPython's http.server; `--adapter
//! wasi-sockets-tls` (`-S tls`) and `--adapter wasi-http` (`-S http`) under the stock wasmtime CLI.

use httplib_host::wasmtime::component::{Component, Linker, ResourceTable};
use httplib_host::wasmtime::{Config, Engine, Store};
use httplib_host::wasmtime_wasi::p2::bindings::sync::Command;
use httplib_host::wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use httplib_host::wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use httplib_tests::*;
use std::path::Path;

const FETCH_APP: &str = env!("FETCH_APP_WASM");

/// A stock host's store: WASI and its table, nothing else.
struct Stock {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Stock {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn compose(dir: &Path, extra: &[&str]) -> Vec<u8> {
    let out = dir.join("composed.wasm");
    let status = std::process::Command::new(httplib_bin!())
        .args(["compose", FETCH_APP, "-o"])
        .arg(&out)
        .args(extra)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// Run `wasm` as `fetch ARGS...` with the network granted as `wasmtime run -S
/// inherit-network -S allow-ip-name-lookup` grants it (its `-S tcp` is on by default): (exit
/// ok, stdout, stderr).
fn run_stock(wasm: &[u8], args: &[&str], network: bool) -> (bool, Vec<u8>, String) {
    let engine = Engine::new(&Config::new()).unwrap();
    let component = Component::new(&engine, wasm).unwrap();
    let mut linker = Linker::new(&engine);
    httplib_host::wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    let stdout = MemoryOutputPipe::new(64 * 1024 * 1024);
    let stderr = MemoryOutputPipe::new(1024 * 1024);
    let mut wasi = WasiCtx::builder();
    wasi.arg("fetch")
        .args(args)
        .stdout(stdout.clone())
        .stderr(stderr.clone());
    if network {
        wasi.inherit_network().allow_tcp(true).allow_ip_name_lookup(true);
    }
    let mut store = Store::new(
        &engine,
        Stock {
            wasi: wasi.build(),
            table: ResourceTable::new(),
        },
    );
    let command = Command::instantiate(&mut store, &component, &linker).unwrap();
    let ok = matches!(command.wasi_cli_run().call_run(&mut store), Ok(Ok(())));
    drop(store);
    (
        ok,
        stdout.contents().to_vec(),
        String::from_utf8_lossy(&stderr.contents()).into_owned(),
    )
}

#[test]
fn the_composed_app_runs_on_plain_wasi_and_fetches_byte_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compose(tmp.path(), &["--adapter", "wasi-sockets"]);
    let dir = fixture_dir();
    let server = cpython_server(dir.path(), "HTTP/1.1");
    let origin = format!("http://127.0.0.1:{}", server.port);
    let (ok, stdout, stderr) = run_stock(
        &wasm,
        &[&format!("{origin}/big.bin"), &format!("{origin}/hello.txt")],
        true,
    );
    assert!(ok, "{stderr}");
    let mut expected = pseudo_random(5 * 1024 * 1024, 7);
    expected.extend(b"hello, world\n");
    assert!(stdout == expected, "body differs: {} bytes", stdout.len());
    assert!(stderr.contains("Content-Length: 5242880\n"), "{stderr}");

    // https needs the host's TLS, which the adapter does not have: said so, not trapped.
    let (ok, _, stderr) = run_stock(&wasm, &[&format!("https://127.0.0.1:{}/", server.port)], true);
    assert!(!ok);
    assert!(
        stderr.contains(
            "fetch: SSLError: TLS is not available: this component was composed with the wasi-sockets adapter"
        ),
        "{stderr}"
    );

    // Without the runtime's grant, the runtime's own refusal.
    let (ok, _, stderr) = run_stock(&wasm, &[&format!("{origin}/hello.txt")], false);
    assert!(!ok);
    assert!(
        stderr.contains("the runtime refused the network (access-denied)"),
        "{stderr}"
    );
}

/// `httplib compose FETCH_APP --adapter ADAPTER` into `dir`: the file, and what compose said.
fn compose_with(dir: &Path, adapter: &str) -> (std::path::PathBuf, String) {
    compose_with_adapter(&httplib_bin!(), Path::new(FETCH_APP), dir, adapter)
}

/// The stock wasmtime CLI: `wasmtime run FLAGS... WASM ARGS...`: (exit ok, stdout, stderr).
fn wasmtime_run(wasm: &Path, flags: &[&str], args: &[&str]) -> (bool, Vec<u8>, String) {
    let got = std::process::Command::new(stock_wasmtime())
        .arg("run")
        .args(flags)
        .arg(wasm)
        .args(args)
        .output()
        .unwrap();
    (
        got.status.success(),
        got.stdout,
        String::from_utf8_lossy(&got.stderr).into_owned(),
    )
}

/// `--adapter wasi-sockets-tls`: the same sockets, and https by the runtime's wasi:tls, under
/// the stock CLI (`wasmtime run -S tls`).
#[test]
fn the_wasi_sockets_tls_adapter_hands_https_to_the_runtimes_wasi_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, said) = compose_with(tmp.path(), "wasi-sockets-tls");
    assert!(
        said.contains("it imports WASI 0.2 and wasi:tls/types@0.2.0-draft"),
        "{said}"
    );
    let net = ["-S", "inherit-network", "-S", "allow-ip-name-lookup"];
    let tls_net = ["-S", "inherit-network", "-S", "allow-ip-name-lookup", "-S", "tls"];
    let site = fixture_dir();
    let server = cpython_server(site.path(), "HTTP/1.1");

    // Plain http as with the wasi-sockets adapter: 5 MiB byte for byte.
    let (ok, body, err) = wasmtime_run(&out, &tls_net, &[&format!("http://127.0.0.1:{}/big.bin", server.port)]);
    assert!(ok, "{err}");
    assert!(
        body == pseudo_random(5 * 1024 * 1024, 7),
        "body differs: {} bytes",
        body.len()
    );

    // https: the handshake is the runtime's, verified against its roots (stock wasmtime's are
    // the webpki roots, and it takes no CA of ours), so a local CA's certificate fails as
    // CPython's ssl fails it; not "TLS is not available", which the plain adapter says.
    let (_pki, _ca, cert, key) = loopback_pki();
    let tls = cpython_https_server(site.path(), &cert, &key);
    let (ok, _, err) = wasmtime_run(&out, &tls_net, &[&format!("https://127.0.0.1:{}/hello.txt", tls.port)]);
    assert!(!ok);
    assert!(
        err.contains(
            "fetch: SSLCertVerificationError: certificate verify failed (by the runtime's wasi:tls, \
             against its own roots): invalid peer certificate: UnknownIssuer"
        ),
        "{err}"
    );

    // Without `-S tls` the runtime has no wasi:tls to give: it refuses to start, naming it.
    let (ok, _, err) = wasmtime_run(&out, &net, &[&format!("http://127.0.0.1:{}/hello.txt", server.port)]);
    assert!(!ok);
    assert!(err.contains("wasi:tls/types@0.2.0-draft"), "{err}");
}

/// CPython's BaseHTTPRequestHandler answering every GET with a chunked body naming its path.
const CHUNKED_SERVER: &str = r#"
import http.server, sys
class Chunked(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (b"chunked ", self.path.encode(), b"\n"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Chunked).serve_forever()
"#;

/// `--adapter wasi-http`: the SDK's fetch with no socket at all, each request through the
/// runtime's `wasi:http/outgoing-handler` (`wasmtime run -S http` alone).
#[test]
fn the_wasi_http_adapter_fetches_through_the_runtimes_outgoing_handler() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, said) = compose_with(tmp.path(), "wasi-http");
    assert!(said.contains("it imports only WASI 0.2"), "{said}");
    let http = ["-S", "http"];
    let site = fixture_dir();
    let server = cpython_server(site.path(), "HTTP/1.1");
    let origin = format!("http://127.0.0.1:{}", server.port);

    // Three URLs of one origin on one kept connection (fetch reuses it): 5 MiB byte for byte,
    // a 404 (its reason the status's usual one: wasi:http carries a code only), a small file.
    let (ok, body, err) = wasmtime_run(
        &out,
        &http,
        &[
            &format!("{origin}/big.bin"),
            &format!("{origin}/missing"),
            &format!("{origin}/hello.txt"),
        ],
    );
    assert!(ok, "{err}");
    let big = pseudo_random(5 * 1024 * 1024, 7);
    assert!(
        body.starts_with(&big) && body.ends_with(b"hello, world\n"),
        "{} bytes",
        body.len()
    );
    assert!(err.contains("content-length: 5242880\n"), "{err}");
    assert!(err.contains("HTTP/1.1 404 Not Found\n"), "{err}");

    // A server that answers chunked, twice on one kept connection: with no length from the
    // runtime, the adapter frames the body chunked again, and the connection takes the next.
    let chunked = python_peer(CHUNKED_SERVER, free_port(), &[]);
    let origin = format!("http://127.0.0.1:{}", chunked.port);
    let (ok, body, err) = wasmtime_run(&out, &http, &[&format!("{origin}/a"), &format!("{origin}/b")]);
    assert!(ok, "{err}");
    assert_eq!(String::from_utf8_lossy(&body), "chunked /a\nchunked /b\n");
    assert_eq!(err.matches("Transfer-Encoding: chunked\n").count(), 2, "{err}");

    // https to a local CA's server: the runtime's TLS, its roots; the handshake's failure is
    // wasi:http's TLS-protocol-error, raised by the request as CPython's SSLError.
    let (_pki, _ca, cert, key) = loopback_pki();
    let tls = cpython_https_server(site.path(), &cert, &key);
    let (ok, _, err) = wasmtime_run(&out, &http, &[&format!("https://127.0.0.1:{}/hello.txt", tls.port)]);
    assert!(!ok);
    assert!(
        err.contains("fetch: SSLError: the runtime's TLS handshake failed"),
        "{err}"
    );

    // A refused connection, as CPython raises it.
    let (ok, _, err) = wasmtime_run(&out, &http, &[&format!("http://127.0.0.1:{}/", free_port())]);
    assert!(!ok);
    assert!(
        err.contains("fetch: ConnectionRefusedError: [Errno 111] Connection refused"),
        "{err}"
    );
}

#[test]
fn without_the_adapter_the_composed_app_needs_httplibs_host() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compose(tmp.path(), &[]);
    let engine = Engine::new(&Config::new()).unwrap();
    let component = Component::new(&engine, &wasm).unwrap();
    let imports: Vec<String> = component
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    assert!(
        imports.iter().any(|n| n.starts_with("httplib:http/transport@")),
        "{imports:?}"
    );
    assert!(
        !imports.iter().any(|n| n.starts_with("httplib:http/client")),
        "{imports:?}"
    );
}
