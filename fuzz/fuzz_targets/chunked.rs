//! `cargo fuzz run chunked`: see `httplib_guest::fuzz::chunked` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httplib_guest::fuzz::chunked(data));
