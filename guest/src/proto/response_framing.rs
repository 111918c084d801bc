//! The framing of a response given as fields and body pieces (a `wasi:http` app's, or a CGI
//! script's): which of its fields go out, how its body is delimited (its Content-Length,
//! chunked, or the connection's end), and each body piece as the bytes that carry it.
//! Plain Rust: the server's handler writes what this says.

use super::chunked::encode_chunk;
use std::borrow::Cow;

/// Fields that describe one connection, not the response (RFC 9110 7.6.1, RFC 9112 6.1): the
/// server says these itself, so an app's are dropped.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimit {
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 on both sides).
    Chunked,
    /// The connection's end (an HTTP/1.0 peer without a length).
    Close,
}

/// What the request and server allow for the response being framed.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// The request was HEAD: the head says what a GET would get, and no body goes out.
    pub head_request: bool,
    /// Both the server's protocol and the request are HTTP/1.1 or later (chunked allowed).
    pub chunked_allowed: bool,
}

/// Why a response's fields cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramingError {
    /// A Content-Length that is not a number, or two that differ.
    BadLength(String),
    /// More body than the Content-Length said.
    Overrun {
        /// The Content-Length.
        length: u64,
    },
}

impl std::fmt::Display for FramingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FramingError::BadLength(v) => write!(f, "the response's Content-Length is not one number: {v:?}"),
            FramingError::Overrun { length } => {
                write!(f, "the response's body is longer than its Content-Length {length}")
            }
        }
    }
}

/// A response's head as it will go out: the fields kept, and the framing field to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedHead {
    /// The fields to send, in order, with the framing ones removed.
    pub fields: Vec<(String, Vec<u8>)>,
    /// How the body is delimited.
    pub delimit: Delimit,
    /// The field that says so ("Content-Length" / "Transfer-Encoding"), none for `Close`
    /// or a response that has no body (204, 304).
    pub framing_field: Option<(&'static str, String)>,
}

/// Plan a response with `status` and `fields` to a request described by `exchange`.
pub fn plan(status: u16, fields: &[(String, Vec<u8>)], exchange: Exchange) -> Result<FramedHead, FramingError> {
    let mut length: Option<u64> = None;
    let mut kept = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let lower = name.to_ascii_lowercase();
        if lower == "content-length" {
            let text = String::from_utf8_lossy(value);
            let n = text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|_| text.trim().bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| FramingError::BadLength(text.to_string()))?;
            if length.is_some_and(|l| l != n) {
                return Err(FramingError::BadLength(text.to_string()));
            }
            length = Some(n);
        } else if !HOP_BY_HOP.contains(&lower.as_str()) {
            kept.push((name.clone(), value.clone()));
        }
    }
    // 1xx, 204 and 304 have no body and say no framing (RFC 9110 8.6, 6.4.1).
    let bodiless = status < 200 || status == 204 || status == 304;
    let (delimit, framing_field) = match length {
        _ if bodiless => (Delimit::Length(0), None),
        Some(n) => (Delimit::Length(n), Some(("Content-Length", n.to_string()))),
        None if exchange.chunked_allowed => (Delimit::Chunked, Some(("Transfer-Encoding", "chunked".to_string()))),
        // A HEAD response with no length says nothing of one; its connection can stay.
        None if exchange.head_request => (Delimit::Length(0), None),
        None => (Delimit::Close, None),
    };
    Ok(FramedHead {
        fields: kept,
        delimit,
        framing_field,
    })
}

/// A body being sent: its pieces framed, its length kept to.
#[derive(Debug, Clone)]
pub struct BodyWriter {
    delimit: Delimit,
    /// Nothing goes on the wire (HEAD, 204, 304), though the length is still counted.
    silent: bool,
    sent: u64,
}

/// How a body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyEnd {
    /// The last bytes to write (the last chunk), possibly none.
    pub tail: &'static [u8],
    /// The client cannot tell where this response ends any more: close the connection.
    pub close: bool,
}

impl BodyWriter {
    /// The body of a response planned as `head`, to a request described by `exchange`.
    pub fn new(head: &FramedHead, status: u16, exchange: Exchange) -> Self {
        let bodiless = status < 200 || status == 204 || status == 304;
        BodyWriter {
            delimit: head.delimit,
            silent: exchange.head_request || bodiless,
            sent: 0,
        }
    }

    /// The bytes that carry `data`: chunked, or as they are. Past a Content-Length, the
    /// part that fits and an error.
    pub fn frame<'a>(&mut self, data: &'a [u8]) -> (Cow<'a, [u8]>, Result<(), FramingError>) {
        let (fits, result) = match self.delimit {
            Delimit::Length(length) if !self.silent => {
                let room = usize::try_from(length - self.sent).unwrap_or(usize::MAX);
                match data.len() > room {
                    true => (&data[..room], Err(FramingError::Overrun { length })),
                    false => (data, Ok(())),
                }
            }
            _ => (data, Ok(())),
        };
        self.sent += fits.len() as u64;
        let bytes = match (self.silent, self.delimit) {
            (true, _) => Cow::Borrowed(&[][..]),
            (false, Delimit::Chunked) => Cow::Owned(encode_chunk(fits)),
            (false, _) => Cow::Borrowed(fits),
        };
        (bytes, result)
    }

    /// The body is over; `whole` when its writer finished it (not cut by an error).
    pub fn end(&self, whole: bool) -> BodyEnd {
        let short = match self.delimit {
            Delimit::Length(length) => !self.silent && self.sent < length,
            _ => false,
        };
        match (self.delimit, self.silent) {
            (Delimit::Chunked, false) if whole => BodyEnd {
                tail: b"0\r\n\r\n",
                close: false,
            },
            (Delimit::Close, _) => BodyEnd { tail: b"", close: true },
            _ => BodyEnd {
                tail: b"",
                close: !whole || short,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET11: Exchange = Exchange {
        head_request: false,
        chunked_allowed: true,
    };
    const GET10: Exchange = Exchange {
        head_request: false,
        chunked_allowed: false,
    };
    const HEAD11: Exchange = Exchange {
        head_request: true,
        chunked_allowed: true,
    };

    fn fields(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_length_is_kept_and_hop_by_hop_fields_dropped() {
        let head = plan(
            200,
            &fields(&[
                ("content-type", "text/plain"),
                ("Connection", "x"),
                ("content-length", "5"),
            ]),
            GET11,
        )
        .unwrap();
        assert_eq!(head.fields, fields(&[("content-type", "text/plain")]));
        assert_eq!(head.delimit, Delimit::Length(5));
        assert_eq!(head.framing_field, Some(("Content-Length", "5".into())));
        let mut body = BodyWriter::new(&head, 200, GET11);
        let (bytes, ok) = body.frame(b"hel");
        assert_eq!((&*bytes, ok), (&b"hel"[..], Ok(())));
        let (bytes, err) = body.frame(b"lo!!");
        assert_eq!(&*bytes, b"lo");
        assert_eq!(err, Err(FramingError::Overrun { length: 5 }));
        assert_eq!(
            body.end(true),
            BodyEnd {
                tail: b"",
                close: false
            }
        );
    }

    #[test]
    fn no_length_is_chunked_on_http11_and_the_close_on_http10() {
        let head = plan(200, &[], GET11).unwrap();
        assert_eq!(head.delimit, Delimit::Chunked);
        let mut body = BodyWriter::new(&head, 200, GET11);
        assert_eq!(&*body.frame(b"abc").0, b"3\r\nabc\r\n");
        assert_eq!(&*body.frame(b"").0, b"");
        assert_eq!(
            body.end(true),
            BodyEnd {
                tail: b"0\r\n\r\n",
                close: false
            }
        );
        assert_eq!(body.end(false), BodyEnd { tail: b"", close: true });

        let head = plan(200, &[], GET10).unwrap();
        assert_eq!((head.delimit, &head.framing_field), (Delimit::Close, &None));
        assert!(BodyWriter::new(&head, 200, GET10).end(true).close);
    }

    #[test]
    fn bad_or_conflicting_lengths_are_refused() {
        assert!(plan(200, &fields(&[("Content-Length", "5, 5")]), GET11).is_err());
        assert!(plan(200, &fields(&[("Content-Length", "+5")]), GET11).is_err());
        assert!(plan(200, &fields(&[("Content-Length", "5"), ("content-length", "6")]), GET11).is_err());
        assert!(plan(200, &fields(&[("Content-Length", "5"), ("content-length", "5")]), GET11).is_ok());
    }

    #[test]
    fn head_204_and_304_write_no_body_and_a_short_body_closes() {
        let head = plan(200, &fields(&[("Content-Length", "5")]), HEAD11).unwrap();
        assert_eq!(head.framing_field, Some(("Content-Length", "5".into())));
        let mut body = BodyWriter::new(&head, 200, HEAD11);
        assert_eq!(&*body.frame(b"hello").0, b"");
        assert!(!body.end(true).close);
        let head = plan(304, &fields(&[("Content-Length", "5")]), GET11).unwrap();
        assert_eq!(head.framing_field, None);
        let head = plan(200, &fields(&[("Content-Length", "5")]), GET11).unwrap();
        let mut body = BodyWriter::new(&head, 200, GET11);
        assert!(body.frame(b"hel").1.is_ok());
        assert!(body.end(true).close, "3 of 5 bytes: the client must see the cut");
    }
}
