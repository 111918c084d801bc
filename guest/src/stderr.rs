//! Where the server's log lines go: standard error, one whole line a write. The component
//! sets a writer that makes one host call a line (`wasi:cli/stderr`'s stream, asked for once,
//! and its `blocking-write-and-flush`); std's `eprint!`, the default (native tests, and the
//! adapters that carry the server), asks for the stream, writes and drops it: three a line on
//! wasm32-wasip2 (`bench/hostcalls`).

use std::cell::Cell;

/// Writes one whole line (its newline included) to standard error.
pub type LineWriter = fn(&str);

thread_local! {
    static WRITER: Cell<LineWriter> = const { Cell::new(eprint_line) };
}

/// std's standard error.
fn eprint_line(line: &str) {
    eprint!("{line}");
}

/// From now on, lines go through `writer`.
pub fn set_writer(writer: LineWriter) {
    WRITER.with(|w| w.set(writer));
}

/// Write `line` (with its newline) to standard error.
pub fn write_line(line: &str) {
    WRITER.with(|w| w.get())(line)
}
