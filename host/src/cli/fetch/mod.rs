//! `httplib get` and `httplib request`: curl-like fetching through the guest's HTTPConnection.
//! Bodies stream to stdout or `-o FILE`; URLs to the same host and port share one connection.

mod args;
mod failure;
mod fetcher;
mod max_time;
mod output;
mod transfer;
mod upload;
mod write_out;

pub use args::{FetchArgs, RequestArgs};
pub use failure::EXIT_CODES_HELP;

use crate::bindings::types::TlsOptions;
use crate::client::{ClientSession, DebugOutput};
use crate::policy::OutboundPolicy;
use crate::runtime::Runtime;
use crate::transport::tls::{ClientIdentities, Identity};
use args::CLIENT_IDENTITY;
pub use args::Target;
use failure::exit;
use fetcher::{ACCEPT_ENCODING, Fetcher};
use output::{remove_parts_on_interrupt, say};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use transfer::{Dump, Ended, Job, transfer};
use upload::{BodySpec, Prepared};

pub fn get(args: FetchArgs) -> ExitCode {
    let method = if args.head { "HEAD" } else { "GET" };
    run(method, BodySpec::None, false, None, args)
}

pub fn request(args: RequestArgs) -> ExitCode {
    let body = BodySpec::of(&args);
    let method = args
        .method
        .clone()
        .unwrap_or_else(|| body.method(args.get, args.fetch.head).into());
    let upload = args.upload_file.clone();
    run(&method, body, args.get, upload, args.fetch)
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("httplib: {message}");
    ExitCode::from(2)
}

/// A request's headers: those -H gives ("Name:" removes one we would add, "Name;" sends it
/// empty, as curl's), then our defaults where -H gave none.
struct GivenHeaders {
    given: Vec<(String, Vec<u8>)>,
    removed: Vec<String>,
}

impl GivenHeaders {
    fn parse(args: &FetchArgs) -> Result<Self, String> {
        let (mut given, mut removed) = (Vec::new(), Vec::new());
        for h in &args.headers {
            match h.split_once(':') {
                Some((name, value)) if value.trim().is_empty() => removed.push(name.trim().to_ascii_lowercase()),
                Some((name, value)) => given.push((name.trim().to_string(), value.trim().as_bytes().to_vec())),
                None => match h.strip_suffix(';') {
                    Some(name) => given.push((name.trim().to_string(), Vec::new())),
                    None => return Err(format!("bad header {h:?}: use 'Name: value'")),
                },
            }
        }
        // -b's NAME=VALUE texts go as one Cookie header, unless -H gave one.
        let literal: Vec<&str> = args
            .cookie
            .iter()
            .filter(|c| c.contains('='))
            .map(String::as_str)
            .collect();
        if !literal.is_empty() && !given.iter().any(|(n, _)| n.eq_ignore_ascii_case("cookie")) {
            given.push(("Cookie".into(), literal.join("; ").into_bytes()));
        }
        Ok(GivenHeaders { given, removed })
    }

    /// The headers to send with a body prepared as `body`.
    fn with_defaults(&self, args: &FetchArgs, body: &Prepared) -> Vec<(String, Vec<u8>)> {
        let mut headers = self.given.clone();
        let user_agent = args
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("httplib/{}", env!("CARGO_PKG_VERSION")));
        let defaults = [
            ("Content-Type", body.content_type.clone()),
            ("User-Agent", Some(user_agent)),
            ("Accept", Some(body.accept.unwrap_or("*/*").to_string())),
            ("Range", args.range.as_ref().map(|r| format!("bytes={r}"))),
            ("Referer", args.referer.clone()),
            ("Accept-Encoding", args.compressed.then(|| ACCEPT_ENCODING.to_string())),
        ];
        for (name, value) in defaults {
            let Some(value) = value else { continue };
            let given = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
            if !given && !self.removed.contains(&name.to_ascii_lowercase()) {
                headers.push((name.into(), value.into_bytes()));
            }
        }
        headers
    }
}

fn run(method: &str, body: BodySpec, get: bool, upload: Option<PathBuf>, args: FetchArgs) -> ExitCode {
    let headers = match GivenHeaders::parse(&args) {
        Ok(h) => h,
        Err(e) => return usage_error(&e),
    };
    remove_parts_on_interrupt();
    fetch_all(method, body, get, upload, &headers, &args)
}

/// A URL with -G's query added ("?" or "&" before it, as curl) and -T's file name where
/// the URL ends in "/".
fn effective_url(url: &str, query: Option<&str>, upload: Option<&std::path::Path>) -> String {
    let url = match upload {
        Some(file) => upload::upload_url(url, file),
        None => url.to_string(),
    };
    let Some(query) = query else { return url };
    let (url, fragment) = url.split_once('#').map_or((url.as_str(), None), |(u, f)| (u, Some(f)));
    let joiner = if url.contains('?') { '&' } else { '?' };
    match fragment {
        Some(f) => format!("{url}{joiner}{query}#{f}"),
        None => format!("{url}{joiner}{query}"),
    }
}

/// Where the `n`th URL's body goes: the `n`th output option, else stdout (as curl pairs them).
fn target(args: &FetchArgs, n: usize) -> Target {
    args.targets.get(n).cloned().unwrap_or(Target::Stdout)
}

/// Everything after the output is chosen: the runtime, the session, each URL in turn.
fn fetch_all(
    method: &str,
    body: BodySpec,
    get: bool,
    upload: Option<PathBuf>,
    headers: &GivenHeaders,
    args: &FetchArgs,
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
    // The connect audit event names the address each connection goes to (-w %{remote_ip}).
    let remote = Arc::new(std::sync::Mutex::new(None));
    let seen = remote.clone();
    let policy = OutboundPolicy::allow_all().with_audit(Arc::new(move |event: &str, args: &[String]| {
        if let ("http.client.connect", [_, port, address, ..]) = (event, args)
            && let Ok(mut seen) = seen.lock()
        {
            *seen = Some((address.clone(), port.parse().unwrap_or(0)));
        }
        Ok(())
    }));
    let session = ClientSession::with_debug_output(&runtime, policy, identities, DebugOutput::Stderr);
    let mut session = match session {
        Ok(s) => s,
        Err(e) => {
            eprintln!("httplib: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let body = match body.prepare(&mut session, get) {
        Ok(body) => body,
        Err(e) => {
            say(args, &e.0);
            return ExitCode::from(exit::READ_ERROR);
        }
    };
    let removed = headers.removed.clone();
    let headers = headers.with_defaults(args, &body);
    let payload = &body.payload;
    let tls = TlsOptions {
        verify: !args.insecure,
        system_roots: args.system_roots,
        ca_certs,
        client_identity: args.cert.is_some().then(|| CLIENT_IDENTITY.to_string()),
        ..TlsOptions::verified()
    };
    let mut dump: Dump = match &args.dump_header {
        None => None,
        Some(path) if path.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Some(Box::new(file)),
            Err(e) => {
                say(args, &format!("cannot write {}: {e}", path.display()));
                return ExitCode::from(exit::WRITE_ERROR);
            }
        },
    };
    let jar = match cookie_engine(&mut session, args) {
        Ok(jar) => jar,
        Err(e) => {
            eprintln!("httplib: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut fetcher = Fetcher {
        session: &mut session,
        guard_terminal: false,
        current: None,
        progress: false,
        args,
        tls,
        received: 0,
        proxy: args.proxy_setting(),
        stdin_sent: false,
        connected_at: None,
        remote,
        jar,
        removed,
    };
    let cancel = fetcher.session.cancel_handle();
    let mut failed_status = false;
    for (n, url) in args.urls.iter().enumerate() {
        let url = &effective_url(url, body.query.as_deref(), upload.as_deref());
        let job = Job {
            url,
            target: target(args, n),
            method,
            payload,
            headers: &headers,
        };
        let (ended, report) = transfer(&mut fetcher, &job, &mut dump, &cancel);
        if let Some(format) = &args.write_out {
            let mut warnings = Vec::new();
            print!("{}", write_out::expand(format, &report, &mut warnings));
            for warning in warnings {
                say(args, &warning);
            }
        }
        match ended {
            Ended::Done => {}
            Ended::FailedStatus => failed_status = true,
            Ended::Exit(code) => {
                save_cookies(&mut fetcher, args);
                return ExitCode::from(code);
            }
        }
    }
    fetcher.finish();
    if !save_cookies(&mut fetcher, args) {
        return ExitCode::from(exit::WRITE_ERROR);
    }
    if let Err(e) = std::io::stdout().flush() {
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

/// The cookie engine, when -b names a file (or "") or -c is given: a jar with the files'
/// cookies (a file not there yet is an empty one, as curl takes it).
fn cookie_engine(
    session: &mut ClientSession,
    args: &FetchArgs,
) -> crate::client::Result<Option<crate::client::CookieJar>> {
    let files: Vec<&String> = args.cookie.iter().filter(|c| !c.contains('=')).collect();
    if files.is_empty() && args.cookie_jar.is_none() {
        return Ok(None);
    }
    let jar = session.cookie_jar()?;
    for file in files.into_iter().filter(|f| !f.is_empty()) {
        let text = match file.as_str() {
            "-" => std::io::read_to_string(std::io::stdin()).unwrap_or_default(),
            path => std::fs::read(path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
        };
        session.cookie_jar_load(jar, &text)?;
    }
    Ok(Some(jar))
}

/// -c: the jar written out; false when it could not be.
fn save_cookies(fetcher: &mut Fetcher, args: &FetchArgs) -> bool {
    let (Some(path), Some(jar)) = (&args.cookie_jar, fetcher.jar) else {
        return true;
    };
    let written = match fetcher.session.cookie_jar_save(jar) {
        Ok(text) if path.as_os_str() == "-" => std::io::stdout().write_all(text.as_bytes()),
        Ok(text) => std::fs::write(path, text),
        Err(e) => Err(std::io::Error::other(e.to_string())),
    };
    if let Err(e) = written {
        say(args, &format!("cannot write the cookie jar {}: {e}", path.display()));
        return false;
    }
    true
}
