//! `httplib get` and `httplib request`: curl-like fetching through the guest's HTTPConnection.
//! Bodies stream to stdout or `-o FILE`; URLs to the same host and port share one connection.

use crate::bindings::client::{Body, ConnectionOptions, UrlParts};
use crate::bindings::transport::TlsOptions;
use crate::client::{ClientError, ClientSession, Connection, DebugOutput, Response};
use crate::policy::OutboundPolicy;
use crate::runtime::Runtime;
use crate::transport::tls::{ClientIdentities, Identity};
use clap::Args;
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// How much body one `read1` may hand over (bigger than blocksize: fewer guest calls).
const READ_CHUNK: u64 = 256 * 1024;
/// What `--compressed` asks for: the codings the guest decodes (`read-decoded`); curl 7.88
/// asks for "deflate, gzip, br, zstd" where built with them.
const ACCEPT_ENCODING: &str = "deflate, gzip, br";
/// Size of each part of a file body streamed to the server.
const SEND_CHUNK: usize = 256 * 1024;
/// The exit codes, as `--help` lists them.
pub const EXIT_CODES_HELP: &str = "Exit codes (curl's, where curl has one for the failure):
   0  an HTTP response arrived (any status, unless --fail)
   1  any other failure
   2  a usage error
   3  a malformed URL
   6  the host name did not resolve
   7  the connection was refused (or denied by policy)
   8  the reply was not HTTP
  18  the body was cut short
  22  --fail, and a status of 400 or more
  23  the body could not be written
  28  timed out
  35  the TLS handshake failed
  47  more redirects than --max-redirs (with -L)
  52  the server closed without answering
  56  the connection was reset
  60  the server's certificate failed verification
  61  --compressed, and the body could not be decoded";

/// curl's exit codes, where one names the failure (`man curl`, EXIT CODES); 1 for the rest,
/// 2 for a usage error.
mod exit {
    pub const URL_MALFORMAT: u8 = 3;
    pub const COULDNT_RESOLVE_HOST: u8 = 6;
    pub const COULDNT_CONNECT: u8 = 7;
    pub const WEIRD_SERVER_REPLY: u8 = 8;
    pub const PARTIAL_FILE: u8 = 18;
    pub const HTTP_RETURNED_ERROR: u8 = 22;
    pub const WRITE_ERROR: u8 = 23;
    pub const OPERATION_TIMEDOUT: u8 = 28;
    pub const SSL_CONNECT_ERROR: u8 = 35;
    pub const BAD_CONTENT_ENCODING: u8 = 61;
    pub const TOO_MANY_REDIRECTS: u8 = 47;
    pub const GOT_NOTHING: u8 = 52;
    pub const RECV_ERROR: u8 = 56;
    pub const PEER_FAILED_VERIFICATION: u8 = 60;
}
/// Redirects `-L` follows before giving up (curl's `--max-redirs` default; urllib stops at 10).
pub const DEFAULT_MAX_REDIRS: u32 = 50;
/// The name under which `--cert` is registered with the host.
const CLIENT_IDENTITY: &str = "cli";

/// The options `get` and `request` share.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Extra request header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Write the body to FILE instead of stdout ("-" is stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the status line and headers before the body.
    #[arg(short = 'i', long = "include")]
    pub include: bool,
    /// Exit 22, without the body, when the status is 400 or more.
    #[arg(short = 'f', long = "fail")]
    pub fail: bool,
    /// Seconds before connecting or reading gives up.
    #[arg(long = "timeout", value_name = "SECS")]
    pub timeout: Option<f64>,
    /// set_debuglevel(1): print http.client's send:, reply: and header: lines (to stderr, as curl's -v).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Trust the CA certificates in this PEM file too (https).
    #[arg(long = "cacert", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Verify against the system's trust store instead of the bundled Mozilla roots (https).
    #[arg(long = "system-roots")]
    pub system_roots: bool,
    /// Skip certificate and host name verification (https).
    #[arg(short = 'k', long = "insecure")]
    pub insecure: bool,
    /// Present this client certificate chain (PEM; may hold the key too).
    #[arg(long = "cert", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) for --cert.
    #[arg(long = "key", value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Basic authentication as "user:password" for every URL (a URL's own user:password@ is
    /// used for that URL otherwise).
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD")]
    pub user: Option<String>,
    /// HEAD: show the status line and headers only (as curl -I).
    #[arg(short = 'I', long = "head")]
    pub head: bool,
    /// Send this User-Agent.
    #[arg(short = 'A', long = "user-agent", value_name = "NAME")]
    pub user_agent: Option<String>,
    /// Print no error messages (curl -s); -S prints them again.
    #[arg(short = 's', long = "silent")]
    pub silent: bool,
    /// With -s, still print error messages.
    #[arg(short = 'S', long = "show-error")]
    pub show_error: bool,
    /// Write the body to a file named after the URL's last path segment (curl -O).
    #[arg(short = 'O', long = "remote-name", conflicts_with = "output")]
    pub remote_name: bool,
    /// After each transfer print FORMAT, with %{http_code}, %{size_download} (bytes written:
    /// decoded ones with --compressed), %{time_total} and %{url_effective} filled in and \n,
    /// \t as newline and tab (curl -w).
    #[arg(short = 'w', long = "write-out", value_name = "FORMAT")]
    pub write_out: Option<String>,
    /// Follow redirects (301, 302, 303, 307, 308): the Location resolved against the URL,
    /// POST made GET after 301/302/303 as curl does, credentials kept to the first origin.
    #[arg(short = 'L', long = "location")]
    pub location: bool,
    /// With -L, the most redirects to follow (-1: no limit).
    #[arg(long = "max-redirs", value_name = "NUM", default_value_t = DEFAULT_MAX_REDIRS as i64, allow_negative_numbers = true)]
    pub max_redirs: i64,
    /// Ask for a compressed body (Accept-Encoding: deflate, gzip, br) and write it decoded.
    #[arg(long = "compressed")]
    pub compressed: bool,
    /// Go through this HTTP proxy (http://host:port): absolute-form targets for http://, CONNECT for https://.
    #[arg(short = 'x', long = "proxy", value_name = "URL")]
    pub proxy: Option<String>,
    /// The http:// URLs.
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,
}

/// `httplib request`: the shared options plus a method and a body.
#[derive(Args, Debug)]
pub struct RequestArgs {
    /// The request method (default GET, or POST with a body).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,
    /// Body as text, @FILE or @- for stdin (newlines of a file dropped, as curl does), sent as
    /// a form; repeated, the parts are joined with "&".
    #[arg(short = 'd', long = "data", value_name = "DATA", conflicts_with = "data_binary")]
    pub data: Vec<String>,
    /// Body as bytes, @FILE, or @- for stdin, sent as it is.
    #[arg(long = "data-binary", value_name = "DATA")]
    pub data_binary: Option<String>,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// What to send.
enum Payload {
    None,
    Bytes(Vec<u8>),
    File(PathBuf),
}

pub fn get(args: FetchArgs) -> ExitCode {
    let method = if args.head { "HEAD" } else { "GET" };
    run(method, Payload::None, None, args)
}

/// `@-` (stdin) or `@FILE`: the bytes; anything else is the text itself.
fn data_arg(arg: &str) -> Result<Vec<u8>, String> {
    match arg.strip_prefix('@') {
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("stdin: {e}"))?;
            Ok(bytes)
        }
        Some(path) => std::fs::read(path).map_err(|e| format!("{path}: {e}")),
        None => Ok(arg.as_bytes().to_vec()),
    }
}

pub fn request(args: RequestArgs) -> ExitCode {
    let (payload, form) = if !args.data.is_empty() {
        let mut parts = Vec::new();
        for d in &args.data {
            match data_arg(d) {
                Ok(mut bytes) => {
                    if d.starts_with('@') {
                        bytes.retain(|&b| b != b'\r' && b != b'\n');
                    }
                    parts.push(bytes);
                }
                Err(e) => return usage_error(&e),
            }
        }
        (Payload::Bytes(parts.join(&b'&')), true)
    } else {
        match args.data_binary.as_deref() {
            Some(d) if d.starts_with('@') && d != "@-" => (Payload::File(PathBuf::from(&d[1..])), false),
            Some(d) => match data_arg(d) {
                Ok(bytes) => (Payload::Bytes(bytes), false),
                Err(e) => return usage_error(&e),
            },
            None => (Payload::None, false),
        }
    };
    let method = args.method.unwrap_or_else(|| {
        match (&payload, args.fetch.head) {
            (Payload::None, true) => "HEAD",
            (Payload::None, false) => "GET",
            _ => "POST",
        }
        .into()
    });
    let content_type = form.then_some("application/x-www-form-urlencoded");
    run(&method, payload, content_type, args.fetch)
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("httplib: {message}");
    ExitCode::from(2)
}

fn run(method: &str, payload: Payload, content_type: Option<&str>, args: FetchArgs) -> ExitCode {
    let mut headers = Vec::new();
    // curl's rules: "Name: value" adds, "Name:" removes a header we would add, "Name;" sends it empty.
    let mut removed = Vec::new();
    for h in &args.headers {
        match h.split_once(':') {
            Some((name, value)) if value.trim().is_empty() => removed.push(name.trim().to_ascii_lowercase()),
            Some((name, value)) => headers.push((name.trim().to_string(), value.trim().as_bytes().to_vec())),
            None => match h.strip_suffix(';') {
                Some(name) => headers.push((name.trim().to_string(), Vec::new())),
                None => return usage_error(&format!("bad header {h:?}: use 'Name: value'")),
            },
        }
    }
    let user_agent = args
        .user_agent
        .clone()
        .unwrap_or_else(|| format!("httplib/{}", env!("CARGO_PKG_VERSION")));
    let defaults = [
        ("Content-Type", content_type.map(str::to_string)),
        ("User-Agent", Some(user_agent)),
        ("Accept", Some("*/*".to_string())),
        ("Accept-Encoding", args.compressed.then(|| ACCEPT_ENCODING.to_string())),
    ];
    for (name, value) in defaults {
        let Some(value) = value else { continue };
        let given = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if !given && !removed.contains(&name.to_ascii_lowercase()) {
            headers.push((name.into(), value.into_bytes()));
        }
    }
    let output = match (&args.output, args.remote_name) {
        (Some(path), _) if path.as_os_str() == "-" => None,
        (Some(path), _) => Some(path.clone()),
        (None, true) => match remote_name(&args.urls[0]) {
            Some(name) => Some(PathBuf::from(name)),
            None => {
                say(&args, "Remote file name has no length!");
                return ExitCode::from(exit::WRITE_ERROR);
            }
        },
        (None, false) => None,
    };
    let mut output = match &output {
        Some(path) => match PartFile::create(path) {
            Ok(part) => Some(part),
            Err(e) => {
                say(&args, &format!("cannot write {}: {e}", path.display()));
                return ExitCode::from(exit::WRITE_ERROR);
            }
        },
        None => None,
    };
    let code = match &mut output {
        Some(part) => fetch_all(method, &payload, &headers, &args, &mut part.file),
        None => fetch_all(method, &payload, &headers, &args, &mut std::io::stdout().lock()),
    };
    if let Some(part) = output {
        // FILE changes only when everything succeeded; otherwise it keeps what it held.
        if code == ExitCode::SUCCESS {
            if let Err(e) = part.keep() {
                eprintln!("httplib: writing the body: {e}");
                return ExitCode::from(exit::WRITE_ERROR);
            }
        } else {
            part.discard();
        }
    }
    code
}

/// An error line on stderr, unless -s (and not -S) asked for silence.
fn say(args: &FetchArgs, message: &str) {
    if !args.silent || args.show_error {
        eprintln!("httplib: {message}");
    }
}

/// `Authorization: Basic …` from `-u`, else from the URL's `user:password@` (which the
/// guest's split-url hands over percent-decoded, as urllib reads it); none when neither is
/// there or the header was given with -H.
fn basic_auth(user: Option<&str>, userinfo: Option<&str>, headers: &[(String, Vec<u8>)]) -> Option<(String, Vec<u8>)> {
    use base64::Engine;
    if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("authorization")) {
        return None;
    }
    let credentials = user.or(userinfo)?;
    let credentials = if credentials.contains(':') {
        credentials.to_string()
    } else {
        format!("{credentials}:")
    };
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    );
    Some(("Authorization".into(), value.into_bytes()))
}

/// `-O`: the last segment of the URL's path, without query or fragment (none when empty).
fn remote_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, path) = path.split_once('/')?;
    let name = path.rsplit('/').next().unwrap_or("");
    (!name.is_empty()).then(|| name.to_string())
}

/// `-w FORMAT` after one transfer: curl's variables filled in, \n and \t unescaped.
fn write_out(format: &str, url: &str, status: u16, size: u64, took: std::time::Duration) -> String {
    format
        .replace("%{http_code}", &format!("{status:03}"))
        .replace("%{size_download}", &size.to_string())
        .replace("%{time_total}", &format!("{:.6}", took.as_secs_f64()))
        .replace("%{url_effective}", url)
        .replace("\\n", "\n")
        .replace("\\t", "\t")
}

/// `-o FILE`: the body is written to a file beside FILE and renamed over it once the whole
/// transfer succeeded, so an invalid URL, a refused connection or `--fail` leaves FILE as it was.
/// What exists and is not a regular file (`/dev/null`, a FIFO) is written in place.
struct PartFile {
    file: std::io::BufWriter<File>,
    /// The file written, and where it goes on success; none when written in place.
    part: Option<(PathBuf, PathBuf)>,
}

impl PartFile {
    fn create(dest: &std::path::Path) -> std::io::Result<Self> {
        let buffered = |f| std::io::BufWriter::with_capacity(READ_CHUNK as usize, f);
        if std::fs::metadata(dest).is_ok_and(|m| !m.is_file()) {
            let file = std::fs::OpenOptions::new().write(true).open(dest)?;
            return Ok(Self {
                file: buffered(file),
                part: None,
            });
        }
        let name = dest
            .file_name()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
        let mut part_name = std::ffi::OsString::from(".");
        part_name.push(name);
        part_name.push(format!(".httplib-{}.part", std::process::id()));
        let part = dest.with_file_name(part_name);
        let file = File::create(&part)?;
        Ok(Self {
            file: buffered(file),
            part: Some((part, dest.to_path_buf())),
        })
    }

    fn keep(self) -> std::io::Result<()> {
        // No fsync: like curl, a finished download is handed to the page cache, not the disk.
        drop(self.file.into_inner().map_err(|e| e.into_error())?);
        match &self.part {
            Some((part, dest)) => std::fs::rename(part, dest),
            None => Ok(()),
        }
    }

    fn discard(self) {
        drop(self.file);
        if let Some((part, _)) = &self.part {
            let _ = std::fs::remove_file(part);
        }
    }
}

/// Everything after the output is chosen: the runtime, the session, each URL in turn.
fn fetch_all(
    method: &str,
    payload: &Payload,
    headers: &[(String, Vec<u8>)],
    args: &FetchArgs,
    out: &mut dyn Write,
) -> ExitCode {
    let runtime = match Runtime::with_options(crate::runtime::RuntimeOptions::client()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("httplib: cannot load the guest component: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut identities = ClientIdentities::default();
    if let Some(cert) = &args.cert {
        match Identity::from_pem_files(cert, args.key.as_deref(), None) {
            Ok(id) => {
                identities.0.insert(CLIENT_IDENTITY.into(), id);
            }
            Err(e) => return usage_error(&format!("--cert: {e:#}")),
        }
    }
    let ca_certs = match &args.cacert {
        Some(path) => match std::fs::read(path) {
            Ok(pem) => Some(pem),
            Err(e) => return usage_error(&format!("--cacert {}: {e}", path.display())),
        },
        None => None,
    };
    let identities = Arc::new(identities);
    let session =
        ClientSession::with_debug_output(&runtime, OutboundPolicy::allow_all(), identities, DebugOutput::Stderr);
    let mut session = match session {
        Ok(s) => s,
        Err(e) => {
            eprintln!("httplib: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let tls = TlsOptions {
        verify: !args.insecure,
        system_roots: args.system_roots,
        ca_certs,
        client_identity: args.cert.is_some().then(|| CLIENT_IDENTITY.to_string()),
        ..TlsOptions::verified()
    };
    use std::io::IsTerminal;
    let output_is_file = args.remote_name || args.output.as_ref().is_some_and(|o| o.as_os_str() != "-");
    let mut fetcher = Fetcher {
        session: &mut session,
        guard_terminal: args.output.is_none() && !args.remote_name && std::io::stdout().is_terminal(),
        current: None,
        progress: output_is_file && !args.silent && std::io::stderr().is_terminal(),
        args,
        tls,
    };
    let mut failed_status = false;
    for url in &args.urls {
        let started = std::time::Instant::now();
        match fetcher.fetch(url, method, payload, headers, out) {
            Ok(Transfer { status, size, url }) => {
                if let Some(format) = &args.write_out {
                    let _ = out.flush();
                    print!("{}", write_out(format, &url, status, size, started.elapsed()));
                }
                if args.fail && status >= 400 {
                    say(args, &format!("The requested URL returned error: {status}"));
                    failed_status = true;
                }
            }
            Err(e) => {
                let _ = out.flush();
                let code = exit_code(e.as_ref());
                if is_broken_pipe(e.as_ref()) {
                    // The reader is gone (`| head`): nothing more to say to anyone.
                    return ExitCode::from(code);
                }
                say(args, &e.to_string());
                if code == exit::URL_MALFORMAT && !url.contains("://") {
                    say(args, &format!("a URL starts with its scheme: http://{url}"));
                }
                return ExitCode::from(code);
            }
        }
    }
    fetcher.finish();
    if let Err(e) = out.flush() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            say(args, &format!("writing the body: {e}"));
        }
        return ExitCode::from(exit::WRITE_ERROR);
    }
    if failed_status {
        ExitCode::from(exit::HTTP_RETURNED_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}

/// Whether the failure is the output's reader having gone away.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    matches!(e.downcast_ref::<ClientErrorOrIo>(), Some(ClientErrorOrIo::Io(io)) if io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The exit status for a failed transfer: curl's code for the same failure where it has one.
fn exit_code(e: &(dyn std::error::Error + 'static)) -> u8 {
    use crate::bindings::types::HttpError as E;
    let http = match e.downcast_ref::<ClientErrorOrIo>() {
        Some(ClientErrorOrIo::Io(_) | ClientErrorOrIo::BinaryToTerminal) => return exit::WRITE_ERROR,
        Some(ClientErrorOrIo::TooManyRedirects(_)) => return exit::TOO_MANY_REDIRECTS,
        Some(ClientErrorOrIo::Client(ClientError::Http(h, _))) => h,
        _ => match e.downcast_ref::<ClientError>() {
            Some(ClientError::Http(h, _)) => h,
            _ => return 1,
        },
    };
    match http {
        E::InvalidUrl(_) => exit::URL_MALFORMAT,
        E::NameUnresolvable(_) => exit::COULDNT_RESOLVE_HOST,
        E::ConnectionRefused(_) | E::Denied(_) => exit::COULDNT_CONNECT,
        E::BadStatusLine(_)
        | E::UnknownProtocol(_)
        | E::LineTooLong(_)
        | E::TooManyHeaders
        | E::UnknownTransferEncoding
        | E::HttpException(_) => exit::WEIRD_SERVER_REPLY,
        E::IncompleteRead(_) => exit::PARTIAL_FILE,
        E::Timeout => exit::OPERATION_TIMEDOUT,
        E::CertificateVerification(_) => exit::PEER_FAILED_VERIFICATION,
        E::Tls(_) => exit::SSL_CONNECT_ERROR,
        E::RemoteDisconnected(_) => exit::GOT_NOTHING,
        E::ConnectionReset(_) => exit::RECV_ERROR,
        E::ContentDecoding(_) => exit::BAD_CONTENT_ENCODING,
        _ => 1,
    }
}

/// One session's connections, reused while URLs keep to the same scheme, host, port and proxy.
struct Fetcher<'a> {
    session: &'a mut ClientSession,
    /// The body goes to a terminal nobody asked for explicitly: refuse binary, as curl does.
    guard_terminal: bool,
    current: Option<((String, String, u16), Connection)>,
    /// Show a progress meter on stderr (a file is written, stderr is a terminal, no -s).
    progress: bool,
    args: &'a FetchArgs,
    tls: TlsOptions,
}

type FetchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// What one URL's transfer ended with.
struct Transfer {
    /// The last response's status.
    status: u16,
    /// Body bytes written.
    size: u64,
    /// The URL that answered last (after redirects): curl's `url_effective`.
    url: String,
}

impl Fetcher<'_> {
    /// The connection for `url`: direct, to the proxy (http), or tunnelled through it (https).
    fn connection(&mut self, url: &UrlParts, proxy: Option<&UrlParts>) -> FetchResult<Connection> {
        let key = (url.scheme.clone(), url.host.clone(), url.port);
        if let Some((k, c)) = &self.current
            && *k == key
        {
            return Ok(*c);
        }
        if let Some((_, old)) = self.current.take() {
            self.session.release(old)?;
        }
        let https = url.scheme == "https";
        let options = ConnectionOptions {
            timeout_ms: self.args.timeout.map(|s| (s * 1000.0).max(1.0) as u64),
            tls: https.then(|| self.tls.clone()),
            ..ConnectionOptions::http()
        };
        let c = match proxy {
            None => self.session.open(&url.host, Some(url.port), &options)?,
            Some(p) if https => {
                let c = self.session.open(&p.host, Some(p.port), &options)?;
                self.session.set_tunnel(c, &url.host, Some(url.port), &[])?;
                c
            }
            Some(p) => self.session.open(&p.host, Some(p.port), &options)?,
        };
        if self.args.verbose {
            self.session.set_debuglevel(c, 1)?;
        }
        self.current = Some((key, c));
        Ok(c)
    }

    /// One request (and with -L, the redirects it leads to) and its whole response.
    fn fetch(
        &mut self,
        url: &str,
        method: &str,
        payload: &Payload,
        headers: &[(String, Vec<u8>)],
        out: &mut dyn Write,
    ) -> FetchResult<Transfer> {
        let (mut url, mut method) = (url.to_string(), method.to_string());
        let mut payload = payload;
        let mut headers = headers.to_vec();
        // Credentials (-u, a URL's user:password@, -H Authorization) stay with the first origin.
        let mut user = self.args.user.clone();
        let mut redirects = 0;
        loop {
            let (response, status) = self.send(&url, &method, payload, &headers, user.as_deref())?;
            if self.args.include || self.args.head {
                self.write_head(response, out)?;
            }
            let next = match self.args.location {
                true => {
                    let location = self.session.getheader(response, "location")?;
                    self.session
                        .follow_redirect(&url, &method, status, location.as_deref())?
                }
                false => None,
            };
            let Some(next) = next else {
                if self.args.fail && status >= 400 {
                    self.session.close_response(response)?;
                    return Ok(Transfer { status, size: 0, url });
                }
                let size = self.copy_body(response, out)?;
                self.session.close_response(response)?;
                return Ok(Transfer { status, size, url });
            };
            if self.args.max_redirs >= 0 && redirects >= self.args.max_redirs {
                self.session.close_response(response)?;
                return Err(Box::new(ClientErrorOrIo::TooManyRedirects(redirects)));
            }
            redirects += 1;
            // The redirect's own body is read and dropped, so the connection can be reused.
            while !self.session.read1(response, Some(READ_CHUNK))?.is_empty() {}
            self.session.close_response(response)?;
            if !next.keep_body {
                payload = &Payload::None;
                headers.retain(|(n, _)| {
                    !n.eq_ignore_ascii_case("content-type") && !n.eq_ignore_ascii_case("content-length")
                });
            }
            if !next.same_origin {
                user = None;
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization") && !n.eq_ignore_ascii_case("cookie"));
            }
            url = next.url;
            method = next.method;
        }
    }

    /// Send one request; its response, with the status read.
    fn send(
        &mut self,
        url: &str,
        method: &str,
        payload: &Payload,
        headers: &[(String, Vec<u8>)],
        user: Option<&str>,
    ) -> FetchResult<(Response, u16)> {
        let parts = self.session.split_url(url)?;
        let with_auth;
        let headers = match basic_auth(user, parts.userinfo.as_deref(), headers) {
            Some(auth) => {
                with_auth = [headers, &[auth]].concat();
                &with_auth[..]
            }
            None => headers,
        };
        let proxy = match &self.args.proxy {
            Some(p) => Some(self.session.split_url(p)?),
            None => None,
        };
        let c = self.connection(&parts, proxy.as_ref())?;
        // Plain HTTP through a proxy asks it for the absolute URL (RFC 9112 3.2.2).
        let target = if proxy.is_some() && parts.scheme == "http" {
            let host = if parts.host.contains(':') {
                format!("[{}]", parts.host)
            } else {
                parts.host.clone()
            };
            format!("http://{host}:{}{}", parts.port, parts.target)
        } else {
            parts.target.clone()
        };
        match payload {
            Payload::None => self.session.request(c, method, &target, &Body::None, headers)?,
            Payload::Bytes(b) => self
                .session
                .request(c, method, &target, &Body::Bytes(b.clone()), headers)?,
            Payload::File(path) => self.send_file(c, method, &target, path, headers)?,
        }
        let response = self.session.getresponse(c)?;
        let status = self.session.status(response)?;
        Ok((response, status))
    }

    /// A file body: Content-Length from its size, then streamed in parts.
    fn send_file(
        &mut self,
        c: Connection,
        method: &str,
        target: &str,
        path: &PathBuf,
        headers: &[(String, Vec<u8>)],
    ) -> FetchResult<()> {
        let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let len = file.metadata()?.len();
        let mut headers = headers.to_vec();
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
            headers.push(("Content-Length".into(), len.to_string().into_bytes()));
        }
        self.session.request(c, method, target, &Body::Streamed, &headers)?;
        let mut buf = vec![0u8; SEND_CHUNK];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            self.session.send_body(c, &buf[..n])?;
        }
        self.session.end_body(c)?;
        Ok(())
    }

    /// `-i`: the status line and headers, as they arrived.
    fn write_head(&mut self, r: Response, out: &mut dyn Write) -> FetchResult<()> {
        out.write_all(&self.session.raw_head(r)?)?;
        Ok(())
    }

    /// The body to `out`; how many bytes it held.
    fn copy_body(&mut self, r: Response, out: &mut dyn Write) -> Result<u64, ClientErrorOrIo> {
        let meter = match self.progress {
            // With --compressed the length is of the coded bytes, not of those counted.
            true => Some(progress_meter(match self.args.compressed {
                true => None,
                false => self.session.length(r)?,
            })),
            false => None,
        };
        let copied = self.copy_body_to(r, out, meter.as_ref());
        if let Some(meter) = meter {
            match copied {
                Ok(_) => meter.finish(),
                Err(_) => meter.abandon(),
            }
        }
        copied
    }

    fn copy_body_to(
        &mut self,
        r: Response,
        out: &mut dyn Write,
        meter: Option<&indicatif::ProgressBar>,
    ) -> Result<u64, ClientErrorOrIo> {
        let mut size = 0;
        loop {
            let data = match self.args.compressed {
                true => self.session.read_decoded(r, READ_CHUNK)?,
                false => self.session.read1(r, Some(READ_CHUNK))?,
            };
            if data.is_empty() {
                return Ok(size);
            }
            if size == 0 && self.guard_terminal && data.contains(&0) {
                return Err(ClientErrorOrIo::BinaryToTerminal);
            }
            out.write_all(&data)?;
            size += data.len() as u64;
            if let Some(meter) = meter {
                meter.inc(data.len() as u64);
            }
        }
    }

    fn finish(&mut self) {
        if let Some((_, c)) = self.current.take() {
            let _ = self.session.release(c);
        }
    }
}

/// curl's meter in indicatif's terms: bytes so far, of how many when the length is known,
/// the rate and the time left; on stderr, redrawn at most 20 times a second.
fn progress_meter(length: Option<u64>) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let (meter, template) = match length {
        Some(n) => (
            ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            "{percent:>3}% [{bar:30}] {bytes:>10} / {total_bytes:<10} {binary_bytes_per_sec:>12}  {eta} left",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} {bytes:>10} {binary_bytes_per_sec:>12}  {elapsed}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        meter.set_style(style.progress_chars("=> "));
    }
    meter
}

/// A failure while copying a body: the guest's exception or the output's IO error.
#[derive(Debug)]
enum ClientErrorOrIo {
    Client(ClientError),
    Io(std::io::Error),
    /// A body with NUL bytes about to go to a terminal (curl refuses it the same way).
    BinaryToTerminal,
    /// -L met more redirects than --max-redirs allows.
    TooManyRedirects(i64),
}

impl std::fmt::Display for ClientErrorOrIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientErrorOrIo::Client(e) => write!(f, "{e}"),
            ClientErrorOrIo::Io(e) => write!(f, "writing the body: {e}"),
            ClientErrorOrIo::TooManyRedirects(n) => write!(f, "Maximum ({n}) redirects followed"),
            ClientErrorOrIo::BinaryToTerminal => f.write_str(
                "Binary output can mess up your terminal. Use \"--output -\" to tell httplib to output it to your terminal anyway, or consider \"--output <FILE>\" to save to a file.",
            ),
        }
    }
}

impl std::error::Error for ClientErrorOrIo {}

impl From<ClientError> for ClientErrorOrIo {
    fn from(e: ClientError) -> Self {
        ClientErrorOrIo::Client(e)
    }
}

impl From<std::io::Error> for ClientErrorOrIo {
    fn from(e: std::io::Error) -> Self {
        ClientErrorOrIo::Io(e)
    }
}
