//! Builds the tests' WebAssembly programs for wasm32-wasip2 and tells the tests where they are:
//! the CGI script (tests/cgi-script, CGI_SCRIPT_WASM) and the SDK's example app
//! (guest/sdk/examples/fetch.rs, FETCH_APP_WASM) and CGI script that calls out
//! (guest/sdk/examples/cgi_fetch.rs, CGI_FETCH_WASM), and the handler components
//! hello_handler and spin_handler (HELLO_HANDLER_WASM, SPIN_HANDLER_WASM), and a standard
//! wasi:http proxy component (tests/wasi-http-app, WASI_HTTP_APP_WASM). Their own target dirs,
//! for the reason host/build.rs gives.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("workspace root").to_path_buf();
    println!("cargo:rerun-if-changed=../host/wasm_cargo.rs");

    let script = manifest_dir.join("cgi-script");
    watch(&[&script.join("src"), &script.join("Cargo.toml")]);
    let target_dir = root.join("target").join("cgi-script");
    build(
        wasm_cargo(&target_dir)
            .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(script.join("Cargo.toml")),
        "tests/cgi-script",
    );
    let wasm = target_dir.join("wasm32-wasip2/release/env.wasm");
    println!("cargo:rustc-env=CGI_SCRIPT_WASM={}", wasm.display());

    let proxy = manifest_dir.join("wasi-http-app");
    watch(&[&proxy.join("src"), &proxy.join("Cargo.toml")]);
    let target_dir = root.join("target").join("wasi-http-app");
    build(
        wasm_cargo(&target_dir)
            .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(proxy.join("Cargo.toml")),
        "tests/wasi-http-app",
    );
    let wasm = target_dir.join("wasm32-wasip2/release/wasi_http_app.wasm");
    println!("cargo:rustc-env=WASI_HTTP_APP_WASM={}", wasm.display());

    let sdk = root.join("guest/sdk");
    watch(&[
        &sdk.join("src"),
        &sdk.join("examples"),
        &sdk.join("Cargo.toml"),
        &root.join("wit"),
    ]);
    let target_dir = root.join("target").join("sdk");
    build(
        wasm_cargo(&target_dir).current_dir(&root).args([
            "build",
            "-p",
            "httplib-sdk",
            "--example",
            "fetch",
            "--example",
            "cgi_fetch",
            "--example",
            "hello_handler",
            "--example",
            "spin_handler",
            "--release",
            "--target",
            "wasm32-wasip2",
        ]),
        "guest/sdk's example fetch",
    );
    let wasm = target_dir.join("wasm32-wasip2/release/examples/fetch.wasm");
    println!("cargo:rustc-env=FETCH_APP_WASM={}", wasm.display());
    let wasm = target_dir.join("wasm32-wasip2/release/examples/cgi_fetch.wasm");
    println!("cargo:rustc-env=CGI_FETCH_WASM={}", wasm.display());
    for (example, var) in [
        ("hello_handler", "HELLO_HANDLER_WASM"),
        ("spin_handler", "SPIN_HANDLER_WASM"),
    ] {
        let wasm = target_dir.join(format!("wasm32-wasip2/release/examples/{example}.wasm"));
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
}

fn watch(paths: &[&Path]) {
    for path in paths {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn build(cmd: &mut std::process::Command, what: &str) {
    let status = cmd.status().unwrap_or_else(|e| panic!("running cargo for {what}: {e}"));
    assert!(status.success(), "building {what} for wasm32-wasip2 failed");
}

include!("../host/wasm_cargo.rs");
