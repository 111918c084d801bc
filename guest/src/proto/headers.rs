//! Header lists: names keep their case, lookup ignores it (Python's `HTTPMessage`).

/// Header fields in arrival order. Never lowercased: Python keeps names as sent. Names and
/// values live back to back in one buffer, so a parsed head costs two allocations however
/// many fields it has.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Every name and value, back to back.
    bytes: Vec<u8>,
    /// Each field's name start, value start (the name's end) and value end in `bytes`.
    fields: Vec<[u32; 3]>,
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| (n, super::latin1(v))))
            .finish()
    }
}

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `fields` fields of `bytes` bytes in all.
    pub fn with_capacity(bytes: usize, fields: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            fields: Vec::with_capacity(fields),
        }
    }

    pub fn push(&mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) {
        let at = |len: usize| u32::try_from(len).expect("a head under 4 GiB");
        let start = at(self.bytes.len());
        self.bytes.extend_from_slice(name.as_ref().as_bytes());
        let middle = at(self.bytes.len());
        self.bytes.extend_from_slice(value.as_ref());
        self.fields.push([start, middle, at(self.bytes.len())]);
    }

    /// Append `parts` to the last field's value (a continuation line); nothing when empty.
    pub fn extend_last(&mut self, parts: &[&[u8]]) {
        if let Some(last) = self.fields.last_mut() {
            for part in parts {
                self.bytes.extend_from_slice(part);
            }
            last[2] = u32::try_from(self.bytes.len()).expect("a head under 4 GiB");
        }
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every field, in order: (name as sent, value bytes).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &[u8])> + '_ {
        self.fields.iter().map(|f| self.field(f))
    }

    fn field(&self, &[start, middle, end]: &[u32; 3]) -> (&str, &[u8]) {
        let name = &self.bytes[start as usize..middle as usize];
        // Names are pushed as `&str`.
        let name = std::str::from_utf8(name).unwrap_or_default();
        (name, &self.bytes[middle as usize..end as usize])
    }

    /// Owned copies of every field (for the WIT edge).
    pub fn to_vec(&self) -> Vec<(String, Vec<u8>)> {
        self.iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect()
    }

    /// Every value of fields called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |&&[start, middle, _]| {
                self.bytes[start as usize..middle as usize].eq_ignore_ascii_case(name.as_bytes())
            })
            .map(move |&[_, middle, end]| &self.bytes[middle as usize..end as usize])
    }

    /// The first value of `name`.
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// `HTTPResponse.getheader`: every value joined with ", ", decoded as Latin-1.
    pub fn get_joined(&self, name: &str) -> Option<String> {
        let values: Vec<String> = self.get_all(name).map(super::latin1).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// Whether any `name` field lists `token` among its comma-separated values.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|v| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    }
}

/// RFC 9110 token character (header names, methods).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `name` is a legal field name (CPython `_is_legal_header_name`: a non-empty token).
pub fn is_legal_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| is_tchar(b))
}

/// Whether `value` is a legal field value for sending. CPython's `_is_illegal_header_value`
/// refuses CR, LF and NUL except a fold ("\r\n" followed by space or tab); so do we.
pub fn is_legal_value(value: &[u8]) -> bool {
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            0 => return false,
            b'\r' | b'\n' => {
                let fold_len = if value[i] == b'\r' && value.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                match value.get(i + fold_len) {
                    Some(b' ') | Some(b'\t') => i += fold_len + 1,
                    _ => return false,
                }
            }
            _ => i += 1,
        }
    }
    // CPython also refuses leading/trailing whitespace-then-CRLF; a value ending in a fold
    // is caught above because nothing follows it.
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_keeps_it() {
        let mut h = Headers::new();
        h.push("Set-Cookie", "a=1");
        h.push("X-Thing", "x");
        h.push("set-cookie", "b=2");
        assert_eq!(h.get_joined("SET-COOKIE").as_deref(), Some("a=1, b=2"));
        assert_eq!(h.iter().next().unwrap().0, "Set-Cookie");
        assert_eq!(h.get("x-thing"), Some(&b"x"[..]));
        assert!(h.get("missing").is_none());
    }

    #[test]
    fn tokens() {
        let mut h = Headers::new();
        h.push("Connection", "keep-alive, Close");
        assert!(h.has_token("connection", "close"));
        assert!(!h.has_token("connection", "upgrade"));
    }

    #[test]
    fn legal_names_and_values() {
        assert!(is_legal_name(b"X-Foo"));
        assert!(!is_legal_name(b""));
        assert!(!is_legal_name(b"X Foo"));
        assert!(!is_legal_name(b"X:Foo"));
        assert!(!is_legal_name(b"X\r\nFoo"));
        assert!(is_legal_value(b"plain value"));
        assert!(is_legal_value(b"folded\r\n\tvalue"));
        assert!(!is_legal_value(b"bad\r\nInjected: 1"));
        assert!(!is_legal_value(b"bad\nx"));
        assert!(!is_legal_value(b"nul\0"));
        assert!(!is_legal_value(b"trailing fold\r\n"));
    }
}

/// Collects a header (or trailer) block line by line, with CPython's limits: a line over
/// `MAX_LINE` is `LineTooLong(what)`, and more than `MAX_HEADERS` lines (the blank one
/// counted, as `http.client._read_headers` counts it) is "got more than 100 headers".
#[derive(Debug, Default)]
pub struct FieldBlock {
    pub headers: Headers,
    lines: usize,
}

/// What one line did to a `FieldBlock`.
#[derive(Debug, PartialEq, Eq)]
pub enum FieldLine {
    /// The block goes on.
    More,
    /// That was the blank line ending the block.
    End,
}

impl FieldBlock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Take one complete line (terminator included), leniently as email.parser does:
    /// a line starting with space or tab continues the previous value; one with no colon is skipped.
    pub fn push_line(&mut self, line: &[u8]) -> Result<FieldLine, super::ProtoError> {
        self.lines += 1;
        if self.lines > super::limits::MAX_HEADERS {
            return Err(super::ProtoError::TooManyHeaders);
        }
        let content = super::line::trim_eol(line);
        if content.is_empty() {
            return Ok(FieldLine::End);
        }
        if matches!(content[0], b' ' | b'\t') {
            self.headers.extend_last(&[b" ", content.trim_ascii()]);
            return Ok(FieldLine::More);
        }
        if let Some(colon) = content.iter().position(|&b| b == b':') {
            let name = super::latin1(content[..colon].trim_ascii_end());
            let value = content[colon + 1..].trim_ascii().to_vec();
            self.headers.push(name, value);
        }
        Ok(FieldLine::More)
    }
}

#[cfg(test)]
mod block_tests {
    use super::*;
    use crate::proto::ProtoError;

    #[test]
    fn block_lines() {
        let mut b = FieldBlock::new();
        assert_eq!(b.push_line(b"Content-Type: text/plain\r\n"), Ok(FieldLine::More));
        assert_eq!(b.push_line(b"X-Long: a\r\n"), Ok(FieldLine::More));
        assert_eq!(b.push_line(b"  b\r\n"), Ok(FieldLine::More));
        assert_eq!(b.push_line(b"no colon here\r\n"), Ok(FieldLine::More));
        assert_eq!(b.push_line(b"\r\n"), Ok(FieldLine::End));
        assert_eq!(b.headers.get("x-long"), Some(&b"a b"[..]));
        assert_eq!(b.headers.len(), 2);
    }

    #[test]
    fn header_count_limit_counts_the_blank_line() {
        let mut b = FieldBlock::new();
        for _ in 0..99 {
            assert_eq!(b.push_line(b"A: b\r\n"), Ok(FieldLine::More));
        }
        assert_eq!(b.push_line(b"\r\n"), Ok(FieldLine::End));
        let mut b = FieldBlock::new();
        for _ in 0..100 {
            b.push_line(b"A: b\r\n").unwrap();
        }
        assert_eq!(b.push_line(b"\r\n"), Err(ProtoError::TooManyHeaders));
    }
}
