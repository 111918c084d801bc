//! Cookies as curl keeps them: -b NAME=VALUE, -b FILE and -c FILE in the Netscape format,
//! Set-Cookie during redirects, domain, path, Max-Age and Secure; each run beside curl.

use httplib_tests::*;
use std::path::Path;
use std::process::{Command, Output};

/// `/set/...` answers 302 to /show with seven Set-Cookie fields (host-only, a path, Max-Age,
/// a Domain that is the address, another path, one already expired, Secure); `/cross` sets
/// one and sends the client to `localhost`, another host; every answer echoes the Cookie
/// header it got.
fn peer() -> Peer {
    let script = r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("cookie=" + str(self.headers.get("Cookie")) + "\n").encode()
        if self.path.startswith("/set"):
            self.send_response(302)
            self.send_header("Location", "/show")
            for c in ["a=1", "b=2; Path=/show; HttpOnly", "c=3; Max-Age=3600; Path=/", "d=4; Domain=127.0.0.1",
                      "e=5; Path=/other", "gone=x; Max-Age=0", "s=6; Secure"]:
                self.send_header("Set-Cookie", c)
        elif self.path.startswith("/cross"):
            self.send_response(302)
            self.send_header("Set-Cookie", "x=1; Path=/")
            self.send_header("Location", "http://localhost:%d/show" % self.server.server_address[1])
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;
    python_peer(script, free_port(), &[])
}

fn run(who: &str, args: &[&str], dir: &Path) -> Output {
    let mut command = match who {
        "ours" => {
            let mut c = Command::new(httplib_bin!());
            c.arg("get");
            c
        }
        _ => {
            let mut c = Command::new("curl");
            c.arg("-s");
            c
        }
    };
    command.args(args).current_dir(dir).output().unwrap()
}

fn who() -> Vec<&'static str> {
    match curl_here() {
        true => vec!["ours", "curl"],
        false => vec!["ours"],
    }
}

/// A jar's cookie lines, sorted, with each expiry in the future written as "LATER".
fn cookie_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && (!l.starts_with('#') || l.starts_with("#HttpOnly_")))
        .map(|l| {
            let mut f: Vec<&str> = l.split('\t').collect();
            if f.len() == 7 && f[4] != "0" {
                f[4] = "LATER";
            }
            f.join("\t")
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn a_cookie_jar_is_kept_and_sent_as_curl_does() {
    let peer = peer();
    let base = format!("http://127.0.0.1:{}", peer.port);
    let mut jars = Vec::new();
    for who in who() {
        let dir = tempfile::tempdir().unwrap();
        // -L with the engine on: the redirect's cookies go with the next request.
        let out = run(
            who,
            &["-L", "-b", "", "-c", "jar.txt", &format!("{base}/set/x")],
            dir.path(),
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "cookie=b=2; c=3\n",
            "{who} ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let jar = std::fs::read_to_string(dir.path().join("jar.txt")).unwrap();
        assert!(jar.starts_with("# Netscape HTTP Cookie File\n"), "{who}: {jar}");
        let lines = cookie_lines(&jar);
        assert_eq!(
            lines,
            [
                "#HttpOnly_127.0.0.1\tFALSE\t/show\tFALSE\t0\tb\t2",
                "127.0.0.1\tFALSE\t/\tFALSE\tLATER\tc\t3",
                "127.0.0.1\tFALSE\t/other\tFALSE\t0\te\t5",
                "127.0.0.1\tFALSE\t/set/\tFALSE\t0\ta\t1",
                "127.0.0.1\tFALSE\t/set/\tFALSE\t0\td\t4",
                "127.0.0.1\tFALSE\t/set/\tTRUE\t0\ts\t6",
            ],
            "{who}"
        );
        // The file read back: what each path gets (loopback counts as secure, as in curl).
        for (path, expected) in [
            ("/set/z", "cookie=a=1; d=4; s=6; c=3\n"),
            ("/other/q", "cookie=e=5; c=3\n"),
            ("/", "cookie=c=3\n"),
        ] {
            let out = run(who, &["-b", "jar.txt", &format!("{base}{path}")], dir.path());
            assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{who} {path}");
        }
        // -b text, with a file's cookies before it.
        let out = run(who, &["-b", "jar.txt", "-b", "z=9", &format!("{base}/")], dir.path());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "cookie=c=3; z=9\n", "{who}");
        jars.push(lines);
    }
    if jars.len() == 2 {
        assert_eq!(jars[0], jars[1], "the same jar as curl's");
    }
}

#[test]
fn a_cookie_for_one_host_never_reaches_another() {
    let peer = peer();
    for who in who() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("http://127.0.0.1:{}/cross", peer.port);
        let out = run(who, &["-L", "-b", "", &url], dir.path());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "cookie=None\n", "{who}");
    }
    // -b's text goes to the first origin only, as -H Cookie does (curl 7.88 sends it to
    // every host a redirect leads to: a difference kept on purpose).
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/cross", peer.port);
    let out = run("ours", &["-L", "-b", "given=1", &url], dir.path());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "cookie=None\n");
}
