//! Chunked transfer coding (RFC 9112 section 7.1): a decoder state machine and the encoder.

use super::ProtoError;
use super::limits::{MAX_LINE, MAX_TRAILERS};
use super::line::{Line, find_line_from, trim_eol};

/// What the decoder made of the front of the buffer it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// Nothing can be decided until more bytes arrive.
    NeedMore,
    /// The first `n` bytes were framing (size line, CRLF, trailer): drop them.
    Skip(usize),
    /// The first `n` bytes are body data.
    Data(usize),
    /// The first `n` bytes ended the body (the blank line after the trailers).
    End(usize),
}

/// How much slack a chunked body's framing may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// RFC 9112 section 7.1 to the letter: CRLF after every size line, chunk and trailer;
    /// whitespace after a size only before a `;`; no control byte in an extension or a
    /// trailer. A request's body: read any looser, a front proxy that reads it otherwise
    /// could hide a second request inside it (bare-LF and extension "funky chunks").
    Request,
    /// A bare LF as a line end and whitespace after a size, as CPython's client reads a
    /// response.
    Response,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data { left: u64 },
    DataEnd,
    Trailers { seen: usize },
    Done,
}

/// Decodes a chunked body incrementally; holds no data, only where it is in the framing.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Bytes of a size or trailer line already searched for its end (the caller hands the
    /// same, growing buffer back after `NeedMore`).
    scanned: usize,
    strictness: Strictness,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a response's chunked body (`Strictness::Response`).
    pub fn new() -> Self {
        Self::with(Strictness::Response)
    }

    /// A decoder at the start of a request's chunked body (`Strictness::Request`).
    pub fn for_requests() -> Self {
        Self::with(Strictness::Request)
    }

    fn with(strictness: Strictness) -> Self {
        Self {
            state: State::Size,
            scanned: 0,
            strictness,
        }
    }

    /// A size or trailer line's bytes are allowed here: under `Request`, CRLF-ended with no
    /// other control byte than HTAB.
    fn check_line(&self, line: &[u8], what: &str) -> Result<(), ProtoError> {
        if self.strictness == Strictness::Response {
            return Ok(());
        }
        let Some(body) = line.strip_suffix(b"\r\n") else {
            return Err(ProtoError::BadChunk(format!("a {what} line not ended by CRLF")));
        };
        if body.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(ProtoError::BadChunk(format!("a control byte in a {what} line")));
        }
        Ok(())
    }

    /// True once the last chunk and trailers were consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Data bytes left in the current chunk, if inside one (CPython's `chunk_left`).
    pub fn chunk_left(&self) -> Option<u64> {
        match self.state {
            State::Data { left } => Some(left),
            _ => None,
        }
    }

    /// Give back the last `n` bytes of a `Data` answer that the caller did not consume.
    pub fn unread(&mut self, n: usize) {
        self.state = match self.state {
            State::Data { left } => State::Data { left: left + n as u64 },
            State::DataEnd => State::Data { left: n as u64 },
            other => other,
        };
    }

    /// The line at the front of `buf`, resuming the search where the last call stopped.
    fn find_line(&mut self, buf: &[u8]) -> Line {
        let found = find_line_from(buf, MAX_LINE, self.scanned);
        self.scanned = if found == Line::Incomplete { buf.len() } else { 0 };
        found
    }

    /// Look at the front of `buf` and say what it is.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Decoded, ProtoError> {
        match self.state {
            State::Done => Ok(Decoded::End(0)),
            State::Size => match self.find_line(buf) {
                Line::Incomplete => Ok(Decoded::NeedMore),
                Line::TooLong => Err(ProtoError::LineTooLong("chunk size")),
                Line::Complete(n) => {
                    self.check_line(&buf[..n], "chunk size")?;
                    let size = match self.strictness {
                        Strictness::Request => parse_chunk_size_strict(&buf[..n])?,
                        Strictness::Response => parse_chunk_size(&buf[..n])?,
                    };
                    self.state = if size == 0 {
                        State::Trailers { seen: 0 }
                    } else {
                        State::Data { left: size }
                    };
                    Ok(Decoded::Skip(n))
                }
            },
            State::Data { left } => {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                let left = left - n as u64;
                self.state = if left == 0 {
                    State::DataEnd
                } else {
                    State::Data { left }
                };
                Ok(Decoded::Data(n))
            }
            State::DataEnd => match buf {
                [] | [b'\r'] => Ok(Decoded::NeedMore),
                [b'\r', b'\n', ..] => {
                    self.state = State::Size;
                    Ok(Decoded::Skip(2))
                }
                [b'\n', ..] if self.strictness == Strictness::Response => {
                    self.state = State::Size;
                    Ok(Decoded::Skip(1))
                }
                _ => Err(ProtoError::BadChunk("missing CRLF after chunk data".into())),
            },
            State::Trailers { seen } => match self.find_line(buf) {
                Line::Incomplete => Ok(Decoded::NeedMore),
                Line::TooLong => Err(ProtoError::LineTooLong("trailer line")),
                Line::Complete(n) => {
                    self.check_line(&buf[..n], "trailer")?;
                    if trim_eol(&buf[..n]).is_empty() {
                        self.state = State::Done;
                        return Ok(Decoded::End(n));
                    }
                    if seen + 1 > MAX_TRAILERS {
                        return Err(ProtoError::TooManyHeaders);
                    }
                    self.state = State::Trailers { seen: seen + 1 };
                    Ok(Decoded::Skip(n))
                }
            },
        }
    }
}

/// The size on a chunk-size line, extensions ignored. Hex digits only, at most 16 of them:
/// anything that would overflow a u64 is an error, never a wrap-around.
pub fn parse_chunk_size(line: &[u8]) -> Result<u64, ProtoError> {
    let line = trim_eol(line);
    let size = match line.iter().position(|&b| b == b';') {
        Some(i) => &line[..i],
        None => line,
    };
    let size = size.trim_ascii();
    let bad = || ProtoError::BadChunk(format!("invalid chunk size {:?}", super::latin1(size)));
    if size.is_empty() || size.len() > 16 || !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    let text = std::str::from_utf8(size).map_err(|_| bad())?;
    u64::from_str_radix(text, 16).map_err(|_| bad())
}

/// The size on a request's chunk-size line (RFC 9112 section 7.1): hex digits, then nothing,
/// or whitespace and a `;` starting the extensions.
pub fn parse_chunk_size_strict(line: &[u8]) -> Result<u64, ProtoError> {
    let line = trim_eol(line);
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = line[digits..].trim_ascii_start();
    if !(rest.is_empty() || rest.starts_with(b";")) || (rest.is_empty() && digits < line.len()) {
        return Err(ProtoError::BadChunk(format!(
            "invalid chunk size line {:?}",
            super::latin1(line)
        )));
    }
    parse_chunk_size(&line[..digits])
}

/// The size line of one chunk of `len` bytes (CPython writes `f'{len:X}\r\n'`).
pub fn chunk_header(len: usize) -> Vec<u8> {
    format!("{len:X}\r\n").into_bytes()
}

/// Ends a chunk's data.
pub const CHUNK_END: &[u8] = b"\r\n";
/// The last chunk with no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// One whole chunk; an empty `data` encodes nothing (an empty chunk would end the body).
pub fn encode_chunk(data: &[u8]) -> Vec<u8> {
    if data.is_empty() {
        return Vec::new();
    }
    let mut out = chunk_header(data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(CHUNK_END);
    out
}

#[cfg(test)]
mod tests {
    use super::super::latin1;
    use super::*;

    /// Decode `wire` fed in pieces split at `split`, returning the body.
    fn decode_split(wire: &[u8], split: usize) -> Result<(Vec<u8>, usize), ProtoError> {
        let mut dec = ChunkedDecoder::new();
        let mut buf = Vec::new();
        let mut body = Vec::new();
        let mut fed = 0;
        let feeds = [&wire[..split], &wire[split..]];
        let mut feed_i = 0;
        loop {
            match dec.decode(&buf)? {
                Decoded::NeedMore => {
                    if feed_i == feeds.len() {
                        panic!("ran out of input");
                    }
                    buf.extend_from_slice(feeds[feed_i]);
                    fed += feeds[feed_i].len();
                    feed_i += 1;
                }
                Decoded::Skip(n) => {
                    buf.drain(..n);
                }
                Decoded::Data(n) => {
                    body.extend(buf.drain(..n));
                }
                Decoded::End(n) => {
                    buf.drain(..n);
                    return Ok((body, fed - buf.len()));
                }
            }
        }
    }

    #[test]
    fn decodes_at_every_split() {
        let wire = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for split in 0..=wire.len() {
            let (body, used) = decode_split(wire, split).unwrap();
            assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.", "split {split}");
            assert_eq!(used, wire.len() - 4, "split {split}");
        }
    }

    /// A request's body is read to the letter: each looser spelling is an error, where a
    /// response's decoder (CPython's client) takes it.
    #[test]
    fn a_requests_chunks_allow_no_bare_lf_no_control_byte_and_no_stray_whitespace() {
        let loose: [&[u8]; 7] = [
            b"5\nhello\r\n0\r\n\r\n",
            b"5 \r\nhello\r\n0\r\n\r\n",
            b"5;a\rb\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\nX-T: a\rb\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\n",
            b"5;\x01\r\nhello\r\n0\r\n\r\n",
        ];
        for wire in loose {
            let mut strict = ChunkedDecoder::for_requests();
            let mut buf = wire;
            let err = loop {
                match strict.decode(buf) {
                    Ok(Decoded::Skip(n) | Decoded::Data(n)) => buf = &buf[n..],
                    Ok(other) => panic!("{:?}: {other:?}", latin1(wire)),
                    Err(e) => break e,
                }
            };
            assert!(matches!(err, ProtoError::BadChunk(_)), "{:?}: {err:?}", latin1(wire));
        }
        let mut strict = ChunkedDecoder::for_requests();
        let wire = b"5 ; name=value\r\nhello\r\n0\r\nT: v\r\n\r\n";
        let mut buf = &wire[..];
        loop {
            match strict.decode(buf).unwrap() {
                Decoded::Skip(n) | Decoded::Data(n) => buf = &buf[n..],
                Decoded::End(_) => break,
                Decoded::NeedMore => panic!("stalled"),
            }
        }
        assert_eq!(parse_chunk_size_strict(b"A ; name=value\r\n"), Ok(10));
        assert!(parse_chunk_size_strict(b"0x5\r\n").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_chunk_size(b"ff\r\n"), Ok(255));
        assert_eq!(parse_chunk_size(b"0\r\n"), Ok(0));
        assert_eq!(parse_chunk_size(b"A ; name=value\r\n"), Ok(10));
        assert_eq!(parse_chunk_size(b"ffffffffffffffff\r\n"), Ok(u64::MAX));
        assert!(parse_chunk_size(b"10000000000000000\r\n").is_err());
        assert!(parse_chunk_size(b"-1\r\n").is_err());
        assert!(parse_chunk_size(b"\r\n").is_err());
        assert!(parse_chunk_size(b"xyz\r\n").is_err());
    }

    #[test]
    fn limits() {
        let mut dec = ChunkedDecoder::new();
        let long = vec![b'1'; MAX_LINE + 2];
        assert_eq!(dec.decode(&long), Err(ProtoError::LineTooLong("chunk size")));
        let mut dec = ChunkedDecoder::new();
        assert_eq!(dec.decode(b"3\r\n").unwrap(), Decoded::Skip(3));
        assert_eq!(dec.decode(b"abcXY").unwrap(), Decoded::Data(3));
        assert!(dec.decode(b"XY").is_err());
        let mut dec = ChunkedDecoder::new();
        let mut wire = b"0\r\n".to_vec();
        for _ in 0..=MAX_TRAILERS {
            wire.extend_from_slice(b"T: v\r\n");
        }
        let mut buf = &wire[..];
        let err = loop {
            match dec.decode(buf) {
                Ok(Decoded::Skip(n)) => buf = &buf[n..],
                Ok(other) => panic!("{other:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!(err, ProtoError::TooManyHeaders);
    }

    #[test]
    fn encodes() {
        assert_eq!(encode_chunk(b"hello world!"), b"C\r\nhello world!\r\n");
        assert!(encode_chunk(b"").is_empty());
    }
}
