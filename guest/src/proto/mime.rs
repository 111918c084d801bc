//! Content types for served files (CPython `SimpleHTTPRequestHandler.guess_type`).

/// CPython's `extensions_map` overrides, consulted before the MIME table.
pub const DEFAULT_EXTENSIONS_MAP: &[(&str, &str)] = &[
    (".gz", "application/gzip"),
    (".Z", "application/octet-stream"),
    (".bz2", "application/x-bzip2"),
    (".xz", "application/x-xz"),
];

/// Python 3.14's `mimetypes` entries (the newest seed) where the mime_guess table differs:
/// what browsers need for modules, fonts and WebAssembly.
pub const PYTHON_314_TYPES: &[(&str, &str)] = &[
    (".js", "text/javascript"),
    (".mjs", "text/javascript"),
    (".woff", "font/woff"),
    (".woff2", "font/woff2"),
    (".wasm", "application/wasm"),
];

/// The type for `path`: the overrides by exact then lower-cased extension, then Python
/// 3.14's newer entries, then the MIME table (mime_guess), else "application/octet-stream".
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
        if let Some((_, t)) = PYTHON_314_TYPES.iter().find(|(e, _)| *e == lower) {
            return t.to_string();
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
            guess_type("/x.wasm", &[(".wasm".into(), "text/plain".into())]),
            "text/plain"
        );
        // Python 3.14's mimetypes table, where it is newer than CPython 3.11's.
        for (path, expected) in [
            ("/app.js", "text/javascript"),
            ("/mod.mjs", "text/javascript"),
            ("/f.woff", "font/woff"),
            ("/f.woff2", "font/woff2"),
            ("/m.wasm", "application/wasm"),
            ("/d.json", "application/json"),
            ("/p.webp", "image/webp"),
            ("/s.svg", "image/svg+xml"),
        ] {
            assert_eq!(guess_type(path, &[]), expected, "{path}");
        }
    }
}
