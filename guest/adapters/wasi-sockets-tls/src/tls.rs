//! https over the runtime's `wasi:tls`: the handshake on a connected wasi:sockets stream,
//! refused up front where the guest asks what wasi:tls cannot do (its draft has no options:
//! no roots of ours, no client certificate, no way to skip verification, no ALPN).

use crate::bindings::exports::httplib::http::transport::{ConnectOptions, ErrorCode};
use crate::bindings::wasi::tls::types::ClientHandshake;
use crate::shared::{runtime_tls_refusal, wait};
use crate::stream::{self, Session, Stream};

/// A TCP connection, with the runtime's TLS over it when asked for.
pub fn connect(host: &str, port: u16, options: ConnectOptions) -> Result<Stream, ErrorCode> {
    if let Some(why) = options.tls.as_ref().and_then(|t| runtime_tls_refusal(t, "wasi:tls")) {
        return Err(ErrorCode::Tls(why));
    }
    let plain = stream::connect(host, port, &options)?;
    let Some(tls) = &options.tls else {
        return Ok(plain);
    };
    let server_name = tls.server_name.clone().unwrap_or_else(|| host.to_owned());
    let timeout = options
        .connect_timeout_ms
        .or(options.timeout_ms)
        .or(Some(crate::shared::DEFAULT_IO_TIMEOUT_MS));
    plain.with_tls(|input, output| {
        let future = ClientHandshake::finish(ClientHandshake::new(&server_name, input, output));
        if !wait(&future.subscribe(), timeout) {
            return Err(ErrorCode::Timeout);
        }
        match future.get() {
            Some(Ok(Ok((connection, input, output)))) => Ok((Box::new(connection) as Session, input, output)),
            Some(Ok(Err(e))) => {
                // Its first line: wasmtime appends a backtrace of its own to the debug string.
                let why = e.to_debug_string();
                Err(handshake_error(why.lines().next().unwrap_or("").trim()))
            }
            Some(Err(())) | None => Err(ErrorCode::Tls("the runtime lost the TLS handshake".into())),
        }
    })
}

/// The runtime's handshake failure, as the transport's error: a certificate it would not
/// trust is `certificate` (Python's SSLCertVerificationError), anything else `tls`.
fn handshake_error(why: &str) -> ErrorCode {
    let lower = why.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("not valid for name") {
        ErrorCode::Certificate(format!(
            "certificate verify failed (by the runtime's wasi:tls, against its own roots): {why}"
        ))
    } else {
        ErrorCode::Tls(format!("the runtime's TLS handshake failed: {why}"))
    }
}
