//! What a download leaves behind, beside curl: -D, --output-dir and --create-dirs, -J, -r,
//! -C - (resumed, already whole, refused), --fail-with-body, -e, --retry, and -w's variables.

use httplib_tests::*;
use std::path::Path;
use std::process::{Command, Output};

fn ours(args: &[&str], dir: &Path) -> Output {
    Command::new(httplib_bin!())
        .arg("get")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn curl(args: &[&str], dir: &Path) -> Output {
    Command::new("curl")
        .arg("-sS")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A command line to run: ours, or curl's.
type Runner = (&'static str, fn(&[&str], &Path) -> Output);

/// Ours, and curl where it is on the machine.
fn runners() -> Vec<Runner> {
    let mut runs: Vec<Runner> = vec![("ours", ours)];
    if curl_here() {
        runs.push(("curl", curl));
    }
    runs
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A peer for the cases a file server does not make: `/cd/?v=VALUE` answers with
/// `Content-Disposition: VALUE`; `/busy/KEY` answers 503 with Retry-After: 1 twice per KEY,
/// then 200 "ready".
fn peer() -> Peer {
    let script = r#"
import http.server, sys, urllib.parse, collections
seen = collections.Counter()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path.startswith("/busy/"):
            seen[self.path] += 1
            if seen[self.path] <= 2:
                self.send_response(503)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "5")
                self.end_headers()
                self.wfile.write(b"busy\n")
                return
            body = b"ready\n"
        else:
            body = b"disposition body\n"
        self.send_response(200)
        if self.path.startswith("/cd/"):
            value = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["v"][0]
            self.send_header("Content-Disposition", value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;
    python_peer(script, free_port(), &[])
}

/// Our file server over a folder holding `big.bin` (100,000 bytes), and the bytes.
fn file_server() -> (Peer, tempfile::TempDir, Vec<u8>) {
    let site = tempfile::tempdir().unwrap();
    let big = pseudo_random(100_000, 7);
    std::fs::write(site.path().join("big.bin"), &big).unwrap();
    let (server, _) = cli_server(&httplib_bin!(), site.path(), &[]);
    (server, site, big)
}

#[test]
fn headers_dumped_and_files_placed_as_curl_places_them() {
    let (server, _site, big) = file_server();
    let url = format!("http://127.0.0.1:{}/big.bin", server.port);
    let runs = runners();
    for (who, run) in runs {
        let dir = tempfile::tempdir().unwrap();
        let out = run(
            &["-D", "heads.txt", "--output-dir", "a/b", "--create-dirs", "-O", &url],
            dir.path(),
        );
        assert!(out.status.success(), "{who}: {}", text(&out.stderr));
        assert_eq!(std::fs::read(dir.path().join("a/b/big.bin")).unwrap(), big, "{who}");
        let heads = std::fs::read_to_string(dir.path().join("heads.txt")).unwrap();
        assert!(heads.starts_with("HTTP/1.0 200 OK\r\n"), "{who}: {heads}");
        assert!(
            heads.contains("Content-Length: 100000\r\n") && heads.ends_with("\r\n\r\n"),
            "{who}: {heads}"
        );
        // -r: a range; what is asked for is what arrives.
        let out = run(&["-r", "10-19", &url], dir.path());
        assert_eq!(out.stdout, big[10..20], "{who}");
    }
}

#[test]
fn resume_appends_the_rest_and_refuses_a_server_without_ranges() {
    let (server, site, big) = file_server();
    let url = format!("http://127.0.0.1:{}/big.bin", server.port);
    let plain = cpython_server(site.path(), "HTTP/1.0");
    let plain_url = format!("http://127.0.0.1:{}/big.bin", plain.port);
    let runs = runners();
    for (who, run) in runs {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("part.bin");
        std::fs::write(&file, &big[..40_000]).unwrap();
        let out = run(&["-C", "-", "-o", "part.bin", &url], dir.path());
        assert!(out.status.success(), "{who}: {}", text(&out.stderr));
        assert!(std::fs::read(&file).unwrap() == big, "{who}: the rest appended");
        // Whole already: the server says 416, and nothing changes.
        let out = run(&["-C", "-", "-o", "part.bin", "-w", "%{http_code}", &url], dir.path());
        assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "416".into()), "{who}");
        assert!(std::fs::read(&file).unwrap() == big, "{who}");
        // A server that sends the whole (200): exit 33, the part left as it was.
        std::fs::write(&file, &big[..40_000]).unwrap();
        let out = run(&["-C", "-", "-o", "part.bin", &plain_url], dir.path());
        assert_eq!(out.status.code(), Some(33), "{who}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("HTTP server doesn't seem to support byte ranges. Cannot resume."),
            "{who}"
        );
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 40_000, "{who}");
        // An explicit offset.
        let out = run(&["-C", "99990", &url], dir.path());
        assert_eq!(out.stdout, big[99_990..], "{who}");
    }
}

#[test]
fn remote_header_name_takes_the_name_not_the_folder_and_never_overwrites() {
    let peer = peer();
    let cd = |value: &str| {
        let encoded: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
        format!("http://127.0.0.1:{}/cd/fallback.bin?v={encoded}", peer.port)
    };
    let evil = cd("attachment; filename=\"../../evil name.txt\"");
    let starred = cd("attachment; filename*=UTF-8''caf%C3%A9.txt");
    let runs = runners();
    for (who, run) in runs {
        let dir = tempfile::tempdir().unwrap();
        let out = run(&["-OJ", &evil], dir.path());
        assert!(out.status.success(), "{who}: {}", text(&out.stderr));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("evil name.txt")).unwrap(),
            "disposition body\n"
        );
        // The same name again: refused, the file kept.
        std::fs::write(dir.path().join("evil name.txt"), "mine").unwrap();
        let out = run(&["-OJ", &evil], dir.path());
        assert_eq!(out.status.code(), Some(23), "{who}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("evil name.txt")).unwrap(),
            "mine",
            "{who}"
        );
        // filename* is left unread (as curl 7.88): the URL's name serves.
        let out = run(&["-OJ", &starred], dir.path());
        assert!(out.status.success(), "{who}");
        assert!(dir.path().join("fallback.bin").exists(), "{who}");
    }
}

#[test]
fn fail_with_body_referer_and_retry_as_curl() {
    let echo = cpython_echo_server();
    let peer = peer();
    let dir = tempfile::tempdir().unwrap();
    let runs = runners();
    for (n, (who, run)) in runs.into_iter().enumerate() {
        let url = format!("http://127.0.0.1:{}/x", echo.port);
        let out = run(
            &[
                "--fail-with-body",
                "-H",
                "X-Status: 404",
                "-e",
                "http://from.example/",
                &url,
            ],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(22), "{who}");
        let body = text(&out.stdout);
        assert!(
            body.starts_with("GET /x\n") && body.contains("\nReferer: http://from.example/\n"),
            "{who}: {body}"
        );
        // Two 503s with Retry-After: 1, then 200: only the last body is ours to write.
        let busy = format!("http://127.0.0.1:{}/busy/{n}", peer.port);
        let started = std::time::Instant::now();
        let out = run(&["--retry", "3", "-o", "r.out", &busy], dir.path());
        assert!(out.status.success(), "{who}: {}", text(&out.stderr));
        assert!(
            started.elapsed() >= std::time::Duration::from_secs(2),
            "{who}: waited as asked"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("r.out")).unwrap(),
            "ready\n",
            "{who}"
        );
        // curl runs here with -s, which silences its warnings as it silences ours.
        if who == "ours" {
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains("Warning: Problem : HTTP error. Will retry in 1 seconds. 3 retries left.")
                    && stderr.contains("2 retries left."),
                "{stderr}"
            );
            let quiet = run(
                &["-s", "--retry", "3", "-o", "r.out", &format!("{busy}-quiet")],
                dir.path(),
            );
            assert!(quiet.status.success() && quiet.stderr.is_empty(), "{quiet:?}");
        }
    }
}

#[test]
fn write_out_variables_match_curls() {
    let echo = cpython_echo_server();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/redirect/302?to=/landed", echo.port);
    let format = "%{http_code} %{num_redirects} [%{redirect_url}] %{content_type} %{remote_ip}:%{remote_port} %{size_header} %{url_effective} 100%%\\n";
    let run = |who: &str, args: &[&str]| -> String {
        let out = match who {
            "ours" => ours(args, dir.path()),
            _ => curl(args, dir.path()),
        };
        text(&out.stdout)
    };
    let ours_unfollowed = run("ours", &["-o", "/dev/null", "-w", format, &url]);
    let ours_followed = run("ours", &["-L", "-o", "/dev/null", "-w", format, &url]);
    let port = echo.port;
    assert_eq!(
        ours_unfollowed,
        format!("302 0 [http://127.0.0.1:{port}/landed]  127.0.0.1:{port} ")
            + ours_unfollowed.split(' ').nth(5).unwrap()
            + &format!(" {url} 100%\n")
    );
    assert!(ours_followed.starts_with("200 1 [] "), "{ours_followed}");
    if curl_here() {
        assert_eq!(ours_unfollowed, run("curl", &["-o", "/dev/null", "-w", format, &url]));
        // Date headers of equal length: the same sizes.
        assert_eq!(
            ours_followed,
            run("curl", &["-L", "-o", "/dev/null", "-w", format, &url])
        );
    }
    // No answer at all: 000, and an unknown variable is named on stderr.
    let out = ours(&["-w", "%{http_code} %{bogus}", "http://127.0.0.1:1/"], dir.path());
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(7), "000 ".into()));
    assert!(
        text(&out.stderr).contains("unknown --write-out variable: 'bogus'"),
        "{}",
        text(&out.stderr)
    );
}
