//! Where the server's log lines go: standard error, one whole line a write
//! (`Handler::with_log_writer`). std's `eprint!`, the default (native tests, and the adapters
//! that carry the server), asks for the stream, writes and drops it: three host calls a line
//! on wasm32-wasip2 (`bench/hostcalls`); the component gives a writer that makes one
//! (`wasi:cli/stderr`'s stream, asked for once, and its `blocking-write-and-flush`).

/// Writes one whole line (its newline included) to standard error.
pub type LineWriter = fn(&str);

/// std's standard error.
pub fn eprint_line(line: &str) {
    eprint!("{line}");
}
