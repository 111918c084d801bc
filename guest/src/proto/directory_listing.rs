//! The HTML page listing a directory (CPython `SimpleHTTPRequestHandler.list_directory`).

use super::error_page::html_escape;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// What `urllib.parse.quote(name)` leaves alone: letters, digits, "_.-~" and "/".
const QUOTE_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name as the file system has it: bytes, which need not be UTF-8 (Python
    /// decodes them with surrogateescape, and so does this page).
    pub name: Vec<u8>,
    /// Whether it is a directory (listed with a trailing `/`).
    pub is_dir: bool,
    /// Whether it is a symbolic link (listed with a trailing `@`).
    pub is_symlink: bool,
}

/// The listing page for `request_path` (the query is dropped from the title), entries sorted
/// case-insensitively, "/" after directories and "@" after symlinks. It is produced in pieces:
/// a directory of many long names makes a page of tens of megabytes, more than an instance's
/// memory should hold at once.
pub struct Listing {
    /// Everything before the first entry, without its last newline.
    prefix: String,
    entries: Vec<Entry>,
}

/// What follows the last entry.
const SUFFIX: &str = "\n</ul>\n<hr>\n</body>\n</html>\n";

impl Listing {
    /// The listing of `request_path` with `entries`, sorted as CPython sorts them.
    pub fn new(request_path: &str, mut entries: Vec<Entry>) -> Self {
        entries.sort_by_cached_key(|e| sort_key(&e.name));
        let path = request_path.split(['?', '#']).next().unwrap_or("");
        let displaypath = html_escape(&percent_decode_str(path).decode_utf8_lossy());
        let title = format!("Directory listing for {displaypath}");
        let prefix = [
            "<!DOCTYPE HTML>".to_string(),
            "<html lang=\"en\">".to_string(),
            "<head>".to_string(),
            "<meta charset=\"utf-8\">".to_string(),
            format!("<title>{title}</title>\n</head>"),
            format!("<body>\n<h1>{title}</h1>"),
            "<hr>\n<ul>".to_string(),
        ]
        .join("\n");
        Self { prefix, entries }
    }

    /// One entry's line, with the newline before it.
    fn item(e: &Entry) -> Vec<u8> {
        let mut displayname = e.name.clone();
        let mut linkname = e.name.clone();
        if e.is_dir {
            displayname.push(b'/');
            linkname.push(b'/');
        }
        if e.is_symlink {
            displayname = [&e.name[..], b"@"].concat();
        }
        let mut line = b"\n<li><a href=\"".to_vec();
        line.extend_from_slice(link(&linkname).as_bytes());
        line.extend_from_slice(b"\">");
        line.extend(display(&displayname));
        line.extend_from_slice(b"</a></li>");
        line
    }

    /// The page's length in bytes (each entry is rendered to be measured, then dropped).
    pub fn byte_len(&self) -> usize {
        self.prefix.len() + self.entries.iter().map(|e| Self::item(e).len()).sum::<usize>() + SUFFIX.len()
    }

    /// The page in pieces of about `size` bytes (a piece ends after the entry that fills it).
    pub fn pieces(&self, size: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
        let mut items = self.entries.iter();
        let mut started = false;
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let mut piece = Vec::with_capacity(size.min(1 << 20));
            if !started {
                piece.extend_from_slice(self.prefix.as_bytes());
                started = true;
            }
            while piece.len() < size {
                match items.next() {
                    Some(e) => piece.extend(Self::item(e)),
                    None => {
                        piece.extend_from_slice(SUFFIX.as_bytes());
                        done = true;
                        break;
                    }
                }
            }
            Some(piece)
        })
    }
}

/// The whole page at once (for small listings and tests).
pub fn render(request_path: &str, entries: Vec<Entry>) -> Vec<u8> {
    let listing = Listing::new(request_path, entries);
    listing.pieces(usize::MAX).flatten().collect()
}

/// A name's code points as Python's surrogateescape decoding makes them (a byte that is not
/// UTF-8 becomes U+DC80..U+DCFF), lower-cased: CPython's sort key, `name.lower()`.
fn sort_key(name: &[u8]) -> Vec<u32> {
    let mut key = Vec::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        key.extend(chunk.valid().chars().flat_map(char::to_lowercase).map(u32::from));
        key.extend(chunk.invalid().iter().map(|&b| 0xDC00 + u32::from(b)));
    }
    key
}

/// The name shown: HTML-escaped, a byte that is not UTF-8 written as it is (CPython encodes
/// the page with surrogateescape).
fn display(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        out.extend_from_slice(html_escape(chunk.valid()).as_bytes());
        out.extend_from_slice(chunk.invalid());
    }
    out
}

/// The link: `urllib.parse.quote(name, errors='surrogatepass')`, a byte that is not UTF-8
/// written as its surrogate's three bytes, percent-encoded (0xE9 is %ED%B3%A9), which
/// CPython's translate_path turns back into the byte.
fn link(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        out.extend(utf8_percent_encode(chunk.valid(), QUOTE_SAFE));
        for &b in chunk.invalid() {
            let surrogate = 0xDC00 + u32::from(b);
            let bytes = [
                0xED,
                0x80 | ((surrogate >> 6) & 0x3F) as u8,
                0x80 | (surrogate & 0x3F) as u8,
            ];
            out.extend(bytes.iter().map(|b| format!("%{b:02X}")));
        }
    }
    out
}

/// The Content-Type CPython sends with a listing.
pub const LISTING_CONTENT_TYPE: &str = "text/html; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_like_cpython() {
        let entries = vec![
            Entry {
                name: b"b.txt".to_vec(),
                is_dir: false,
                is_symlink: false,
            },
            Entry {
                name: b"A dir".to_vec(),
                is_dir: true,
                is_symlink: false,
            },
            Entry {
                name: b"<link>".to_vec(),
                is_dir: false,
                is_symlink: true,
            },
        ];
        let page = String::from_utf8(render("/sub%20dir/?q=1", entries)).unwrap();
        assert!(page.contains("<title>Directory listing for /sub dir/</title>"));
        let items: Vec<&str> = page.lines().filter(|l| l.starts_with("<li>")).collect();
        assert_eq!(
            items,
            [
                "<li><a href=\"%3Clink%3E\">&lt;link&gt;@</a></li>",
                "<li><a href=\"A%20dir/\">A dir/</a></li>",
                "<li><a href=\"b.txt\">b.txt</a></li>",
            ]
        );
        assert!(page.ends_with("</ul>\n<hr>\n</body>\n</html>\n"));
    }

    #[test]
    fn pieces_make_the_page_and_its_length() {
        let entries: Vec<Entry> = (0..500)
            .map(|i| Entry {
                name: format!("file <{i}> {}", "x".repeat(i % 37)).into_bytes(),
                is_dir: i % 7 == 0,
                is_symlink: i % 11 == 0,
            })
            .collect();
        let whole = render("/d/", entries.clone());
        let listing = Listing::new("/d/", entries);
        assert_eq!(listing.byte_len(), whole.len());
        for size in [1, 100, 4096, 1 << 16] {
            let pieces: Vec<Vec<u8>> = listing.pieces(size).collect();
            assert!(pieces.iter().all(|p| !p.is_empty()));
            assert_eq!(pieces.concat(), whole, "piece size {size}");
        }
    }

    /// `caf\xe9.txt`, a Latin-1 name on a UTF-8 system, as `python3 -m http.server` lists it.
    #[test]
    fn names_that_are_not_utf8_as_python_lists_them() {
        let entries = vec![
            Entry {
                name: b"caf\xe9 <x>.txt".to_vec(),
                is_dir: false,
                is_symlink: false,
            },
            Entry {
                name: b"Z".to_vec(),
                is_dir: false,
                is_symlink: false,
            },
        ];
        let page = render("/", entries);
        let items: Vec<&[u8]> = page.split(|&b| b == b'\n').filter(|l| l.starts_with(b"<li>")).collect();
        assert_eq!(
            items[0],
            b"<li><a href=\"caf%ED%B3%A9%20%3Cx%3E.txt\">caf\xe9 &lt;x&gt;.txt</a></li>"
        );
        assert_eq!(items[1], b"<li><a href=\"Z\">Z</a></li>");
        assert!(sort_key(b"\xe9") > sort_key(b"z"));
    }
}
