//! Where a body goes: a file written whole or not at all (`-o`), its name from the URL
//! (`-O`), the progress meter, and `-w`'s line after the transfer.

use super::args::FetchArgs;
use std::fs::File;
use std::path::PathBuf;

/// How much body one `read1` may hand over (bigger than blocksize: fewer guest calls).
pub(super) const READ_CHUNK: u64 = 256 * 1024;

/// `-O`: the last segment of the URL's path, without query or fragment (none when empty).
pub(super) fn remote_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, path) = path.split_once('/')?;
    let name = path.rsplit('/').next().unwrap_or("");
    (!name.is_empty()).then(|| name.to_string())
}

/// `-w FORMAT` after one transfer: curl's variables filled in, \n and \t unescaped.
pub(super) fn write_out(format: &str, url: &str, status: u16, size: u64, took: std::time::Duration) -> String {
    format
        .replace("%{http_code}", &format!("{status:03}"))
        .replace("%{size_download}", &size.to_string())
        .replace("%{time_total}", &format!("{:.6}", took.as_secs_f64()))
        .replace("%{url_effective}", url)
        .replace("\\n", "\n")
        .replace("\\t", "\t")
}

/// `-o FILE`: the body is written to a file beside FILE and renamed over it once the whole
/// transfer succeeded, so an invalid URL, a refused connection or `--fail` leaves FILE as it was.
/// What exists and is not a regular file (`/dev/null`, a FIFO) is written in place.
pub(super) struct PartFile {
    pub(super) file: std::io::BufWriter<File>,
    /// The file written, and where it goes on success; none when written in place.
    pub(super) part: Option<(PathBuf, PathBuf)>,
}

impl PartFile {
    pub(super) fn create(dest: &std::path::Path) -> std::io::Result<Self> {
        let buffered = |f| std::io::BufWriter::with_capacity(READ_CHUNK as usize, f);
        if std::fs::metadata(dest).is_ok_and(|m| !m.is_file()) {
            let file = std::fs::OpenOptions::new().write(true).open(dest)?;
            return Ok(Self {
                file: buffered(file),
                part: None,
            });
        }
        let name = dest
            .file_name()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
        let mut part_name = std::ffi::OsString::from(".");
        part_name.push(name);
        part_name.push(format!(".httplib-{}.part", std::process::id()));
        let part = dest.with_file_name(part_name);
        let file = File::create(&part)?;
        Ok(Self {
            file: buffered(file),
            part: Some((part, dest.to_path_buf())),
        })
    }

    pub(super) fn keep(self) -> std::io::Result<()> {
        // No fsync: like curl, a finished download is handed to the page cache, not the disk.
        drop(self.file.into_inner().map_err(|e| e.into_error())?);
        match &self.part {
            Some((part, dest)) => std::fs::rename(part, dest),
            None => Ok(()),
        }
    }

    pub(super) fn discard(self) {
        drop(self.file);
        if let Some((part, _)) = &self.part {
            let _ = std::fs::remove_file(part);
        }
    }
}

/// curl's meter in indicatif's terms: bytes so far, of how many when the length is known,
/// the rate and the time left; on stderr, redrawn at most 20 times a second.
pub(super) fn progress_meter(length: Option<u64>) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let (meter, template) = match length {
        Some(n) => (
            ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            "{percent:>3}% [{bar:30}] {bytes:>10} / {total_bytes:<10} {binary_bytes_per_sec:>12}  {eta} left",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} {bytes:>10} {binary_bytes_per_sec:>12}  {elapsed}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        meter.set_style(style.progress_chars("=> "));
    }
    meter
}

/// An error line on stderr, unless -s (and not -S) asked for silence.
pub(super) fn say(args: &FetchArgs, message: &str) {
    if !args.silent || args.show_error {
        eprintln!("httplib: {message}");
    }
}
