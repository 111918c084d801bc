//! `httplib run`: the SDK's example app (guest/sdk/examples/fetch.rs, a tiny curl built for
//! wasm32-wasip2 by build.rs) composed with the guest and run against real servers, its
//! sockets limited to what `--allow` grants.

use httplib_tests::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const FETCH_APP: &str = env!("FETCH_APP_WASM");

fn run(app: &Path, extra: &[&str], args: &[&str]) -> Output {
    Command::new(httplib_bin!())
        .arg("run")
        .arg(app)
        .args(extra)
        .arg("--")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A server on 127.0.0.1 that answers each request head it reads with the next of
/// `responses` (closing the connection after the last), and counts the connections it took.
fn scripted_server(responses: Vec<Vec<u8>>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut responses = responses.into_iter();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            count.fetch_add(1, Ordering::SeqCst);
            while read_head(&mut conn) {
                match responses.next() {
                    Some(response) => conn.write_all(&response).unwrap(),
                    None => return,
                }
                if responses.len() == 0 {
                    let _ = conn.shutdown(std::net::Shutdown::Write);
                    // Let the client read all of it before the socket goes.
                    let _ = conn.read(&mut [0; 1]);
                    return;
                }
            }
        }
    });
    (port, accepted)
}

/// Read one request head (to its blank line); false at end of stream.
fn read_head(conn: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

#[test]
fn the_example_app_fetches_five_mebibytes_byte_exact_from_cpython() {
    let dir = fixture_dir();
    let server = cpython_server(dir.path(), "HTTP/1.1");
    let origin = format!("http://127.0.0.1:{}", server.port);
    let out = run(
        Path::new(FETCH_APP),
        &["--allow", &origin],
        &[&format!("{origin}/hello.txt"), &format!("{origin}/big.bin")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut expected = b"hello, world\n".to_vec();
    expected.extend(pseudo_random(5 * 1024 * 1024, 7));
    assert!(out.stdout == expected, "body differs: {} bytes", out.stdout.len());
    let err = stderr(&out);
    assert!(err.contains("HTTP/1.1 200 OK\nServer: SimpleHTTP"), "{err}");
    assert!(err.contains("Content-Length: 5242880\n"), "{err}");
}

#[test]
fn requests_to_one_origin_reuse_one_kept_alive_connection_and_chunked_bodies_are_decoded() {
    let (port, accepted) = scripted_server(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfirst\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nsecond \r\n6;ext=1\r\nchunk\n\r\n0\r\nX-Trailer: t\r\n\r\n"
            .to_vec(),
    ]);
    let origin = format!("http://127.0.0.1:{port}");
    let out = run(
        Path::new(FETCH_APP),
        &["--allow", &origin],
        &[&format!("{origin}/a"), &format!("{origin}/b")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "first\nsecond chunk\n");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "both requests on one connection");
    assert!(
        stderr(&out).contains("Transfer-Encoding: chunked\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_body_cut_short_is_an_incomplete_read_printed_as_python_prints_it() {
    let (port, _) = scripted_server(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec()]);
    let origin = format!("http://127.0.0.1:{port}");
    let out = run(Path::new(FETCH_APP), &["--allow", &origin], &[&format!("{origin}/")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "abc");
    assert!(
        stderr(&out).contains("fetch: IncompleteRead(3 bytes read, 7 more expected)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn nothing_is_reachable_without_a_rule_and_a_wildcard_never_reaches_loopback() {
    let (port, accepted) = scripted_server(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()]);
    let url = format!("http://127.0.0.1:{port}/");
    let other = format!("http://127.0.0.1:{}", free_port());
    for extra in [&[][..], &["--allow", &other][..], &["--allow", "http://*"][..]] {
        let out = run(Path::new(FETCH_APP), extra, &[&url]);
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "fetch: PermissionError: denied by host policy: connection to http://127.0.0.1:{port} (127.0.0.1, loopback) is not allowed by the policy"
            )),
            "{extra:?}: {err}"
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no socket reached the server");
}

#[test]
fn what_cannot_run_is_refused_with_a_reason_not_a_trap() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("core.wasm");
    std::fs::write(&module, wat::parse_str("(module)").unwrap()).unwrap();
    let out = run(&module, &[], &[]);
    assert_eq!(out.status.code(), Some(126));
    assert!(
        stderr(&out).contains("not a WebAssembly component: a core WebAssembly module"),
        "{}",
        stderr(&out)
    );

    // A command that imports an interface nobody supplies.
    let odd = dir.path().join("odd.wasm");
    let component = r#"(component
        (import "example:odd/thing" (instance (export "f" (func))))
        (core module $m (func (export "run") (result i32) i32.const 0))
        (core instance $i (instantiate $m))
        (func $run (result (result)) (canon lift (core func $i "run")))
        (instance $run (export "run" (func $run)))
        (export "wasi:cli/run@0.2.0" (instance $run)))"#;
    std::fs::write(&odd, wat::parse_str(component).unwrap()).unwrap();
    let out = run(&odd, &[], &[]);
    assert_eq!(out.status.code(), Some(126));
    assert!(
        stderr(&out).contains("it imports example:odd/thing, which httplib cannot supply"),
        "{}",
        stderr(&out)
    );
}

/// An app that binds httplib's transport itself could open a raw stream to a granted origin and
/// send what it likes, past the guest's `http.client.send` audit event (which the README's
/// audit hook uses to veto a path). Apps get only the client and its types: one that imports
/// `transport` (or `cgi`) is refused before anything of it runs.
#[test]
fn an_app_that_imports_the_transport_itself_is_refused_before_it_runs() {
    let (port, accepted) = scripted_server(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()]);
    let dir = tempfile::tempdir().unwrap();
    for (file, imports) in [
        (
            "raw.wasm",
            r#"(import "httplib:http/transport@0.1.0" (instance (export "connect" (func))))
               (import "httplib:http/client@0.1.0" (instance (export "http-port" (func (result u16)))))"#,
        ),
        (
            "cgi.wasm",
            r#"(import "httplib:http/cgi@0.1.0" (instance (export "run" (func))))"#,
        ),
    ] {
        let app = dir.path().join(file);
        let component = format!(
            r#"(component {imports}
                (core module $m (func (export "run") (result i32) i32.const 0))
                (core instance $i (instantiate $m))
                (func $run (result (result)) (canon lift (core func $i "run")))
                (instance $run (export "run" (func $run)))
                (export "wasi:cli/run@0.2.0" (instance $run)))"#
        );
        std::fs::write(&app, wat::parse_str(&component).unwrap()).unwrap();
        let allow = format!("http://127.0.0.1:{port}");
        let out = run(&app, &["--allow", &allow], &[]);
        assert_eq!(out.status.code(), Some(126), "{file}: {}", stderr(&out));
        let interface = if file == "raw.wasm" { "transport" } else { "cgi" };
        assert!(
            stderr(&out).contains(&format!(
                "it imports httplib:http/{interface}@0.1.0: an app gets only httplib:http/client and its types"
            )),
            "{file}: {}",
            stderr(&out)
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing of either app ran");
}
