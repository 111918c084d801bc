//! The `plugin_server` example served to curl: a third-party handler component answering in
//! an embedder's own store type, under that embedder's grants, limits and audit hook.

#[path = "../../host/examples/plugin_server.rs"]
mod plugin_server;

use httplib_tests::*;
use plugin_server::{Plugin, plugin_server};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const HELLO: &str = env!("HELLO_HANDLER_WASM");
const SPIN: &str = env!("SPIN_HANDLER_WASM");

/// curl's status code and body for `url`.
fn curl(url: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-m", "20", "-w", "\n%{http_code}", url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.to_string(), body.to_string())
}

fn plugin(name: &str, wasm: &str, grants: Vec<String>) -> Plugin {
    Plugin {
        name: name.into(),
        wasm: std::fs::read(wasm).unwrap(),
        grants,
        directory: fixture_dir().keep(),
    }
}

#[test]
fn a_plugin_serves_in_the_embedders_store_under_its_grants_limits_and_audit() {
    let site = fixture_dir();
    std::fs::create_dir(site.path().join("private")).unwrap();
    std::fs::write(site.path().join("private/key"), "secret\n").unwrap();
    let upstream = cpython_server(site.path(), "HTTP/1.1");
    let other = cpython_server(site.path(), "HTTP/1.1");
    let origin = format!("http://127.0.0.1:{}", upstream.port);

    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (server, record) = plugin_server(runtime(), plugin("hello", HELLO, vec![origin.clone()]), any).unwrap();
    let server = server.spawn().unwrap();
    let base = format!("http://{}", server.local_addr());

    assert_eq!(
        curl(&format!("{base}/hello?name=plugin%21")),
        ("200".into(), "Hello, plugin!!\n".into())
    );
    assert_eq!(
        curl(&format!("{base}/hello.txt")),
        ("200".into(), "hello, world\n".into())
    );
    let fetch = |url: String| curl(&format!("{base}/fetch?url={url}"));
    assert_eq!(
        fetch(format!("{origin}/hello.txt")),
        ("200".into(), "hello, world\n".into())
    );

    // The audit hook's veto, the response-size limit, and the grant's edge.
    let (code, body) = fetch(format!("{origin}/private/key"));
    assert_eq!(code, "502");
    assert!(body.contains("private paths are not for plugins"), "{body}");
    let (code, body) = fetch(format!("{origin}/big.bin"));
    assert_eq!(code, "502");
    assert!(body.contains("1048576"), "{body}");
    let (code, body) = fetch(format!("http://127.0.0.1:{}/hello.txt", other.port));
    assert_eq!(code, "502");
    assert!(body.starts_with("PermissionError: "), "{body}");
    let (code, body) = fetch("http://169.254.169.254/latest/meta-data/".into());
    assert_eq!(code, "502");
    assert!(body.contains("link-local"), "{body}");

    // A panic loses its own connection; the next is served.
    assert_eq!(curl(&format!("{base}/panic")).0, "500");
    assert_eq!(curl(&format!("{base}/hello")), ("200".into(), "Hello, world!\n".into()));

    let audit = record.audit.lock().unwrap().clone();
    let connect = format!("hello: http.client.connect 127.0.0.1 {} 127.0.0.1 plain", upstream.port);
    assert!(audit.contains(&connect), "{audit:?}");
    assert!(
        audit
            .iter()
            .any(|l| l.starts_with("hello: http.client.send GET /private/key")),
        "{audit:?}"
    );
    // Each of the 9 connections got a store of the host's type (one more if it was parked
    // and came back), and each store, once dropped, says whom it answered.
    let stores = record.stores.load(Ordering::Relaxed);
    assert!(stores >= 9, "{stores}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while (record.ended.lock().unwrap().len() as u64) < stores && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let ended = record.ended.lock().unwrap().clone();
    assert_eq!(ended.len() as u64, stores, "{ended:?}");
    assert!(
        ended.iter().all(|l| l.starts_with("hello answered 127.0.0.1:")),
        "{ended:?}"
    );
}

#[test]
fn the_embedders_cpu_limit_stops_a_looping_plugin() {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (server, _record) = plugin_server(runtime(), plugin("spin", SPIN, Vec::new()), any).unwrap();
    let server = server.spawn().unwrap();
    let started = Instant::now();
    let (head, _) = split_response(&raw_exchange(server.local_addr(), b"GET /spin HTTP/1.0\r\n\r\n"));
    assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
    let took = started.elapsed();
    // plugin_server::PLUGIN_CPU is 1 s.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let raw = raw_exchange(server.local_addr(), b"GET /other HTTP/1.0\r\n\r\n");
    assert!(raw.ends_with(b"ok\n"), "{}", String::from_utf8_lossy(&raw));
}

/// An embedder's own store data for host code playing do_GET.
struct Counting {
    /// Requests answered in this store (this connection) so far.
    answered: u32,
    client: SocketAddr,
    wasi: httplib_host::wasmtime_wasi::WasiCtx,
    table: httplib_host::wasmtime::component::ResourceTable,
    httplib: httplib_host::view::HttplibCtx,
}

impl httplib_host::wasmtime_wasi::WasiView for Counting {
    fn ctx(&mut self) -> httplib_host::wasmtime_wasi::WasiCtxView<'_> {
        httplib_host::wasmtime_wasi::WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl httplib_host::view::HttplibView for Counting {
    fn httplib(&mut self) -> httplib_host::view::HttplibCtxView<'_> {
        httplib_host::view::HttplibCtxView {
            ctx: &mut self.httplib,
            table: &mut self.table,
        }
    }
}

#[test]
fn host_code_answers_in_an_embedders_own_store_type() {
    use httplib_host::server::{Exchange, Server, ServerConfig, StoreParts};
    let config = ServerConfig::for_store(|parts: StoreParts| Counting {
        answered: 0,
        client: parts.peer,
        wasi: parts.wasi,
        table: Default::default(),
        httplib: parts.httplib,
    });
    let do_get = |ex: &mut Exchange<'_, Counting>| {
        let state = ex.data();
        state.answered += 1;
        let body = format!("request {} from {}\n", state.answered, state.client.ip());
        ex.send_response(200, None)?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.write(body.as_bytes())?;
        Ok(true)
    };
    let config = ServerConfig {
        protocol_version: "HTTP/1.1".into(),
        log_requests: false,
        handler: Some(std::sync::Arc::new(do_get)),
        ..config
    };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), runtime(), config)
        .unwrap()
        .spawn()
        .unwrap();
    // Three requests on one connection share its store; a second connection has its own.
    let code = format!(
        "import http.client\n\
         for _ in range(2):\n\
         \x20   c = http.client.HTTPConnection('127.0.0.1', {})\n\
         \x20   for _ in range(3):\n\
         \x20       c.request('GET', '/'); print(c.getresponse().read().decode(), end='')\n\
         \x20   c.close()\n",
        server.local_addr().port()
    );
    let out = Command::new("python3").args(["-c", &code]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        lines,
        "request 1 from 127.0.0.1\nrequest 2 from 127.0.0.1\nrequest 3 from 127.0.0.1\n\
         request 1 from 127.0.0.1\nrequest 2 from 127.0.0.1\nrequest 3 from 127.0.0.1\n"
    );
}

/// The README's plugin-server code is `plugin_server` in `host/examples/plugin_server.rs`
/// (compiled and run above), word for word.
#[test]
fn the_readme_plugin_server_code_is_the_example_that_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("host/examples/plugin_server.rs")).unwrap();
    let start = example.find("/// A server on `addr`").unwrap();
    let end = start + example[start..].find("\n}\n").unwrap() + 3;
    assert!(
        readme.contains(&format!("```rust\n{}```", &example[start..end])),
        "README.md's plugin-server code differs from the example"
    );
}
