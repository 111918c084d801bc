//! Content codings (RFC 9110 8.4.1): a body's `Content-Encoding` (gzip, deflate, br) undone,
//! as curl `--compressed` and urllib3's `decode_content` do; http.client itself never does.
//!
//! Sans-IO and bounded: compressed bytes are pushed in, decoded bytes pulled out at most
//! `max` at a time, so a small body that inflates to gigabytes (a "zip bomb") costs the
//! caller only as much memory as it asks for.

use super::ProtoError;
use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// The longest gzip header kept while it arrives (its optional name and comment fields are
/// unbounded in RFC 1952; ours).
pub const MAX_GZIP_HEADER: usize = 64 * 1024;

/// A decoder for one body.
pub struct ContentDecoder {
    coding: Coding,
    /// Input pushed and not yet consumed, from `start`.
    pending: Vec<u8>,
    start: usize,
    /// Whether any input ever arrived (an empty body is a valid one in every coding).
    seen_input: bool,
}

enum Coding {
    Identity,
    Gzip(Gzip),
    Deflate(Deflate),
    Brotli(Box<brotli_decompressor::BrotliState<Alloc, Alloc, Alloc>>),
}

type Alloc = brotli_decompressor::StandardAlloc;

enum Gzip {
    /// Header bytes gathered so far.
    Header(Vec<u8>),
    Body {
        inflate: Box<InflateState>,
        crc: crc32fast::Hasher,
        size: u32,
    },
    /// CRC32 and ISIZE: the trailer bytes gathered so far, and what they must say.
    Trailer { got: Vec<u8>, crc: u32, size: u32 },
    /// A member ended; another may follow (RFC 1952 2.2), anything else is ignored.
    Done,
}

enum Deflate {
    /// Waiting for two bytes to tell zlib-wrapped data (RFC 1950, what the RFC means) from a
    /// raw deflate stream (what some servers send; curl and browsers take both).
    Detect,
    Body(Box<InflateState>),
    Done,
}

/// What one decoding step did.
struct Step {
    consumed: usize,
    produced: usize,
}

impl ContentDecoder {
    /// A decoder for a `Content-Encoding` field value (none or empty: identity). `x-gzip` is
    /// gzip (RFC 9110 8.4.1.3). A list of codings, or one this module does not know, is an
    /// error naming it.
    pub fn new(content_encoding: Option<&str>) -> Result<Self, ProtoError> {
        let codings: Vec<String> = content_encoding
            .unwrap_or("")
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty() && c != "identity")
            .collect();
        let coding = match codings.as_slice() {
            [] => Coding::Identity,
            [one] => match one.as_str() {
                "gzip" | "x-gzip" => Coding::Gzip(Gzip::Header(Vec::new())),
                "deflate" => Coding::Deflate(Deflate::Detect),
                "br" => Coding::Brotli(Box::new(brotli_decompressor::BrotliState::new(
                    Alloc::default(),
                    Alloc::default(),
                    Alloc::default(),
                ))),
                other => return Err(bad(format!("unsupported content coding {other:?}"))),
            },
            _ => {
                return Err(bad(format!(
                    "unsupported content codings {:?} (one coding at a time)",
                    codings.join(", ")
                )));
            }
        };
        Ok(Self {
            coding,
            pending: Vec::new(),
            start: 0,
            seen_input: false,
        })
    }

    /// Hand over body bytes as they arrive.
    pub fn push(&mut self, input: &[u8]) {
        if input.is_empty() {
            return;
        }
        self.seen_input = true;
        if self.start == self.pending.len() {
            self.pending.clear();
            self.start = 0;
        }
        self.pending.extend_from_slice(input);
    }

    /// Up to `max` decoded bytes; empty when more input is needed (or the stream is done).
    pub fn pull(&mut self, max: usize) -> Result<Vec<u8>, ProtoError> {
        let mut out = vec![0u8; max.min(self.pending.len().saturating_mul(4).max(64 * 1024))];
        let mut written = 0;
        // Until the room is used or nothing moves: a decoder may hold output back after all
        // input is consumed, so it is called with empty input too.
        while written < out.len() {
            let input = &self.pending[self.start..];
            let step = match &mut self.coding {
                Coding::Identity => {
                    let n = input.len().min(out.len() - written);
                    out[written..written + n].copy_from_slice(&input[..n]);
                    Step {
                        consumed: n,
                        produced: n,
                    }
                }
                Coding::Gzip(g) => gzip_step(g, input, &mut out[written..])?,
                Coding::Deflate(d) => deflate_step(d, input, &mut out[written..])?,
                Coding::Brotli(state) => brotli_step(state, input, &mut out[written..])?,
            };
            self.start += step.consumed;
            written += step.produced;
            if step.consumed == 0 && step.produced == 0 {
                break;
            }
        }
        out.truncate(written);
        Ok(out)
    }

    /// The body ended: an error when the coded stream did not (a cut-short body).
    pub fn finish(&self) -> Result<(), ProtoError> {
        if !self.seen_input {
            return Ok(());
        }
        let complete = match &self.coding {
            Coding::Identity => true,
            Coding::Gzip(g) => matches!(g, Gzip::Done),
            Coding::Deflate(d) => matches!(d, Deflate::Done),
            Coding::Brotli(state) => brotli_decompressor::BrotliDecoderIsFinished(state),
        };
        match complete {
            true => Ok(()),
            false => Err(bad("the compressed body ended before its end of stream".into())),
        }
    }
}

fn bad(message: String) -> ProtoError {
    ProtoError::BadContentEncoding(message)
}

/// The header's length once all of it is in `buf`; none while more is needed.
fn gzip_header_len(buf: &[u8]) -> Result<Option<usize>, ProtoError> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    if buf.len() >= 3 && (buf[0] != 0x1f || buf[1] != 0x8b || buf[2] != 8) {
        return Err(bad("not gzip data (bad magic number)".into()));
    }
    if buf.len() < 10 {
        return Ok(None);
    }
    let flags = buf[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let Some(len) = buf.get(at..at + 2) else {
            return Ok(None);
        };
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            match buf.get(at..).and_then(|rest| rest.iter().position(|&b| b == 0)) {
                Some(nul) => at += nul + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    Ok((buf.len() >= at).then_some(at))
}

fn gzip_step(g: &mut Gzip, input: &[u8], out: &mut [u8]) -> Result<Step, ProtoError> {
    match g {
        Gzip::Header(buf) => {
            let before = buf.len();
            let take = input.len().min(MAX_GZIP_HEADER + 1 - before);
            buf.extend_from_slice(&input[..take]);
            match gzip_header_len(buf)? {
                Some(len) => {
                    *g = Gzip::Body {
                        inflate: InflateState::new_boxed(DataFormat::Raw),
                        crc: crc32fast::Hasher::new(),
                        size: 0,
                    };
                    Ok(Step {
                        consumed: len - before,
                        produced: 0,
                    })
                }
                None if buf.len() > MAX_GZIP_HEADER => Err(bad("gzip header too long".into())),
                None => Ok(Step {
                    consumed: take,
                    produced: 0,
                }),
            }
        }
        Gzip::Body {
            inflate: state,
            crc,
            size,
        } => {
            let (step, ended) = inflate_step(state, input, out)?;
            crc.update(&out[..step.produced]);
            *size = size.wrapping_add(step.produced as u32);
            if ended {
                *g = Gzip::Trailer {
                    got: Vec::with_capacity(8),
                    crc: crc.clone().finalize(),
                    size: *size,
                };
            }
            Ok(step)
        }
        Gzip::Trailer { got, crc, size } => {
            let take = input.len().min(8 - got.len());
            got.extend_from_slice(&input[..take]);
            if got.len() == 8 {
                let want_crc = u32::from_le_bytes([got[0], got[1], got[2], got[3]]);
                let want_size = u32::from_le_bytes([got[4], got[5], got[6], got[7]]);
                if want_crc != *crc {
                    return Err(bad("gzip data is corrupt (CRC32 mismatch)".into()));
                }
                if want_size != *size {
                    return Err(bad("gzip data is corrupt (length mismatch)".into()));
                }
                *g = Gzip::Done;
            }
            Ok(Step {
                consumed: take,
                produced: 0,
            })
        }
        Gzip::Done if input.is_empty() => Ok(Step {
            consumed: 0,
            produced: 0,
        }),
        Gzip::Done => {
            if input[0] == 0x1f {
                *g = Gzip::Header(Vec::new());
                return gzip_step(g, input, out);
            }
            // Trailing bytes after the last member are ignored, as gzip(1) and browsers do.
            Ok(Step {
                consumed: input.len(),
                produced: 0,
            })
        }
    }
}

fn deflate_step(d: &mut Deflate, input: &[u8], out: &mut [u8]) -> Result<Step, ProtoError> {
    match d {
        Deflate::Detect => {
            if input.len() < 2 {
                return Ok(Step {
                    consumed: 0,
                    produced: 0,
                });
            }
            let (cmf, flg) = (input[0], input[1]);
            let zlib = cmf & 0x0f == 8 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0;
            let format = if zlib { DataFormat::Zlib } else { DataFormat::Raw };
            *d = Deflate::Body(InflateState::new_boxed(format));
            deflate_step(d, input, out)
        }
        Deflate::Body(state) => {
            let (step, ended) = inflate_step(state, input, out)?;
            if ended {
                *d = Deflate::Done;
            }
            Ok(step)
        }
        Deflate::Done => Ok(Step {
            consumed: input.len(),
            produced: 0,
        }),
    }
}

/// One call of miniz_oxide's inflate; whether the deflate stream ended.
fn inflate_step(state: &mut InflateState, input: &[u8], out: &mut [u8]) -> Result<(Step, bool), ProtoError> {
    let r = inflate(state, input, out, MZFlush::None);
    let step = Step {
        consumed: r.bytes_consumed,
        produced: r.bytes_written,
    };
    match r.status {
        Ok(MZStatus::StreamEnd) => Ok((step, true)),
        Ok(_) => Ok((step, false)),
        // No progress possible with what is here: more input (or more room) is needed.
        Err(MZError::Buf) => Ok((step, false)),
        Err(e) => Err(bad(format!("deflate data is corrupt ({e:?})").to_lowercase())),
    }
}

fn brotli_step(
    state: &mut brotli_decompressor::BrotliState<Alloc, Alloc, Alloc>,
    input: &[u8],
    out: &mut [u8],
) -> Result<Step, ProtoError> {
    use brotli_decompressor::BrotliResult;
    let (mut available_in, mut input_offset) = (input.len(), 0);
    let (mut available_out, mut output_offset, mut total_out) = (out.len(), 0, 0);
    let result = brotli_decompressor::BrotliDecompressStream(
        &mut available_in,
        &mut input_offset,
        input,
        &mut available_out,
        &mut output_offset,
        out,
        &mut total_out,
        state,
    );
    match result {
        BrotliResult::ResultFailure => Err(bad("brotli data is corrupt".into())),
        BrotliResult::ResultSuccess => Ok(Step {
            // Bytes after the end of the stream are ignored.
            consumed: input.len(),
            produced: output_offset,
        }),
        BrotliResult::NeedsMoreInput | BrotliResult::NeedsMoreOutput => Ok(Step {
            consumed: input_offset,
            produced: output_offset,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] = b"hello, world\n";

    /// RFC 1952: a header (with FNAME and FCOMMENT when `fields`), raw deflate, CRC32, ISIZE.
    fn gzip(data: &[u8], fields: bool) -> Vec<u8> {
        let mut v = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        if fields {
            v[3] = 0x08 | 0x10;
            v.extend_from_slice(b"hello.txt\0a comment\0");
        }
        v.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 6));
        v.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v
    }

    fn brotli(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let params = brotli::enc::BrotliEncoderParams::default();
        brotli::BrotliCompress(&mut &data[..], &mut out, &params).unwrap();
        out
    }

    /// Feed `coded` in pieces of `split` bytes, pulling at most `max` at a time.
    fn decode(coding: &str, coded: &[u8], split: usize, max: usize) -> Result<Vec<u8>, ProtoError> {
        let mut d = ContentDecoder::new(Some(coding))?;
        let mut out = Vec::new();
        for piece in coded.chunks(split.max(1)) {
            d.push(piece);
            loop {
                let got = d.pull(max)?;
                assert!(got.len() <= max);
                if got.is_empty() {
                    break;
                }
                out.extend_from_slice(&got);
            }
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn every_coding_at_every_split_and_pull_size() {
        let twice = [TEXT, TEXT].concat();
        let cases: Vec<(&str, Vec<u8>, &[u8])> = vec![
            ("gzip", gzip(TEXT, false), TEXT),
            ("x-gzip", gzip(TEXT, true), TEXT),
            ("deflate", miniz_oxide::deflate::compress_to_vec_zlib(TEXT, 6), TEXT),
            ("deflate", miniz_oxide::deflate::compress_to_vec(TEXT, 6), TEXT),
            ("br", brotli(TEXT), TEXT),
            ("identity", TEXT.to_vec(), TEXT),
            // Two gzip members are one body (RFC 1952 2.2).
            ("GZip", [gzip(TEXT, false), gzip(TEXT, true)].concat(), &twice),
        ];
        for (coding, coded, want) in &cases {
            for split in 1..=coded.len() {
                for max in [1, 3, 1024] {
                    assert_eq!(
                        decode(coding, coded, split, max).unwrap(),
                        *want,
                        "{coding} split {split} max {max}"
                    );
                }
            }
        }
    }

    #[test]
    fn corrupt_cut_and_unknown_are_errors() {
        let good = gzip(TEXT, false);
        let mut bad_crc = good.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        assert!(decode("gzip", &bad_crc, 100, 100).is_err());
        assert!(decode("gzip", &good[..n - 3], 100, 100).is_err(), "cut trailer");
        assert!(decode("gzip", b"plain text", 100, 100).is_err());
        let br = brotli(TEXT);
        assert!(decode("br", &br[..br.len() - 2], 100, 100).is_err());
        let zlib = miniz_oxide::deflate::compress_to_vec_zlib(TEXT, 6);
        assert!(decode("deflate", &zlib[..6], 100, 100).is_err());
        assert!(ContentDecoder::new(Some("zstd")).is_err());
        assert!(ContentDecoder::new(Some("gzip, br")).is_err());
        // An empty body is fine in any coding (a HEAD, a 204).
        assert!(ContentDecoder::new(Some("gzip")).unwrap().finish().is_ok());
    }

    #[test]
    fn a_bomb_costs_only_what_is_pulled() {
        // 16 MiB of zeros deflates to about 16 KiB; each pull hands out at most what was asked.
        let zeros = vec![0u8; 16 << 20];
        let coded = miniz_oxide::deflate::compress_to_vec_zlib(&zeros, 9);
        assert!(coded.len() < 64 * 1024);
        let mut d = ContentDecoder::new(Some("deflate")).unwrap();
        d.push(&coded);
        let mut total = 0;
        loop {
            let got = d.pull(8192).unwrap();
            assert!(got.len() <= 8192);
            if got.is_empty() {
                break;
            }
            total += got.len();
        }
        assert_eq!(total, 16 << 20);
        d.finish().unwrap();
    }
}
