//! SimpleHTTPRequestHandler's do_GET / do_HEAD: files and listings from the read-only preopen.

use super::Handler;
use crate::error::HttpError;
use crate::proto::date::parse_http_date;
use crate::proto::directory_listing::{Entry, LISTING_CONTENT_TYPE, Listing};
use crate::proto::latin1;
use crate::proto::limits::COPY_BUFSIZE;
use crate::proto::mime::guess_type;
use crate::proto::range::{ByteRange, if_range_holds, resolve};
use crate::proto::response_encode;
use crate::proto::translate_path::translate_path;
use crate::transport::{EntryKind, FileAt, HostFile, RawEntry};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::time::UNIX_EPOCH;

/// Files larger than this are sent by the host (send-file); smaller ones go out with their
/// headers in one write (ours: one copy block, CPython's `COPY_BUFSIZE`).
const SEND_FILE_MIN: u64 = COPY_BUFSIZE as u64;

/// CPython's `index_pages`.
const DEFAULT_INDEX_PAGES: [&str; 2] = ["index.html", "index.htm"];

impl Handler {
    /// do_GET / do_HEAD of SimpleHTTPRequestHandler for the current request.
    pub fn serve_file(&mut self) -> Result<(), HttpError> {
        let head_only = self.request.command == "HEAD";
        let Some(fs_path) = translate_path(&self.request.path) else {
            return self.send_error(404, Some("File not found"), None);
        };
        let path = fs_path.under(&self.config.directory);
        let (served, path) = match self.find(&path) {
            Some(Found::Dir) => {
                let (before_query, query) = split_query(&self.request.path);
                if !before_query.ends_with('/') {
                    let location = format!("{before_query}/{query}");
                    self.send_response(301, None)?;
                    self.send_header("Location", &location)?;
                    self.send_header("Content-Length", "0")?;
                    return self.end_headers();
                }
                let index_pages: Vec<String> = if self.config.index_pages.is_empty() {
                    DEFAULT_INDEX_PAGES.iter().map(|s| s.to_string()).collect()
                } else {
                    self.config.index_pages.clone()
                };
                let index = index_pages.iter().find_map(|page| {
                    let candidate = format!("{}/{page}", path.trim_end_matches('/'));
                    match self.find(&candidate)? {
                        Found::File(served) => Some((served, candidate)),
                        Found::Dir => None,
                    }
                });
                match index {
                    Some(found) => found,
                    None => return self.list_directory(&path, head_only),
                }
            }
            Some(Found::File(served)) if !fs_path.trailing_slash => (served, path),
            _ => return self.send_error(404, Some("File not found"), None),
        };
        let mtime = served.modified_seconds();
        if self.request.headers.contains("if-modified-since") && !self.request.headers.contains("if-none-match") {
            let ims = self
                .request
                .headers
                .get("if-modified-since")
                .map(latin1)
                .and_then(|v| parse_http_date(&v));
            if ims.is_some_and(|ims| mtime <= ims) {
                self.send_response(304, None)?;
                return self.end_headers();
            }
        }
        let no_table = |_: &str| None;
        let system: &dyn Fn(&str) -> Option<String> = self.system_types.as_deref().unwrap_or(&no_table);
        let ctype = guess_type(&path, &self.config.extensions_map, system);
        let last_modified = self.dates.get_mut().modified(mtime).to_owned();
        let len = served.len();
        let (start, count) = match self.byte_range(len, &last_modified) {
            ByteRange::Whole => {
                self.send_response(200, None)?;
                (0, len)
            }
            ByteRange::Part { start, end } => {
                self.send_response(206, None)?;
                self.send_header("Content-Range", &format!("bytes {start}-{end}/{len}"))?;
                (start, end - start + 1)
            }
            ByteRange::Unsatisfiable => {
                self.send_response(416, None)?;
                self.send_header("Content-Range", &format!("bytes */{len}"))?;
                self.send_header("Content-Length", "0")?;
                return self.end_headers();
            }
        };
        self.send_header("Content-type", &ctype)?;
        self.send_header("Content-Length", response_encode::decimal(count, &mut [0; 20]))?;
        self.send_header("Last-Modified", &last_modified)?;
        self.send_header("Accept-Ranges", "bytes")?;
        if head_only {
            return self.end_headers();
        }
        let mut file = match served {
            Served::Host(file) => {
                // The host sends the head and the file in one call (one send for a small file,
                // sendfile after the head for a large one), never through this instance.
                let sent = self.end_headers_then_send_host_file(file, start, count)?;
                if sent < count {
                    // The file shrank while being sent: the Content-Length promise is broken.
                    self.close_connection = true;
                }
                return Ok(());
            }
            Served::Wasi(file, _) => file,
        };
        let mut headers_sent = false;
        if count > SEND_FILE_MIN {
            // A large file goes from the file to the socket in the host (sendfile), never
            // through this instance's memory.
            match self.end_headers_then_send_file(&path, start, count)? {
                Some(sent) => {
                    if sent < count {
                        // The file shrank while being sent: the Content-Length promise is broken.
                        self.close_connection = true;
                    }
                    return Ok(());
                }
                None => headers_sent = true,
            }
        }
        if start > 0
            && let Err(e) = file.seek(SeekFrom::Start(start))
        {
            self.close_connection = true;
            return Err(HttpError::Io(format!("reading {path}: {e}")));
        }
        // Headers and the first block of the file go out in one write. The block is sized to
        // what is sent: a 64 KiB read of a 1 KiB file has both the guest and wasmtime-wasi zero
        // 64 KiB per request (measured: 7% of a small request's time).
        let block_size = usize::try_from(count).unwrap_or(COPY_BUFSIZE).clamp(1, COPY_BUFSIZE);
        let mut block = vec![0u8; block_size];
        let mut first = !headers_sent;
        let mut left = count;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(block.len());
            let n = match file.read(&mut block[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    // The status line is out: all we can do is cut the connection short.
                    self.close_connection = true;
                    return Err(HttpError::Io(format!("reading {path}: {e}")));
                }
            };
            if first {
                self.end_headers_with_body(&block[..n])?;
                first = false;
            } else {
                self.write(&block[..n])?;
            }
            left -= n as u64;
        }
        if first {
            self.end_headers()?;
        }
        if left > 0 {
            // The file shrank while being sent: the Content-Length promise is broken.
            self.close_connection = true;
        }
        Ok(())
    }

    /// The host's listing of the directory at `path` (see `Stream::list_directory`).
    fn host_listing(&mut self, path: &str) -> Result<Option<Vec<RawEntry>>, HttpError> {
        Ok(self.stream.list_directory(path)?)
    }

    /// The headers so far, then `len` bytes from `offset` of the file at `path` moved by the
    /// host (no copy through this instance); `None` when the transport cannot, and nothing but
    /// the headers was written.
    pub fn end_headers_then_send_file(&mut self, path: &str, offset: u64, len: u64) -> Result<Option<u64>, HttpError> {
        self.end_headers()?;
        Ok(self.stream.send_file(path, offset, len)?)
    }

    /// The headers so far and `len` bytes from `offset` of a file the host opened, sent by the
    /// host in one call (with the head in one send when the body is small); how many of the
    /// file's bytes went.
    fn end_headers_then_send_host_file(&mut self, file: HostFile, offset: u64, len: u64) -> Result<u64, HttpError> {
        self.end_head_unsent();
        // Sent from the buffer, which keeps its room for the next response's head.
        let sent = self.stream.send_head_and_file(&self.headers_buffer, file, offset, len);
        self.headers_buffer.clear();
        Ok(sent?)
    }

    /// What of a file of `len` bytes this GET asks for: its Range, when If-Range (if any)
    /// still holds. HEAD and every other method get the whole file's headers.
    fn byte_range(&self, len: u64, last_modified: &str) -> ByteRange {
        let headers = &self.request.headers;
        match headers.get("range") {
            Some(range)
                if self.request.command == "GET"
                    && headers.get("if-range").is_none_or(|v| if_range_holds(v, last_modified)) =>
            {
                resolve(range, len)
            }
            _ => ByteRange::Whole,
        }
    }

    /// `list_directory(path)`.
    fn list_directory(&mut self, path: &str, head_only: bool) -> Result<(), HttpError> {
        // The host's listing has every name, UTF-8 or not; wasi:filesystem's only the UTF-8 ones.
        let entries = match self.host_listing(path) {
            Ok(Some(raw)) => raw.into_iter().map(|e| entry_of(path, e)).collect(),
            Ok(None) | Err(_) => match read_directory(path) {
                Some(entries) => entries,
                None => return self.send_error(404, Some("No permission to list directory"), None),
            },
        };
        let listing = Listing::new(&self.request.path, entries);
        self.send_response(200, None)?;
        self.send_header("Content-type", LISTING_CONTENT_TYPE)?;
        self.send_header("Content-Length", &listing.byte_len().to_string())?;
        if head_only {
            return self.end_headers();
        }
        // Headers and the first piece in one write; a long page follows in pieces.
        let mut pieces = listing.pieces(COPY_BUFSIZE);
        self.end_headers_with_body(&pieces.next().unwrap_or_default())?;
        for piece in pieces {
            self.write(&piece)?;
        }
        Ok(())
    }
}

/// A directory entry the host listed; a symlink is followed (through wasi:filesystem, in the
/// sandbox) to learn whether it leads to a directory, where its name lets it be.
fn entry_of(dir: &str, raw: RawEntry) -> Entry {
    let is_symlink = raw.kind == EntryKind::Symlink;
    let is_dir = match raw.kind {
        EntryKind::Directory => true,
        EntryKind::Symlink => std::str::from_utf8(&raw.name)
            .is_ok_and(|name| fs::metadata(format!("{}/{name}", dir.trim_end_matches('/'))).is_ok_and(|m| m.is_dir())),
        EntryKind::File | EntryKind::Other => false,
    };
    Entry {
        name: raw.name,
        is_dir,
        is_symlink,
    }
}

/// The directory's entries through wasi:filesystem (where the host lists none itself): only
/// names that are UTF-8 come through it.
fn read_directory(path: &str) -> Option<Vec<Entry>> {
    let reader = fs::read_dir(path).ok()?;
    let mut entries = Vec::new();
    for entry in reader.flatten() {
        let file_type = entry.file_type().ok();
        let is_symlink = file_type.is_some_and(|t| t.is_symlink());
        let is_dir = if is_symlink {
            fs::metadata(entry.path()).is_ok_and(|m| m.is_dir())
        } else {
            file_type.is_some_and(|t| t.is_dir())
        };
        entries.push(Entry {
            name: entry.file_name().as_encoded_bytes().to_vec(),
            is_dir,
            is_symlink,
        });
    }
    Some(entries)
}

/// What a request path names: a directory, or a regular file opened for reading.
enum Found {
    Dir,
    File(Served),
}

/// A regular file to serve: opened by the host (which sends it too), or through
/// wasi:filesystem (where the transport opens no files).
enum Served {
    Host(HostFile),
    Wasi(fs::File, fs::Metadata),
}

impl Served {
    fn len(&self) -> u64 {
        match self {
            Served::Host(file) => file.size,
            Served::Wasi(_, meta) => meta.len(),
        }
    }

    /// Its modification time, in seconds since the epoch (0 where there is none).
    fn modified_seconds(&self) -> i64 {
        match self {
            Served::Host(file) => file.modified_seconds,
            Served::Wasi(_, meta) => meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64),
        }
    }
}

impl Handler {
    /// What is at `path`, asked before anything is opened: a FIFO, socket or device is not
    /// served (404, as nginx), and opening a FIFO for reading would wait for a writer forever.
    /// The host looks and opens in one call (`open-file`); where it cannot, wasi:filesystem.
    fn find(&mut self, path: &str) -> Option<Found> {
        match self.stream.open_file(path) {
            Ok(Some(FileAt::File(file))) => Some(Found::File(Served::Host(file))),
            Ok(Some(FileAt::Directory)) => Some(Found::Dir),
            Ok(Some(FileAt::Other | FileAt::Missing)) => None,
            Ok(None) | Err(_) => find_through_wasi(path),
        }
    }
}

/// `Handler::find` through wasi:filesystem. The path itself is looked at first, and followed
/// only when it is a symlink: wasi's following `stat-at` costs the host three system calls
/// where this takes one.
fn find_through_wasi(path: &str) -> Option<Found> {
    let meta = match fs::symlink_metadata(path).ok()? {
        m if m.file_type().is_symlink() => fs::metadata(path).ok()?,
        m => m,
    };
    if meta.is_dir() {
        return Some(Found::Dir);
    }
    if !meta.is_file() {
        return None;
    }
    let file = fs::File::open(path).ok()?;
    Some(Found::File(Served::Wasi(file, meta)))
}

/// ("/a/b", "?q=1#f") from "/a/b?q=1#f".
fn split_query(path: &str) -> (&str, &str) {
    match path.find(['?', '#']) {
        Some(i) => path.split_at(i),
        None => (path, ""),
    }
}
