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

/// Extensions whose system-table answer one instance keeps (ours): a request's path chooses
/// the extension, so a client asking for ever new ones fills the table, and later ones are
/// asked each time.
pub const SYSTEM_TYPES_KEPT: usize = 256;
/// The longest extension whose answer is kept (ours; the machine's mime.types has none past
/// a dozen bytes): with [`SYSTEM_TYPES_KEPT`], what the table can hold stays a few KiB.
pub const SYSTEM_TYPE_EXTENSION_KEPT_MAX: usize = 32;

/// The machine's MIME table as seen so far, one extension at a time (asking is a host call
/// each): the host reads its table once, so an answer never changes, and an instance keeps
/// the answers for its later requests, none found included.
#[derive(Debug, Default)]
pub struct SystemTypesSeen(std::collections::HashMap<String, Option<String>>);

impl SystemTypesSeen {
    /// The type of `extension`: as answered before, else `ask`'s answer (kept while there is
    /// room and the extension is short).
    pub fn get(&mut self, extension: &str, ask: impl FnOnce(&str) -> Option<String>) -> Option<String> {
        if let Some(answer) = self.0.get(extension) {
            return answer.clone();
        }
        let answer = ask(extension);
        if self.0.len() < SYSTEM_TYPES_KEPT && extension.len() <= SYSTEM_TYPE_EXTENSION_KEPT_MAX {
            self.0.insert(extension.to_string(), answer.clone());
        }
        answer
    }
}

/// The type for `path`: the overrides by exact then lower-cased extension (CPython's
/// `extensions_map`), then the machine's table (`system`, its mime.types files: they win over
/// the built-in table in Python's mimetypes too), then Python 3.14's newer entries, then the
/// MIME table (mime_guess), else "application/octet-stream".
pub fn guess_type(path: &str, overrides: &[(String, String)], system: &dyn Fn(&str) -> Option<String>) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rfind('.') {
        Some(i) if name[..i].chars().any(|c| c != '.') => &name[i..],
        _ => "",
    };
    if !ext.is_empty() {
        // Lowered only when it has something to lower (mostly not): then asked once, not twice.
        let lower = match ext.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
            true => std::borrow::Cow::Owned(ext.to_lowercase()),
            false => std::borrow::Cow::Borrowed(ext),
        };
        let candidates = match lower.as_ref() == ext {
            true => &[ext][..],
            false => &[ext, lower.as_ref()][..],
        };
        for &candidate in candidates {
            if let Some((_, t)) = overrides.iter().find(|(e, _)| e == candidate) {
                return t.clone();
            }
            if let Some((_, t)) = DEFAULT_EXTENSIONS_MAP.iter().find(|(e, _)| *e == candidate) {
                return t.to_string();
            }
        }
        if let Some(t) = candidates.iter().find_map(|candidate| system(candidate)) {
            return t;
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
    fn the_system_tables_answers_are_asked_once_and_kept_within_bounds() {
        let asked = std::cell::Cell::new(0);
        let ask = |ext: &str| {
            asked.set(asked.get() + 1);
            (ext == ".md").then(|| "text/markdown".to_string())
        };
        let mut seen = SystemTypesSeen::default();
        assert_eq!(seen.get(".md", ask), Some("text/markdown".into()));
        assert_eq!(seen.get(".md", ask), Some("text/markdown".into()));
        assert_eq!(seen.get(".nope", ask), None);
        assert_eq!(seen.get(".nope", ask), None);
        assert_eq!(asked.get(), 2, "each extension asked once, a miss kept too");
        // A long extension is asked every time, never kept.
        let long = format!(".{}", "x".repeat(SYSTEM_TYPE_EXTENSION_KEPT_MAX));
        seen.get(&long, ask);
        seen.get(&long, ask);
        assert_eq!(asked.get(), 4);
        // Past the table's room, new extensions are asked every time; kept ones still are not.
        for i in 0..2 * SYSTEM_TYPES_KEPT {
            seen.get(&format!(".e{i}"), ask);
        }
        assert_eq!(seen.0.len(), SYSTEM_TYPES_KEPT);
        let before = asked.get();
        seen.get(".md", ask);
        seen.get(&format!(".e{}", 2 * SYSTEM_TYPES_KEPT - 1), ask);
        assert_eq!(asked.get(), before + 1);
    }

    #[test]
    fn types() {
        let none = |_: &str| None;
        assert_eq!(guess_type("/a/index.html", &[], &none), "text/html");
        assert_eq!(guess_type("/a/b.TXT", &[], &none), "text/plain");
        assert_eq!(guess_type("/a.tar.gz", &[], &none), "application/gzip");
        assert_eq!(guess_type("/noext", &[], &none), "application/octet-stream");
        assert_eq!(guess_type("/.bashrc", &[], &none), "application/octet-stream");
        assert_eq!(guess_type("/x.png", &[], &none), "image/png");
        assert_eq!(
            guess_type("/x.wasm", &[(".wasm".into(), "text/plain".into())], &none),
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
            assert_eq!(guess_type(path, &[], &none), expected, "{path}");
        }
    }

    #[test]
    fn the_machines_table_wins_over_the_built_in_one() {
        let debian = |ext: &str| match ext {
            ".py" => Some("text/x-python".to_string()),
            ".wav" => Some("audio/x-wav".to_string()),
            ".gz" => Some("application/x-gzip".to_string()),
            _ => None,
        };
        assert_eq!(guess_type("/a.py", &[], &debian), "text/x-python");
        assert_eq!(guess_type("/A.WAV", &[], &debian), "audio/x-wav");
        // extensions_map still comes first, as in SimpleHTTPRequestHandler.guess_type.
        assert_eq!(guess_type("/a.gz", &[], &debian), "application/gzip");
        assert_eq!(guess_type("/a.png", &[], &debian), "image/png");
    }
}
