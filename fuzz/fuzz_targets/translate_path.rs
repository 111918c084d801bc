//! `cargo fuzz run translate_path`: see `httplib_guest::fuzz::translate_path` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httplib_guest::fuzz::translate_path(data));
