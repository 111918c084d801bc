//! `cargo fuzz run response_head`: see `httplib_guest::fuzz::response_head` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httplib_guest::fuzz::response_head(data));
