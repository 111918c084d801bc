//! The server's reading of a request line (CPython `BaseHTTPRequestHandler.parse_request`).

use super::pyrepr::py_repr;
use std::ops::Range;

/// Where `word`, a slice of `line`, is in it (empty for an empty word).
pub fn span_of(line: &[u8], word: &[u8]) -> Range<usize> {
    if word.is_empty() {
        return 0..0;
    }
    let start = word.as_ptr() as usize - line.as_ptr() as usize;
    debug_assert!(start + word.len() <= line.len(), "a word outside its line");
    start..start + word.len()
}

/// A request line that may be answered: the line itself, and where its words are in it (one
/// allocation however it is read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    /// The line without its CRLF (`requestline`).
    pub requestline: String,
    /// (major, minor) of `version()`.
    pub version_number: (u32, u32),
    /// Where the command, the path and the version are in `requestline` (start, end); the
    /// version is empty for HTTP/0.9.
    command: (u32, u32),
    path: (u32, u32),
    version: (u32, u32),
}

impl RequestLine {
    /// `requestline` with where its words are: `target` becomes `path`, with a leading "//"
    /// collapsed to "/" (gh-87389), which is a suffix of the target; an empty `version` is
    /// HTTP/0.9. (`span_of` finds a word's place from a slice of the line.)
    pub fn new(
        requestline: String,
        command: Range<usize>,
        target: Range<usize>,
        version: Range<usize>,
        number: (u32, u32),
    ) -> Self {
        let path_start = match requestline[target.clone()].strip_prefix("//") {
            // From the last leading slash.
            Some(_) => target.end - requestline[target.clone()].trim_start_matches('/').len() - 1,
            None => target.start,
        };
        let at = |n: usize| u32::try_from(n).expect("a line under 4 GiB");
        Self {
            command: (at(command.start), at(command.end)),
            path: (at(path_start), at(target.end)),
            version: (at(version.start), at(version.end)),
            version_number: number,
            requestline,
        }
    }

    fn word(&self, (start, end): (u32, u32)) -> &str {
        &self.requestline[start as usize..end as usize]
    }

    /// The method, as sent.
    pub fn command(&self) -> &str {
        self.word(self.command)
    }

    /// The target, with a leading "//" collapsed to "/" (gh-87389).
    pub fn path(&self) -> &str {
        self.word(self.path)
    }

    /// "HTTP/0.9" for a two-word line, else the version as sent.
    pub fn version(&self) -> &str {
        match self.word(self.version) {
            "" => "HTTP/0.9",
            sent => sent,
        }
    }
}

/// Why a request line must be refused: the status and message of `send_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status to answer with.
    pub code: u16,
    /// Its message.
    pub message: String,
    /// `requestline` as far as it was understood (for the log line).
    pub requestline: String,
    /// `request_version` as far as it was understood.
    pub version: String,
}

/// What a non-empty line amounted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A blank line: CPython gives up on the request silently (`return False`).
    Blank,
    /// A request line to go on with.
    Request(RequestLine),
    /// A request line refused, with the answer to send.
    Reject(Rejection),
}

/// What the front of a buffer holds where a request line is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// An empty line of this many bytes ("\r\n" or "\n"), to skip (RFC 9112 2.2).
    EmptyLine(usize),
    /// Nothing yet, or a lone "\r": more bytes decide.
    Undecided,
    /// Anything else: the request line begins.
    RequestLine,
}

/// What the front of `buf` holds where a request line is awaited (see `Front`).
pub fn front(buf: &[u8]) -> Front {
    match buf {
        [] | [b'\r'] => Front::Undecided,
        [b'\n', ..] => Front::EmptyLine(1),
        [b'\r', b'\n', ..] => Front::EmptyLine(2),
        _ => Front::RequestLine,
    }
}

/// Parse a request line (terminator included or not).
pub fn parse_request_line(raw: &[u8]) -> Parsed {
    // An ASCII line is its own Latin-1 decoding: no copy to make one.
    let text = match std::str::from_utf8(raw) {
        Ok(ascii) if raw.is_ascii() => std::borrow::Cow::Borrowed(ascii),
        _ => std::borrow::Cow::Owned(super::latin1(raw)),
    };
    let requestline = text.trim_end_matches(['\r', '\n']).to_string();
    let words = Words::of(&requestline);
    let reject = |code: u16, message: String, version: &str| {
        Parsed::Reject(Rejection {
            code,
            message,
            requestline: requestline.clone(),
            version: version.to_string(),
        })
    };
    if words.count == 0 {
        return Parsed::Blank;
    }
    let mut version = "";
    let mut version_number = (0, 9);
    if words.count >= 3 {
        let candidate = words.last;
        match parse_version(candidate) {
            Some(number) => {
                if number >= (2, 0) {
                    let base = &candidate["HTTP/".len()..];
                    return reject(505, format!("Invalid HTTP version ({base})"), "HTTP/0.9");
                }
                version = candidate;
                version_number = number;
            }
            None => {
                return reject(400, format!("Bad request version ({})", py_repr(candidate)), "HTTP/0.9");
            }
        }
    }
    let sent_version = if version.is_empty() { "HTTP/0.9" } else { version };
    if !(2..=3).contains(&words.count) {
        return reject(
            400,
            format!("Bad request syntax ({})", py_repr(&requestline)),
            sent_version,
        );
    }
    let command = words.first;
    if words.count == 2 && command != "GET" {
        return reject(
            400,
            format!("Bad HTTP/0.9 request type ({})", py_repr(command)),
            sent_version,
        );
    }
    let line = requestline.as_bytes();
    let spans = [command, words.second, version].map(|w| span_of(line, w.as_bytes()));
    let [command, target, version] = spans;
    Parsed::Request(RequestLine::new(requestline, command, target, version, version_number))
}

/// What CPython's `requestline.split()` gives, as far as the parser looks at it.
struct Words<'a> {
    count: usize,
    first: &'a str,
    second: &'a str,
    last: &'a str,
}

impl<'a> Words<'a> {
    fn of(line: &'a str) -> Self {
        let mut words = Words {
            count: 0,
            first: "",
            second: "",
            last: "",
        };
        for word in line.split_ascii_whitespace() {
            match words.count {
                0 => words.first = word,
                1 => words.second = word,
                _ => {}
            }
            words.last = word;
            words.count += 1;
        }
        words
    }
}

/// "HTTP/x.y" with each part 1 to 10 digits, as CPython checks it.
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let base = v.strip_prefix("HTTP/")?;
    let (major, minor) = base.split_once('.')?;
    let part = |p: &str| {
        (!p.is_empty() && p.len() <= 10 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    if minor.contains('.') {
        return None;
    }
    Some((part(major)?, part(minor)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(line: &str) -> RequestLine {
        match parse_request_line(line.as_bytes()) {
            Parsed::Request(r) => r,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn rejection(line: &str) -> (u16, String) {
        match parse_request_line(line.as_bytes()) {
            Parsed::Reject(r) => (r.code, r.message),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn what_the_front_of_a_buffer_holds() {
        assert_eq!(front(b""), Front::Undecided);
        assert_eq!(front(b"\r"), Front::Undecided);
        assert_eq!(front(b"\r\nGET"), Front::EmptyLine(2));
        assert_eq!(front(b"\nGET"), Front::EmptyLine(1));
        assert_eq!(front(b"\rGET"), Front::RequestLine);
        assert_eq!(front(b"GET / HTTP/1.1\r\n"), Front::RequestLine);
    }

    #[test]
    fn ordinary_and_http09() {
        let r = request("GET /index.html HTTP/1.1\r\n");
        assert_eq!((r.command(), r.path(), r.version()), ("GET", "/index.html", "HTTP/1.1"));
        assert_eq!(r.version_number, (1, 1));
        assert_eq!(r.requestline, "GET /index.html HTTP/1.1");
        let r = request("GET /\r\n");
        assert_eq!(r.version(), "HTTP/0.9");
        assert_eq!(request("GET //evil.example/x HTTP/1.0").path(), "/evil.example/x");
        assert_eq!(request("GET /// HTTP/1.0").path(), "/");
        assert_eq!(request("GET //a//b HTTP/1.0").path(), "/a//b");
    }

    #[test]
    fn rejections_as_cpython_words_them() {
        assert_eq!(rejection("GET / HTTP/2.0"), (505, "Invalid HTTP version (2.0)".into()));
        assert_eq!(
            rejection("GET / HTTP/1"),
            (400, "Bad request version ('HTTP/1')".into())
        );
        assert_eq!(
            rejection("GET / HTTP/1.1.1"),
            (400, "Bad request version ('HTTP/1.1.1')".into())
        );
        assert_eq!(
            rejection("GET / HTTP/a.b"),
            (400, "Bad request version ('HTTP/a.b')".into())
        );
        assert_eq!(
            rejection("GET / FOO/1.1"),
            (400, "Bad request version ('FOO/1.1')".into())
        );
        assert_eq!(rejection("POST /"), (400, "Bad HTTP/0.9 request type ('POST')".into()));
        assert_eq!(rejection("GET"), (400, "Bad request syntax ('GET')".into()));
        assert_eq!(
            rejection("GET / / HTTP/1.0"),
            (400, "Bad request syntax ('GET / / HTTP/1.0')".into())
        );
        assert_eq!(parse_request_line(b"\r\n"), Parsed::Blank);
    }
}
