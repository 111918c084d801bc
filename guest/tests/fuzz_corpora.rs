//! Replays every input the fuzzers kept (`fuzz/corpus/<target>/`) through the same entry
//! points they drive, on the stable toolchain, so what once was found stays fixed.

use std::path::PathBuf;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "{target}: only {} inputs kept", inputs.len());
    for input in &inputs {
        let data = std::fs::read(input).unwrap();
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "{target}: {} panics", input.display());
    }
}

#[test]
fn request_head_corpus() {
    replay("request_head", httplib_guest::fuzz::request_head);
}

#[test]
fn response_head_corpus() {
    replay("response_head", httplib_guest::fuzz::response_head);
}

#[test]
fn chunked_corpus() {
    replay("chunked", httplib_guest::fuzz::chunked);
}

#[test]
fn translate_path_corpus() {
    replay("translate_path", httplib_guest::fuzz::translate_path);
}
