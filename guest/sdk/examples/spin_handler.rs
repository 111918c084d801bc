//! A handler component that never answers `GET /spin` (it computes for ever) and says
//! `ok` to anything else: what `serve --app --cpu-limit` is for. The tests run it to show that
//! a looping app loses its own connection (500) while the server answers everyone else.
//!
//! Build: `cargo build --release --target wasm32-wasip2 -p httplib-sdk --example spin_handler`.

// A native build (`cargo test` builds every example) exports nothing: the handler goes unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use httplib_sdk::Result;
use httplib_sdk::handler::{Handler, Request};

struct Spin;

impl Handler for Spin {
    fn do_get(request: &mut Request) -> Result<()> {
        if request.route() == "/spin" {
            let mut x: u64 = 1;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        request.send_response(200, None)?;
        request.send_header("Content-Length", "3")?;
        request.end_headers()?;
        request.write(b"ok\n")
    }
}

httplib_sdk::export_handler!(Spin);
