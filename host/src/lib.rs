#![deny(missing_docs)]
//! httplib-host: runs the httplib component (Python's http.client and http.server, in a
//! WebAssembly guest) in wasmtime, and gives it sockets the host grants, limits and audits.
//!
//! A plugin host embeds it in its own store: its store type carries httplib's
//! [`view::HttplibCtx`] beside its own data, a [`policy::OutboundPolicy`] says where sockets
//! may go (the default: nowhere), [`limits::SessionLimits`] bound each session, and every
//! connection is audited. This runs as a doc test, with no network: the plugin may reach one
//! origin, so loopback is refused before a socket is opened.
//!
//! ```
//! use httplib_host::bindings::client::{Body, ConnectionOptions};
//! use httplib_host::client::ClientSession;
//! use httplib_host::policy::OutboundPolicy;
//! use httplib_host::limits::SessionLimits;
//! use httplib_host::view::{self, HttplibCtx, HttplibCtxView, HttplibView};
//! use httplib_host::wasmtime::component::{Linker, ResourceTable};
//! use httplib_host::wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
//! use httplib_host::Runtime;
//!
//! /// The plugin host's own store data.
//! struct Plugin {
//!     name: &'static str,
//!     wasi: WasiCtx,
//!     table: ResourceTable,
//!     httplib: HttplibCtx,
//! }
//!
//! impl WasiView for Plugin {
//!     fn ctx(&mut self) -> WasiCtxView<'_> {
//!         WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
//!     }
//! }
//!
//! impl HttplibView for Plugin {
//!     fn httplib(&mut self) -> HttplibCtxView<'_> {
//!         HttplibCtxView { ctx: &mut self.httplib, table: &mut self.table }
//!     }
//! }
//!
//! # fn main() -> anyhow::Result<()> {
//! let runtime = Runtime::new()?;
//! let mut linker = Linker::<Plugin>::new(runtime.engine());
//! view::add_to_linker(&mut linker)?;
//! let pre = runtime.prepare(&linker)?;
//!
//! let policy = OutboundPolicy::allow(["https://api.example.com"]).map_err(anyhow::Error::msg)?;
//! let limits = SessionLimits { max_response_body: Some(1 << 20), ..SessionLimits::default() };
//! let plugin = Plugin {
//!     name: "weather",
//!     wasi: WasiCtx::builder().build(),
//!     table: ResourceTable::new(),
//!     httplib: HttplibCtx::new(policy).with_limits(limits),
//! };
//! let (store, guest) = runtime.instantiate_in(&pre, plugin)?;
//! let mut session = ClientSession::from_instance(store, guest);
//!
//! let c = session.open("127.0.0.1", Some(8080), &ConnectionOptions::http())?;
//! let refused = session.request(c, "GET", "/", &Body::None, &[]).unwrap_err();
//! assert!(refused.to_string().contains("not allowed by the policy"), "{refused}");
//! assert_eq!(session.store().data().name, "weather");
//! # Ok(())
//! # }
//! ```
//!
//! From async code, [`client::AsyncClientSession`] has the same calls as futures: its sockets
//! wait on the caller's tokio reactor, and a dropped call drops the session's store (sockets
//! closed, instance returned); [`server::Server::serve_until`] serves until a future completes.
//!
//! Modules, lowest first: `policy`, `limits`, `code_cache` and `transport` (sockets and TLS,
//! no WIT) know nothing above them; `bindings` are the generated WIT types; `view` is what a
//! store gives httplib; `wit_host` implements the guest's imports on it; `runtime` compiles
//! and instantiates the guest; `client` and `server` drive its exports; `cli` is the
//! `httplib` command line.

mod app;
/// The generated host bindings of the `httplib:http` WIT package.
/// (Item docs come from the WIT where bindgen carries them.)
#[allow(missing_docs)]
pub mod bindings;
pub mod cgi;
#[cfg(feature = "cli")]
mod cli;
pub mod client;
mod code_cache;
pub mod compose;
pub mod files;
pub mod limits;
pub mod mime_types;
pub mod policy;
mod runtime;
pub mod script;
pub mod server;
pub mod stream;
pub mod transport;
pub mod view;
mod wait;
mod wit_host;

pub use app::CommandLoader;
/// The `httplib` command line, as the binary runs it (the `cli` feature, on by default).
#[cfg(feature = "cli")]
pub use cli::main as cli_main;
pub use runtime::{Allocation, GUEST_WASM, Runtime, RuntimeOptions, configure_store, start_epoch_ticker};
pub use wait::block_on;
/// The wasmtime this crate is built on (an embedder's `Linker<T>` and `Store<T>` must be its).
pub use wasmtime;
/// The wasmtime-wasi this crate is built on.
pub use wasmtime_wasi;
