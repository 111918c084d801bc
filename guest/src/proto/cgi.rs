//! CGIHTTPRequestHandler's reading of a request: which paths name scripts (`is_cgi`,
//! `_url_collapse_path`), how a script path splits into script, PATH_INFO and query
//! (`run_cgi`), the CGI/1.1 environment and argv it gets, and telling a WebAssembly
//! component from anything else (the only kind of script that runs).

use super::headers::Headers;
use super::latin1;
use base64::Engine as _;
use percent_encoding::percent_decode_str;

/// CPython's default `cgi_directories`.
pub const DEFAULT_CGI_DIRECTORIES: [&str; 2] = ["/cgi-bin", "/htbin"];

/// The first eight bytes of a WebAssembly component (a core module has version 01 00 00 00).
const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// CPython `_url_collapse_path`: the path percent-decoded with "." and ".." resolved, the
/// query kept. `None` where CPython raises IndexError (more ".." than names).
pub fn url_collapse_path(path: &str) -> Option<String> {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let path = percent_decode_str(path).decode_utf8_lossy();
    let parts: Vec<&str> = path.split('/').collect();
    let mut head: Vec<&str> = Vec::new();
    for part in &parts[..parts.len() - 1] {
        match *part {
            ".." => {
                head.pop()?;
            }
            "" | "." => {}
            p => head.push(p),
        }
    }
    let mut tail = match parts[parts.len() - 1] {
        ".." => {
            head.pop()?;
            String::new()
        }
        "." => String::new(),
        t => t.to_string(),
    };
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        tail = format!("{tail}?{query}");
    }
    Some(format!("/{}/{tail}", head.join("/")))
}

/// CPython `is_cgi`: (directory, rest) when the collapsed path lies under one of `directories`.
pub fn cgi_info(path: &str, directories: &[String]) -> Option<(String, String)> {
    if directories.is_empty() {
        // SimpleHTTPRequestHandler: nothing to collapse for, on every request.
        return None;
    }
    let collapsed = url_collapse_path(path)?;
    let mut sep = collapsed[1..].find('/').map(|i| i + 1);
    while let Some(i) = sep {
        if directories.iter().any(|d| d == &collapsed[..i]) {
            return Some((collapsed[..i].to_string(), collapsed[i + 1..].to_string()));
        }
        sep = collapsed[i + 1..].find('/').map(|j| i + 1 + j);
    }
    None
}

/// Where a CGI request points, as `run_cgi` works it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptPath {
    /// The deepest existing directory, e.g. "/cgi-bin/sub".
    pub dir: String,
    /// The script's file name in `dir`.
    pub script: String,
    /// What follows the script name, still percent-encoded ("" or starting with "/").
    pub rest: String,
    /// The query string, without "?".
    pub query: String,
}

impl ScriptPath {
    /// SCRIPT_NAME: `dir/script`.
    pub fn script_name(&self) -> String {
        format!("{}/{}", self.dir, self.script)
    }
}

/// `run_cgi`'s walk: descend while `dir/next` is a directory (`is_dir` is asked about URL
/// paths), then split off the script name, PATH_INFO and the query.
pub fn split_script(dir: &str, rest: &str, is_dir: impl Fn(&str) -> bool) -> ScriptPath {
    let mut dir = dir.to_string();
    let mut rest = rest.to_string();
    let path = format!("{dir}/{rest}");
    let mut i = path[dir.len() + 1..].find('/').map(|j| dir.len() + 1 + j);
    while let Some(at) = i {
        let next_dir = &path[..at];
        if !is_dir(next_dir) {
            break;
        }
        dir = next_dir.to_string();
        rest = path[at + 1..].to_string();
        i = path[dir.len() + 1..].find('/').map(|j| dir.len() + 1 + j);
    }
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r.to_string(), q.to_string()),
        None => (rest, String::new()),
    };
    let (script, rest) = match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest, String::new()),
    };
    ScriptPath {
        dir,
        script,
        rest,
        query,
    }
}

/// What the environment is made from besides the request's headers.
#[derive(Debug, Clone)]
pub struct ServerSide<'a> {
    /// `SERVER_SOFTWARE`: the server's version string.
    pub server_software: &'a str,
    /// `SERVER_NAME`.
    pub server_name: &'a str,
    /// `SERVER_PORT`.
    pub server_port: u16,
    /// `SERVER_PROTOCOL`.
    pub protocol_version: &'a str,
    /// `REQUEST_METHOD`.
    pub method: &'a str,
    /// `REMOTE_ADDR`.
    pub remote_addr: &'a str,
    /// The served directory (PATH_TRANSLATED is PATH_INFO under it).
    pub document_root: &'a str,
}

/// The CGI/1.1 environment `run_cgi` builds (CPython's variables and defaults). Unlike
/// CPython, the server's own environment is not passed on: a script sees only these.
pub fn environment(server: &ServerSide, script: &ScriptPath, headers: &Headers) -> Vec<(String, String)> {
    let header = |name: &str| headers.get(name).map(latin1);
    let path_info = percent_decode_str(&script.rest).decode_utf8_lossy().into_owned();
    let path_translated = match super::translate_path::translate_path(&path_info) {
        Some(p) => p.under(server.document_root),
        None => server.document_root.to_string(),
    };
    let mut env: Vec<(String, String)> = vec![
        ("SERVER_SOFTWARE".into(), server.server_software.into()),
        ("SERVER_NAME".into(), server.server_name.into()),
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
        ("SERVER_PROTOCOL".into(), server.protocol_version.into()),
        ("SERVER_PORT".into(), server.server_port.to_string()),
        ("REQUEST_METHOD".into(), server.method.into()),
        ("PATH_INFO".into(), path_info),
        ("PATH_TRANSLATED".into(), path_translated),
        ("SCRIPT_NAME".into(), script.script_name()),
        ("QUERY_STRING".into(), script.query.clone()),
        ("REMOTE_ADDR".into(), server.remote_addr.into()),
    ];
    if let Some(authorization) = header("authorization") {
        let words: Vec<&str> = authorization.split_ascii_whitespace().collect();
        if let [kind, credentials] = words[..] {
            env.push(("AUTH_TYPE".into(), kind.into()));
            if kind.eq_ignore_ascii_case("basic")
                && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials)
                && let Ok(text) = String::from_utf8(decoded)
                && text.is_ascii()
                && let [user, _password] = text.split(':').collect::<Vec<_>>()[..]
            {
                env.push(("REMOTE_USER".into(), user.into()));
            }
        }
    }
    // email.message's get_content_type() is "text/plain" when there is no Content-Type.
    env.push((
        "CONTENT_TYPE".into(),
        header("content-type").unwrap_or_else(|| "text/plain".into()),
    ));
    env.push(("CONTENT_LENGTH".into(), header("content-length").unwrap_or_default()));
    env.push(("HTTP_REFERER".into(), header("referer").unwrap_or_default()));
    let accept: Vec<String> = headers.get_all("accept").map(latin1).collect();
    env.push(("HTTP_ACCEPT".into(), accept.join(",")));
    env.push(("HTTP_USER_AGENT".into(), header("user-agent").unwrap_or_default()));
    let cookies: Vec<String> = headers
        .get_all("cookie")
        .map(latin1)
        .filter(|c| !c.is_empty())
        .collect();
    env.push(("HTTP_COOKIE".into(), cookies.join(", ")));
    env.push(("REMOTE_HOST".into(), String::new()));
    env
}

/// The script's argv: its name, then the query with "+" as space when it holds no "=" (the
/// old ISINDEX convention `run_cgi` keeps).
pub fn script_args(script: &ScriptPath) -> Vec<String> {
    let decoded_query = script.query.replace('+', " ");
    let mut args = vec![script.script.clone()];
    if !decoded_query.contains('=') {
        args.push(decoded_query);
    }
    args
}

/// Whether these bytes start like a WebAssembly component.
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.starts_with(&COMPONENT_PREAMBLE)
}

/// The part of a script's output a HEAD request gets: its header block, through the blank line.
pub fn header_block(output: &[u8]) -> &[u8] {
    for (i, window) in output.windows(2).enumerate() {
        if window == b"\n\n" {
            return &output[..i + 2];
        }
        if window == b"\n\r" && output.get(i + 2) == Some(&b'\n') {
            return &output[..i + 3];
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> Vec<String> {
        DEFAULT_CGI_DIRECTORIES.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn collapses_like_cpython() {
        // test_httpservers.CGIHTTPServerTestCase.test_url_collapse_path's table
        let cases: &[(&str, Option<&str>)] = &[
            ("", Some("//")),
            ("..", None),
            ("/.//..", None),
            ("/", Some("//")),
            ("//", Some("//")),
            ("/\\", Some("//\\")),
            ("/.//", Some("//")),
            ("cgi-bin/file1.py", Some("/cgi-bin/file1.py")),
            ("/cgi-bin/file1.py", Some("/cgi-bin/file1.py")),
            ("a", Some("//a")),
            ("/a", Some("//a")),
            ("//a", Some("//a")),
            ("./a", Some("//a")),
            ("./C:/", Some("/C:/")),
            ("/a/b", Some("/a/b")),
            ("/a/b/", Some("/a/b/")),
            ("/a/b/.", Some("/a/b/")),
            ("/a/b/c/..", Some("/a/b/")),
            ("/a/b/c/../d", Some("/a/b/d")),
            ("/a/b/c/../d/e/../f", Some("/a/b/d/f")),
            ("/a/b/c/../d/e/../../f", Some("/a/b/f")),
            ("/a/b/c/../d/e/.././././..//f", Some("/a/b/f")),
            ("../a/b/c/../d/e/.././././..//f", None),
            ("/a/b/c/../d/e/../../../f", Some("/a/f")),
            ("/a/b/c/../d/e/../../../../f", Some("//f")),
            ("/a/b/c/../d/e/../../../../../f", None),
            ("/a/b/c/../d/e/../../../../f/..", Some("//")),
            ("/a/b/c/../d/e/../../../../f/../.", Some("//")),
        ];
        for (path, want) in cases {
            assert_eq!(url_collapse_path(path).as_deref(), *want, "{path:?}");
        }
        assert_eq!(
            url_collapse_path("/cgi-bin/x.wasm?a=1").as_deref(),
            Some("/cgi-bin/x.wasm?a=1")
        );
    }

    #[test]
    fn finds_cgi_directories() {
        assert_eq!(
            cgi_info("/cgi-bin/env.wasm/extra?q=1", &dirs()),
            Some(("/cgi-bin".into(), "env.wasm/extra?q=1".into()))
        );
        assert_eq!(cgi_info("/htbin/a", &dirs()), Some(("/htbin".into(), "a".into())));
        assert_eq!(
            cgi_info("/a/../cgi-bin/x", &dirs()),
            Some(("/cgi-bin".into(), "x".into()))
        );
        assert_eq!(cgi_info("/cgi-bin", &dirs()), None);
        assert_eq!(cgi_info("/cgi-binx/a", &dirs()), None);
        assert_eq!(cgi_info("/files/cgi-bin/a", &dirs()), None);
        assert_eq!(cgi_info("/%63gi-bin/x", &dirs()), Some(("/cgi-bin".into(), "x".into())));
        assert_eq!(cgi_info("/cgi-bin/x", &[]), None);
    }

    #[test]
    fn splits_script_path_info_and_query() {
        let s = split_script("/cgi-bin", "sub/env.wasm/a/b?x=1", |d| d == "/cgi-bin/sub");
        assert_eq!(s.dir, "/cgi-bin/sub");
        assert_eq!(s.script, "env.wasm");
        assert_eq!(s.rest, "/a/b");
        assert_eq!(s.query, "x=1");
        assert_eq!(s.script_name(), "/cgi-bin/sub/env.wasm");
        let s = split_script("/cgi-bin", "env.wasm", |_| false);
        assert_eq!(
            (s.script.as_str(), s.rest.as_str(), s.query.as_str()),
            ("env.wasm", "", "")
        );
        assert_eq!(script_args(&split_script("/cgi-bin", "s?a+b", |_| false)), ["s", "a b"]);
        assert_eq!(script_args(&split_script("/cgi-bin", "s?a=b", |_| false)), ["s"]);
    }

    #[test]
    fn environment_has_cpythons_variables() {
        let mut h = Headers::new();
        h.push("Content-Length", "5");
        h.push("Accept", "text/html");
        h.push("Accept", "*/*");
        h.push("Authorization", "Basic dXNlcjpwYXNz");
        h.push("Cookie", "a=1");
        let script = split_script("/cgi-bin", "env.wasm/x%20y?q=1", |_| false);
        let server = ServerSide {
            server_software: "SimpleHTTP/0.6 httplib/0.1.0",
            server_name: "127.0.0.1",
            server_port: 8000,
            protocol_version: "HTTP/1.0",
            method: "POST",
            remote_addr: "127.0.0.1",
            document_root: "/srv",
        };
        let env = environment(&server, &script, &h);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("GATEWAY_INTERFACE"), Some("CGI/1.1"));
        assert_eq!(get("PATH_INFO"), Some("/x y"));
        assert_eq!(get("PATH_TRANSLATED"), Some("/srv/x y"));
        assert_eq!(get("SCRIPT_NAME"), Some("/cgi-bin/env.wasm"));
        assert_eq!(get("QUERY_STRING"), Some("q=1"));
        assert_eq!(get("CONTENT_LENGTH"), Some("5"));
        assert_eq!(get("CONTENT_TYPE"), Some("text/plain"));
        assert_eq!(get("HTTP_ACCEPT"), Some("text/html,*/*"));
        assert_eq!(get("AUTH_TYPE"), Some("Basic"));
        assert_eq!(get("REMOTE_USER"), Some("user"));
        assert_eq!(get("HTTP_COOKIE"), Some("a=1"));
        assert_eq!(get("HTTP_USER_AGENT"), Some(""));
        assert_eq!(get("SERVER_PORT"), Some("8000"));
    }

    #[test]
    fn recognises_components_and_header_blocks() {
        assert!(is_component(&[0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0, 9]));
        assert!(!is_component(&[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
        assert!(!is_component(b"#!/bin/sh\necho hi\n"));
        assert_eq!(header_block(b"A: b\n\nbody"), b"A: b\n\n");
        assert_eq!(header_block(b"A: b\r\n\r\nbody"), b"A: b\r\n\r\n");
        assert_eq!(header_block(b"no end"), b"no end");
    }
}
