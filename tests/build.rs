//! Builds the tests' CGI script (tests/cgi-script) for wasm32-wasip2 and tells the tests where
//! it is (CGI_SCRIPT_WASM). Its own target dir, for the reason host/build.rs gives.

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let script = manifest_dir.join("cgi-script");
    println!("cargo:rerun-if-changed={}", script.join("src").display());
    println!("cargo:rerun-if-changed={}", script.join("Cargo.toml").display());
    println!("cargo:rerun-if-changed=../host/wasm_cargo.rs");
    let target_dir = manifest_dir
        .parent()
        .expect("workspace root")
        .join("target")
        .join("cgi-script");
    let mut cmd = wasm_cargo(&target_dir);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(script.join("Cargo.toml"));
    let status = cmd.status().expect("running cargo for the CGI script");
    assert!(status.success(), "building tests/cgi-script for wasm32-wasip2 failed");
    let wasm = target_dir.join("wasm32-wasip2/release/env.wasm");
    println!("cargo:rustc-env=CGI_SCRIPT_WASM={}", wasm.display());
}

include!("../host/wasm_cargo.rs");
