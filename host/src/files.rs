//! Files for the guest beyond what wasi:filesystem can say: a directory's names as bytes
//! (a name that is not UTF-8 cannot cross wasi:filesystem's read-directory; Python's
//! http.server lists it, and so does ours), a served file looked at and opened in one call,
//! and a response's head sent with its file. Nothing here reads HTTP.

use crate::transport::{SocketError, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

/// A file body at most this long goes out in one send with its head, read into one buffer
/// behind it (CPython's `COPY_BUFSIZE`, 64 KiB, the guest's block); a longer one follows
/// the head by sendfile.
pub const HEAD_AND_BODY_MAX: u64 = 64 * 1024;

/// What is at a path beneath a directory (`open_beneath`).
#[derive(Debug)]
pub enum AtPath {
    /// A regular file, opened for reading.
    File {
        /// The open file.
        file: std::fs::File,
        /// Its size when it was looked at.
        size: u64,
        /// Its modification time then, in seconds since the epoch.
        modified_seconds: i64,
    },
    /// A directory (not opened for reading).
    Directory,
    /// A FIFO, socket or device: looked at, never opened.
    Other,
    /// Nothing there, or a path that leaves the directory.
    Missing,
}

/// Look at `path` beneath `dir` and open it for reading when it is a regular file. The path
/// is resolved by the kernel (`openat2`, `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, as
/// wasmtime-wasi's own opens): "..", an absolute symlink or one leading out of `dir` is
/// `Missing`, never followed. Nothing but a regular file is ever opened for reading: a FIFO
/// (whose open would wait for a writer, or wake one) or a device is `Other`.
///
/// The look is `fstatat` on the path, which opens nothing. A regular file is then opened
/// beneath `dir` with `O_NONBLOCK` (a file swapped for a FIFO between the two cannot block
/// the open), and that open is what refuses a path that leaves `dir`. Anything else is looked
/// at again through an `O_PATH` descriptor opened beneath `dir`, so that a directory or FIFO
/// outside it, reached by a symlink, is `Missing` as any other path out is. Two system calls
/// for the common case, a file, where the look through `O_PATH` alone took four (its open,
/// its stat, its close and the file's own open).
#[cfg(target_os = "linux")]
pub fn open_beneath(dir: &std::fs::File, path: &str) -> std::io::Result<AtPath> {
    let path = if path.is_empty() { "." } else { path };
    let missing = |e: &std::io::Error| {
        matches!(
            e.raw_os_error(),
            Some(libc::ENOENT | libc::ENOTDIR | libc::EXDEV | libc::ELOOP | libc::EACCES | libc::ENAMETOOLONG)
        )
    };
    let (size, modified_seconds) = match stat_at(dir, path) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => (st.st_size as u64, st.st_mtime),
        // A directory, a FIFO or a device, or a symlink to one, perhaps out of `dir`.
        Ok(_) => return look_beneath(dir, path, missing),
        Err(e) if missing(&e) => return Ok(AtPath::Missing),
        Err(e) => return Err(e),
    };
    match openat2(dir, path, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY) {
        Ok(file) => Ok(AtPath::File {
            file,
            size,
            modified_seconds,
        }),
        Err(e) if missing(&e) => Ok(AtPath::Missing),
        Err(e) => Err(e),
    }
}

/// What is at `path` that is not a regular file, looked at through an `O_PATH` descriptor
/// opened beneath `dir` (opening nothing): `Missing` where the path leaves `dir`.
#[cfg(target_os = "linux")]
fn look_beneath(dir: &std::fs::File, path: &str, missing: impl Fn(&std::io::Error) -> bool) -> std::io::Result<AtPath> {
    let look = match openat2(dir, path, libc::O_PATH) {
        Ok(look) => look,
        Err(e) if missing(&e) => return Ok(AtPath::Missing),
        Err(e) => return Err(e),
    };
    let meta = look.metadata()?;
    Ok(match meta.is_dir() {
        true => AtPath::Directory,
        // Swapped for a regular file since the first look: the next request opens it.
        false => AtPath::Other,
    })
}

/// `fstatat(dir, path)`, following symlinks (the look before an open: it opens nothing, and
/// no automount is triggered).
#[cfg(target_os = "linux")]
fn stat_at(dir: &std::fs::File, path: &str) -> std::io::Result<libc::stat> {
    let path = std::ffi::CString::new(path).map_err(|_| std::io::Error::from_raw_os_error(libc::ENOENT))?;
    // SAFETY: stat is plain data; the kernel fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `dir` is an open descriptor, `path` a NUL-terminated string and `st` a valid
    // stat, all alive for the call.
    match unsafe { libc::fstatat(dir.as_raw_fd(), path.as_ptr(), &mut st, libc::AT_NO_AUTOMOUNT) } {
        0 => Ok(st),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Not on Linux: the guest looks through wasi:filesystem instead.
#[cfg(not(target_os = "linux"))]
pub fn open_beneath(_dir: &std::fs::File, _path: &str) -> std::io::Result<AtPath> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "open-file needs openat2",
    ))
}

/// `openat2(dir, path, flags | O_CLOEXEC)` resolved beneath `dir`.
#[cfg(target_os = "linux")]
fn openat2(dir: &std::fs::File, path: &str, flags: libc::c_int) -> std::io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    let path = std::ffi::CString::new(path).map_err(|_| std::io::Error::from_raw_os_error(libc::ENOENT))?;
    // SAFETY: open_how is plain data; all-zero is its "no mode, no flags" value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    loop {
        // SAFETY: `dir` is an open descriptor, `path` a NUL-terminated string and `how` a
        // valid open_how of the size passed, all alive for the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
            return Ok(unsafe { std::fs::File::from_raw_fd(fd as libc::c_int) });
        }
        let e = std::io::Error::last_os_error();
        // EAGAIN: RESOLVE_BENEATH raced a rename elsewhere in the tree; the kernel asks again.
        if !matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) {
            return Err(e);
        }
    }
}

/// `head`, then `len` bytes of `file` from `offset` on `stream`: a body of at most
/// [`HEAD_AND_BODY_MAX`] read into one buffer behind the head and sent with it, a longer one
/// moved by `send_file` after it. How many of the file's bytes went (fewer only where the
/// file ended first).
pub async fn send_head_and_file(
    stream: &mut TcpStream,
    head: &[u8],
    file: &std::fs::File,
    offset: u64,
    len: u64,
) -> Result<u64, SocketError> {
    if len > HEAD_AND_BODY_MAX {
        stream.write_all(head).await?;
        return stream.send_file(file, offset, len).await;
    }
    let mut out = vec![0u8; head.len() + len as usize];
    out[..head.len()].copy_from_slice(head);
    let mut got = 0;
    while got < len as usize {
        match file.read_at(&mut out[head.len() + got..], offset + got as u64) {
            Ok(0) => break, // the file ended before `len`
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SocketError::Other(format!("reading the file: {e}"))),
        }
    }
    out.truncate(head.len() + got);
    stream.write_all(&out).await?;
    Ok(got as u64)
}

/// What kind of file a directory entry is, a symlink not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

/// The entries of the open directory `dir` ("." and ".." left out), each name's bytes and
/// kind. Read through `/proc/self/fd`, which opens the very directory `dir` is, wherever it
/// now stands.
pub fn list_directory(dir: &std::fs::File) -> std::io::Result<Vec<(Vec<u8>, EntryKind)>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))? {
        let entry = entry?;
        let kind = match entry.file_type() {
            Ok(t) if t.is_symlink() => EntryKind::Symlink,
            Ok(t) if t.is_dir() => EntryKind::Directory,
            Ok(t) if t.is_file() => EntryKind::File,
            _ => EntryKind::Other,
        };
        entries.push((entry.file_name().as_bytes().to_vec(), kind));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn open_beneath_opens_regular_files_only_and_never_leaves_the_directory() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("www");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.txt"), "hello").unwrap();
        std::fs::write(outer.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink("a.txt", root.join("in")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", root.join("up")).unwrap();
        std::os::unix::fs::symlink(outer.path().join("secret.txt"), root.join("abs")).unwrap();
        std::os::unix::fs::symlink("..", root.join("updir")).unwrap();
        std::os::unix::fs::symlink("../outfifo", root.join("tofifo")).unwrap();
        std::os::unix::fs::symlink("fifo", root.join("infifo")).unwrap();
        for fifo in [root.join("fifo"), outer.path().join("outfifo")] {
            assert!(
                std::process::Command::new("mkfifo")
                    .arg(fifo)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let dir = std::fs::File::open(&root).unwrap();
        for path in ["a.txt", "in", "sub/../a.txt"] {
            match open_beneath(&dir, path).unwrap() {
                AtPath::File {
                    file,
                    size,
                    modified_seconds,
                } => {
                    assert_eq!(size, 5, "{path}");
                    assert!(modified_seconds > 0);
                    let mut got = String::new();
                    std::io::Read::read_to_string(&mut &file, &mut got).unwrap();
                    assert_eq!(got, "hello");
                }
                other => panic!("{path}: {other:?}"),
            }
        }
        for path in ["", ".", "sub", "sub/"] {
            assert!(matches!(open_beneath(&dir, path).unwrap(), AtPath::Directory), "{path}");
        }
        for path in ["fifo", "infifo"] {
            assert!(matches!(open_beneath(&dir, path).unwrap(), AtPath::Other), "{path}");
        }
        for path in [
            "tofifo",
            "nope",
            "a.txt/",
            "../secret.txt",
            "up",
            "abs",
            "updir/secret.txt",
            "updir",
            "/etc/passwd",
            "a\0b",
        ] {
            assert!(matches!(open_beneath(&dir, path).unwrap(), AtPath::Missing), "{path}");
        }
    }

    #[test]
    fn names_come_as_bytes_with_their_kinds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(OsStr::from_bytes(b"caf\xe9.txt")), "x").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("sub", dir.path().join("link")).unwrap();
        let open = std::fs::File::open(dir.path()).unwrap();
        let mut entries = list_directory(&open).unwrap();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            entries,
            [
                (b"caf\xe9.txt".to_vec(), EntryKind::File),
                (b"link".to_vec(), EntryKind::Symlink),
                (b"sub".to_vec(), EntryKind::Directory),
            ]
        );
    }
}
