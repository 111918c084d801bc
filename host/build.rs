//! Puts the guest component where `include_bytes!` finds it, so the `httplib` binary needs no
//! file beside it. In order:
//! 1. `HTTPLIB_GUEST_WASM=path/to/httplib_component.wasm`: that prebuilt component (a machine
//!    without the wasm32-wasip2 target, or a pinned build);
//! 2. the guest's sources beside this crate (this repository, or a git dependency on it):
//!    built for wasm32-wasip2, in a target dir of its own (a nested cargo sharing the outer
//!    one's would wait forever on the outer build's lock);
//! 3. neither (the crate as published on a registry carries no guest sources): nothing is
//!    embedded, and `Runtime::with_guest` takes the component at run time.
//!
//! The WIT travels inside the crate (`host/wit` is the repository's `wit/`).
//!
//! The wasi-sockets adapter (`guest/adapters/wasi-sockets`, for `httplib compose --adapter`)
//! is built and embedded beside the guest the same way (`HTTPLIB_ADAPTER_WASM` names a
//! prebuilt one); without its sources nothing is embedded and `compose --adapter` says so.
//! So is the wasi:http file server (`guest/adapters/wasi-http-server`, for `httplib compose
//! --wasi-http`; `HTTPLIB_WASI_HTTP_SERVER_WASM` names a prebuilt one), and the adapter and
//! driver that make a handler app one (`guest/adapters/wasi-http-adapter` and
//! `wasi-http-driver`, for `httplib compose --wasi-http APP.wasm`;
//! `HTTPLIB_WASI_HTTP_ADAPTER_WASM` and `HTTPLIB_WASI_HTTP_DRIVER_WASM`), and the adapter
//! that sends a client app's requests through wasi:http (`guest/adapters/wasi-http-client`,
//! for `httplib compose --adapter wasi-http`; `HTTPLIB_WASI_HTTP_CLIENT_WASM`), and the
//! wasi-sockets adapter with wasi:tls (`guest/adapters/wasi-sockets-tls`, `--adapter
//! wasi-sockets-tls`; `HTTPLIB_WASI_SOCKETS_TLS_WASM`).

use std::env;
use std::path::{Path, PathBuf};

/// The guest's shadow stack (ours; Rust's wasm default is 1 MiB). The stack sits below the data
/// and the heap in linear memory, so with 1 MiB a connection's working set began near 1 MiB,
/// past the pooling allocator's kept-resident prefix: every new instance page-faulted its
/// stack and data back in, each fault a TLB shootdown (measured: new connections 7.0k -> 12.6k
/// requests/s with 128 KiB). An overflow runs below address 0 and traps that instance only.
const GUEST_STACK_SIZE: usize = 128 * 1024;

fn main() {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let out = out_dir.join("httplib_guest.wasm");
    println!("cargo:rerun-if-env-changed=HTTPLIB_GUEST_WASM");
    // The components embedded beside the guest: (output, the variable naming a prebuilt one,
    // the file cargo builds). Each starts empty unless a prebuilt one is named.
    let extras = [
        (
            out_dir.join("wasi_sockets_adapter.wasm"),
            "HTTPLIB_ADAPTER_WASM",
            "httplib_wasi_sockets_adapter.wasm",
        ),
        (
            out_dir.join("wasi_http_server.wasm"),
            "HTTPLIB_WASI_HTTP_SERVER_WASM",
            "httplib_wasi_http_server.wasm",
        ),
        (
            out_dir.join("wasi_http_adapter.wasm"),
            "HTTPLIB_WASI_HTTP_ADAPTER_WASM",
            "httplib_wasi_http_adapter.wasm",
        ),
        (
            out_dir.join("wasi_http_driver.wasm"),
            "HTTPLIB_WASI_HTTP_DRIVER_WASM",
            "httplib_wasi_http_driver.wasm",
        ),
        (
            out_dir.join("wasi_sockets_tls.wasm"),
            "HTTPLIB_WASI_SOCKETS_TLS_WASM",
            "httplib_wasi_sockets_tls.wasm",
        ),
        (
            out_dir.join("wasi_http_client.wasm"),
            "HTTPLIB_WASI_HTTP_CLIENT_WASM",
            "httplib_wasi_http_client.wasm",
        ),
    ];
    let mut to_build = Vec::new();
    for (out, variable, built) in &extras {
        println!("cargo:rerun-if-env-changed={variable}");
        if let Some(prebuilt) = env::var_os(variable).map(PathBuf::from) {
            println!("cargo:rerun-if-changed={}", prebuilt.display());
            std::fs::copy(&prebuilt, out).unwrap_or_else(|e| panic!("{variable}={}: {e}", prebuilt.display()));
        } else {
            std::fs::write(out, b"").expect("writing an empty component");
            to_build.push((out, *built));
        }
    }
    if let Some(prebuilt) = env::var_os("HTTPLIB_GUEST_WASM") {
        let prebuilt = PathBuf::from(prebuilt);
        println!("cargo:rerun-if-changed={}", prebuilt.display());
        std::fs::copy(&prebuilt, &out).unwrap_or_else(|e| panic!("HTTPLIB_GUEST_WASM={}: {e}", prebuilt.display()));
        return;
    }
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("workspace root").to_path_buf();
    if !root.join("guest/Cargo.toml").is_file() {
        println!(
            "cargo:warning=httplib-host: no guest sources beside the crate and no HTTPLIB_GUEST_WASM: \
             no component embedded (give one to Runtime::with_guest)"
        );
        std::fs::write(&out, b"").expect("writing an empty guest");
        return;
    }
    for watched in [
        "guest/src",
        "guest/Cargo.toml",
        "guest/component/src",
        "guest/component/Cargo.toml",
        "guest/adapters/wasi-sockets/src",
        "guest/adapters/wasi-sockets/Cargo.toml",
        "guest/adapters/wasi-http-server/src",
        "guest/adapters/wasi-http-server/Cargo.toml",
        "guest/adapters/wasi-http-wire/src",
        "guest/adapters/wasi-http-wire/Cargo.toml",
        "guest/adapters/wasi-http-adapter/src",
        "guest/adapters/wasi-http-adapter/Cargo.toml",
        "guest/adapters/wasi-http-driver/src",
        "guest/adapters/wasi-http-driver/Cargo.toml",
        "guest/adapters/wasi-sockets-tls/src",
        "guest/adapters/wasi-sockets-tls/Cargo.toml",
        "guest/adapters/wasi-http-client/src",
        "guest/adapters/wasi-http-client/Cargo.toml",
        "wit",
        "Cargo.lock",
        "host/wasm_cargo.rs",
    ] {
        rerun_if_changed(&root.join(watched));
    }
    let target_dir = root.join("target").join("guest");
    let mut cmd = wasm_cargo(&target_dir);
    cmd.current_dir(&root)
        .args([
            "build",
            "-p",
            "httplib-component",
            "-p",
            "httplib-wasi-sockets-adapter",
            "-p",
            "httplib-wasi-http-server",
            "-p",
            "httplib-wasi-http-adapter",
            "-p",
            "httplib-wasi-http-driver",
            "-p",
            "httplib-wasi-http-client",
            "-p",
            "httplib-wasi-sockets-tls",
            "--lib",
            "--release",
            "--target",
            "wasm32-wasip2",
        ])
        // Line tables are useless in the embedded component; keep it small.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .env(
            "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
            format!("-C link-arg=-zstack-size={GUEST_STACK_SIZE}"),
        );
    let status = cmd.status().expect("running cargo for the guest");
    if !status.success() {
        panic!(
            "building the guest for wasm32-wasip2 failed: install the target (`rustup target add \
             wasm32-wasip2`), or name a prebuilt component with HTTPLIB_GUEST_WASM"
        );
    }
    let wasm = target_dir.join("wasm32-wasip2/release/httplib_component.wasm");
    std::fs::copy(&wasm, &out).unwrap_or_else(|e| panic!("copying {}: {e}", wasm.display()));
    for (out, built) in to_build {
        let wasm = target_dir.join("wasm32-wasip2/release").join(built);
        std::fs::copy(&wasm, out).unwrap_or_else(|e| panic!("copying {}: {e}", wasm.display()));
    }
}

fn rerun_if_changed(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
    if path.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            rerun_if_changed(&entry.path());
        }
    }
}

include!("wasm_cargo.rs");
