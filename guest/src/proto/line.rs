//! Finding CRLF- or LF-terminated lines in a buffer, with the line-length limit.

/// What `find_line` found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line of this many bytes, terminator included.
    Complete(usize),
    /// No terminator yet, and the line may still fit.
    Incomplete,
    /// More than `max` bytes arrived without a terminator.
    TooLong,
}

/// Look for the first "\n" in `buf`; a line (terminator included) may hold at most `max + 1`
/// bytes, as CPython's `readline(_MAXLINE + 1)` then `len(line) > _MAXLINE` check allows.
pub fn find_line(buf: &[u8], max: usize) -> Line {
    find_line_from(buf, max, 0)
}

/// `find_line`, knowing the first `from` bytes hold no "\n" (scanned by an earlier call): a
/// line that arrives a byte at a time is then scanned once, not once per byte.
pub fn find_line_from(buf: &[u8], max: usize, from: usize) -> Line {
    let window = &buf[from.min(buf.len())..buf.len().min(max + 1)];
    match memchr::memchr(b'\n', window).map(|i| from + i) {
        Some(i) if i < max => Line::Complete(i + 1),
        Some(_) => Line::TooLong,
        None if buf.len() > max => Line::TooLong,
        None => Line::Incomplete,
    }
}

/// A line without its trailing "\r\n" or "\n".
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_and_limits() {
        assert_eq!(find_line(b"abc\r\nrest", 10), Line::Complete(5));
        assert_eq!(find_line(b"abc", 10), Line::Incomplete);
        assert_eq!(find_line(b"abcdefghijk", 10), Line::TooLong);
        // exactly max bytes of content plus "\n" is max + 1 bytes: too long for CPython
        assert_eq!(find_line(b"0123456789\n", 10), Line::TooLong);
        assert_eq!(find_line(b"012345678\n", 10), Line::Complete(10));
        assert_eq!(find_line_from(b"abc\r\nrest", 10, 3), Line::Complete(5));
        assert_eq!(find_line_from(b"abc", 10, 3), Line::Incomplete);
        assert_eq!(trim_eol(b"a\r\n"), b"a");
        assert_eq!(trim_eol(b"a\n"), b"a");
    }
}
