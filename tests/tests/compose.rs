//! `httplib compose --adapter wasi-sockets`: the SDK's example app and the guest in one
//! component that imports only standard WASI 0.2, run by a host that links wasmtime-wasi's
//! WASI 0.2 and nothing of httplib, against CPython's http.server.

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
