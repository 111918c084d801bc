//! httplib-guest: Python's http.client and http.server as a WebAssembly component.
//!
//! `proto` is the sans-IO core; `client` and `server` drive it over the `transport` traits.
//! The WIT glue that converts types at the edge is the `httplib-component` crate
//! (guest/component), the only one with wit-bindgen's generated (unsafe) code.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod clock;
pub mod error;
/// Native only (fuzz targets and tests): the component carries none of it.
#[cfg(not(target_arch = "wasm32"))]
pub mod fuzz;
pub mod io;
pub mod proto;
pub mod server;
pub mod stderr;
pub mod transport;
