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
    pub name: String,
    pub is_dir: bool,
    pub is_symlink: bool,
}

/// The listing page for `request_path` (the query is dropped from the title), entries sorted
/// case-insensitively, "/" after directories and "@" after symlinks.
pub fn render(request_path: &str, mut entries: Vec<Entry>) -> String {
    entries.sort_by_key(|e| e.name.to_lowercase());
    let path = request_path.split(['?', '#']).next().unwrap_or("");
    let displaypath = html_escape(&percent_decode_str(path).decode_utf8_lossy());
    let title = format!("Directory listing for {displaypath}");
    let mut r = vec![
        "<!DOCTYPE HTML>".to_string(),
        "<html lang=\"en\">".to_string(),
        "<head>".to_string(),
        "<meta charset=\"utf-8\">".to_string(),
        format!("<title>{title}</title>\n</head>"),
        format!("<body>\n<h1>{title}</h1>"),
        "<hr>\n<ul>".to_string(),
    ];
    for e in &entries {
        let mut displayname = e.name.clone();
        let mut linkname = e.name.clone();
        if e.is_dir {
            displayname.push('/');
            linkname.push('/');
        }
        if e.is_symlink {
            displayname = format!("{}@", e.name);
        }
        r.push(format!(
            "<li><a href=\"{}\">{}</a></li>",
            utf8_percent_encode(&linkname, QUOTE_SAFE),
            html_escape(&displayname)
        ));
    }
    r.push("</ul>\n<hr>\n</body>\n</html>\n".to_string());
    r.join("\n")
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
                name: "b.txt".into(),
                is_dir: false,
                is_symlink: false,
            },
            Entry {
                name: "A dir".into(),
                is_dir: true,
                is_symlink: false,
            },
            Entry {
                name: "<link>".into(),
                is_dir: false,
                is_symlink: true,
            },
        ];
        let page = render("/sub%20dir/?q=1", entries);
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
}
