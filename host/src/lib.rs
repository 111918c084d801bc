//! httplib-host: runs the httplib component in wasmtime and gives it the world.
//!
//! `runtime` compiles and instantiates the guest; `transport` is the socket side of the WIT
//! contract; `cgi` runs CGI scripts, each in a sandbox of its own; `client` and `server` drive the guest's exported resources; `cli` is the
//! `httplib` command line.

pub mod bindings;
pub mod cgi;
pub mod cli;
pub mod client;
pub mod code_cache;
pub mod limits;
pub mod policy;
pub mod runtime;
pub mod server;
pub mod transport;
pub mod view;
pub mod wit_host;

pub use runtime::{HostState, Runtime, RuntimeOptions};
