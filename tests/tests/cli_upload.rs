//! Uploads as curl sends them: -F multipart forms, --json, -d/--data-binary/--data-urlencode
//! joined in order, -G, -T from a file and from a pipe. Each case goes to a server that
//! records the request; ours and curl's must agree byte for byte (the multipart boundary,
//! random in both, aside).

use httplib_tests::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};

/// What a request carried, as a test compares it.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    line: String,
    /// Content-Type, Content-Length and Transfer-Encoding, as sent.
    framing: Vec<String>,
    body: Vec<u8>,
    /// The whole head, as sent.
    head: String,
}

/// A server that records the first request, answers it with `status` (and a Location), and
/// closes; later connections are accepted and closed.
fn recorder(status: &'static str) -> (u16, Recorded) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(record(&listener, status));
        for conn in listener.incoming() {
            drop(conn);
        }
    });
    (port, Recorded(rx))
}

/// The first request a `recorder` got.
struct Recorded(std::sync::mpsc::Receiver<Option<Seen>>);

impl Recorded {
    fn join(self) -> Result<Option<Seen>, std::sync::mpsc::RecvError> {
        self.0.recv()
    }
}

fn record(listener: &TcpListener, status: &str) -> Option<Seen> {
    {
        let (mut conn, _) = listener.accept().ok()?;
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 65536];
        let head_end = loop {
            if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = conn.read(&mut buf).ok()?;
            if n == 0 {
                return None;
            }
            raw.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
        let field = |name: &str| {
            head.lines()
                .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
                .map(|l| l.to_string())
        };
        let length: Option<usize> = field("content-length").and_then(|l| l.split(':').nth(1)?.trim().parse().ok());
        let chunked = field("transfer-encoding").is_some();
        let mut body = raw[head_end..].to_vec();
        loop {
            let done = match (length, chunked) {
                (Some(n), _) => body.len() >= n,
                (None, true) => body.ends_with(b"0\r\n\r\n"),
                (None, false) => true,
            };
            if done {
                break;
            }
            let n = conn.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        if chunked {
            body = dechunk(&body);
        }
        let reply = format!("HTTP/1.1 {status}\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = conn.write_all(reply.as_bytes());
        let framing = ["content-type", "content-length", "transfer-encoding"]
            .iter()
            .filter_map(|n| field(n))
            .collect();
        Some(Seen {
            line: head.lines().next().unwrap_or("").to_string(),
            framing,
            body,
            head,
        })
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
}

/// Run `program` with `args` (URL last, PORT standing for the port) and `stdin`.
fn run(program: &[&str], args: &[&str], port: u16, stdin: &[u8]) -> Output {
    let mut child = Command::new(program[0])
        .args(&program[1..])
        .args(args.iter().map(|a| a.replace("PORT", &port.to_string())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// A multipart boundary in `seen`, replaced by a fixed one.
fn without_boundary(mut seen: Seen) -> Seen {
    let boundary = seen
        .framing
        .iter()
        .find_map(|f| f.split_once("boundary=").map(|(_, b)| b.trim().to_string()));
    if let Some(b) = boundary {
        let mut body = Vec::new();
        let mut rest = &seen.body[..];
        while let Some(at) = rest.windows(b.len()).position(|w| w == b.as_bytes()) {
            body.extend_from_slice(&rest[..at]);
            body.extend_from_slice(b"BOUNDARY");
            rest = &rest[at + b.len()..];
        }
        body.extend_from_slice(rest);
        seen.body = body;
        seen.framing = seen.framing.iter().map(|f| f.replace(&b, "BOUNDARY")).collect();
    }
    seen
}

/// Where two bodies first differ, for a short message.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let show = |s: &[u8]| String::from_utf8_lossy(&s[at.saturating_sub(40)..(at + 40).min(s.len())]).into_owned();
    format!(
        "lengths {} and {}, first difference at {at}: {:?} vs {:?}",
        a.len(),
        b.len(),
        show(a),
        show(b)
    )
}

/// What ours sent for `args`, and what curl sent (when it is here).
fn both(args: &[&str], stdin: &[u8]) -> (Seen, Option<Seen>) {
    let bin = httplib_bin!();
    let ours_cmd = [bin.to_str().unwrap(), "request"];
    let (port, seen) = recorder("200 OK");
    let out = run(&ours_cmd, args, port, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = without_boundary(seen.join().unwrap().expect("ours sent a request"));
    if !curl_here() {
        return (ours, None);
    }
    // curl would wait a second for "100 Continue" before an upload's body: not asked for.
    let (port, seen) = recorder("200 OK");
    let out = run(&["curl", "-s", "-H", "Expect:"], args, port, stdin);
    assert!(out.status.success(), "curl {args:?}");
    (ours, Some(without_boundary(seen.join().unwrap().unwrap())))
}

#[test]
fn uploads_are_sent_as_curl_sends_them() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("f1.txt");
    std::fs::write(&text, "hello\n").unwrap();
    let odd = dir.path().join("we\"ird.bin");
    std::fs::write(&odd, pseudo_random(70_000, 3)).unwrap();
    let spaced = dir.path().join("a b.txt");
    std::fs::write(&spaced, "spaced\n").unwrap();
    let (text, odd, spaced) = (text.to_str().unwrap(), odd.to_str().unwrap(), spaced.to_str().unwrap());
    let f_text = format!("f=@{text}");
    let f_odd = format!("g=@{odd};filename=x y.png");
    let f_value = format!("h=<{text}");
    let urlencoded_file = format!("n@{text}");
    let cases: Vec<(&str, Vec<&str>, &[u8], &str)> = vec![
        (
            "-F: values, files, types, file names, a file's content as a value, stdin",
            vec![
                "-F",
                "a=b c",
                "-F",
                "n\"q=v;type=text/x-y",
                "-F",
                &f_text,
                "-F",
                &f_odd,
                "-F",
                &f_value,
                "-F",
                "p=@-",
                "http://127.0.0.1:PORT/up",
            ],
            b"piped\x00bytes",
            "POST /up HTTP/1.1",
        ),
        (
            "--json twice",
            vec!["--json", "{\"a\":1}", "--json", "[2]", "http://127.0.0.1:PORT/j"],
            b"",
            "POST /j HTTP/1.1",
        ),
        (
            "-d, --data-urlencode and --data-binary in order",
            vec![
                "-d",
                "x=1",
                "--data-urlencode",
                "a b",
                "--data-urlencode",
                "=c&d",
                "--data-urlencode",
                &urlencoded_file,
                "--data-binary",
                "@-",
                "http://127.0.0.1:PORT/",
            ],
            b"raw\nbytes",
            "POST / HTTP/1.1",
        ),
        (
            "-G puts the data in the query",
            vec![
                "-G",
                "-d",
                "x=1",
                "--data-urlencode",
                "y=a b",
                "http://127.0.0.1:PORT/q?k=v",
            ],
            b"",
            "GET /q?k=v&x=1&y=a+b HTTP/1.1",
        ),
        (
            "-T FILE to a folder URL",
            vec!["-T", spaced, "http://127.0.0.1:PORT/dir/"],
            b"",
            "PUT /dir/a%20b.txt HTTP/1.1",
        ),
        (
            "-T - from a pipe, chunked",
            vec!["-T", "-", "http://127.0.0.1:PORT/x"],
            b"from a pipe",
            "PUT /x HTTP/1.1",
        ),
    ];
    for (name, args, stdin, line) in cases {
        let (ours, curl) = both(&args, stdin);
        assert_eq!(ours.line, line, "{name}");
        if let Some(curl) = curl {
            assert_eq!(
                (&ours.line, &ours.framing),
                (&curl.line, &curl.framing),
                "{name}: beside curl"
            );
            assert!(
                ours.body == curl.body,
                "{name}: {}",
                first_difference(&ours.body, &curl.body)
            );
        }
    }
}

#[test]
fn a_file_that_cannot_be_read_is_exit_26_as_curls() {
    let bin = httplib_bin!();
    for args in [
        vec!["-T", "/nonexistent/file", "http://127.0.0.1:PORT/"],
        vec!["-F", "f=@/nonexistent/file", "http://127.0.0.1:PORT/"],
    ] {
        let (port, _) = recorder("200 OK");
        let out = run(&[bin.to_str().unwrap(), "request"], &args, port, b"");
        assert_eq!(out.status.code(), Some(26), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Failed to open/read local data"),
            "{out:?}"
        );
        if curl_here() {
            let (port, _) = recorder("200 OK");
            assert_eq!(
                run(&["curl", "-s"], &args, port, b"").status.code(),
                Some(26),
                "curl {args:?}"
            );
        }
    }
}

#[test]
fn a_piped_body_is_not_sent_twice() {
    // A 307 keeps the method and body: a body from a pipe is gone by then (curl's 65).
    let bin = httplib_bin!();
    let (port, seen) = recorder("307 Temporary Redirect");
    let out = run(
        &[bin.to_str().unwrap(), "request"],
        &["-L", "-T", "-", "http://127.0.0.1:PORT/x"],
        port,
        b"once",
    );
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("necessary data rewind wasn't possible"));
    assert_eq!(seen.join().unwrap().unwrap().body, b"once");
}

#[test]
fn http10_and_removed_headers_as_curl() {
    let names = |seen: &Seen| -> Vec<String> {
        let mut names: Vec<String> = seen
            .head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
            .filter(|n| n != "user-agent")
            .collect();
        names.sort();
        names
    };
    for (args, line, expected) in [
        (
            vec!["-0", "http://127.0.0.1:PORT/v"],
            "GET /v HTTP/1.0",
            vec!["accept", "accept-encoding", "host"],
        ),
        (
            vec![
                "-H",
                "Accept-Encoding:",
                "-H",
                "Host:",
                "-d",
                "a=b",
                "http://127.0.0.1:PORT/v",
            ],
            "POST /v HTTP/1.1",
            vec!["accept", "content-length", "content-type"],
        ),
    ] {
        let (ours, curl) = both(&args, b"");
        assert_eq!(ours.line, line, "{args:?}");
        assert_eq!(names(&ours), expected, "{args:?}");
        if let Some(curl) = curl {
            assert_eq!(curl.line, line);
            assert_eq!((&ours.framing, &ours.body), (&curl.framing, &curl.body), "{args:?}");
            // curl sends no Accept-Encoding of its own: with -0 ours says "identity".
            let mut theirs = names(&curl);
            theirs.retain(|n| n != "expect");
            let mut mine = names(&ours);
            mine.retain(|n| n != "accept-encoding" || args.contains(&"-H"));
            assert_eq!(mine, theirs, "{args:?}");
        }
    }
}
