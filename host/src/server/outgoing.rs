//! A `wasi:http` app's own requests (`outgoing-handler.handle`), sent by the host through the
//! destination policy: the name resolved once by the policy, every address checked, the
//! `http.client.connect` and `http.client.send` audit events raised (the hook may veto
//! them), and a connection made only to an address the policy checked. https is verified
//! against Mozilla's roots, as httplib's client does.

use crate::policy::{OutboundPolicy, PolicyError, Scheme};
use crate::transport::tls::{self, ClientIdentities, TlsSettings};
use http_body_util::BodyExt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// How long a connection (and TLS handshake) may take when the app set no timeout (ours;
/// wasmtime's default is 600 s, curl's connect timeout 300 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the first byte of a response may take when the app set no timeout (ours; as
/// nginx's `proxy_read_timeout`, 60 s).
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);

/// The wasi:http hooks of a proxy app's store: its requests go where `policy` grants.
pub struct PolicyHooks {
    policy: OutboundPolicy,
}

impl PolicyHooks {
    /// Hooks sending through `policy`.
    pub fn new(policy: OutboundPolicy) -> Self {
        Self { policy }
    }
}

/// The response future `send_request` returns.
type Sent = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = Result<(), Error>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for PolicyHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sent {
        let policy = self.policy.clone();
        Box::new(async move {
            let (response, io) = send(policy, request, options).await?;
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// The policy's refusal as wasi:http's error code.
fn refused(e: PolicyError) -> Error {
    match e {
        PolicyError::Denied(why) => {
            tracing::info!("a wasi:http request was refused: {why}");
            Error::HttpRequestDenied
        }
        PolicyError::Unresolvable(why) => Error::DnsError {
            rcode: Some(why),
            info_code: None,
        },
    }
}

/// Send `request` where the policy grants, as wasmtime's `default_send_request` does otherwise.
async fn send(
    policy: OutboundPolicy,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(http::Response<WasiBody>, impl Future<Output = Result<(), Error>> + Send), Error> {
    let uri = request.uri().clone();
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let scheme = if https { Scheme::Https } else { Scheme::Http };
    let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let event = [
        request.method().to_string(),
        target.clone(),
        host.clone(),
        port.to_string(),
    ];
    policy.audit("http.client.send", &event).map_err(refused)?;
    let lookup = (policy.clone(), host.clone());
    let destinations = tokio::task::spawn_blocking(move || lookup.0.destinations(&lookup.1, port, scheme))
        .await
        .map_err(|e| Error::InternalError(Some(e.to_string())))?
        .map_err(refused)?;

    let connect_timeout = options.and_then(|o| o.connect_timeout).unwrap_or(CONNECT_TIMEOUT);
    let first_byte_timeout = options.and_then(|o| o.first_byte_timeout).unwrap_or(FIRST_BYTE_TIMEOUT);
    let tcp = connect(&policy, &host, port, https, &destinations, connect_timeout).await?;
    let stream: Box<dyn Io> = match https {
        false => Box::new(tcp),
        true => {
            let settings = TlsSettings {
                verify: true,
                ..TlsSettings::default()
            };
            let config = tls::client_config(&settings, &ClientIdentities::default())
                .map_err(|e| Error::InternalError(Some(e.to_string())))?;
            let name = tls::server_name(&host, &settings).map_err(|_| Error::HttpRequestUriInvalid)?;
            let handshake = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
            match tokio::time::timeout(connect_timeout, handshake).await {
                Ok(Ok(s)) => Box::new(s),
                Ok(Err(e)) => return Err(Error::Tls(e)),
                Err(_) => return Err(Error::ConnectionTimeout),
            }
        }
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Error::from)?;
    // The request line carries the origin form; the authority goes in Host (set by wasi:http).
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(target.as_str())
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    let mut conn = Box::pin(conn);
    let sending = sender.send_request(request);
    let mut sending = std::pin::pin!(sending);
    // The connection is driven while the response is awaited, then by the returned future.
    let response = tokio::time::timeout(first_byte_timeout, async {
        tokio::select! {
            r = &mut sending => r.map_err(Error::from),
            c = &mut conn => {
                c.map_err(Error::from)?;
                sending.await.map_err(Error::from)
            }
        }
    })
    .await
    .map_err(|_| Error::ConnectionReadTimeout)??;
    let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
    Ok((response, async move { conn.await.map_err(Error::from) }))
}

/// A stream hyper can speak over: plain TCP or TLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// A connection to the first of `destinations` (each checked by the policy) that answers,
/// each attempt audited as `http.client.connect`.
async fn connect(
    policy: &OutboundPolicy,
    host: &str,
    port: u16,
    https: bool,
    destinations: &[SocketAddr],
    timeout: Duration,
) -> Result<tokio::net::TcpStream, Error> {
    let mut last = Error::ConnectionRefused;
    for addr in destinations {
        let tls = if https { "tls" } else { "plain" };
        let event = [
            host.to_string(),
            port.to_string(),
            addr.ip().to_string(),
            tls.to_string(),
        ];
        policy.audit("http.client.connect", &event).map_err(refused)?;
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = Error::Connect(e),
            Err(_) => last = Error::ConnectionTimeout,
        }
    }
    Err(last)
}
