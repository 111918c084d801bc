//! A buffered reader/writer over a transport `Stream`: lines with limits, exact reads, peeks.

use crate::proto::body::{BodyDecoder, BodyRead, Decode};
use crate::transport::{ServerPhase, Stream, TransportError};
use bytes::{Buf, BytesMut};
use std::time::{Duration, Instant};

/// Largest single transport read for body data (ours; the host caps reads at 1 MiB too).
pub const MAX_DIRECT_READ: usize = 1024 * 1024;

/// Whether the body's data is taken off the buffer (`read_body`) or only looked at (`peek_body`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taking {
    Consume,
    Peek,
}

/// What `read_line` returned.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// A line, terminator included; at end-of-stream, whatever was left (possibly empty).
    Line(Vec<u8>),
    /// Over the limit without a terminator.
    TooLong,
}

/// The stream plus the bytes read from it and not yet consumed.
pub struct BufStream {
    stream: Box<dyn Stream>,
    /// Read and not yet consumed: consuming advances its start, no bytes move.
    buf: BytesMut,
    read_size: usize,
    eof: bool,
    /// The read timeout the transport has now (`None` until one is set), so an unchanged one
    /// costs no host call.
    read_timeout: Option<Option<u64>>,
    /// The phase the host was last told.
    phase: Option<ServerPhase>,
    /// While a request head is being read: when it must be complete. Every read until then
    /// waits only for what is left of it, so a head trickled in a byte at a time still ends.
    head_deadline: HeadDeadline,
}

/// How long the request head being read may still take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadDeadline {
    /// No head is being read, or it has no time limit: reads wait for the read timeout alone.
    Unbounded,
    /// The head must be whole this long after the first read that waits for more of it (the
    /// clock is read then: a head that arrived whole in its first read costs no clock read).
    Within(Duration),
    /// The head must be whole by then.
    By(Instant),
}

impl BufStream {
    /// A buffer over `stream`, reading `read_size` bytes at a time.
    pub fn new(stream: Box<dyn Stream>, read_size: usize) -> Self {
        Self {
            stream,
            buf: BytesMut::new(),
            read_size: read_size.max(1),
            eof: false,
            read_timeout: None,
            phase: None,
            head_deadline: HeadDeadline::Unbounded,
        }
    }

    /// Set the transport's read timeout, unless it has that one already.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), TransportError> {
        let ms = timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
        if self.read_timeout != Some(ms) {
            self.stream.set_read_timeout(ms)?;
            self.read_timeout = Some(ms);
        }
        Ok(())
    }

    /// Tell the host what this server connection is doing, unless it knows already.
    pub fn set_phase(&mut self, phase: ServerPhase) {
        if self.phase != Some(phase) {
            self.stream.set_phase(phase);
            self.phase = Some(phase);
        }
    }

    /// From now on, a request head is read: it must be whole within `wait`, counted from the
    /// first read that waits for more of it (none: the read timeout alone applies).
    pub fn set_head_deadline(&mut self, wait: Option<Duration>) {
        self.head_deadline = wait.map_or(HeadDeadline::Unbounded, HeadDeadline::Within);
    }

    /// After a read found the stream closed in `AwaitingBody`: hand `state` over if the host
    /// is parking the connection (never with bytes still buffered: the state must be all).
    pub fn carry(&mut self, state: Vec<u8>) -> bool {
        self.buf.is_empty() && self.stream.carry(state)
    }

    /// The state an earlier instance carried over a park, once.
    pub fn carried(&mut self) -> Option<Vec<u8>> {
        self.stream.carried()
    }

    /// The unconsumed bytes.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// The unconsumed bytes, for a parser that takes a head off their front (`split_to`).
    pub fn buffered_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Drop the first `n` buffered bytes.
    pub fn consume(&mut self, n: usize) {
        self.buf.advance(n);
    }

    /// Take `n` buffered bytes: all of them hand over the transport's own buffer (no copy:
    /// a body piece goes up to the WIT edge as the very bytes the host wrote into it).
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        if n == self.buf.len() {
            return Vec::from(std::mem::take(&mut self.buf));
        }
        let out = self.buf[..n].to_vec();
        self.buf.advance(n);
        out
    }

    /// One read from the transport appended to the buffer; returns how many bytes came (0 at EOF).
    pub fn fill(&mut self) -> Result<usize, TransportError> {
        self.fill_up_to(self.read_size)
    }

    /// Like `fill`, asking the transport for up to `want` bytes (at least the read size).
    fn fill_up_to(&mut self, want: usize) -> Result<usize, TransportError> {
        if self.eof {
            return Ok(0);
        }
        let deadline = match self.head_deadline {
            HeadDeadline::Unbounded => None,
            HeadDeadline::Within(wait) => Some(Instant::now() + wait),
            HeadDeadline::By(at) => Some(at),
        };
        if let Some(deadline) = deadline {
            self.head_deadline = HeadDeadline::By(deadline);
            // More of a head is awaited: the host may count this connection among the slow.
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::Timeout);
            }
            self.set_phase(ServerPhase::ReadingRequest);
            self.set_read_timeout(Some(left))?;
        }
        let data = self.stream.read(want.max(self.read_size))?;
        Ok(self.took(data))
    }

    /// Wait for a server connection's next request, at most `timeout`, then one read into the
    /// buffer (`Stream::await_request`): how many bytes came (0 at EOF). The host counts the
    /// connection as responding once they have.
    pub fn fill_awaiting_request(&mut self, timeout: Option<Duration>) -> Result<usize, TransportError> {
        if self.eof {
            return Ok(0);
        }
        let ms = timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
        // What the host is told before it reads, whatever the read then does.
        self.read_timeout = Some(ms);
        self.phase = Some(ServerPhase::AwaitingRequest);
        let data = self.stream.await_request(self.read_size, ms)?;
        if !data.is_empty() {
            self.phase = Some(ServerPhase::Responding);
        }
        Ok(self.took(data))
    }

    /// Bytes a read brought, appended to the buffer; how many (0: the stream ended).
    fn took(&mut self, data: Vec<u8>) -> usize {
        if data.is_empty() {
            self.eof = true;
            return 0;
        }
        let n = data.len();
        if self.buf.is_empty() {
            // The transport's buffer becomes ours (BytesMut takes a Vec without copying).
            self.buf = BytesMut::from(bytes::Bytes::from(data));
        } else {
            self.buf.extend_from_slice(&data);
        }
        n
    }

    /// Whether the peer has ended the stream and nothing is left buffered.
    pub fn at_eof(&self) -> bool {
        self.eof && self.buffered().is_empty()
    }

    /// A line of at most `max` bytes (`readline(max + 1)` then a length check, as CPython does).
    /// Each byte is scanned once, however the peer trickles it in: a line sent one byte at a
    /// time costs linear, not quadratic, work.
    pub fn read_line(&mut self, max: usize) -> Result<LineRead, TransportError> {
        let mut scanned = 0;
        loop {
            let buf = self.buffered();
            let window = &buf[scanned.min(buf.len())..buf.len().min(max + 1)];
            if let Some(i) = memchr::memchr(b'\n', window) {
                let len = scanned + i + 1;
                return Ok(if len <= max {
                    LineRead::Line(self.take(len))
                } else {
                    LineRead::TooLong
                });
            }
            if buf.len() > max {
                return Ok(LineRead::TooLong);
            }
            scanned = buf.len();
            if self.fill()? == 0 {
                let rest = self.buffered().len();
                return Ok(LineRead::Line(self.take(rest)));
            }
        }
    }

    /// Up to `max` bytes: buffered ones first, else one transport read of up to `max`
    /// (capped at `MAX_DIRECT_READ`). Empty at EOF.
    pub fn read_some(&mut self, max: usize) -> Result<Vec<u8>, TransportError> {
        if self.buffered().is_empty() && self.fill_up_to(max.min(MAX_DIRECT_READ))? == 0 {
            return Ok(Vec::new());
        }
        let n = self.buffered().len().min(max);
        Ok(self.take(n))
    }

    /// Up to `max` bytes (at least 1) of the body `body` frames: the one read loop of both
    /// roles. The decoder says what the buffered bytes are; this only fills the buffer. A
    /// piece that is a whole transport read goes up as the transport's own buffer (no copy).
    pub fn read_body(&mut self, body: &mut BodyDecoder, max: usize) -> Result<BodyRead, TransportError> {
        self.next_body(body, max, Taking::Consume)
    }

    /// Up to `n` bytes (at least 1) of the body's next bytes, without consuming them
    /// (`peek`): what is buffered, after one read when nothing is. `End` at its end.
    pub fn peek_body(&mut self, body: &mut BodyDecoder, n: usize) -> Result<BodyRead, TransportError> {
        self.next_body(body, n, Taking::Peek)
    }

    /// The body's next data, taken or only looked at; framing before it is consumed either way.
    fn next_body(&mut self, body: &mut BodyDecoder, max: usize, taking: Taking) -> Result<BodyRead, TransportError> {
        loop {
            match body.decode(self.buffered(), self.eof, max) {
                Decode::Data(n) => {
                    return Ok(BodyRead::Data(match taking {
                        Taking::Consume => self.take(n),
                        Taking::Peek => {
                            body.unread(n);
                            self.buffered()[..n].to_vec()
                        }
                    }));
                }
                Decode::Skip(n) => self.consume(n),
                Decode::NeedMore { want } => {
                    self.fill_up_to(want.min(MAX_DIRECT_READ))?;
                }
                Decode::End(n) => {
                    self.consume(n);
                    return Ok(BodyRead::End);
                }
                Decode::Cut { left } => return Ok(BodyRead::Cut { left }),
                Decode::Bad(e) => return Ok(BodyRead::Bad(e)),
            }
        }
    }

    /// Write all of `data`.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.stream.write(data)
    }

    /// `Stream::send_file`.
    pub fn send_file(&mut self, path: &str, offset: u64, len: u64) -> Result<Option<u64>, TransportError> {
        self.stream.send_file(path, offset, len)
    }

    /// `Stream::open_file`.
    pub fn open_file(&mut self, path: &str) -> Result<Option<crate::transport::FileAt>, TransportError> {
        self.stream.open_file(path)
    }

    /// `Stream::send_head_and_file`.
    pub fn send_head_and_file(
        &mut self,
        head: &[u8],
        file: crate::transport::HostFile,
        offset: u64,
        len: u64,
    ) -> Result<u64, TransportError> {
        self.stream.send_head_and_file(head, file, offset, len)
    }

    /// `Stream::list_directory`.
    pub fn list_directory(&mut self, path: &str) -> Result<Option<Vec<crate::transport::RawEntry>>, TransportError> {
        self.stream.list_directory(path)
    }

    /// Half-close for writing.
    pub fn shutdown_send(&mut self) -> Result<(), TransportError> {
        self.stream.shutdown_send()
    }

    /// The transport's read and write timeout.
    pub fn set_timeout(&mut self, timeout_ms: Option<u64>) -> Result<(), TransportError> {
        self.stream.set_timeout(timeout_ms)?;
        self.read_timeout = Some(timeout_ms);
        Ok(())
    }

    /// Switch to TLS. Bytes already buffered came before the switch: a peer that sent them
    /// broke the protocol (a proxy talking past its CONNECT reply), so that is refused.
    pub fn start_tls(&mut self, host: &str, options: &crate::transport::TlsOptions) -> Result<(), TransportError> {
        if !self.buffered().is_empty() {
            return Err(TransportError::Tls("unexpected bytes before the TLS handshake".into()));
        }
        self.stream.start_tls(host, options)
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub mod testing {
    //! An in-memory stream: scripted input delivered in fixed-size pieces, output recorded
    //! (for unit tests and the fuzz targets).
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Scripted input, recorded output.
    pub struct ScriptedStream {
        /// What the peer sends.
        pub input: Vec<u8>,
        /// How many bytes each read hands out at most.
        pub piece: usize,
        /// How much of `input` was read.
        pub pos: usize,
        /// What the handler wrote.
        pub output: Rc<RefCell<Vec<u8>>>,
    }

    impl ScriptedStream {
        /// A stream over `input` in pieces of `piece`, and where its output goes.
        pub fn new(input: &[u8], piece: usize) -> (Self, Rc<RefCell<Vec<u8>>>) {
            let output = Rc::new(RefCell::new(Vec::new()));
            (
                Self {
                    input: input.to_vec(),
                    piece: piece.max(1),
                    pos: 0,
                    output: output.clone(),
                },
                output,
            )
        }
    }

    impl Stream for ScriptedStream {
        fn read(&mut self, max: usize) -> Result<Vec<u8>, TransportError> {
            let n = self.piece.min(max).min(self.input.len() - self.pos);
            let out = self.input[self.pos..self.pos + n].to_vec();
            self.pos += n;
            Ok(out)
        }
        fn write(&mut self, data: &[u8]) -> Result<(), TransportError> {
            self.output.borrow_mut().extend_from_slice(data);
            Ok(())
        }
        fn shutdown_send(&mut self) -> Result<(), TransportError> {
            Ok(())
        }
        fn set_timeout(&mut self, _: Option<u64>) -> Result<(), TransportError> {
            Ok(())
        }
        fn start_tls(&mut self, host: &str, _: &crate::transport::TlsOptions) -> Result<(), TransportError> {
            // Recorded in the output so tests can see where the switch happened.
            self.output
                .borrow_mut()
                .extend_from_slice(format!("<<start-tls {host}>>").as_bytes());
            Ok(())
        }
    }

    #[cfg(test)]
    #[test]
    fn lines_at_every_piece_size() {
        for piece in 1..12 {
            let (s, _) = ScriptedStream::new(b"one\r\ntwo\nthree", piece);
            let mut b = BufStream::new(Box::new(s), 4);
            assert_eq!(b.read_line(100).unwrap(), LineRead::Line(b"one\r\n".to_vec()));
            assert_eq!(b.read_line(100).unwrap(), LineRead::Line(b"two\n".to_vec()));
            assert_eq!(b.read_line(100).unwrap(), LineRead::Line(b"three".to_vec()));
            assert_eq!(b.read_line(100).unwrap(), LineRead::Line(Vec::new()));
            let (s, _) = ScriptedStream::new(b"0123456789abc\n", piece);
            let mut b = BufStream::new(Box::new(s), 4);
            assert_eq!(b.read_line(10).unwrap(), LineRead::TooLong);
        }
    }

    #[cfg(test)]
    #[test]
    fn a_whole_read_goes_up_as_the_transports_own_buffer() {
        /// Hands out one buffer and remembers where its bytes live.
        struct Once(Option<Vec<u8>>, Rc<RefCell<usize>>);
        impl Stream for Once {
            fn read(&mut self, _: usize) -> Result<Vec<u8>, TransportError> {
                let data = self.0.take().unwrap_or_default();
                *self.1.borrow_mut() = data.as_ptr() as usize;
                Ok(data)
            }
            fn write(&mut self, _: &[u8]) -> Result<(), TransportError> {
                Ok(())
            }
            fn shutdown_send(&mut self) -> Result<(), TransportError> {
                Ok(())
            }
            fn set_timeout(&mut self, _: Option<u64>) -> Result<(), TransportError> {
                Ok(())
            }
            fn start_tls(&mut self, _: &str, _: &crate::transport::TlsOptions) -> Result<(), TransportError> {
                Ok(())
            }
        }
        let at = Rc::new(RefCell::new(0));
        let mut b = BufStream::new(Box::new(Once(Some(vec![7; 65536]), at.clone())), 4);
        let mut body = crate::proto::body::BodyDecoder::Length(65536);
        let crate::proto::body::BodyRead::Data(piece) = b.read_body(&mut body, 1 << 20).unwrap() else {
            panic!()
        };
        assert_eq!(piece.len(), 65536);
        assert_eq!(piece.as_ptr() as usize, *at.borrow(), "the piece was copied");
        assert!(body.is_done());
    }
}
