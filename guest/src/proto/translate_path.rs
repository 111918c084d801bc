//! Mapping a request path onto the served directory (CPython `SimpleHTTPRequestHandler.translate_path`).

use percent_encoding::percent_decode_str;

/// A request path as a list of plain names below the served root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsPath {
    /// Names to join onto the root, none of them empty, ".", ".." or containing "/".
    pub parts: Vec<String>,
    /// The request path ended in "/" (a directory was asked for).
    pub trailing_slash: bool,
}

impl FsPath {
    /// Joined under `root` ("/srv" + ["a", "b"] = "/srv/a/b").
    pub fn under(&self, root: &str) -> String {
        let mut path = root.trim_end_matches('/').to_string();
        for part in &self.parts {
            path.push('/');
            path.push_str(part);
        }
        if path.is_empty() {
            path.push('/');
        }
        path
    }
}

/// Query and fragment dropped, percent-decoded, then normalised like `posixpath.normpath`
/// ("..", "." and empty names removed), so the result can never climb above the root.
/// `None` when the decoded path holds a NUL (no file can have that name: CPython answers 404).
pub fn translate_path(path: &str) -> Option<FsPath> {
    let path = path.split('#').next().unwrap_or("");
    let path = path.split('?').next().unwrap_or("");
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    if decoded.contains('\0') {
        return None;
    }
    let trailing_slash = decoded.ends_with('/');
    let mut parts: Vec<String> = Vec::new();
    for word in decoded.split('/') {
        match word {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            w => parts.push(w.to_string()),
        }
    }
    Some(FsPath { parts, trailing_slash })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &str) -> Vec<String> {
        translate_path(p).unwrap().parts
    }

    #[test]
    fn stays_below_the_root() {
        assert_eq!(parts("/a/b.txt?x=1#f"), ["a", "b.txt"]);
        assert_eq!(parts("/../../etc/passwd"), ["etc", "passwd"]);
        assert_eq!(parts("/a/%2e%2e/%2e%2e/b"), ["b"]);
        assert_eq!(parts("/a/..%2f..%2fb"), ["b"]);
        assert_eq!(parts("//a//./b/"), ["a", "b"]);
        assert_eq!(parts("/with%20space"), ["with space"]);
        assert!(translate_path("/a/").unwrap().trailing_slash);
        assert!(!translate_path("/a").unwrap().trailing_slash);
        assert_eq!(translate_path("/a%00b"), None);
        assert_eq!(translate_path("/x/../y").unwrap().under("/srv"), "/srv/y");
        assert_eq!(translate_path("/").unwrap().under("/"), "/");
    }
}
