//! Every request gets 200 with the 1 KiB body bench/run also serves from a file
//! (`BODY`: byte i is i * 7 + 3 modulo 256), as application/octet-stream with its
//! Content-Length: the same response bytes as `httplib serve` and nginx give for /1k.bin.

use wasip2::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

/// The body's length: bench/run's 1 KiB file.
const LEN: usize = 1024;

struct Hello;
wasip2::http::proxy::export!(Hello);

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let body: Vec<u8> = (0..LEN).map(|i| (i * 7 + 3) as u8).collect();
        let headers = Fields::new();
        headers.append("content-type", b"application/octet-stream").unwrap();
        headers.append("content-length", LEN.to_string().as_bytes()).unwrap();
        let response = OutgoingResponse::new(headers);
        let outgoing = response.body().unwrap();
        ResponseOutparam::set(out, Ok(response));
        let stream = outgoing.write().unwrap();
        stream.blocking_write_and_flush(&body).unwrap();
        drop(stream);
        OutgoingBody::finish(outgoing, None).unwrap();
    }
}
