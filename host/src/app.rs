//! Command components that use httplib (`httplib run`, and CGI scripts that call out): a
//! wasi:cli command whose `httplib:http/client` import is composed with the guest (see
//! `compose`), compiled once (`code_cache`), and linked to WASI 0.2 and httplib's imports, so
//! every socket it opens goes through the host's policy.

use crate::code_cache::CodeCache;
use crate::compose::{self, ComposeError};
use crate::view::{HostState, HttplibView};
use anyhow::Result;
use std::sync::{Arc, Mutex};
use wasmtime::Engine;
use wasmtime::component::Linker;
use wasmtime_wasi::p2::bindings::CommandPre;

/// Compiled commands kept, by their bytes (ours; a server runs a few scripts over and over,
/// and hashing a script's bytes on every request cost more than finding it by length and
/// memcmp among a few).
pub const MAX_PREPARED_COMMANDS: usize = 64;

/// Why a command cannot be run.
#[derive(Debug)]
pub enum LoadError {
    /// Composition refused it (not a component, not a command).
    Compose(ComposeError),
    /// It imports what the host does not supply: the names.
    Unsupplied(Vec<String>),
    /// Compiling or linking failed.
    Other(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Compose(e) => e.fmt(f),
            LoadError::Unsupplied(names) => write!(
                f,
                "it imports {}, which httplib cannot supply (it supplies WASI 0.2 and httplib:http)",
                names.join(", ")
            ),
            LoadError::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for LoadError {}

/// Turns command components into something ready to instantiate: composed with `guest` when
/// they import httplib's client, compiled through the code cache, linked, and kept by their
/// bytes. `T` is the data of the stores they will run in: httplib's [`HostState`], or an
/// embedder's own type (any [`HttplibView`]), so a plugin host runs them in its own
/// `Store<T>` beside its own state.
pub struct CommandLoader<T: HttplibView + 'static = HostState> {
    engine: Engine,
    linker: Linker<T>,
    guest: Arc<[u8]>,
    code_cache: CodeCache,
    prepared: Mutex<Vec<(Vec<u8>, CommandPre<T>)>>,
}

impl<T: HttplibView + 'static> CommandLoader<T> {
    /// A loader on `engine` (epoch interruption on, its ticker running), composing with the
    /// guest component `guest`.
    pub fn new(engine: &Engine, guest: Arc<[u8]>, code_cache: CodeCache) -> Result<Self> {
        let mut linker = Linker::new(engine);
        crate::view::add_to_linker(&mut linker)?;
        Ok(Self {
            engine: engine.clone(),
            linker,
            guest,
            code_cache,
            prepared: Mutex::default(),
        })
    }

    /// A loader for `runtime`'s engine (the one composed components get: see
    /// [`Runtime`](crate::Runtime)) and guest, with its compiled-code cache: what an
    /// embedder calls to run commands in its own `Store<T>` (give each store
    /// [`configure_store`](crate::configure_store)).
    pub fn for_runtime(runtime: &crate::Runtime) -> Result<Self> {
        Self::new(
            runtime.app_engine(),
            Arc::from(runtime.guest_wasm()),
            runtime.code_cache().clone(),
        )
    }

    /// The engine commands are compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// `program` ready to instantiate; from the kept ones when these bytes came before.
    pub fn prepare(&self, program: &[u8]) -> Result<CommandPre<T>, LoadError> {
        let kept = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, pre)) = kept.iter().find(|(bytes, _)| bytes.as_slice() == program) {
            return Ok(pre.clone());
        }
        drop(kept);
        // Composed when it imports httplib's client; run as it is when not (a plain CGI
        // script). `compose` refuses what is not a command before it looks further.
        let composed = match compose::compose(program, &self.guest, None) {
            Ok(bytes) => Some(bytes),
            Err(ComposeError::NoClientImport) => None,
            Err(e) => return Err(LoadError::Compose(e)),
        };
        let wasm = composed.as_deref().unwrap_or(program);
        let component = self
            .code_cache
            .component(&self.engine, wasm)
            .map_err(|e| LoadError::Other(format!("{e:#}")))?;
        let unsupplied = compose::unsupplied_imports(&self.engine, &component);
        if !unsupplied.is_empty() {
            return Err(LoadError::Unsupplied(unsupplied));
        }
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(CommandPre::new)
            .map_err(|e| LoadError::Other(format!("{e:#}")))?;
        let mut kept = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= MAX_PREPARED_COMMANDS {
            kept.clear();
        }
        kept.push((program.to_vec(), pre.clone()));
        Ok(pre)
    }
}
