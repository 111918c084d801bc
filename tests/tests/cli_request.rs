//! `httplib get` and `httplib request` as a user runs them, against real peers.

use httplib_tests::*;
use std::net::TcpListener;
use std::process::{Command, Output};

fn httplib(args: &[&str]) -> Output {
    Command::new(httplib_bin!()).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn request_sends_method_headers_and_form_data() {
    let peer = cpython_echo_server();
    let url = format!("http://127.0.0.1:{}/submit?x=1", peer.port);
    let out = httplib(&[
        "request",
        "-X",
        "PUT",
        "-H",
        "X-One: 1",
        "-H",
        "X-Two:two",
        "-d",
        "a=1&b=2",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body = text(&out.stdout);
    assert!(body.starts_with("PUT /submit?x=1\n"), "{body}");
    assert!(
        body.contains("\nX-One: 1\n") && body.contains("\nX-Two: two\n"),
        "{body}"
    );
    assert!(
        body.contains("\nContent-Type: application/x-www-form-urlencoded\n"),
        "{body}"
    );
    assert!(
        body.contains("\nContent-Length: 7\n") && body.ends_with("\n\na=1&b=2"),
        "{body}"
    );
    // -d without -X is a POST.
    let out = httplib(&["request", "-d", "x", &url]);
    assert!(text(&out.stdout).starts_with("POST /submit?x=1\n"));
}

#[test]
fn data_binary_from_a_file_is_streamed_byte_exact() {
    let peer = cpython_echo_server();
    let dir = tempfile::tempdir().unwrap();
    let payload = pseudo_random(3 * 1024 * 1024 + 17, 11);
    let path = dir.path().join("payload.bin");
    std::fs::write(&path, &payload).unwrap();
    let out = httplib(&[
        "request",
        "--data-binary",
        &format!("@{}", path.display()),
        &format!("http://127.0.0.1:{}/upload", peer.port),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let split = out.stdout.windows(2).position(|w| w == b"\n\n").unwrap();
    let head = text(&out.stdout[..split]);
    assert!(head.contains(&format!("\nContent-Length: {}", payload.len())), "{head}");
    assert!(out.stdout[split + 2..] == payload[..], "the echoed body differs");
}

#[test]
fn include_fail_and_output_flags() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    let base = format!("http://127.0.0.1:{}", peer.port);
    let out = httplib(&["get", "-i", &format!("{base}/hello.txt")]);
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with("HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/"),
        "{shown}"
    );
    assert!(
        shown.contains("\r\nContent-type: text/plain\r\n") && shown.ends_with("\r\n\r\nhello, world\n"),
        "{shown}"
    );
    // Any HTTP response is exit 0; with --fail, >= 400 is 22 and no body.
    let out = httplib(&["get", &format!("{base}/missing")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Error code: 404"));
    let out = httplib(&["get", "--fail", &format!("{base}/missing")]);
    assert_eq!(out.status.code(), Some(22));
    assert!(out.stdout.is_empty());
    let target = dir.path().join("out.bin");
    let out = httplib(&["get", "-o", target.to_str().unwrap(), &format!("{base}/big.bin")]);
    assert!(out.status.success() && out.stdout.is_empty());
    assert!(std::fs::read(&target).unwrap() == std::fs::read(dir.path().join("big.bin")).unwrap());
}

#[test]
fn verbose_prints_http_client_debug_lines_to_stderr() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    let out = httplib(&["get", "-v", &format!("http://127.0.0.1:{}/hello.txt", peer.port)]);
    // As curl's -v: the body alone on stdout, http.client's debug lines on stderr.
    assert_eq!(text(&out.stdout), "hello, world\n");
    let shown = text(&out.stderr);
    assert!(
        shown.starts_with(&format!(
            "send: b'GET /hello.txt HTTP/1.1\\r\\nHost: 127.0.0.1:{}\\r\\nAccept-Encoding: identity\\r\\n",
            peer.port
        )),
        "{shown}"
    );
    assert!(shown.contains("\nreply: 'HTTP/1.0 200 OK\\r\\n'\n"), "{shown}");
    assert!(shown.contains("\nheader: Content-Length: 13\n"), "{shown}");
}

#[test]
fn output_file_is_replaced_only_when_the_transfer_succeeds() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    let base = format!("http://127.0.0.1:{}", peer.port);
    let target = dir.path().join("keep.txt");
    let target_arg = target.to_str().unwrap();
    std::fs::write(&target, b"precious").unwrap();
    let refused = format!("http://127.0.0.1:{}/hello.txt", free_port());
    for (args, code) in [
        (vec!["get", "--fail", "-o", target_arg, &format!("{base}/missing")], 22),
        (vec!["get", "-o", target_arg, "http://[::1"], 3),
        (vec!["get", "-o", target_arg, &refused], 7),
        // FILE goes with the first URL only (curl's pairing): the second's failure is its own.
        (vec!["get", "-o", target_arg, &refused, &format!("{base}/hello.txt")], 7),
    ] {
        let out = httplib(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", text(&out.stderr));
        assert_eq!(
            std::fs::read(&target).unwrap(),
            b"precious",
            "{args:?} changed the file"
        );
    }
    // No part file is left behind, and a whole transfer replaces the file.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !names.iter().any(|n| n.to_string_lossy().ends_with(".part")),
        "{names:?}"
    );
    let out = httplib(&["get", "-o", target_arg, &format!("{base}/hello.txt")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&target).unwrap(), b"hello, world\n");
}

#[test]
fn timeout_and_broken_responses_are_one_python_style_line() {
    // A server that accepts and never answers: the read times out.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let out = httplib(&["get", "--timeout", "0.5", &url]);
    // curl's codes: 28 for a timeout, 18 for a body cut short.
    assert_eq!(out.status.code(), Some(28));
    assert_eq!(text(&out.stderr), "httplib: TimeoutError: timed out\n");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    drop(silent);
    // A server that sends a short body, then closes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            .unwrap();
    });
    let out = httplib(&["get", &format!("http://{addr}/")]);
    t.join().unwrap();
    assert_eq!(out.status.code(), Some(18));
    assert_eq!(out.stdout, b"abc");
    assert_eq!(
        text(&out.stderr),
        "httplib: IncompleteRead(3 bytes read, 7 more expected)\n"
    );
}

#[test]
fn urls_to_the_same_host_share_one_connection() {
    // This server accepts exactly one connection: a second connect would be refused.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        drop(listener);
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        for body in ["first\n", "second\n"] {
            while seen.windows(4).filter(|w| *w == b"\r\n\r\n").count() < if body == "first\n" { 1 } else { 2 } {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "client closed early");
                seen.extend_from_slice(&buf[..n]);
            }
            s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
                .unwrap();
        }
    });
    let out = httplib(&["get", &format!("http://{addr}/a"), &format!("http://{addr}/b")]);
    t.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"first\nsecond\n");
}

#[test]
fn failures_exit_with_curls_codes_and_say_where() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    let port = free_port();
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &["get", "http://[::1"],
            3,
            "httplib: InvalidURL: invalid IPv6 URL: 'http://[::1'\n",
        ),
        (
            &["get", "example.com/x"],
            3,
            "httplib: InvalidURL: not an absolute URL: 'example.com/x'\nhttplib: a URL starts with its scheme: http://example.com/x\n",
        ),
        (
            &["get", "http://no-such-host.invalid/"],
            6,
            "httplib: gaierror: name does not resolve: no-such-host.invalid",
        ),
        (
            &["get", &format!("http://127.0.0.1:{port}/")],
            7,
            &format!("httplib: ConnectionRefusedError: connection to 127.0.0.1:{port} refused\n"),
        ),
        (
            &["get", "--fail", &format!("http://127.0.0.1:{}/missing", peer.port)],
            22,
            "httplib: The requested URL returned error: 404\n",
        ),
        (
            &["get", "--bogus-flag", "http://x/"],
            2,
            "error: unexpected argument '--bogus-flag'",
        ),
    ];
    for (args, code, message) in cases {
        let out = httplib(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).starts_with(message),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A body that cannot be written is curl's 23; a device is written in place, never replaced.
    let url = format!("http://127.0.0.1:{}/hello.txt", peer.port);
    let out = httplib(&["get", "-o", "/dev/full", &url]);
    assert_eq!(out.status.code(), Some(23), "{}", text(&out.stderr));
    let out = httplib(&["get", "-o", "/dev/null", &url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = httplib(&["get", "-o", "/nonexistent-dir/x", &url]);
    assert_eq!(out.status.code(), Some(23), "{}", text(&out.stderr));
    use std::os::unix::fs::FileTypeExt;
    for device in ["/dev/full", "/dev/null"] {
        assert!(
            std::fs::metadata(device).unwrap().file_type().is_char_device(),
            "{device} was replaced"
        );
    }
}

#[test]
fn the_curl_flags_people_reach_for_first() {
    let dir = fixture_dir();
    let files = cpython_server(dir.path(), "HTTP/1.0");
    let echo = cpython_echo_server();
    let hello = format!("http://127.0.0.1:{}/hello.txt", files.port);
    let echo_url = format!("http://127.0.0.1:{}/echo", echo.port);
    // -A sets the User-Agent; -H 'Accept:' removes a header we would send; 'X-Empty;' sends it empty.
    let out = httplib(&["get", "-A", "agent/1.0", "-H", "Accept:", "-H", "X-Empty;", &echo_url]);
    let shown = text(&out.stdout);
    assert!(shown.contains("\nUser-Agent: agent/1.0\n"), "{shown}");
    assert!(!shown.contains("\nAccept:"), "{shown}");
    assert!(shown.contains("\nX-Empty: \n"), "{shown}");
    // Repeated -d are joined with "&"; -d @- and --data-binary @- read stdin.
    let out = httplib(&["request", "-d", "a=1", "-d", "b=2", &echo_url]);
    assert!(text(&out.stdout).ends_with("\n\na=1&b=2"), "{}", text(&out.stdout));
    for (flag, expected) in [
        ("-d", "from stdinsecond line"),
        ("--data-binary", "from stdin\nsecond line\n"),
    ] {
        let mut child = Command::new(httplib_bin!())
            .args(["request", flag, "@-", &echo_url])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"from stdin\nsecond line\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            text(&out.stdout).ends_with(&format!("\n\n{expected}")),
            "{flag}: {}",
            text(&out.stdout)
        );
    }
    // -I: HEAD, the head alone.
    let out = httplib(&["get", "-I", &hello]);
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with("HTTP/1.0 200 OK\r\n") && shown.ends_with("\r\n\r\n"),
        "{shown}"
    );
    assert!(shown.contains("Content-Length: 13\r\n"), "{shown}");
    // -o - is stdout; -O names the file after the URL; -w reports on each transfer.
    assert_eq!(httplib(&["get", "-o", "-", &hello]).stdout, b"hello, world\n");
    let cwd = tempfile::tempdir().unwrap();
    let out = Command::new(httplib_bin!())
        .args(["get", "-O", &format!("{hello}?x=1")])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(cwd.path().join("hello.txt")).unwrap(), b"hello, world\n");
    let out = httplib(&[
        "get",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download} %{url_effective}\\n",
        &hello,
    ]);
    assert_eq!(text(&out.stdout), format!("200 13 {hello}\n"));
    // -s says nothing on failure, -S says it again; the exit code tells either way.
    let refused = format!("http://127.0.0.1:{}/", free_port());
    let out = httplib(&["get", "-s", &refused]);
    assert_eq!((out.status.code(), text(&out.stderr)), (Some(7), String::new()));
    let out = httplib(&["get", "-sS", &refused]);
    assert!(
        text(&out.stderr).contains("ConnectionRefusedError"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_transfer_quietly() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    // `httplib get big.bin | head -c 10`: the pipe closes after 10 bytes of 5 MiB.
    let mut child = Command::new(httplib_bin!())
        .args(["get", &format!("http://127.0.0.1:{}/big.bin", peer.port)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    use std::io::Read;
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(text(&out.stderr), "", "a closed pipe is not an error to report");
    assert_eq!(out.status.code(), Some(23));
}

#[test]
fn binary_is_not_poured_onto_a_terminal() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    let url = format!("http://127.0.0.1:{}/big.bin", peer.port);
    // `script` runs the command on a pseudo-terminal and copies what it shows.
    let on_terminal = |args: &str| {
        Command::new("script")
            .args(["-qec", &format!("{} {args}", httplib_bin!().display()), "/dev/null"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = on_terminal(&format!("get {url}"));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("Binary output can mess up your terminal."),
        "{shown:.300}"
    );
    assert!(
        out.stdout.len() < 4096,
        "{} bytes reached the terminal",
        out.stdout.len()
    );
    assert_eq!(out.status.code(), Some(23));
    // -o - says "yes, the terminal"; text is shown as it is.
    let out = on_terminal(&format!("get -o - {url}"));
    assert!(out.stdout.len() > 5 << 20, "{} bytes", out.stdout.len());
    let out = on_terminal(&format!("get http://127.0.0.1:{}/hello.txt", peer.port));
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello, world"));
}

#[test]
fn a_client_run_fits_in_a_one_gigabyte_address_space() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    // `ulimit -v 1000000` (KiB): the server-sized pool (about 16 TiB) could not even start.
    let script = format!(
        "ulimit -v 1000000 && exec {} get http://127.0.0.1:{}/big.bin",
        httplib_bin!().display(),
        peer.port
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout == std::fs::read(dir.path().join("big.bin")).unwrap());
}

#[test]
fn credentials_in_the_url_or_dash_u_become_basic_auth() {
    let echo = cpython_echo_server();
    // user "user", password "p@ss" (percent-encoded in the URL, as curl decodes it).
    let out = httplib(&["get", &format!("http://user:p%40ss@127.0.0.1:{}/in-url", echo.port)]);
    let shown = text(&out.stdout);
    assert!(shown.starts_with("GET /in-url\n"), "{shown}");
    assert!(shown.contains("\nAuthorization: Basic dXNlcjpwQHNz\n"), "{shown}");
    let out = httplib(&[
        "get",
        "-u",
        "alice:secret",
        &format!("http://127.0.0.1:{}/dash-u", echo.port),
    ]);
    assert!(
        text(&out.stdout).contains("\nAuthorization: Basic YWxpY2U6c2VjcmV0\n"),
        "{}",
        text(&out.stdout)
    );
    // Without credentials, no Authorization header at all.
    let out = httplib(&["get", &format!("http://127.0.0.1:{}/none", echo.port)]);
    assert!(!text(&out.stdout).contains("Authorization"), "{}", text(&out.stdout));
}

/// The compiled-code cache holds one whole file a component and nothing else: no lock,
/// statistics or half-written files after runs (wasmtime's own cache left `.wip-PID` files),
/// and `HTTPLIB_NO_CACHE=1` leaves it untouched.
#[test]
fn the_code_cache_leaves_one_file_and_nothing_else() {
    let site = fixture_dir();
    let peer = cpython_server(site.path(), "HTTP/1.1");
    let url = format!("http://127.0.0.1:{}/hello.txt", peer.port);
    let cache = tempfile::tempdir().unwrap();
    let run = |extra_env: &[(&str, &str)]| {
        let mut cmd = Command::new(httplib_bin!());
        cmd.args(["get", &url])
            .env("HTTPLIB_CACHE_DIR", cache.path())
            .env_remove("HTTPLIB_NO_CACHE");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.stdout, b"hello, world\n", "{}", text(&out.stderr));
    };
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    run(&[("HTTPLIB_NO_CACHE", "1")]);
    assert_eq!(listing(), Vec::<String>::new());
    run(&[]);
    let first = listing();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].ends_with(".cwasm"), "{first:?}");
    run(&[]);
    run(&[("HTTPLIB_NO_CACHE", "0")]);
    assert_eq!(listing(), first);
}

/// `-L` against CPython: each redirect status with its method rule (RFC 9110 15.4, as curl
/// does it), relative Locations, credentials kept to their origin, `--max-redirs`, `-i` and
/// `-w %{url_effective}` over the chain.
#[test]
fn location_follows_redirects_as_curl_does() {
    let peer = cpython_echo_server();
    let other = cpython_echo_server();
    let base = format!("http://127.0.0.1:{}", peer.port);
    let body = |args: &[&str]| {
        let out = httplib(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    // Without -L the redirect itself is the answer.
    assert_eq!(body(&["get", &format!("{base}/redirect/301?to=/echo")]), "moved\n");
    assert!(body(&["get", "-L", &format!("{base}/redirect/301?to=/echo")]).starts_with("GET /echo\n"));
    // POST becomes GET after 301, 302 and 303, and the form goes with it.
    for code in [301, 302, 303] {
        let got = body(&[
            "request",
            "-L",
            "-d",
            "a=1",
            &format!("{base}/redirect/{code}?to=/echo"),
        ]);
        assert!(got.starts_with("GET /echo\n"), "{code}: {got}");
        assert!(
            !got.contains("Content-Type") && !got.contains("Content-Length") && got.ends_with("\n\n"),
            "{code}: {got}"
        );
    }
    // 307 and 308 keep the method and the body.
    for code in [307, 308] {
        let got = body(&[
            "request",
            "-L",
            "-d",
            "a=1",
            &format!("{base}/redirect/{code}?to=/echo"),
        ]);
        assert!(
            got.starts_with("POST /echo\n") && got.ends_with("\n\na=1"),
            "{code}: {got}"
        );
    }
    // 303 makes a PUT a GET; 302 keeps it.
    let got = body(&[
        "request",
        "-L",
        "-X",
        "PUT",
        "-d",
        "x",
        &format!("{base}/redirect/303?to=/echo"),
    ]);
    assert!(got.starts_with("GET /echo\n"), "{got}");
    let got = body(&[
        "request",
        "-L",
        "-X",
        "PUT",
        "-d",
        "x",
        &format!("{base}/redirect/302?to=/echo"),
    ]);
    assert!(got.starts_with("PUT /echo\n") && got.ends_with("\n\nx"), "{got}");
    // A relative Location is resolved against the URL that answered.
    let got = body(&["get", "-L", &format!("{base}/redirect/302?to=../echo/x%3Fq=1")]);
    assert!(got.starts_with("GET /echo/x?q=1\n"), "{got}");
    // Credentials stay with the origin they were given for.
    let got = body(&["get", "-L", "-u", "me:pw", &format!("{base}/redirect/302?to=/echo")]);
    assert!(got.contains("\nAuthorization: Basic bWU6cHc=\n"), "{got}");
    let got = body(&[
        "get",
        "-L",
        "-u",
        "me:pw",
        "-H",
        "Authorization: Bearer t",
        &format!("{base}/redirect/302?to=http://127.0.0.1:{}/echo", other.port),
    ]);
    assert!(
        got.starts_with("GET /echo\n") && !got.contains("Authorization"),
        "{got}"
    );
    // A chain of two, with -i showing both heads and -w the URL that answered last.
    let chain = format!("{base}/redirect/302?to=/redirect/307?to=/echo");
    let out = httplib(&["get", "-L", "-i", "-w", "\\n%{http_code} %{url_effective}", &chain]);
    let got = text(&out.stdout);
    assert!(got.starts_with("HTTP/1.1 302 Found\r\n"), "{got}");
    assert!(got.contains("\r\n\r\nHTTP/1.1 307 Temporary Redirect\r\n"), "{got}");
    assert!(got.ends_with(&format!("\n200 {base}/echo")), "{got}");
    let out = httplib(&["get", "-L", "--max-redirs", "1", &chain]);
    assert_eq!(out.status.code(), Some(47));
    assert_eq!(text(&out.stderr).trim(), "httplib: Maximum (1) redirects followed");
    assert!(out.stdout.is_empty());
}

/// `-L` through CPython's own redirect (a directory asked for without its slash), with the
/// same bytes curl gets; and a URL's non-ASCII sent percent-encoded as curl does.
#[test]
fn location_and_non_ascii_match_curl() {
    let site = fixture_dir();
    std::fs::create_dir(site.path().join("sub")).unwrap();
    std::fs::write(site.path().join("sub").join("caf\u{e9}.txt"), "accent\n").unwrap();
    let peer = cpython_server(site.path(), "HTTP/1.1");
    let url = format!("http://127.0.0.1:{}/sub", peer.port);
    let ours = httplib(&["get", "-L", &url]);
    let curl = Command::new("curl").args(["-sL", &url]).output().unwrap();
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    assert_eq!(text(&ours.stdout), text(&curl.stdout));
    assert!(text(&ours.stdout).contains("caf%C3%A9.txt"));
    let out = httplib(&["get", &format!("http://127.0.0.1:{}/sub/caf\u{e9}.txt", peer.port)]);
    assert_eq!(text(&out.stdout), "accent\n", "{}", text(&out.stderr));
}

/// A CPython server that sends `/CODING/NAME` (gzip, deflate, rawdeflate, br) from `dir` with
/// that Content-Encoding (br from NAME.br, made by the test), `/bomb` as 256 MiB of zeros
/// gzipped on the fly, and `/cut` as a gzip body missing its end.
fn compressing_server(dir: &std::path::Path) -> Peer {
    let port = free_port();
    let script = r#"
import http.server, sys, gzip, zlib, os
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        parts = self.path.split("/")
        coding = parts[1]
        if coding == "bomb":
            z = zlib.compressobj(1, zlib.DEFLATED, 31)
            block = bytes(1 << 20)
            body = b"".join(z.compress(block) for _ in range(256)) + z.flush()
            coding = "gzip"
        elif coding == "cut":
            body = gzip.compress(b"x" * 100000)[:-20]
            coding = "gzip"
        else:
            data = open(os.path.join(sys.argv[2], parts[2]), "rb").read()
            if coding == "gzip":
                body = gzip.compress(data)
            elif coding == "deflate":
                body = zlib.compress(data)
            elif coding == "rawdeflate":
                z = zlib.compressobj(6, zlib.DEFLATED, -15)
                body = z.compress(data) + z.flush()
                coding = "deflate"
            else:
                body = open(os.path.join(sys.argv[2], parts[2] + ".br"), "rb").read()
        self.send_response(200)
        self.send_header("Content-Encoding", coding)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Accept-Encoding", self.headers.get("Accept-Encoding", ""))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;
    python_peer(script, port, &[dir.as_ref()])
}

/// `--compressed`: gzip, deflate (zlib and raw) and br decoded in the guest to the bytes
/// curl --compressed writes; a body inflating to 256 MiB streams through (the guest's memory
/// cap is 64 MiB); a corrupt stream is exit 61, as curl's.
#[test]
fn compressed_bodies_are_decoded_as_curl_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut page = String::new();
    for i in 0..20_000 {
        page.push_str(&format!("line {i}: the quick brown fox jumps over the lazy dog\n"));
    }
    std::fs::write(dir.path().join("page.txt"), &page).unwrap();
    let mut br = Vec::new();
    brotli::BrotliCompress(&mut page.as_bytes(), &mut br, &Default::default()).unwrap();
    std::fs::write(dir.path().join("page.txt.br"), &br).unwrap();
    let peer = compressing_server(dir.path());
    let base = format!("http://127.0.0.1:{}", peer.port);
    for coding in ["gzip", "deflate", "rawdeflate", "br"] {
        let url = format!("{base}/{coding}/page.txt");
        let out = httplib(&["get", "--compressed", &url]);
        assert!(out.status.success(), "{coding}: {}", text(&out.stderr));
        assert!(out.stdout == page.as_bytes(), "{coding}: {} bytes", out.stdout.len());
        let curl = Command::new("curl")
            .args(["-s", "--compressed", &url])
            .output()
            .unwrap();
        assert!(curl.stdout == out.stdout, "{coding}: curl differs");
        // Without --compressed the coded bytes are written as they came, as curl does.
        let raw = httplib(&["get", &url]);
        assert!(raw.stdout != page.as_bytes() && !raw.stdout.is_empty(), "{coding}");
    }
    let out = httplib(&["get", "--compressed", "-i", &format!("{base}/gzip/page.txt")]);
    assert!(text(&out.stdout).contains("X-Accept-Encoding: deflate, gzip, br\r\n"));
    let out = httplib(&[
        "get",
        "--compressed",
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        &format!("{base}/bomb"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), (256u64 << 20).to_string());
    let out = httplib(&["get", "--compressed", &format!("{base}/cut")]);
    assert_eq!(out.status.code(), Some(61), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("httplib: DecodeError: "),
        "{}",
        text(&out.stderr)
    );
}

/// `-o` to a file with stderr on a terminal shows a progress meter (run under `script`); `-s`
/// or a stderr that is not a terminal keeps it quiet.
#[test]
fn a_progress_meter_only_on_a_terminal() {
    let dir = fixture_dir();
    let peer = cpython_server(dir.path(), "HTTP/1.0");
    let url = format!("http://127.0.0.1:{}/big.bin", peer.port);
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("big.bin");
    let on_terminal = |flags: &str| {
        Command::new("script")
            .args([
                "-qec",
                &format!("{} get {flags} -o {} {url}", httplib_bin!().display(), file.display()),
                "/dev/null",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let shown = text(&on_terminal("").stdout);
    assert!(shown.contains("100% [=============================="), "{shown:.400}");
    assert!(shown.contains(" MiB / "), "{shown:.400}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(dir.path().join("big.bin")).unwrap()
    );
    assert_eq!(text(&on_terminal("-s").stdout), "");
    let out = httplib(&["get", "-o", &file.display().to_string(), &url]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", text(&out.stderr));
}

/// A server on 127.0.0.1 whose `n`th connection (from 0) gets what `answer(n, stream)` writes
/// after its request head was read.
fn server_by_connection(answer: fn(usize, &mut std::net::TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                use std::io::Read;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                answer(n, &mut conn);
            });
        }
    });
    port
}

/// Writes `bytes` a byte a second (a slow or hostile server), until the client goes.
fn drip(conn: &mut std::net::TcpStream, bytes: &[u8]) {
    use std::io::Write;
    for b in bytes {
        if conn.write_all(&[*b]).is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[test]
fn max_time_ends_a_trickled_head_or_body_as_curl_does() {
    let head_drip = server_by_connection(|_, c| drip(c, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    let body_drip = server_by_connection(|_, c| {
        use std::io::Write;
        let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        drip(c, &[b'x'; 100]);
    });
    for (port, what) in [(head_drip, "head"), (body_drip, "body")] {
        let url = format!("http://127.0.0.1:{port}/");
        let started = std::time::Instant::now();
        let out = httplib(&["get", "-m", "3", "-s", "-S", &url]);
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(28), "{what}: {}", text(&out.stderr));
        assert!(
            took >= std::time::Duration::from_millis(2900) && took < std::time::Duration::from_secs(6),
            "{what}: {took:?}"
        );
        assert!(
            text(&out.stderr).contains("Operation timed out after"),
            "{}",
            text(&out.stderr)
        );
        if what == "body" {
            assert!(!out.stdout.is_empty(), "what arrived of the body was written");
        }
        if curl_here() {
            let curl = Command::new("curl").args(["-s", "-m", "3", &url]).output().unwrap();
            assert_eq!(curl.status.code(), Some(28), "curl, {what}");
        }
    }
}

#[test]
fn connect_timeout_bounds_the_connect_alone() {
    // A listener whose accept queue is full: a new connect waits for a SYN-ACK that never comes.
    let listener = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let _queued = std::net::TcpStream::connect(addr).unwrap();
    let url = format!("http://{addr}/");
    let started = std::time::Instant::now();
    let out = httplib(&["get", "--connect-timeout", "1", &url]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(28), "{}", text(&out.stderr));
    assert!(took < std::time::Duration::from_secs(4), "{took:?}");
    if curl_here() {
        let curl = Command::new("curl")
            .args(["-s", "--connect-timeout", "1", &url])
            .output()
            .unwrap();
        assert_eq!(curl.status.code(), Some(28), "curl");
    }
}

#[test]
fn location_reconnects_when_the_server_closed_after_a_redirect() {
    // The redirect says nothing of closing, then the server closes: the request for its target
    // goes on a new connection, as curl's does.
    let port = server_by_connection(|n, c| {
        use std::io::Write;
        let _ = match n {
            0 => c.write_all(b"HTTP/1.1 302 Found\r\nLocation: /there\r\nContent-Length: 0\r\n\r\n"),
            _ => c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthere"),
        };
        let _ = c.shutdown(std::net::Shutdown::Both);
    });
    let url = format!("http://127.0.0.1:{port}/here");
    let out = httplib(&["get", "-L", &url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"there");
    if curl_here() {
        let curl = Command::new("curl").args(["-s", "-L", &url]).output().unwrap();
        assert_eq!(curl.stdout, b"there", "curl");
    }
}

/// The files in `dir`, sorted, with their contents.
fn files_in(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn outputs_pair_with_urls_in_order_as_curls_do() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("a.txt"), "one\n").unwrap();
    std::fs::write(site.path().join("b.txt"), "two\n").unwrap();
    let peer = cpython_server(site.path(), "HTTP/1.0");
    let (a, b) = (
        format!("http://127.0.0.1:{}/a.txt", peer.port),
        format!("http://127.0.0.1:{}/b.txt", peer.port),
    );
    for args in [
        vec!["-O", a.as_str(), "-O", b.as_str()],
        vec!["-O", a.as_str(), b.as_str()],
        vec!["-o", "x", "-O", a.as_str(), b.as_str(), a.as_str()],
        vec!["-o", "x", "-o", "y", a.as_str(), b.as_str()],
    ] {
        let ours = tempfile::tempdir().unwrap();
        let out = Command::new(httplib_bin!())
            .arg("get")
            .args(&args)
            .current_dir(ours.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let theirs = tempfile::tempdir().unwrap();
        let Ok(curl) = Command::new("curl")
            .arg("-s")
            .args(&args)
            .current_dir(theirs.path())
            .output()
        else {
            continue;
        };
        assert_eq!(
            files_in(ours.path()),
            files_in(theirs.path()),
            "{args:?}: the files curl writes"
        );
        assert_eq!(text(&out.stdout), text(&curl.stdout), "{args:?}: what goes to stdout");
    }
}

#[test]
fn an_output_file_keeps_its_mode_and_a_symlink_stays_a_link() {
    use std::os::unix::fs::PermissionsExt;
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("a.txt"), "one\n").unwrap();
    let peer = cpython_server(site.path(), "HTTP/1.0");
    let url = format!("http://127.0.0.1:{}/a.txt", peer.port);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "old\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, "old\n").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for dest in [&file, &link] {
        let out = httplib(&["get", "-o", dest.to_str().unwrap(), &url]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "one\n");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o640);
    assert!(
        std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(),
        "still a link"
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "one\n",
        "written through the link"
    );
    // A transfer that fails leaves each as it was.
    let refused = format!("http://127.0.0.1:{}/a.txt", free_port());
    for dest in [&file, &link] {
        let out = httplib(&["get", "-o", dest.to_str().unwrap(), &refused]);
        assert_eq!(out.status.code(), Some(7));
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "one\n");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "one\n");
    assert_eq!(files_in(dir.path()).len(), 3, "no part file left");
}

#[test]
fn an_interrupted_download_leaves_no_part_file() {
    let port = server_by_connection(|_, c| {
        use std::io::Write;
        let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabcdef");
        drip(c, &[b'x'; 94]);
    });
    let dir = tempfile::tempdir().unwrap();
    for signal in [libc_signal::SIGINT, libc_signal::SIGTERM] {
        let mut child = Command::new(httplib_bin!())
            .args(["get", "-s", "-o", "out.bin", &format!("http://127.0.0.1:{port}/")])
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(128 + signal), "the signal's exit status");
        assert!(files_in(dir.path()).is_empty(), "{:?}", files_in(dir.path()));
    }
}

/// The two signals a user sends a download, by number (for `kill -N` and the exit status).
mod libc_signal {
    pub const SIGINT: i32 = 2;
    pub const SIGTERM: i32 = 15;
}
