//! Files for the guest beyond what wasi:filesystem can say: a directory's names as bytes
//! (a name that is not UTF-8 cannot cross wasi:filesystem's read-directory; Python's
//! http.server lists it, and so does ours). Nothing here reads HTTP.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;

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
