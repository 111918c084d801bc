//! The machine's MIME table, as Python's mimetypes reads it: the mime.types files of its
//! `knownfiles` list, in order, a later entry winning. Read once, on first use; the guest
//! asks for one extension at a time (WIT `transport.system-mime-type`).

use std::collections::HashMap;
use std::sync::OnceLock;

/// Python's `mimetypes.knownfiles`, in the order it reads them.
pub const KNOWN_FILES: [&str; 8] = [
    "/etc/mime.types",
    "/etc/httpd/mime.types",
    "/etc/httpd/conf/mime.types",
    "/etc/apache/mime.types",
    "/etc/apache2/mime.types",
    "/usr/local/etc/httpd/conf/mime.types",
    "/usr/local/lib/netscape/mime.types",
    "/usr/local/etc/mime.types",
];

/// Extensions (".py") and their types.
#[derive(Debug, Default, Clone)]
pub struct MimeTable(HashMap<String, String>);

impl MimeTable {
    /// The table of `files`' contents, read in order (a missing file adds nothing).
    pub fn from_files(files: &[&str]) -> Self {
        let mut table = MimeTable::default();
        for file in files {
            if let Ok(bytes) = std::fs::read(file) {
                table.read(&String::from_utf8_lossy(&bytes));
            }
        }
        table
    }

    /// Add a mime.types text: "type ext ext..." per line, "#" starting a comment (Python's
    /// `MimeTypes.readfp`).
    pub fn read(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(kind) = words.next() else { continue };
            for ext in words {
                self.0.insert(format!(".{ext}"), kind.to_string());
            }
        }
    }

    /// The type of `extension` (".py"), as Python looks it up: as given, then lower-cased.
    pub fn get(&self, extension: &str) -> Option<String> {
        self.0
            .get(extension)
            .or_else(|| self.0.get(&extension.to_ascii_lowercase()))
            .cloned()
    }
}

/// The machine's table, read from `KNOWN_FILES` the first time it is asked for.
pub fn system() -> &'static MimeTable {
    static TABLE: OnceLock<MimeTable> = OnceLock::new();
    TABLE.get_or_init(|| MimeTable::from_files(&KNOWN_FILES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_as_python_reads_it() {
        let mut table = MimeTable::default();
        table.read("# comment\ntext/x-python\t\t\t\tpy pyc # trailing\naudio/x-wav wav\n\nbad\n");
        table.read("audio/wav wav\n");
        assert_eq!(table.get(".py").as_deref(), Some("text/x-python"));
        assert_eq!(table.get(".WAV").as_deref(), Some("audio/wav"));
        assert_eq!(table.get(".bad"), None);
        assert_eq!(table.get(".trailing"), None);
    }
}
