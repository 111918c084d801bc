//! Mapping a request path onto the served directory (CPython `SimpleHTTPRequestHandler.translate_path`).

use percent_encoding::percent_decode_str;

/// A request path as plain names below the served root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsPath {
    /// The names, each after a "/" ("/a/b"; "" for the root itself), none of them empty, ".",
    /// ".." or containing "/": one string, not a string a name.
    relative: String,
    /// The request path ended in "/" (a directory was asked for).
    pub trailing_slash: bool,
}

impl FsPath {
    /// Joined under `root` ("/srv" + ["a", "b"] = "/srv/a/b").
    pub fn under(&self, root: &str) -> String {
        let root = root.trim_end_matches('/');
        let mut path = String::with_capacity(root.len() + self.relative.len() + 1);
        path.push_str(root);
        path.push_str(&self.relative);
        if path.is_empty() {
            path.push('/');
        }
        path
    }

    /// The names, in order.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.relative.split('/').skip(1)
    }
}

/// Query and fragment dropped, percent-decoded, then normalised like `posixpath.normpath`
/// ("..", "." and empty names removed), so the result can never climb above the root.
/// `None` when the decoded path holds a NUL (no file can have that name: CPython answers 404).
pub fn translate_path(path: &str) -> Option<FsPath> {
    let path = &path[..path.find(['#', '?']).unwrap_or(path.len())];
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    if decoded.contains('\0') {
        return None;
    }
    let trailing_slash = decoded.ends_with('/');
    let mut relative = String::with_capacity(decoded.len());
    for word in decoded.split('/') {
        match word {
            "" | "." => {}
            ".." => relative.truncate(relative.rfind('/').unwrap_or(0)),
            w => {
                relative.push('/');
                relative.push_str(w);
            }
        }
    }
    Some(FsPath {
        relative,
        trailing_slash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &str) -> Vec<String> {
        translate_path(p).unwrap().parts().map(str::to_string).collect()
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
        assert_eq!(translate_path("/?q#f").unwrap().under("/srv/"), "/srv");
        assert_eq!(parts("/a#x?y/b"), ["a"]);
        assert_eq!(parts("/a/b/../../.."), Vec::<String>::new());
        assert_eq!(parts("/a/b/../c/./../d"), ["a", "d"]);
    }
}
