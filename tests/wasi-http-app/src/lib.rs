//! A wasi:http proxy: `GET /hello` says hello; `POST /echo` streams the request body back
//! with its Content-Type; `GET /fetch?url=U` fetches U through `outgoing-handler` (502 with
//! the error code when it fails); `GET /trap` traps; `GET /big?n=N` streams N bytes
//! unannounced (no Content-Length); anything else is 404.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse, ResponseOutparam,
    Scheme,
};

struct App;
wasip2::http::proxy::export!(App);

/// Send `status` with `fields` and `body` (Content-Length set), all at once.
fn answer(out: ResponseOutparam, status: u16, fields: &[(&str, &[u8])], body: &[u8]) {
    let headers = Fields::new();
    for (name, value) in fields {
        headers.append(name, value).unwrap();
    }
    headers.append("content-length", body.len().to_string().as_bytes()).unwrap();
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).unwrap();
    let outgoing = response.body().unwrap();
    ResponseOutparam::set(out, Ok(response));
    let stream = outgoing.write().unwrap();
    for piece in body.chunks(4096) {
        stream.blocking_write_and_flush(piece).unwrap();
    }
    drop(stream);
    OutgoingBody::finish(outgoing, None).unwrap();
}

fn query<'a>(path: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = path.split_once('?')?;
    query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

impl wasip2::exports::http::incoming_handler::Guest for App {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let route = path.split('?').next().unwrap_or("").to_string();
        match (request.method(), route.as_str()) {
            (Method::Get | Method::Head, "/hello") => {
                answer(out, 200, &[("content-type", b"text/plain")], b"hello from wasi:http\n")
            }
            (Method::Post, "/echo") => echo(request, out),
            (Method::Get, "/fetch") => fetch(query(&path, "url").unwrap_or(""), out),
            (Method::Get, "/trap") => panic!("asked to trap"),
            (Method::Get, "/big") => {
                let n: usize = query(&path, "n").and_then(|n| n.parse().ok()).unwrap_or(0);
                let response = OutgoingResponse::new(Fields::new());
                let outgoing = response.body().unwrap();
                ResponseOutparam::set(out, Ok(response));
                let stream = outgoing.write().unwrap();
                // blocking-write-and-flush takes at most 4096 bytes at a time.
                let piece = vec![b'x'; 4096];
                let mut left = n;
                while left > 0 {
                    let take = left.min(piece.len());
                    stream.blocking_write_and_flush(&piece[..take]).unwrap();
                    left -= take;
                }
                drop(stream);
                OutgoingBody::finish(outgoing, None).unwrap();
            }
            _ => answer(out, 404, &[("content-type", b"text/plain")], b"not found\n"),
        }
    }
}

/// The request body back as it arrives, chunked (no Content-Length), with its Content-Type.
fn echo(request: IncomingRequest, out: ResponseOutparam) {
    let headers = Fields::new();
    for value in request.headers().get("content-type") {
        headers.append("content-type", &value).unwrap();
    }
    let response = OutgoingResponse::new(headers);
    let outgoing = response.body().unwrap();
    ResponseOutparam::set(out, Ok(response));
    let incoming = request.consume().unwrap();
    let input = incoming.stream().unwrap();
    let output = outgoing.write().unwrap();
    loop {
        match input.blocking_read(65536) {
            Ok(piece) if piece.is_empty() => continue,
            Ok(piece) => {
                for part in piece.chunks(4096) {
                    output.blocking_write_and_flush(part).unwrap();
                }
            }
            Err(_) => break,
        }
    }
    drop(input);
    IncomingBody::finish(incoming);
    drop(output);
    OutgoingBody::finish(outgoing, None).unwrap();
}

/// GET `url` through outgoing-handler: its status and body, or 502 with the error code.
fn fetch(url: &str, out: ResponseOutparam) {
    let result = (|| {
        let (scheme, rest) = url.split_once("://").ok_or("no scheme".to_string())?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let request = OutgoingRequest::new(Fields::new());
        request
            .set_scheme(Some(&match scheme {
                "https" => Scheme::Https,
                _ => Scheme::Http,
            }))
            .map_err(|_| "scheme")?;
        request.set_authority(Some(authority)).map_err(|_| "authority")?;
        request.set_path_with_query(Some(path)).map_err(|_| "path")?;
        let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
        pending.subscribe().block();
        let response = pending
            .get()
            .ok_or("no response")?
            .map_err(|_| "taken")?
            .map_err(|e| format!("{e:?}"))?;
        let status = response.status();
        let body = response.consume().map_err(|_| "body")?;
        let stream = body.stream().map_err(|_| "stream")?;
        let mut data = Vec::new();
        loop {
            match stream.blocking_read(65536) {
                Ok(piece) => data.extend_from_slice(&piece),
                Err(_) => break,
            }
        }
        Ok::<_, String>((status, data))
    })();
    match result {
        Ok((status, data)) => answer(out, status, &[], &data),
        Err(e) => answer(out, 502, &[("content-type", b"text/plain")], format!("{e}\n").as_bytes()),
    }
}
