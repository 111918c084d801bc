//! `httplib serve` and its signals, as a user meets them: Ctrl-C (SIGINT) stops at once even
//! mid-download, SIGTERM lets the response in flight finish, a second signal ends it at once.

use httplib_tests::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// 64 MiB: far more than socket buffers hold, so a download nobody reads stays in flight.
const HUGE: usize = 64 << 20;

/// `httplib serve` on a free port, once its banner is out; stdout kept for reading.
fn serve(dir: &std::path::Path) -> (Child, u16, BufReader<std::process::ChildStdout>) {
    let port = free_port();
    let mut child = Command::new(httplib_bin!())
        .args(["serve", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    assert!(banner.starts_with("Serving HTTP on 127.0.0.1"), "{banner}");
    (child, port, stdout)
}

fn site() -> tempfile::TempDir {
    let dir = fixture_dir();
    std::fs::write(dir.path().join("huge.bin"), vec![9u8; HUGE]).unwrap();
    dir
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Wait for the process to end (at most 10 s): its exit code and how long that took.
fn wait_exit(child: &mut Child) -> (Option<i32>, Duration) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("still running 10 s after the signal");
}

/// A download of huge.bin that nobody reads: the server is mid-response for as long as it lasts.
fn stalled_download(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /huge.bin HTTP/1.0\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s
}

#[test]
fn ctrl_c_stops_at_once_even_mid_download() {
    let dir = site();
    let (mut child, port, mut stdout) = serve(dir.path());
    let _stalled = stalled_download(port);
    signal(&child, "-INT");
    let (code, took) = wait_exit(&mut child);
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(3), "exited {took:?} after Ctrl-C");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "\nKeyboard interrupt received, exiting.\n");
}

#[test]
fn sigterm_lets_the_response_in_flight_finish() {
    let dir = site();
    let (mut child, port, _stdout) = serve(dir.path());
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /huge.bin HTTP/1.0\r\n\r\n").unwrap();
    let mut first = [0u8; 4096];
    let n = s.read(&mut first).unwrap();
    signal(&child, "-TERM");
    // The rest of the download still arrives whole, read at the client's pace.
    std::thread::sleep(Duration::from_millis(500));
    // Meanwhile the listener is closed: a new connection is refused (as nginx's graceful
    // stop refuses it), not accepted into a backlog and reset later.
    let refused = TcpStream::connect(("127.0.0.1", port)).map(drop).map_err(|e| e.kind());
    assert_eq!(refused, Err(std::io::ErrorKind::ConnectionRefused));
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    let (head, body) = split_response(&[&first[..n], &rest[..]].concat());
    assert!(head.starts_with("HTTP/1.0 200 OK"));
    assert_eq!(body.len(), HUGE);
    let (code, _) = wait_exit(&mut child);
    assert_eq!(code, Some(0));
}

#[test]
fn a_second_signal_ends_a_graceful_stop_at_once() {
    let dir = site();
    let (mut child, port, _stdout) = serve(dir.path());
    let _stalled = stalled_download(port);
    signal(&child, "-TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGTERM did not wait for the download"
    );
    signal(&child, "-INT");
    let (code, took) = wait_exit(&mut child);
    assert_eq!(code, Some(130));
    assert!(took < Duration::from_secs(3), "exited {took:?} after the second signal");
}
