// Shared by host/build.rs and tests/build.rs (with `include!`): a nested cargo for a
// wasm32-wasip2 build in its own target dir (sharing the outer one's would wait forever on
// the outer build's lock), with the outer build's flags kept out of it.

/// `cargo` run with `target_dir`, none of the host build's flags leaking in.
fn wasm_cargo(target_dir: &std::path::Path) -> std::process::Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.env("CARGO_TARGET_DIR", target_dir);
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}
