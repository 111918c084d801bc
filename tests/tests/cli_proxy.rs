//! Proxies as curl finds them: `-x` in each spelling, the proxy environment variables,
//! `no_proxy` and `--noproxy`; each case run with curl against the same recording proxy.

use httplib_tests::*;
use std::process::{Command, Output};

/// The variables a proxy is read from, cleared so the machine's own do not leak in.
const PROXY_VARIABLES: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

fn with_env(program: &str, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(program);
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    command
        .args(args)
        .envs(env.iter().map(|(n, v)| (n, v)))
        .output()
        .unwrap()
}

/// A case: its name, the arguments before the URL, the environment, what the proxy sees.
type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, String)>, Vec<String>);

/// One case: what the proxy saw of ours and of curl's request (request line, and the
/// Proxy-Authorization line if any), and the body each printed.
fn seen_through(args: &[&str], env: &[(&str, String)]) -> Vec<(Vec<String>, String)> {
    let mut programs = vec![httplib_bin!().to_string_lossy().into_owned()];
    if curl_here() {
        programs.push("curl".into());
    }
    programs
        .iter()
        .map(|program| {
            let proxy = recording_proxy(None);
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("PROXY", &proxy.port.to_string()))
                .collect();
            let env: Vec<(&str, String)> = env
                .iter()
                .map(|(n, v)| (*n, v.replace("PROXY", &proxy.port.to_string())))
                .collect();
            let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
            if program != "curl" {
                argv.insert(0, "get");
            } else {
                argv.insert(0, "-s");
            }
            let out = with_env(program, &argv, &env);
            let heads = proxy.heads.lock().unwrap().clone();
            let seen = heads
                .iter()
                .flat_map(|h| {
                    let mut lines = h.lines();
                    let line = lines.next().unwrap_or("").to_string();
                    let auth = lines.filter(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:"));
                    std::iter::once(line).chain(auth.map(str::to_string))
                })
                .collect();
            (seen, String::from_utf8_lossy(&out.stdout).into_owned())
        })
        .collect()
}

#[test]
fn proxies_are_found_as_curl_finds_them() {
    let site = fixture_dir();
    let origin = cpython_server(site.path(), "HTTP/1.0");
    let url = format!("http://127.0.0.1:{}/hello.txt", origin.port);
    let through = vec![format!("GET {url} HTTP/1.1")];
    let direct: Vec<String> = vec![];
    let cases: Vec<Case> = vec![
        (
            "-x without a scheme",
            vec!["-x", "127.0.0.1:PROXY"],
            vec![],
            through.clone(),
        ),
        (
            "http_proxy",
            vec![],
            vec![("http_proxy", "http://127.0.0.1:PROXY".into())],
            through.clone(),
        ),
        // Never HTTP_PROXY, which a CGI request could set ("httpoxy").
        (
            "HTTP_PROXY alone",
            vec![],
            vec![("HTTP_PROXY", "127.0.0.1:PROXY".into())],
            direct.clone(),
        ),
        (
            "ALL_PROXY",
            vec![],
            vec![("ALL_PROXY", "127.0.0.1:PROXY".into())],
            through.clone(),
        ),
        (
            "no_proxy by address",
            vec![],
            vec![
                ("http_proxy", "127.0.0.1:PROXY".into()),
                ("NO_PROXY", "example.com,127.0.0.1".into()),
            ],
            direct.clone(),
        ),
        (
            "no_proxy by range",
            vec![],
            vec![
                ("http_proxy", "127.0.0.1:PROXY".into()),
                ("no_proxy", "127.0.0.0/8".into()),
            ],
            direct.clone(),
        ),
        (
            "no_proxy of another host",
            vec![],
            vec![
                ("http_proxy", "127.0.0.1:PROXY".into()),
                ("no_proxy", "example.com".into()),
            ],
            through.clone(),
        ),
        (
            "--noproxy",
            vec!["--noproxy", "127.0.0.1"],
            vec![("http_proxy", "127.0.0.1:PROXY".into())],
            direct.clone(),
        ),
        (
            "-x \"\" over the environment",
            vec!["-x", ""],
            vec![("http_proxy", "127.0.0.1:PROXY".into())],
            direct.clone(),
        ),
        (
            "proxy credentials",
            vec!["-x", "http://us%40r:pw@127.0.0.1:PROXY"],
            vec![],
            vec![through[0].clone(), "Proxy-Authorization: Basic dXNAcjpwdw==".into()],
        ),
    ];
    for (name, args, env, expected) in cases {
        let args: Vec<&str> = args.into_iter().chain([url.as_str()]).collect();
        let runs = seen_through(&args, &env);
        for (n, (seen, body)) in runs.iter().enumerate() {
            let who = ["ours", "curl"][n];
            assert_eq!(seen, &expected, "{name}: {who}");
            assert_eq!(body, "hello, world\n", "{name}: {who}");
        }
    }
}

#[test]
fn a_proxy_that_is_not_http_is_refused_by_name() {
    let out = with_env(
        httplib_bin!().to_str().unwrap(),
        &["get", "-x", "socks5://127.0.0.1:1", "http://127.0.0.1:1/"],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsupported proxy scheme \"socks5\""), "{err}");
}
