//! httplib's imports over standard WASI 0.2 alone: `transport` as plain TCP over wasi:sockets
//! (names resolved by wasi:sockets/ip-name-lookup, timeouts by polling with a monotonic-clock
//! deadline), `cgi` refused. Composed between the guest and the runtime by `httplib compose
//! --adapter wasi-sockets`, it lets the guest (and an app using it) run under a runtime that
//! knows nothing of httplib, such as `wasmtime run -S inherit-network -S allow-ip-name-lookup`.
//! Which addresses are reachable is then the runtime's business (its socket permissions):
//! httplib's destination policy lives in httplib's host, not here.

#![cfg(target_arch = "wasm32")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[allow(missing_docs, unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        world: "wasi-sockets-adapter",
        path: "wit",
        with: {
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
            "wasi:filesystem/types@0.2.12": wasip2::filesystem::types,
        },
    });

    use super::Adapter;
    export!(Adapter);
}

mod stream;

use bindings::exports::httplib::http::cgi::{self, CgiError};
use bindings::exports::httplib::http::transport::{
    self, ConnectOptions, DirectoryEntry, EntryKind, ErrorCode, GuestLimits,
};
use stream::{NO_TLS, Stream};
use wasip2::filesystem::types::Descriptor;

/// Timeout for connecting, and each read and write, when the caller set none: the same as
/// httplib's host (`DEFAULT_IO_TIMEOUT`, curl's 300 s connect timeout).
pub const DEFAULT_IO_TIMEOUT_MS: u64 = 300_000;
/// Most bytes a whole-body `read()` may gather: what httplib's host allows by default (its
/// 64 MiB memory cap over `READ_ALL_MEMORY_DIVISOR`, 4).
pub const MAX_READ_ALL: u64 = 16 * 1024 * 1024;
struct Adapter;

impl transport::Guest for Adapter {
    type TcpStream = Stream;

    fn connect(host: String, port: u16, options: ConnectOptions) -> Result<transport::TcpStream, ErrorCode> {
        if options.tls.is_some() {
            return Err(ErrorCode::Tls(NO_TLS.into()));
        }
        let timeout = options.timeout_ms.or(Some(DEFAULT_IO_TIMEOUT_MS));
        let stream = Stream::connect(&host, port, options.source_address.as_ref(), timeout)?;
        Ok(transport::TcpStream::new(stream))
    }

    fn session_limits() -> GuestLimits {
        GuestLimits {
            max_response_body: None,
            max_read_all: MAX_READ_ALL,
        }
    }

    fn audit(_event: String, _args: Vec<String>) -> Result<(), ErrorCode> {
        Ok(())
    }

    fn system_mime_type(_extension: String) -> Option<String> {
        None
    }

    fn list_directory(dir: &Descriptor) -> Result<Vec<DirectoryEntry>, ErrorCode> {
        // Only what wasi:filesystem can say: UTF-8 names.
        let failed = |e| ErrorCode::Other(format!("reading the directory: {e:?}"));
        let stream = dir.read_directory().map_err(failed)?;
        let mut entries = Vec::new();
        while let Some(entry) = stream.read_directory_entry().map_err(failed)? {
            use wasip2::filesystem::types::DescriptorType as T;
            let kind = match entry.type_ {
                T::RegularFile => EntryKind::File,
                T::Directory => EntryKind::Directory,
                T::SymbolicLink => EntryKind::Symlink,
                _ => EntryKind::Other,
            };
            entries.push(DirectoryEntry {
                name: entry.name.into_bytes(),
                kind,
            });
        }
        Ok(entries)
    }
}

impl cgi::Guest for Adapter {
    type Script = NoScript;

    fn start(
        _program: Vec<u8>,
        _args: Vec<String>,
        _env: Vec<(String, String)>,
        _stdin: Vec<u8>,
    ) -> Result<cgi::Script, CgiError> {
        Err(CgiError::Disabled)
    }
}

/// No script ever runs here (`start` is always `disabled`): the type exists for the WIT.
struct NoScript;

impl cgi::GuestScript for NoScript {
    fn read(&self, _max: u64) -> Vec<u8> {
        Vec::new()
    }
    fn finish(&self) -> cgi::ScriptEnd {
        cgi::ScriptEnd {
            exit_code: 1,
            stopped: None,
            stderr: Vec::new(),
        }
    }
}
