//! The `plugin_host` example run against a real server: an embedder's own store type, a
//! policy granting one origin, per-session limits, an audit hook that logs and vetoes.

#[path = "../../host/examples/plugin_host.rs"]
mod plugin_host;

use httplib_tests::*;

#[test]
fn the_plugin_host_example_grants_one_origin_limits_and_audits() {
    let site = fixture_dir();
    std::fs::create_dir(site.path().join("private")).unwrap();
    std::fs::write(site.path().join("private").join("key"), "secret\n").unwrap();
    let peer = cpython_server(site.path(), "HTTP/1.1");
    let other = cpython_server(site.path(), "HTTP/1.1");
    let origin = format!("http://127.0.0.1:{}", peer.port);
    let urls: Vec<String> = [
        format!("{origin}/hello.txt"),
        format!("http://localhost:{}/hello.txt", peer.port),
        format!("{origin}/private/key"),
        format!("{origin}/big.bin"),
        format!("http://127.0.0.1:{}/hello.txt", other.port),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ]
    .to_vec();
    let mut out = Vec::new();
    let log = plugin_host::run_plugin(&runtime(), "test-plugin", &origin, &urls, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("{}: 200, 13 bytes", urls[0]));
    // localhost resolves to the granted address.
    assert_eq!(lines[1], format!("{}: 200, 13 bytes", urls[1]));
    assert!(lines[2].contains("private paths are not for plugins"), "{}", lines[2]);
    assert!(
        lines[3].contains("LimitExceeded") && lines[3].contains("1048576"),
        "{}",
        lines[3]
    );
    assert!(lines[4].contains("not allowed by the policy"), "{}", lines[4]);
    assert!(lines[5].contains("169.254.169.254, link-local"), "{}", lines[5]);
    assert_eq!(lines[6], "plugin test-plugin made 6 requests");
    assert!(
        log.iter()
            .any(|l| l == &format!("http.client.connect 127.0.0.1 {} 127.0.0.1 plain", peer.port)),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with("http.client.send GET /private/key")),
        "{log:?}"
    );
}

/// The README's embedding code is `host/examples/embed_client.rs` (which `cargo test`
/// compiles), word for word.
#[test]
fn the_readme_embedding_code_is_the_example_that_compiles() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("host/examples/embed_client.rs")).unwrap();
    let code = &example[example.find("use httplib_host::Runtime;").unwrap()..];
    assert!(
        readme.contains(&format!("```rust\n{code}```")),
        "README.md's embedding code differs from the example"
    );
}

/// An embedder's own store type for a command component: its stdout captured, its own count.
struct Host {
    wasi: httplib_host::wasmtime_wasi::WasiCtx,
    table: httplib_host::wasmtime::component::ResourceTable,
    httplib: httplib_host::view::HttplibCtx,
    runs: u32,
}

impl httplib_host::wasmtime_wasi::WasiView for Host {
    fn ctx(&mut self) -> httplib_host::wasmtime_wasi::WasiCtxView<'_> {
        httplib_host::wasmtime_wasi::WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl httplib_host::view::HttplibView for Host {
    fn httplib(&mut self) -> httplib_host::view::HttplibCtxView<'_> {
        httplib_host::view::HttplibCtxView {
            ctx: &mut self.httplib,
            table: &mut self.table,
        }
    }
}

#[test]
fn the_command_loader_runs_an_app_in_the_embedders_own_store() {
    use httplib_host::wasmtime_wasi::p2::pipe::MemoryOutputPipe;
    let dir = fixture_dir();
    let server = cpython_server(dir.path(), "HTTP/1.0");
    let origin = format!("http://127.0.0.1:{}", server.port);
    let runtime = runtime();
    let loader = httplib_host::CommandLoader::<Host>::for_runtime(&runtime).unwrap();
    let pre = loader.prepare(&std::fs::read(env!("FETCH_APP_WASM")).unwrap()).unwrap();
    let stdout = MemoryOutputPipe::new(1 << 20);
    let mut wasi = httplib_host::wasmtime_wasi::WasiCtx::builder();
    wasi.stdout(stdout.clone())
        .args(&["fetch", &format!("{origin}/hello.txt"), "http://127.0.0.2:9/"]);
    let policy = httplib_host::policy::OutboundPolicy::allow([origin.as_str()]).unwrap();
    let host = Host {
        wasi: wasi.build(),
        table: Default::default(),
        httplib: httplib_host::view::HttplibCtx::new(policy),
        runs: 0,
    };
    let mut store = httplib_host::wasmtime::Store::new(loader.engine(), host);
    httplib_host::configure_store(&mut store);
    store.data_mut().runs += 1;
    let command = httplib_host::block_on(pre.instantiate_async(&mut store)).unwrap();
    let status = httplib_host::block_on(command.wasi_cli_run().call_run(&mut store)).unwrap();
    // The first URL is fetched; the second is refused by this store's policy, and the
    // command exits 1 saying so.
    assert_eq!(status, Err(()));
    assert_eq!(stdout.contents().as_ref(), b"hello, world\n");
    assert_eq!(store.data().runs, 1);
}
