//! Carrying a connection over a park in the middle of a request body. A slow upload, or a
//! body being drained before the next request, would otherwise hold its instance (memory
//! image, stack, store) for as long as the client takes. Waiting for a Content-Length body
//! in phase `AwaitingBody`, the guest lets the host park the connection; the read then ends
//! as if closed, the guest hands the host what it needs to go on (`Carried`, encoded here,
//! opaque to the host), and the instance that resumes the connection takes it back.
//!
//! Only Content-Length bodies are carried (a chunked body's decoder state stays in its
//! instance), and only where nothing of the answer has been written yet.

use super::Handler;
use super::handler::{Request, Resumed, ScriptInputSoFar};
use crate::error::HttpError;
use crate::proto::Headers;
use crate::proto::body::BodyDecoder;
use crate::proto::limits::COPY_BUFSIZE;
use crate::transport::{ServerPhase, TransportError};

/// The first bytes of a carried state: a tag and its format's version.
const MAGIC: [u8; 2] = [b'C', 1];

/// What a resumed instance needs to go on with a connection parked mid-body.
#[derive(Debug, Clone)]
pub(super) enum Carried {
    /// Discarding the rest of a request body (`left` bytes) before the next request.
    Drain { left: u64 },
    /// Collecting a CGI script's input: the request, whether its connection closes after
    /// it, the body so far (`seen` bytes arrived; `input` empty once past the script's
    /// limit) and the `left` bytes still to come.
    ScriptInput {
        request: Box<Request>,
        close_connection: bool,
        seen: u64,
        input: Vec<u8>,
        left: u64,
    },
}

impl Carried {
    /// The bytes handed to the host.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        match self {
            Carried::Drain { left } => {
                out.push(0);
                put_u64(&mut out, *left);
            }
            Carried::ScriptInput {
                request,
                close_connection,
                seen,
                input,
                left,
            } => {
                out.push(1);
                for text in [
                    &request.command,
                    &request.path,
                    &request.request_version,
                    &request.requestline,
                ] {
                    put_bytes(&mut out, text.as_bytes());
                }
                put_u64(&mut out, request.headers.len() as u64);
                for (name, value) in request.headers.iter() {
                    put_bytes(&mut out, name.as_bytes());
                    put_bytes(&mut out, value);
                }
                out.push(u8::from(*close_connection));
                put_u64(&mut out, *seen);
                put_u64(&mut out, *left);
                put_bytes(&mut out, input);
            }
        }
        out
    }

    /// The state `bytes` encode; `None` for anything `encode` did not write.
    pub(super) fn decode(bytes: &[u8]) -> Option<Carried> {
        let mut r = Reader(bytes.strip_prefix(&MAGIC[..])?);
        let carried = match r.byte()? {
            0 => Carried::Drain { left: r.u64()? },
            1 => {
                let mut request = Request::default();
                request.command = r.text()?;
                request.path = r.text()?;
                request.request_version = r.text()?;
                request.requestline = r.text()?;
                let fields = r.u64()?;
                let mut headers = Headers::new();
                for _ in 0..fields {
                    let name = r.text()?;
                    headers.push(name, r.bytes()?);
                }
                request.headers = headers;
                let close_connection = match r.byte()? {
                    0 => false,
                    1 => true,
                    _ => return None,
                };
                let (seen, left) = (r.u64()?, r.u64()?);
                let input = r.bytes()?.to_vec();
                Carried::ScriptInput {
                    request: Box::new(request),
                    close_connection,
                    seen,
                    input,
                    left,
                }
            }
            _ => return None,
        };
        r.0.is_empty().then_some(carried)
    }
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads what `put_*` wrote, `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }
    fn text(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

impl Handler {
    /// On a connection's first `next_request`: go on from what an earlier instance carried.
    pub(super) fn resume(&mut self) -> Resumed {
        let Some(bytes) = self.stream.carried() else {
            return Resumed::Fresh;
        };
        self.awaited = true;
        match Carried::decode(&bytes) {
            Some(Carried::Drain { left }) => {
                self.body = BodyDecoder::Length(left);
                self.close_connection = false;
                Resumed::Fresh
            }
            Some(Carried::ScriptInput {
                request,
                close_connection,
                seen,
                input,
                left,
            }) => {
                self.request = *request;
                self.close_connection = close_connection;
                self.body = BodyDecoder::Length(left);
                self.script_input = Some(ScriptInputSoFar { input, seen });
                self.head_done();
                Resumed::Request
            }
            None => {
                self.log_error("Connection state carried over a park did not decode");
                self.close_connection = true;
                Resumed::Unusable
            }
        }
    }

    /// After a read in `AwaitingBody` found the stream closed: carry `state` if the host is
    /// parking the connection (the caller then ends quietly); `false` when the client closed.
    pub(super) fn carry(&mut self, state: &Carried) -> bool {
        let carried = self.stream.carry(state.encode());
        if carried {
            // This instance is done with the connection: nothing more is read or written.
            self.close_connection = true;
        }
        carried
    }

    /// Between requests: the previous body drained (or the connection marked to close).
    /// A drain that waits may be carried over a park.
    pub(super) fn finish_previous(&mut self) -> Result<bool, HttpError> {
        if self.close_connection && !self.request.requestline.is_empty() {
            return Ok(false);
        }
        if !matches!(self.body, BodyDecoder::Done) {
            let small = matches!(self.body, BodyDecoder::Length(n) if n <= super::handler::MAX_DRAIN);
            if !small {
                self.close_connection = true;
                return Ok(false);
            }
            self.stream.set_phase(ServerPhase::AwaitingBody);
            loop {
                match self.read_body_or_closed(COPY_BUFSIZE)? {
                    Some(piece) if piece.is_empty() => break,
                    Some(_) => {}
                    None => {
                        let left = self.body.left().unwrap_or(0);
                        if self.carry(&Carried::Drain { left }) {
                            return Ok(false);
                        }
                        return Err(TransportError::Closed.into());
                    }
                }
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script_input() -> Carried {
        let mut headers = Headers::new();
        headers.push("Host", b"example.com");
        headers.push("Content-Length", b"100000");
        headers.push("X-Bytes", b"\xff\x00 odd");
        let mut request = Request::default();
        request.command = "POST".into();
        request.path = "/cgi-bin/echo.wasm?q=1".into();
        request.request_version = "HTTP/1.1".into();
        request.requestline = "POST /cgi-bin/echo.wasm?q=1 HTTP/1.1".into();
        request.headers = headers;
        Carried::ScriptInput {
            request: Box::new(request),
            close_connection: false,
            seen: 3,
            input: b"abc".to_vec(),
            left: 99_997,
        }
    }

    #[test]
    fn each_state_decodes_to_itself() {
        for state in [Carried::Drain { left: 12_345 }, script_input()] {
            let bytes = state.encode();
            assert_eq!(Carried::decode(&bytes).map(|c| c.encode()), Some(bytes));
        }
        let Some(Carried::ScriptInput { request, input, .. }) = Carried::decode(&script_input().encode()) else {
            panic!("not a script's input");
        };
        assert_eq!(request.headers.get("x-bytes"), Some(&b"\xff\x00 odd"[..]));
        assert_eq!((request.command.as_str(), input.as_slice()), ("POST", &b"abc"[..]));
    }

    #[test]
    fn anything_else_does_not_decode() {
        let good = script_input().encode();
        // Every truncation, a byte more, another version, another tag.
        for n in 0..good.len() {
            assert!(Carried::decode(&good[..n]).is_none(), "cut at {n}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(Carried::decode(&longer).is_none());
        let mut version = good.clone();
        version[1] = 2;
        assert!(Carried::decode(&version).is_none());
        let mut tag = good;
        tag[2] = 7;
        assert!(Carried::decode(&tag).is_none());
        // A length past the end, and a flag that is not a bool.
        let mut huge = Carried::Drain { left: 1 }.encode();
        huge[2] = 1;
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(Carried::decode(&huge).is_none());
    }
}
