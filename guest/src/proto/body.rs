//! One body decoder for both roles (hyper's `proto::h1::Decoder`): how a message body is
//! framed, carrying what its framing needs to know (bytes left, the chunk parser's state),
//! and its transitions, sans-IO: `decode` looks at the bytes buffered so far and says what
//! they are. `io::BufStream::read_body` is the one read loop that drives it (it only fills
//! the buffer), for the server's request bodies and the client's responses alike.

use super::ProtoError;
use super::chunked::{ChunkedDecoder, Decoded};

/// A body being read, by its framing.
#[derive(Debug)]
pub enum BodyDecoder {
    /// `Content-Length`: this many bytes are left.
    Length(u64),
    /// `Transfer-Encoding: chunked`, part way through.
    Chunked(ChunkedDecoder),
    /// Until the peer closes the connection (a response framed by neither).
    UntilClose,
    /// Read to its end by its framing (or there was none).
    Done,
}

impl BodyDecoder {
    /// The decoder for a body of `length` bytes, or chunked, or neither (`until_close` for a
    /// response whose connection's end ends it; a request without either has no body).
    pub fn new(length: Option<u64>, chunked: bool, until_close: bool) -> Self {
        match (chunked, length) {
            (true, _) => BodyDecoder::Chunked(ChunkedDecoder::new()),
            (false, Some(0)) => BodyDecoder::Done,
            (false, Some(n)) => BodyDecoder::Length(n),
            (false, None) if until_close => BodyDecoder::UntilClose,
            (false, None) => BodyDecoder::Done,
        }
    }

    /// The decoder for a request's chunked body, read to the letter
    /// (`chunked::Strictness::Request`).
    pub fn chunked_request() -> Self {
        BodyDecoder::Chunked(ChunkedDecoder::for_requests())
    }

    /// Bytes still expected, when the framing says (CPython's `length`).
    pub fn left(&self) -> Option<u64> {
        match self {
            BodyDecoder::Length(n) => Some(*n),
            _ => None,
        }
    }

    /// The body has ended by its framing.
    pub fn is_done(&self) -> bool {
        matches!(self, BodyDecoder::Done)
    }

    /// What the front of `buf` (the bytes buffered so far; `eof` once the stream has ended)
    /// is, handing out at most `max` (at least 1) bytes of data at a time. A `Data` answer
    /// counts its bytes as read: the caller takes them, or gives some back with `unread`.
    pub fn decode(&mut self, buf: &[u8], eof: bool, max: usize) -> Decode {
        let max = max.max(1);
        match self {
            BodyDecoder::Done => Decode::End(0),
            BodyDecoder::Length(0) => {
                *self = BodyDecoder::Done;
                Decode::End(0)
            }
            BodyDecoder::Length(left) => {
                let room = usize::try_from(*left).unwrap_or(usize::MAX).min(max);
                if buf.is_empty() {
                    return match eof {
                        true => Decode::Cut { left: Some(*left) },
                        false => Decode::NeedMore { want: room },
                    };
                }
                let n = buf.len().min(room);
                *left -= n as u64;
                if *left == 0 {
                    *self = BodyDecoder::Done;
                }
                Decode::Data(n)
            }
            BodyDecoder::UntilClose => match (buf.len(), eof) {
                (0, true) => {
                    *self = BodyDecoder::Done;
                    Decode::End(0)
                }
                (0, false) => Decode::NeedMore { want: max },
                (n, _) => Decode::Data(n.min(max)),
            },
            BodyDecoder::Chunked(decoder) => match decoder.decode(buf) {
                Ok(Decoded::NeedMore) if eof => Decode::Cut { left: None },
                Ok(Decoded::NeedMore) => Decode::NeedMore { want: 0 },
                Ok(Decoded::Skip(n)) => Decode::Skip(n),
                Ok(Decoded::Data(n)) => {
                    // Decided over the whole buffer; hand out at most `max`.
                    let take = n.min(max);
                    if take < n {
                        decoder.unread(n - take);
                    }
                    Decode::Data(take)
                }
                Ok(Decoded::End(n)) => {
                    *self = BodyDecoder::Done;
                    Decode::End(n)
                }
                Err(e) => Decode::Bad(e),
            },
        }
    }

    /// Give back the last `n` bytes of the `Data` answer just made (a peek takes nothing).
    /// A Content-Length body that the answer finished is `Done`: it is `n` bytes short again.
    pub fn unread(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        match self {
            BodyDecoder::Length(left) => *left += n as u64,
            BodyDecoder::Done => *self = BodyDecoder::Length(n as u64),
            BodyDecoder::Chunked(decoder) => decoder.unread(n),
            BodyDecoder::UntilClose => {}
        }
    }
}

/// What `BodyDecoder::decode` made of the buffered bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Decode {
    /// The first `n` bytes are body data (never 0): take them.
    Data(usize),
    /// The first `n` bytes are framing (a chunk size line, a CRLF, a trailer): drop them.
    Skip(usize),
    /// Nothing can be decided until more bytes arrive: read up to `want` body bytes (0: the
    /// stream's usual read size, for framing).
    NeedMore {
        /// The most body bytes a read may bring without going past this body.
        want: usize,
    },
    /// The body ended by its framing: drop the first `n` bytes (the last chunk and
    /// trailers); the decoder is `Done`.
    End(usize),
    /// The stream ended first, `left` bytes short when the framing says. The decoder is left
    /// as it was: the body did not end.
    Cut {
        /// Bytes still expected, under Content-Length.
        left: Option<u64>,
    },
    /// The chunked framing is broken.
    Bad(ProtoError),
}

/// What one read of a body got.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyRead {
    /// Body bytes (never empty).
    Data(Vec<u8>),
    /// The body ended by its framing; the decoder is `Done`.
    End,
    /// The stream ended first, `left` bytes short when the framing says. The decoder is left
    /// as it was: the body did not end.
    Cut {
        /// Bytes still expected, under Content-Length.
        left: Option<u64>,
    },
    /// The chunked framing is broken.
    Bad(ProtoError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_picks_the_decoder() {
        assert!(matches!(BodyDecoder::new(Some(5), false, true), BodyDecoder::Length(5)));
        assert!(matches!(BodyDecoder::new(Some(5), true, true), BodyDecoder::Chunked(_)));
        assert!(BodyDecoder::new(Some(0), false, true).is_done());
        assert!(matches!(BodyDecoder::new(None, false, true), BodyDecoder::UntilClose));
        assert!(BodyDecoder::new(None, false, false).is_done());
        assert_eq!(BodyDecoder::new(Some(7), false, false).left(), Some(7));
    }

    /// Drive `decoder` over `input` delivered `piece` bytes at a time, as `io` does: every
    /// byte of data handed out, at most `max` at a time, and how the body ended.
    fn drive(mut decoder: BodyDecoder, input: &[u8], piece: usize, max: usize) -> (Vec<u8>, Decode) {
        let (mut buf, mut arrived, mut body) = (Vec::new(), 0, Vec::new());
        loop {
            let eof = arrived == input.len();
            match decoder.decode(&buf, eof, max) {
                Decode::Data(n) => {
                    assert!(n > 0 && n <= max, "{n} of at most {max}");
                    body.extend(buf.drain(..n));
                }
                Decode::Skip(n) => drop(buf.drain(..n)),
                Decode::NeedMore { .. } => {
                    assert!(!eof, "more wanted after the end");
                    let next = (arrived + piece).min(input.len());
                    buf.extend_from_slice(&input[arrived..next]);
                    arrived = next;
                }
                Decode::End(n) => {
                    buf.drain(..n);
                    assert!(decoder.is_done());
                    return (body, Decode::End(buf.len()));
                }
                other => return (body, other),
            }
        }
    }

    #[test]
    fn a_content_length_body_at_every_piece_and_read_size() {
        for piece in 1..8 {
            for max in 1..8 {
                let (body, end) = drive(BodyDecoder::Length(5), b"hello GET", piece, max);
                assert_eq!(body, b"hello");
                // What follows the body (a pipelined request) is left buffered or unread.
                assert!(matches!(end, Decode::End(_)), "{end:?}");
                let (body, end) = drive(BodyDecoder::Length(5), b"hel", piece, max);
                assert_eq!((body.as_slice(), end), (&b"hel"[..], Decode::Cut { left: Some(2) }));
            }
        }
    }

    #[test]
    fn a_chunked_body_at_every_piece_and_read_size() {
        let input = b"5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for piece in 1..12 {
            for max in 1..8 {
                let (body, end) = drive(BodyDecoder::new(None, true, false), input, piece, max);
                assert_eq!(body, b"hello!");
                assert!(matches!(end, Decode::End(_)), "{end:?}");
            }
            let (body, end) = drive(BodyDecoder::new(None, true, false), &input[..9], piece, 100);
            assert_eq!((body.as_slice(), end), (&b"hello"[..], Decode::Cut { left: None }));
            let (_, end) = drive(BodyDecoder::new(None, true, false), b"zz\r\n", piece, 100);
            assert!(matches!(end, Decode::Bad(_)), "{end:?}");
        }
    }

    #[test]
    fn a_body_until_close_ends_with_the_stream() {
        for piece in 1..6 {
            let (body, end) = drive(BodyDecoder::UntilClose, b"all of it", piece, 3);
            assert_eq!((body.as_slice(), end), (&b"all of it"[..], Decode::End(0)));
        }
    }

    #[test]
    fn unread_gives_back_what_a_peek_looked_at() {
        let mut d = BodyDecoder::Length(3);
        assert_eq!(d.decode(b"abc", false, 10), Decode::Data(3));
        assert!(d.is_done());
        d.unread(3);
        assert_eq!(d.left(), Some(3));
        let mut d = BodyDecoder::new(None, true, false);
        assert_eq!(d.decode(b"3\r\nabc\r\n", false, 10), Decode::Skip(3));
        assert_eq!(d.decode(b"abc\r\n", false, 2), Decode::Data(2));
        d.unread(2);
        assert_eq!(d.decode(b"abc\r\n", false, 10), Decode::Data(3));
    }
}
