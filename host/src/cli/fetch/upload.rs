//! What `httplib request` sends, as curl's body options make it: -d, --data-binary and
//! --data-urlencode joined with "&" (or made the query with -G), --json, -F as
//! multipart/form-data laid out by the guest, -T streamed (from a pipe, chunked). The
//! encodings are the guest's (`form-urlencode`, `form-data`); here the options are read and
//! the pieces named.

use super::args::{DataArg, RequestArgs};
use crate::bindings::client::{FormPart, PartSource};
use crate::client::ClientSession;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One piece of a body, sent in turn.
#[derive(Debug, Clone)]
pub(super) enum Piece {
    /// These bytes.
    Bytes(Vec<u8>),
    /// A file's content, streamed.
    File(PathBuf),
    /// Standard input, streamed to its end (it can be sent once only).
    Stdin,
}

/// A request's body.
#[derive(Debug, Clone)]
pub(super) enum Payload {
    None,
    /// The pieces, in order: with a Content-Length when every length is known beforehand,
    /// chunked otherwise (stdin).
    Pieces(Vec<Piece>),
}

/// The body options as given, before the guest encodes anything.
pub(super) enum BodySpec {
    None,
    /// -d, --data-binary, --data-urlencode.
    Data(Vec<DataArg>),
    /// --json.
    Json(Vec<String>),
    /// -F.
    Form(Vec<String>),
    /// -T.
    Upload(PathBuf),
}

/// A body made ready: what to send, and the headers its kind brings.
pub(super) struct Prepared {
    pub(super) payload: Payload,
    pub(super) content_type: Option<String>,
    /// --json's Accept, in place of "*/*".
    pub(super) accept: Option<&'static str>,
    /// With -G: the data, to go in each URL's query.
    pub(super) query: Option<String>,
}

/// Reading a local file or stdin for the body failed: curl's exit 26 (READ_ERROR).
#[derive(Debug)]
pub(super) struct ReadError(pub(super) String);

impl BodySpec {
    /// The body the options of `args` describe.
    pub(super) fn of(args: &RequestArgs) -> BodySpec {
        if let Some(file) = &args.upload_file {
            BodySpec::Upload(file.clone())
        } else if !args.form.is_empty() {
            BodySpec::Form(args.form.clone())
        } else if !args.json.is_empty() {
            BodySpec::Json(args.json.clone())
        } else if !args.data_in_order.is_empty() {
            BodySpec::Data(args.data_in_order.clone())
        } else {
            BodySpec::None
        }
    }

    /// The method curl uses for it when -X names none.
    pub(super) fn method(&self, get: bool, head: bool) -> &'static str {
        match self {
            _ if head => "HEAD",
            BodySpec::None => "GET",
            BodySpec::Data(_) if get => "GET",
            BodySpec::Upload(_) => "PUT",
            _ => "POST",
        }
    }

    /// Read the options' files and have the guest encode what needs it.
    pub(super) fn prepare(self, session: &mut ClientSession, get: bool) -> Result<Prepared, ReadError> {
        let prepared = |payload, content_type: Option<&str>| Prepared {
            payload,
            content_type: content_type.map(str::to_string),
            accept: None,
            query: None,
        };
        match self {
            BodySpec::None => Ok(prepared(Payload::None, None)),
            BodySpec::Upload(path) => {
                let piece = match path.as_os_str() == "-" {
                    true => Piece::Stdin,
                    false => Piece::File(path),
                };
                Ok(prepared(Payload::Pieces(vec![piece]), None))
            }
            BodySpec::Json(args) => {
                let mut pieces = Vec::new();
                for arg in &args {
                    pieces.push(match arg.strip_prefix('@') {
                        Some("-") => Piece::Bytes(read_stdin()?),
                        Some(path) => Piece::File(path.into()),
                        None => Piece::Bytes(arg.as_bytes().to_vec()),
                    });
                }
                Ok(Prepared {
                    accept: Some("application/json"),
                    ..prepared(Payload::Pieces(pieces), Some("application/json"))
                })
            }
            BodySpec::Data(args) => {
                let pieces = data_pieces(session, &args)?;
                let form = Some("application/x-www-form-urlencoded");
                if !get {
                    return Ok(prepared(Payload::Pieces(pieces), form));
                }
                let mut query = Vec::new();
                for piece in pieces {
                    query.extend(piece_bytes(piece)?);
                }
                Ok(Prepared {
                    query: Some(String::from_utf8_lossy(&query).into_owned()),
                    ..prepared(Payload::None, None)
                })
            }
            BodySpec::Form(specs) => form_pieces(session, &specs),
        }
    }
}

/// -d, --data-binary and --data-urlencode, in order, "&" between them. A lone --data-binary
/// @FILE streams the file; every other file is read (-d's without CR and LF).
fn data_pieces(session: &mut ClientSession, args: &[DataArg]) -> Result<Vec<Piece>, ReadError> {
    if let [DataArg::Binary(arg)] = args
        && let Some(path) = arg.strip_prefix('@').filter(|p| *p != "-")
    {
        return Ok(vec![Piece::File(path.into())]);
    }
    let mut joined: Vec<u8> = Vec::new();
    for (n, arg) in args.iter().enumerate() {
        if n > 0 {
            joined.push(b'&');
        }
        match arg {
            DataArg::Ascii(text) => {
                let mut bytes = text_or_file(text)?;
                if text.starts_with('@') {
                    bytes.retain(|&b| b != b'\r' && b != b'\n');
                }
                joined.extend(bytes);
            }
            DataArg::Binary(text) => joined.extend(text_or_file(text)?),
            DataArg::UrlEncode(spec) => {
                // curl's reading: the first "=" or "@" splits a name from the content.
                let (name, content) = match spec.find(['=', '@']) {
                    Some(at) if spec.as_bytes()[at] == b'=' => (&spec[..at], spec.as_bytes()[at + 1..].to_vec()),
                    Some(at) => (&spec[..at], text_or_file(&spec[at..])?),
                    None => ("", spec.as_bytes().to_vec()),
                };
                if !name.is_empty() {
                    joined.extend(name.as_bytes());
                    joined.push(b'=');
                }
                let encoded = session.form_urlencode(&content).map_err(|e| ReadError(e.to_string()))?;
                joined.extend(encoded.into_bytes());
            }
        }
    }
    Ok(vec![Piece::Bytes(joined)])
}

/// -F's parts: the guest lays out the body around each part's content.
fn form_pieces(session: &mut ClientSession, specs: &[String]) -> Result<Prepared, ReadError> {
    let mut parts = Vec::new();
    let mut contents = Vec::new();
    for spec in specs {
        let Some((name, rest)) = spec.split_once('=') else {
            return Err(ReadError(format!("-F {spec:?}: expected NAME=CONTENT")));
        };
        let (content, content_type, filename) = form_params(rest);
        let (piece, filename, source) = match (content.strip_prefix('@'), content.strip_prefix('<')) {
            (Some("-"), _) => (
                Piece::Bytes(read_stdin()?),
                filename.or(Some("-".into())),
                PartSource::Pipe,
            ),
            (Some(path), _) => {
                let named = Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned());
                (Piece::File(path.into()), filename.or(named), PartSource::File)
            }
            (_, Some("-")) => (Piece::Bytes(read_stdin()?), filename, PartSource::Value),
            (_, Some(path)) => (Piece::File(path.into()), filename, PartSource::Value),
            _ => (Piece::Bytes(content.as_bytes().to_vec()), filename, PartSource::Value),
        };
        parts.push(FormPart {
            name: name.to_string(),
            filename,
            content_type,
            source,
            length: Some(piece_length(&piece)?),
        });
        contents.push(piece);
    }
    let layout = session
        .form_data(&boundary(), &parts)
        .map_err(|e| ReadError(e.to_string()))?;
    let mut pieces = Vec::new();
    for (prefix, content) in layout.prefixes.into_iter().zip(contents) {
        pieces.push(Piece::Bytes(prefix));
        pieces.push(content);
    }
    pieces.push(Piece::Bytes(layout.closing));
    Ok(Prepared {
        payload: Payload::Pieces(pieces),
        content_type: Some(layout.content_type),
        accept: None,
        query: None,
    })
}

/// "content;type=T;filename=F": the content and the parameters curl reads after it.
fn form_params(text: &str) -> (String, Option<String>, Option<String>) {
    let mut segments = text.split(';');
    let mut content = segments.next().unwrap_or("").to_string();
    let (mut content_type, mut filename) = (None, None);
    for segment in segments {
        if let Some(t) = segment.strip_prefix("type=") {
            content_type = Some(t.to_string());
        } else if let Some(f) = segment.strip_prefix("filename=") {
            filename = Some(f.trim_matches('"').to_string());
        } else {
            content.push(';');
            content.push_str(segment);
        }
    }
    (content, content_type, filename)
}

/// A boundary as curl makes one: 24 dashes and 16 random hexadecimal digits.
fn boundary() -> String {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    format!("{}{random:016x}", "-".repeat(24))
}

/// `@-` (stdin), `@FILE`, or the text itself.
fn text_or_file(arg: &str) -> Result<Vec<u8>, ReadError> {
    match arg.strip_prefix('@') {
        Some("-") => read_stdin(),
        Some(path) => std::fs::read(path).map_err(|e| read_failed(Path::new(path), e)),
        None => Ok(arg.as_bytes().to_vec()),
    }
}

fn read_stdin() -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| read_failed(Path::new("-"), e))?;
    Ok(bytes)
}

fn read_failed(path: &Path, e: std::io::Error) -> ReadError {
    ReadError(format!(
        "Failed to open/read local data from file/application: {}: {e}",
        path.display()
    ))
}

/// A piece's bytes, read whole.
fn piece_bytes(piece: Piece) -> Result<Vec<u8>, ReadError> {
    match piece {
        Piece::Bytes(b) => Ok(b),
        Piece::File(path) => std::fs::read(&path).map_err(|e| read_failed(&path, e)),
        Piece::Stdin => read_stdin(),
    }
}

/// A piece's length in bytes, known beforehand except for stdin (none).
pub(super) fn piece_length(piece: &Piece) -> Result<u64, ReadError> {
    match piece {
        Piece::Bytes(b) => Ok(b.len() as u64),
        Piece::File(path) => match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => Ok(meta.len()),
            Ok(_) => Err(ReadError(format!("{}: not a regular file", path.display()))),
            Err(e) => Err(read_failed(path, e)),
        },
        Piece::Stdin => Err(ReadError("stdin has no length beforehand".into())),
    }
}

/// -T FILE to a URL ending in "/": the file's name appended, percent-encoded, as curl does.
pub(super) fn upload_url(url: &str, file: &Path) -> String {
    let bare = url.split(['?', '#']).next().unwrap_or(url);
    let has_path = bare.split_once("://").is_some_and(|(_, rest)| rest.contains('/'));
    if file.as_os_str() == "-" || (has_path && !bare.ends_with('/')) {
        return url.to_string();
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let slash = if has_path { "" } else { "/" };
    format!("{bare}{slash}{encoded}{}", &url[bare.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_urls_as_curl() {
        let f = Path::new("/tmp/a b.txt");
        assert_eq!(upload_url("http://h/dir/", f), "http://h/dir/a%20b.txt");
        assert_eq!(upload_url("http://h", f), "http://h/a%20b.txt");
        assert_eq!(upload_url("http://h/x", f), "http://h/x");
        assert_eq!(upload_url("http://h/d/?q=1", f), "http://h/d/a%20b.txt?q=1");
        assert_eq!(upload_url("http://h/d/", Path::new("-")), "http://h/d/");
    }

    #[test]
    fn form_parameters() {
        assert_eq!(
            form_params("@f;type=a/b;filename=\"x.png\""),
            ("@f".into(), Some("a/b".into()), Some("x.png".into()))
        );
        assert_eq!(form_params("a;b"), ("a;b".into(), None, None));
        assert_eq!(boundary().len(), 40);
    }
}
