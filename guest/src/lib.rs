//! httplib-guest: Python's http.client and http.server as a WebAssembly component.
//!
//! `proto` is the sans-IO core; `client` and `server` drive it over the `transport` traits;
//! `bindings` (wasm32 only) is the thin WIT glue that converts types at the edge.

// No unsafe code of ours: only wit-bindgen's generated glue in `bindings` has any.
#![deny(unsafe_code)]

pub mod client;
pub mod clock;
pub mod error;
/// Native only (fuzz targets and tests): the component carries none of it.
#[cfg(not(target_arch = "wasm32"))]
pub mod fuzz;
pub mod io;
pub mod proto;
pub mod server;
pub mod transport;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod bindings;
