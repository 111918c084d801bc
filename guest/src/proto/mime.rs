//! Content types for served files (CPython `SimpleHTTPRequestHandler.guess_type`).

/// CPython's `extensions_map` overrides, consulted before the MIME table.
pub const DEFAULT_EXTENSIONS_MAP: &[(&str, &str)] = &[
    (".gz", "application/gzip"),
    (".Z", "application/octet-stream"),
    (".bz2", "application/x-bzip2"),
    (".xz", "application/x-xz"),
];

/// The type for `path`: the overrides by exact then lower-cased extension, then the MIME
/// table (mime_guess), else "application/octet-stream".
pub fn guess_type(path: &str, overrides: &[(String, String)]) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rfind('.') {
        Some(i) if name[..i].chars().any(|c| c != '.') => &name[i..],
        _ => "",
    };
    if !ext.is_empty() {
        let lower = ext.to_lowercase();
        for candidate in [ext, lower.as_str()] {
            if let Some((_, t)) = overrides.iter().find(|(e, _)| e == candidate) {
                return t.clone();
            }
            if let Some((_, t)) = DEFAULT_EXTENSIONS_MAP.iter().find(|(e, _)| *e == candidate) {
                return t.to_string();
            }
        }
    }
    mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        assert_eq!(guess_type("/a/index.html", &[]), "text/html");
        assert_eq!(guess_type("/a/b.TXT", &[]), "text/plain");
        assert_eq!(guess_type("/a.tar.gz", &[]), "application/gzip");
        assert_eq!(guess_type("/noext", &[]), "application/octet-stream");
        assert_eq!(guess_type("/.bashrc", &[]), "application/octet-stream");
        assert_eq!(guess_type("/x.png", &[]), "image/png");
        assert_eq!(
            guess_type("/x.wasm", &[(".wasm".into(), "application/wasm".into())]),
            "application/wasm"
        );
    }
}
