//! Byte ranges of a served file (RFC 9110 14.1-14.4): which part of a file a `Range` header
//! asks for, once `If-Range` allows it. CPython's http.server has none; nginx, miniserve and
//! static-web-server answer single ranges as here (206, 416, `Accept-Ranges: bytes`).

/// What to send of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// All of it (200): no Range, one this server ignores, or an `If-Range` that no longer holds.
    Whole,
    /// Bytes `start..=end` (206).
    Part {
        /// The first byte's offset.
        start: u64,
        /// The last byte's offset (included).
        end: u64,
    },
    /// Nothing of it can be sent (416, `Content-Range: bytes */len`).
    Unsatisfiable,
}

/// The range `range` (a Range header's value) asks of a file of `len` bytes. A header this
/// server does not answer is ignored, as RFC 9110 allows: another unit, a malformed spec, or
/// several ranges (which would need a multipart body).
pub fn resolve(range: &[u8], len: u64) -> ByteRange {
    let Ok(text) = std::str::from_utf8(range) else {
        return ByteRange::Whole;
    };
    let Some((unit, specs)) = text.trim().split_once('=') else {
        return ByteRange::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || specs.contains(',') {
        return ByteRange::Whole;
    }
    let Some((first, last)) = specs.trim().split_once('-') else {
        return ByteRange::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        // "-n": the last n bytes.
        ("", suffix) => match number(suffix) {
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if len == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            None => ByteRange::Whole,
        },
        // "a-" or "a-b".
        (first, last) => {
            let Some(start) = number(first) else {
                return ByteRange::Whole;
            };
            let digits = last.bytes().all(|b| b.is_ascii_digit());
            let end = match number(last) {
                _ if last.is_empty() => u64::MAX,
                Some(end) if end >= start => end,
                // More digits than a u64 holds: to the end of any file.
                None if digits => u64::MAX,
                // A last position before the first: not a valid range.
                _ => return ByteRange::Whole,
            };
            if start >= len {
                return ByteRange::Unsatisfiable;
            }
            ByteRange::Part {
                start,
                end: end.min(len - 1),
            }
        }
    }
}

/// Whether `If-Range` lets a Range be answered: it must equal the file's Last-Modified exactly
/// (a date is compared as a strong validator, RFC 9110 13.1.5); an entity tag never matches,
/// since this server sends none.
pub fn if_range_holds(if_range: &[u8], last_modified: &str) -> bool {
    if_range.trim_ascii() == last_modified.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ByteRange::*;

    #[test]
    fn single_ranges_as_rfc_9110_reads_them() {
        let len = 1000;
        for (header, expected) in [
            ("bytes=0-99", Part { start: 0, end: 99 }),
            ("bytes=500-", Part { start: 500, end: 999 }),
            ("bytes=-100", Part { start: 900, end: 999 }),
            ("bytes=-5000", Part { start: 0, end: 999 }),
            ("bytes=900-5000", Part { start: 900, end: 999 }),
            ("Bytes = 1-1", Part { start: 1, end: 1 }),
            ("bytes=0-99999999999999999999999", Part { start: 0, end: 999 }),
            ("bytes=1000-", Unsatisfiable),
            ("bytes=1000-2000", Unsatisfiable),
            ("bytes=-0", Unsatisfiable),
            ("bytes=5-1", Whole),
            ("bytes=0-1,5-9", Whole),
            ("items=0-1", Whole),
            ("bytes=a-b", Whole),
            ("bytes=-", Whole),
            ("bytes", Whole),
            ("bytes=+1-2", Whole),
            ("bytes=99999999999999999999999-", Whole),
        ] {
            assert_eq!(resolve(header.as_bytes(), len), expected, "{header}");
        }
        assert_eq!(resolve(b"bytes=0-", 0), Unsatisfiable);
        assert_eq!(resolve(b"bytes=-1", 0), Unsatisfiable);
        assert_eq!(resolve(b"bytes=0-0", 1), Part { start: 0, end: 0 });
    }

    #[test]
    fn if_range_is_an_exact_date() {
        let lm = "Mon, 23 Nov 2026 06:00:00 GMT";
        assert!(if_range_holds(lm.as_bytes(), lm));
        assert!(if_range_holds(b" Mon, 23 Nov 2026 06:00:00 GMT ", lm));
        assert!(!if_range_holds(b"Mon, 23 Nov 2026 06:00:01 GMT", lm));
        assert!(!if_range_holds(b"\"an-etag\"", lm));
    }
}
