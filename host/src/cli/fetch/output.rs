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

/// `-o FILE`: a failed transfer leaves FILE as it was, and a good one never changes what FILE
/// is. When replacing FILE by a new file changes nothing else (it is a regular file with one
/// link, ours, in a folder we may write), the body goes to a file beside it, given FILE's
/// permissions, and is renamed over it once the whole transfer succeeded. Otherwise (a
/// symlink, a device or FIFO, a file of another owner or with other links, a folder we may not
/// write) FILE is written in place, opened only when the first body byte arrives: once the
/// response is known to be good, as curl writes it.
pub(super) struct OutputFile {
    way: Way,
}

/// How an output file is written.
enum Way {
    /// To `part`, renamed over `dest` on success.
    Replace {
        part: PathBuf,
        dest: PathBuf,
        file: std::io::BufWriter<File>,
    },
    /// Into `dest` itself, opened (and truncated) at the first write.
    InPlace {
        dest: PathBuf,
        file: Option<std::io::BufWriter<File>>,
    },
    /// After what `dest` holds (-C), opened at the first write; a failed transfer leaves
    /// what arrived, to resume from.
    Append {
        dest: PathBuf,
        file: Option<std::io::BufWriter<File>>,
    },
}

/// The part files being written now, removed if the process is interrupted.
static PARTS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn buffered(file: File) -> std::io::BufWriter<File> {
    std::io::BufWriter::with_capacity(READ_CHUNK as usize, file)
}

/// Whether replacing `dest` by a new file (a rename) would change only its content.
fn replaceable(dest: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir_writable = {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(parent.as_os_str().as_bytes()).unwrap_or_default();
        // SAFETY: a valid NUL-terminated path; access(2) reads it only.
        unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
    };
    match std::fs::symlink_metadata(dest) {
        Err(_) => dir_writable,
        // SAFETY: getuid has no preconditions.
        Ok(m) => m.file_type().is_file() && m.nlink() == 1 && m.uid() == unsafe { libc::getuid() } && dir_writable,
    }
}

impl OutputFile {
    /// Ready to write the body for `dest` (see the type).
    pub(super) fn create(dest: &std::path::Path) -> std::io::Result<Self> {
        if !replaceable(dest) {
            return Ok(Self {
                way: Way::InPlace {
                    dest: dest.to_path_buf(),
                    file: None,
                },
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
        if let Ok(m) = std::fs::metadata(dest) {
            // The new file gets the old one's permissions (a 0640 file stays 0640).
            let _ = file.set_permissions(m.permissions());
        }
        PARTS.lock().unwrap_or_else(|p| p.into_inner()).push(part.clone());
        Ok(Self {
            way: Way::Replace {
                part,
                dest: dest.to_path_buf(),
                file: buffered(file),
            },
        })
    }

    /// Ready to append the body to `dest` (-C).
    pub(super) fn append(dest: &std::path::Path) -> Self {
        Self {
            way: Way::Append {
                dest: dest.to_path_buf(),
                file: None,
            },
        }
    }

    /// The transfer succeeded: FILE gets the body (an empty body empties it).
    pub(super) fn keep(self) -> std::io::Result<()> {
        // No fsync: like curl, a finished download is handed to the page cache, not the disk.
        match self.way {
            Way::Replace { part, dest, file } => {
                drop(file.into_inner().map_err(|e| e.into_error())?);
                forget_part(&part);
                std::fs::rename(&part, dest)
            }
            Way::InPlace { dest, file: None } => File::create(dest).map(drop),
            Way::InPlace { file: Some(file), .. } | Way::Append { file: Some(file), .. } => {
                file.into_inner().map_err(|e| e.into_error()).map(drop)
            }
            Way::Append { file: None, .. } => Ok(()),
        }
    }

    /// The transfer failed: FILE keeps what it held (written in place, it holds what arrived).
    pub(super) fn discard(self) {
        match self.way {
            Way::Replace { part, file, .. } => {
                drop(file);
                let _ = std::fs::remove_file(&part);
                forget_part(&part);
            }
            Way::InPlace { file, .. } | Way::Append { file, .. } => drop(file),
        }
    }
}

fn forget_part(part: &std::path::Path) {
    PARTS.lock().unwrap_or_else(|p| p.into_inner()).retain(|p| p != part);
}

/// On SIGINT or SIGTERM, remove the part files being written, then end as the signal would.
pub(super) fn remove_parts_on_interrupt() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("httplib-signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    for part in PARTS.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
                        let _ = std::fs::remove_file(part);
                    }
                    std::process::exit(128 + signal);
                }
            });
    }
}

impl std::io::Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.way {
            Way::Replace { file, .. } => file.write(buf),
            Way::InPlace { dest, file } => {
                if file.is_none() {
                    *file = Some(buffered(
                        std::fs::OpenOptions::new()
                            .write(true)
                            .create(true)
                            .truncate(true)
                            .open(&*dest)?,
                    ));
                }
                file.as_mut().map_or(Ok(0), |f| f.write(buf))
            }
            Way::Append { dest, file } => {
                if file.is_none() {
                    let opened = std::fs::OpenOptions::new().append(true).create(true).open(&*dest)?;
                    *file = Some(buffered(opened));
                }
                file.as_mut().map_or(Ok(0), |f| f.write(buf))
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.way {
            Way::Replace { file, .. }
            | Way::InPlace { file: Some(file), .. }
            | Way::Append { file: Some(file), .. } => file.flush(),
            Way::InPlace { file: None, .. } | Way::Append { file: None, .. } => Ok(()),
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
