//! What the adapters over standard WASI share: the session's limits, directory listings from
//! wasi:filesystem, and CGI refused. This crate's `lib.rs` uses it, and the wasi:http adapters
//! (`guest/adapters/wasi-http-adapter`, `wasi-http-client`) include it by path: each generates
//! its bindings under `crate::bindings` with the same export paths.

use crate::bindings::exports::httplib::http::cgi::{self, CgiError};
use crate::bindings::exports::httplib::http::transport::{
    DirectoryEntry, EntryKind, ErrorCode, FileFound, FileKind, GuestLimits, TlsOptions,
};
use wasip2::clocks::monotonic_clock;
use wasip2::filesystem::types::Descriptor;
use wasip2::io::poll::{self, Pollable};

/// Timeout for connecting, and each read and write, when the caller set none: the same as
/// httplib's host (`DEFAULT_IO_TIMEOUT`, curl's 300 s connect timeout).
pub const DEFAULT_IO_TIMEOUT_MS: u64 = 300_000;
/// Most bytes of a file read at once for `send-file` (ours).
pub const SEND_FILE_CHUNK: u64 = 64 * 1024;
/// Most bytes a whole-body `read()` may gather: what httplib's host allows by default (its
/// 64 MiB memory cap over `READ_ALL_MEMORY_DIVISOR`, 4).
pub const MAX_READ_ALL: u64 = 16 * 1024 * 1024;

/// The component's export type (each crate implements `transport` on it with its stream).
pub struct Adapter;

/// Why the TLS options the guest asked for cannot hold where the runtime makes the TLS
/// connection (`how`: "wasi:http", "wasi:tls"): it verifies against its own roots, always,
/// and presents no client certificate. `None`: they can.
#[allow(dead_code)] // the adapters whose TLS is the runtime's call it
pub fn runtime_tls_refusal(options: &TlsOptions, how: &str) -> Option<String> {
    let why = if !options.verify {
        "certificate verification cannot be turned off: the runtime makes the TLS connection and always \
         verifies, against its own roots"
    } else if options.ca_certs.is_some() {
        "extra CA certificates cannot be given: the runtime makes the TLS connection and trusts its own \
         roots only (wasmtime: the webpki roots)"
    } else if options.client_identity.is_some() {
        "a client certificate cannot be presented: the runtime makes the TLS connection"
    } else {
        return None;
    };
    Some(format!("{why} (over {how})"))
}

/// Wait for `pollable`, at most `timeout_ms`: false when the time ran out first.
pub fn wait(pollable: &Pollable, timeout_ms: Option<u64>) -> bool {
    match timeout_ms {
        None => {
            pollable.block();
            true
        }
        Some(ms) => {
            let deadline = monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000));
            poll::poll(&[pollable, &deadline]).contains(&0)
        }
    }
}

/// `send-file` as reads of `file` handed to `write`, `SEND_FILE_CHUNK` at a time: how many
/// bytes were sent (fewer than `len` only when the file ended first).
pub fn send_file_by_writes(
    file: &Descriptor,
    offset: u64,
    len: u64,
    mut write: impl FnMut(Vec<u8>) -> Result<(), ErrorCode>,
) -> Result<u64, ErrorCode> {
    let mut sent = 0;
    while sent < len {
        let want = (len - sent).min(SEND_FILE_CHUNK);
        let (bytes, eof) = file
            .read(want, offset + sent)
            .map_err(|e| ErrorCode::Other(format!("reading the file: {e:?}")))?;
        let n = bytes.len() as u64;
        write(bytes)?;
        sent += n;
        if eof || n == 0 {
            break;
        }
    }
    Ok(sent)
}

/// No cap on a response body of our own; `MAX_READ_ALL` on a whole-body read.
pub fn session_limits() -> GuestLimits {
    GuestLimits {
        max_response_body: None,
        max_read_all: MAX_READ_ALL,
    }
}

/// The `transport` functions both adapters answer alike (all but `connect`), for their
/// `impl transport::Guest`: no limits of their own, no audit, no system MIME table, and
/// `list_directory` below.
macro_rules! common_transport {
    () => {
        fn session_limits() -> $crate::bindings::exports::httplib::http::transport::GuestLimits {
            $crate::shared::session_limits()
        }

        fn audit(
            _event: String,
            _args: Vec<String>,
        ) -> Result<(), $crate::bindings::exports::httplib::http::transport::ErrorCode> {
            Ok(())
        }

        fn system_mime_type(_extension: String) -> Option<String> {
            None
        }

        fn open_file(
            dir: &wasip2::filesystem::types::Descriptor,
            path: String,
        ) -> Result<
            (
                $crate::bindings::exports::httplib::http::transport::FileFound,
                Option<wasip2::filesystem::types::Descriptor>,
            ),
            $crate::bindings::exports::httplib::http::transport::ErrorCode,
        > {
            $crate::shared::open_file(dir, &path)
        }

        fn list_directory(
            dir: &wasip2::filesystem::types::Descriptor,
        ) -> Result<
            Vec<$crate::bindings::exports::httplib::http::transport::DirectoryEntry>,
            $crate::bindings::exports::httplib::http::transport::ErrorCode,
        > {
            $crate::shared::list_directory(dir)
        }
    };
}
pub(crate) use common_transport;

/// The `tcp-stream` methods of server-connection parking, for a stream that is never parked
/// (parking is httplib's host's, for idle server connections): phases ignored, nothing carried,
/// `await-request` a read under its timeout, and a response's head and file sent as a write
/// and a `send-file`.
macro_rules! never_parked {
    () => {
        fn set_phase(&self, _phase: $crate::bindings::exports::httplib::http::transport::ServerPhase) {}

        fn await_request(
            &self,
            len: u64,
            timeout_ms: Option<u64>,
        ) -> Result<Vec<u8>, $crate::bindings::exports::httplib::http::transport::ErrorCode> {
            self.set_read_timeout(timeout_ms)?;
            self.read(len)
        }

        fn carry(&self, _state: Vec<u8>) -> bool {
            false
        }

        fn send_head_and_file(
            &self,
            head: Vec<u8>,
            file: wasip2::filesystem::types::Descriptor,
            offset: u64,
            len: u64,
        ) -> Result<u64, $crate::bindings::exports::httplib::http::transport::ErrorCode> {
            self.write(head)?;
            self.send_file(&file, offset, len)
        }

        fn carried(&self) -> Option<Vec<u8>> {
            None
        }
    };
}
pub(crate) use never_parked;

/// `open-file` through wasi:filesystem: `stat-at` (following symlinks, which wasi keeps
/// beneath `dir`), then `open-at` for a regular file. A FIFO, socket or device is never opened.
pub fn open_file(dir: &Descriptor, path: &str) -> Result<(FileFound, Option<Descriptor>), ErrorCode> {
    use wasip2::filesystem::types::{DescriptorFlags, DescriptorType as T, OpenFlags, PathFlags};
    let path = if path.is_empty() { "." } else { path };
    let seen = |kind| FileFound {
        kind,
        size: 0,
        modified_seconds: 0,
    };
    let Ok(stat) = dir.stat_at(PathFlags::SYMLINK_FOLLOW, path) else {
        return Ok((seen(FileKind::Missing), None));
    };
    match stat.type_ {
        T::Directory => Ok((seen(FileKind::Directory), None)),
        T::RegularFile => match dir.open_at(
            PathFlags::SYMLINK_FOLLOW,
            path,
            OpenFlags::empty(),
            DescriptorFlags::READ,
        ) {
            Ok(file) => {
                let found = FileFound {
                    kind: FileKind::File,
                    size: stat.size,
                    modified_seconds: stat.data_modification_timestamp.map_or(0, |t| t.seconds as i64),
                };
                Ok((found, Some(file)))
            }
            Err(_) => Ok((seen(FileKind::Missing), None)),
        },
        _ => Ok((seen(FileKind::Other), None)),
    }
}

/// `dir`'s entries, as far as wasi:filesystem can say.
pub fn list_directory(dir: &Descriptor) -> Result<Vec<DirectoryEntry>, ErrorCode> {
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
pub struct NoScript;

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
