//! Request bodies made from forms, as curl makes them: values percent-encoded for
//! `application/x-www-form-urlencoded` (`--data-urlencode`), and `multipart/form-data`
//! (RFC 7578, `-F`) laid out around parts whose content the caller streams.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

/// What `--data-urlencode` leaves as it is: RFC 3986's unreserved characters (curl_easy_escape).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A file part's type when none is given and its name says nothing (curl's default).
pub const DEFAULT_FILE_TYPE: &str = "application/octet-stream";

/// The types curl guesses from a file part's name (its `Curl_mime_contenttype` table).
const CURL_TYPES: [(&str, &str); 9] = [
    ("gif", "image/gif"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("svg", "image/svg+xml"),
    ("txt", "text/plain"),
    ("htm", "text/html"),
    ("html", "text/html"),
    ("pdf", "application/pdf"),
];

/// `data` as a form value, as curl's `--data-urlencode` (and urllib's `quote_plus`) write
/// it: a space as `+`, everything but unreserved characters percent-encoded.
pub fn urlencode(data: &[u8]) -> String {
    data.split(|&b| b == b' ')
        .map(|piece| percent_encode(piece, UNRESERVED).to_string())
        .collect::<Vec<_>>()
        .join("+")
}

/// Where a part's content comes from, which decides its type when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartSource {
    /// A value given as text: no Content-Type.
    Value,
    /// A file (`@FILE`): the type its name says, else application/octet-stream.
    File,
    /// A pipe (`@-`): no Content-Type, as curl sends it.
    Pipe,
}

/// One part of a multipart form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// The field's name.
    pub name: String,
    /// The file name sent with a file's content (`filename=`); none for a plain value.
    pub filename: Option<String>,
    /// The part's Content-Type; when none, `source` decides.
    pub content_type: Option<String>,
    /// Where the content comes from.
    pub source: PartSource,
    /// How many bytes the content is; none when unknown (from a pipe).
    pub length: Option<u64>,
}

/// A multipart body around its parts' content: part `i` is `prefixes[i]`, then its content;
/// the body ends with `closing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormLayout {
    /// The request's Content-Type, with the boundary.
    pub content_type: String,
    /// What goes before each part's content: the delimiter and the part's headers.
    pub prefixes: Vec<Vec<u8>>,
    /// What follows the last part's content: the close delimiter.
    pub closing: Vec<u8>,
    /// The whole body's length, when every part's is known.
    pub length: Option<u64>,
}

/// Lay out a `multipart/form-data` body with `boundary` (which the caller makes unguessable,
/// and which must not occur in any content). Names and file names are quoted with `"`, CR and
/// LF percent-encoded, as curl (and the HTML standard) write them.
pub fn multipart(boundary: &str, parts: &[FormPart]) -> FormLayout {
    let mut prefixes = Vec::with_capacity(parts.len());
    for (n, part) in parts.iter().enumerate() {
        // Each part's content ends with the CRLF of the delimiter that follows it.
        let mut head = if n == 0 { String::new() } else { "\r\n".into() };
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
            escape(&part.name)
        ));
        if let Some(filename) = &part.filename {
            head.push_str(&format!("; filename=\"{}\"", escape(filename)));
        }
        head.push_str("\r\n");
        let content_type = match (&part.content_type, part.source) {
            (Some(t), _) => Some(t.clone()),
            (None, PartSource::File) => Some(type_of(part.filename.as_deref().unwrap_or("")).to_string()),
            (None, PartSource::Value | PartSource::Pipe) => None,
        };
        if let Some(t) = content_type {
            head.push_str(&format!("Content-Type: {t}\r\n"));
        }
        head.push_str("\r\n");
        prefixes.push(head.into_bytes());
    }
    let closing = match parts.is_empty() {
        true => format!("--{boundary}--\r\n"),
        false => format!("\r\n--{boundary}--\r\n"),
    }
    .into_bytes();
    let framing: u64 = prefixes.iter().map(|p| p.len() as u64).sum::<u64>() + closing.len() as u64;
    let length = parts.iter().try_fold(framing, |sum, p| p.length.map(|l| sum + l));
    FormLayout {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        prefixes,
        closing,
        length,
    }
}

/// A name inside quotes: `"`, CR and LF as %22, %0D and %0A.
fn escape(name: &str) -> String {
    name.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}

/// The type curl gives a file part by its name's extension.
fn type_of(filename: &str) -> &'static str {
    let ext = filename.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    CURL_TYPES
        .iter()
        .find(|(e, _)| Some(*e) == ext.as_deref())
        .map_or(DEFAULT_FILE_TYPE, |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_as_curl() {
        assert_eq!(urlencode(b"a b&c=d/\xc3\xa9~-._+\n"), "a+b%26c%3Dd%2F%C3%A9~-._%2B%0A");
    }

    /// The bytes curl 7.88 sent for `-F 'a=b c' -F 'n"q=v;type=text/x-y' -F f=@f1.txt
    /// -F 'g=@we"ird.bin;filename=x y.png'`, its boundary aside.
    #[test]
    fn multipart_as_curl_lays_it_out() {
        let part = |name: &str, filename: Option<&str>, content_type: Option<&str>, length| FormPart {
            name: name.into(),
            source: match filename {
                Some(_) => PartSource::File,
                None => PartSource::Value,
            },
            filename: filename.map(Into::into),
            content_type: content_type.map(Into::into),
            length: Some(length),
        };
        let parts = [
            part("a", None, None, 3),
            part("n\"q", None, Some("text/x-y"), 1),
            part("f", Some("f1.txt"), None, 6),
            part("g", Some("x y.png"), None, 2),
        ];
        let contents: [&[u8]; 4] = [b"b c", b"v", b"hello\n", b"\x00\x01"];
        let b = "------------------------556176828b26af01";
        let layout = multipart(b, &parts);
        let mut body = Vec::new();
        for (prefix, content) in layout.prefixes.iter().zip(contents) {
            body.extend_from_slice(prefix);
            body.extend_from_slice(content);
        }
        body.extend_from_slice(&layout.closing);
        let expected = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb c\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"n%22q\"\r\nContent-Type: text/x-y\r\n\r\nv\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f1.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\n\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"g\"; filename=\"x y.png\"\r\nContent-Type: image/png\r\n\r\n\x00\x01\r\n\
             --{b}--\r\n"
        );
        assert_eq!(String::from_utf8_lossy(&body), expected);
        assert_eq!(layout.length, Some(body.len() as u64));
        assert_eq!(layout.content_type, format!("multipart/form-data; boundary={b}"));
        // A part from a pipe: no length for the whole.
        let unknown = FormPart {
            length: None,
            ..parts[0].clone()
        };
        assert_eq!(multipart(b, &[unknown]).length, None);
        // A pipe's part has a file name but no type, as curl's `-F p=@-`.
        let piped = FormPart {
            filename: Some("-".into()),
            source: PartSource::Pipe,
            ..parts[0].clone()
        };
        assert!(!String::from_utf8_lossy(&multipart(b, &[piped]).prefixes[0]).contains("Content-Type"));
        assert_eq!(type_of("x.BIN"), DEFAULT_FILE_TYPE);
        assert_eq!(type_of("noext"), DEFAULT_FILE_TYPE);
    }
}
