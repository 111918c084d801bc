//! Header lists: names keep their case, lookup ignores it (Python's `HTTPMessage`).

use bytes::Bytes;

/// Header fields in arrival order. Never lowercased: Python keeps names as sent. A parsed head's
/// fields are slices of the head's own bytes (shared with the connection's read buffer, never
/// copied); fields pushed one by one live back to back in a buffer of their own.
#[derive(Clone, Default)]
pub struct Headers {
    /// The bytes the fields are slices of.
    store: Store,
    /// Each field's name start and end, value start and end in `store`.
    fields: Vec<[u32; 4]>,
}

/// Where a `Headers`' bytes live.
#[derive(Clone)]
enum Store {
    /// Built by `push`.
    Owned(Vec<u8>),
    /// A received head's bytes (`Headers::over_head`).
    Shared(Bytes),
}

impl Default for Store {
    fn default() -> Self {
        Store::Owned(Vec::new())
    }
}

impl Store {
    fn bytes(&self) -> &[u8] {
        match self {
            Store::Owned(v) => v,
            Store::Shared(b) => b,
        }
    }

    /// The bytes, to append to: a shared head is copied first (only the line-by-line
    /// readers and handlers that add fields get here).
    fn owned(&mut self) -> &mut Vec<u8> {
        if let Store::Shared(b) = self {
            *self = Store::Owned(b.to_vec());
        }
        match self {
            Store::Owned(v) => v,
            Store::Shared(_) => unreachable!("made owned above"),
        }
    }
}

/// The same fields in the same order, however they are stored.
impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter_raw().eq(other.iter_raw())
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| (n, super::latin1(v))))
            .finish()
    }
}

/// Where httparse's fields are in the head they were read from: each name's start and end, and
/// its value's (the head itself can then become a `Headers` with
/// `Headers::over_head`, no byte copied).
#[derive(Debug, Default, Clone)]
pub struct FieldSpans(Vec<[u32; 4]>);

impl FieldSpans {
    /// `fields` are slices of `head` (httparse checked the names are tokens); `visit` sees
    /// each (name, value) on the way, for a reader that has rules to apply to them.
    pub fn of<'a>(head: &[u8], fields: &[httparse::Header<'a>], visit: impl FnMut(&[u8], &'a [u8])) -> Self {
        Self::default().fill(head, fields, visit)
    }

    /// `of`, in this one's room (a previous head's, from `Headers::recycle`).
    pub fn fill<'a>(
        mut self,
        head: &[u8],
        fields: &[httparse::Header<'a>],
        mut visit: impl FnMut(&[u8], &'a [u8]),
    ) -> Self {
        let base = head.as_ptr() as usize;
        let offset = |slice: &[u8]| {
            let start = slice.as_ptr() as usize - base;
            debug_assert!(start + slice.len() <= head.len(), "a field outside its head");
            start
        };
        self.0.clear();
        self.0.extend(fields.iter().map(|field| {
            visit(field.name.as_bytes(), field.value);
            let name = offset(field.name.as_bytes());
            // httparse has trimmed the value's spaces and tabs, the only whitespace
            // a value it accepts can hold.
            let value = field.value;
            debug_assert_eq!(value, value.trim_ascii(), "an untrimmed value");
            let value_start = if value.is_empty() { 0 } else { offset(value) };
            [
                at(name),
                at(name + field.name.len()),
                at(value_start),
                at(value_start + value.len()),
            ]
        }));
        self
    }
}

/// A position in a head, as `Headers` keeps them.
fn at(offset: usize) -> u32 {
    u32::try_from(offset).expect("a head under 4 GiB")
}

impl Headers {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `fields` fields of `bytes` bytes in all.
    pub fn with_capacity(bytes: usize, fields: usize) -> Self {
        Self {
            store: Store::Owned(Vec::with_capacity(bytes)),
            fields: Vec::with_capacity(fields),
        }
    }

    /// The fields of a received head, without copying it: `spans` say where they are in it.
    pub fn over_head(head: Bytes, spans: FieldSpans) -> Self {
        debug_assert!(
            spans.0.iter().all(|f| f[3] as usize <= head.len()),
            "a field outside its head"
        );
        Self {
            store: Store::Shared(head),
            fields: spans.0,
        }
    }

    /// Done with these fields: their room, for the next head's (`FieldSpans::fill`).
    pub fn recycle(self) -> FieldSpans {
        let mut room = self.fields;
        room.clear();
        FieldSpans(room)
    }

    /// The bytes the fields are slices of: for `over_head`, the whole head as received.
    pub fn source(&self) -> &[u8] {
        self.store.bytes()
    }

    /// Add a field at the end.
    pub fn push(&mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) {
        let bytes = self.store.owned();
        let start = at(bytes.len());
        bytes.extend_from_slice(name.as_ref().as_bytes());
        let middle = at(bytes.len());
        bytes.extend_from_slice(value.as_ref());
        self.fields.push([start, middle, middle, at(bytes.len())]);
    }

    /// Append `parts` to the last field's value (a continuation line); nothing when empty.
    pub fn extend_last(&mut self, parts: &[&[u8]]) {
        let Some(last) = self.fields.last_mut() else {
            return;
        };
        let bytes = self.store.owned();
        if last[3] as usize != bytes.len() {
            // The value is not at the end (a shared head's): move a copy of it there.
            let value = last[2] as usize..last[3] as usize;
            last[2] = at(bytes.len());
            bytes.extend_from_within(value);
        }
        for part in parts {
            bytes.extend_from_slice(part);
        }
        last[3] = at(bytes.len());
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every field, in order: (name as sent, value bytes).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &[u8])> + '_ {
        self.iter_raw()
            // Names are pushed as `&str`, or are tokens httparse checked.
            .map(|(name, value)| (std::str::from_utf8(name).unwrap_or_default(), value))
    }

    /// Every field, in order: (name bytes, value bytes); no UTF-8 check of the names, for the
    /// rules that only compare them.
    pub fn iter_raw(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> + '_ {
        let bytes = self.store.bytes();
        self.fields.iter().map(move |&[name, name_end, value, value_end]| {
            (
                &bytes[name as usize..name_end as usize],
                &bytes[value as usize..value_end as usize],
            )
        })
    }

    /// Owned copies of every field (for the WIT edge).
    pub fn to_vec(&self) -> Vec<(String, Vec<u8>)> {
        self.iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect()
    }

    /// Every value of fields called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter_raw()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, value)| value)
    }

    /// The first value of `name`.
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// Whether a field of this name (case-insensitive) is present.
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
    /// The fields read so far.
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
    /// An empty block.
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
