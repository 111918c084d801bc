//! One body decoder for both roles (hyper's `proto::h1::Decoder`): how a message body is
//! framed, carrying what its framing needs to know (bytes left, the chunk parser's state).
//! `io::BufStream::read_body` is the one read loop that drives it, for the server's request
//! bodies and the client's responses alike.

use super::chunked::ChunkedDecoder;

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
    Bad(super::ProtoError),
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
}
