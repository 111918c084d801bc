//! `httplib serve [port] [--bind ADDR] [--directory DIR] [--protocol VERSION] [--cgi] [--tls-cert …]`.

use crate::policy::OutboundPolicy;
use crate::runtime::Runtime;
use crate::server::{Accepting, INTERRUPT_GRACE, InstanceReuse, MAX_CONNECTIONS, SHUTDOWN_GRACE, Server, ServerConfig};
use crate::transport::tls::{DEFAULT_ALPN, Identity, server_config};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// CPython's `CGIHTTPRequestHandler.cgi_directories`.
pub const DEFAULT_CGI_DIRECTORIES: [&str; 2] = ["/cgi-bin", "/htbin"];

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Bind to this port.
    #[arg(default_value_t = 8000)]
    pub port: u16,
    /// Bind to this address (default: all interfaces).
    #[arg(short = 'b', long = "bind", value_name = "ADDRESS")]
    pub bind: Option<String>,
    /// Serve this directory.
    #[arg(short = 'd', long = "directory", value_name = "DIRECTORY", default_value = ".")]
    pub directory: PathBuf,
    /// Conform to this HTTP version.
    #[arg(short = 'p', long = "protocol", value_name = "VERSION", default_value = "HTTP/1.0")]
    pub protocol: String,
    /// Run CGI scripts under /cgi-bin and /htbin (CGIHTTPRequestHandler); only WebAssembly
    /// components run, each in a sandbox of its own: anything else is refused with 403.
    #[arg(long = "cgi")]
    pub cgi: bool,
    /// Let CGI scripts that import httplib:http/client connect where RULE grants
    /// ([scheme://]host[:port], `*.domain`, an address or CIDR block; wildcards never reach
    /// loopback, link-local or private addresses). None by default.
    #[arg(long = "cgi-allow", value_name = "RULE", requires = "cgi")]
    pub cgi_allow: Vec<String>,
    /// Answer requests with this component: a handler component (it exports
    /// httplib:http/request-handler: BaseHTTPRequestHandler's do_METHOD, see guest/sdk's
    /// hello_handler example), each connection in a sandbox of its own, what it passes on
    /// served from --directory; or a wasi:http proxy component (it exports
    /// wasi:http/incoming-handler, as `wasmtime serve` runs), each request in a sandbox of its own.
    #[arg(long = "app", value_name = "APP.wasm")]
    pub app: Option<PathBuf>,
    /// Let the --app component connect (httplib:http/client, wasi:http/outgoing-handler)
    /// where RULE grants ([scheme://]host[:port], `*.domain`,
    /// an address or CIDR block; wildcards never reach loopback, link-local or private
    /// addresses). Nowhere by default.
    #[arg(long = "allow", value_name = "RULE", requires = "app")]
    pub allow: Vec<String>,
    /// Stop an --app component that computes this many seconds without calling the host (its
    /// connection is lost, the server goes on).
    #[arg(long = "cpu-limit", value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub cpu_limit: Limit,
    /// Serve HTTPS with this certificate chain (PEM; may hold the key too).
    #[arg(long = "tls-cert", value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) for --tls-cert, when not in the certificate file.
    #[arg(long = "tls-key", value_name = "PATH")]
    pub tls_key: Option<PathBuf>,
    /// A file whose first line is the password of an encrypted private key.
    #[arg(long = "tls-password-file", value_name = "PATH")]
    pub tls_password_file: Option<PathBuf>,
    /// Close a keep-alive connection idle this many seconds between requests (0: never).
    #[arg(long = "idle-timeout", value_name = "SECS", default_value = "75", value_parser = seconds)]
    pub idle_timeout: Limit,
    /// Answer 408 to a request head not complete this many seconds after its first byte (0: never).
    #[arg(long = "head-timeout", value_name = "SECS", default_value = "60", value_parser = seconds)]
    pub head_timeout: Limit,
    /// Give up on a request body after this many seconds without a byte (0: never).
    #[arg(long = "body-timeout", value_name = "SECS", default_value = "60", value_parser = seconds)]
    pub body_timeout: Limit,
    /// Give up on a client that reads nothing of a response for this many seconds (0: never).
    #[arg(long = "send-timeout", value_name = "SECS", default_value = "60", value_parser = seconds)]
    pub send_timeout: Limit,
    /// Close a connection whose TLS handshake is not done this many seconds after accepting it (0: never).
    #[arg(long = "tls-handshake-timeout", value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub tls_handshake_timeout: Limit,
    /// Serve at most this many connections at once; past it idle ones are closed to make room,
    /// and a new client that still finds none is answered 503.
    #[arg(long = "max-connections", value_name = "N", default_value_t = MAX_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_CONNECTIONS as u64))]
    pub max_connections: usize,
    /// Whether an instance whose connection ended cleanly answers the next connection
    /// (serial: one after another, at most 128 times; never: a new instance each).
    #[arg(long = "instance-reuse", value_name = "WHEN", value_enum, default_value_t = Reuse::Serial)]
    pub instance_reuse: Reuse,
    /// Which threads accept new connections (one-thread: the first, handing some to the
    /// others; every-thread: each on a listener of its own, SO_REUSEPORT, as nginx's reuseport).
    #[arg(long = "accept", value_name = "WHICH", value_enum, default_value_t = AcceptOn::OneThread)]
    pub accept: AcceptOn,
}

/// `--accept`: the command line's spelling of [`Accepting`].
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptOn {
    /// The first reactor thread accepts them all.
    OneThread,
    /// Every reactor thread accepts.
    EveryThread,
}

impl From<AcceptOn> for Accepting {
    fn from(on: AcceptOn) -> Self {
        match on {
            AcceptOn::OneThread => Accepting::OneThread,
            AcceptOn::EveryThread => Accepting::EveryThread,
        }
    }
}

/// `--instance-reuse`: the command line's spelling of [`InstanceReuse`].
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// One connection after another.
    Serial,
    /// A new instance for every connection.
    Never,
}

impl From<Reuse> for InstanceReuse {
    fn from(reuse: Reuse) -> Self {
        match reuse {
            Reuse::Serial => InstanceReuse::Serial,
            Reuse::Never => InstanceReuse::Never,
        }
    }
}

/// A time limit from the command line; `None` is no limit.
#[derive(Debug, Clone, Copy)]
pub struct Limit(pub Option<Duration>);

/// Seconds, fractions allowed; 0 is no limit.
fn seconds(text: &str) -> Result<Limit, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{text:?} is not a number of seconds"));
    }
    Ok(Limit((secs > 0.0).then(|| Duration::from_secs_f64(secs))))
}

/// argparse's `parser.error`: the message, exit status 2.
fn parser_error(message: &str) -> ExitCode {
    eprintln!(
        "usage: httplib serve [-h] [-b ADDRESS] [-d DIRECTORY] [-p VERSION] [--tls-cert PATH] [--tls-key PATH] [--tls-password-file PATH] [port]"
    );
    eprintln!("httplib serve: error: {message}");
    ExitCode::from(2)
}

/// HTTPSServer's TLS set-up from the command line, with CPython 3.14's checks and messages.
fn tls_config(args: &ServeArgs) -> Result<Option<Arc<rustls::ServerConfig>>, ExitCode> {
    let Some(cert) = &args.tls_cert else {
        if args.tls_key.is_some() {
            return Err(parser_error("--tls-key requires --tls-cert to be set"));
        }
        if args.tls_password_file.is_some() {
            return Err(parser_error("--tls-password-file requires --tls-cert to be set"));
        }
        return Ok(None);
    };
    let password = match &args.tls_password_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text.lines().next().unwrap_or("").to_string()),
            Err(e) => return Err(parser_error(&format!("Failed to read TLS password file: {e}"))),
        },
        None => None,
    };
    let identity = Identity::from_pem_files(cert, args.tls_key.as_deref(), password.as_deref()).map_err(|e| {
        eprintln!("httplib serve: TLS: {e:#}");
        ExitCode::FAILURE
    })?;
    let config = server_config(identity, &[DEFAULT_ALPN.to_string()]).map_err(|e| {
        eprintln!("httplib serve: TLS: {e:#}");
        ExitCode::FAILURE
    })?;
    Ok(Some(config))
}

/// Where to listen: the given address, else the IPv6 wildcard (dual-stack), else IPv4's.
fn bind_address(bind: Option<&str>, port: u16) -> std::io::Result<SocketAddr> {
    match bind {
        Some(b) => {
            let b = b.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = b.parse::<IpAddr>() {
                return Ok(SocketAddr::new(ip, port));
            }
            // Not an address: a name, resolved; the error names what was given.
            let named =
                |why: String| std::io::Error::other(format!("--bind {b}: not an address, and as a host name: {why}"));
            (b, port)
                .to_socket_addrs()
                .map_err(|e| named(e.to_string()))?
                .next()
                .ok_or_else(|| named("no address".into()))
        }
        None => {
            let v6 = std::net::TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)).is_ok();
            Ok(SocketAddr::new(
                if v6 {
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                },
                port,
            ))
        }
    }
}

/// Ctrl-C (SIGINT), as CPython's KeyboardInterrupt: stop accepting, close every connection,
/// exit 0 at once. SIGTERM, as nginx's graceful stop: stop accepting, let responses in flight
/// finish for up to `SHUTDOWN_GRACE`. A second signal of either kind ends the process at once.
#[cfg(unix)]
fn on_signals(handle: crate::server::ShutdownHandle, interrupted: Arc<std::sync::atomic::AtomicBool>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("httplib serve: cannot handle signals: {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new().name("httplib-signals".into()).spawn(move || {
        let mut first = true;
        for signal in signals.forever() {
            if !first {
                eprintln!("httplib serve: second signal: exiting now");
                std::process::exit(128 + signal);
            }
            first = false;
            if signal == SIGINT {
                // Not println!: with stdout a closed pipe it would panic here, and never stop.
                let _ = writeln!(std::io::stdout(), "\nKeyboard interrupt received, exiting.");
                interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                handle.shutdown();
                handle.close_connections();
            } else {
                eprintln!(
                    "httplib serve: SIGTERM: finishing responses in flight (at most {} s; a second signal ends them now)",
                    SHUTDOWN_GRACE.as_secs()
                );
                handle.shutdown();
            }
        }
    });
    if let Err(e) = spawned {
        eprintln!("httplib serve: cannot handle signals: {e}");
    }
}

#[cfg(not(unix))]
fn on_signals(_: crate::server::ShutdownHandle, _: Arc<std::sync::atomic::AtomicBool>) {}

/// The exit status for an --app that cannot be run (a shell's "cannot execute").
pub const EXIT_NOT_A_HANDLER: u8 = 126;

/// `--app`'s component loaded, its connections allowed by `allow`; a one-line reason and
/// exit 126 when it is not a handler component.
fn load_app(
    runtime: &Runtime,
    path: &std::path::Path,
    allow: &[String],
) -> Result<crate::server::HandlerApp, ExitCode> {
    let policy = match OutboundPolicy::allow(allow) {
        Ok(policy) if !allow.is_empty() => policy,
        Ok(_) => OutboundPolicy::deny_all(),
        Err(e) => return Err(parser_error(&format!("argument --allow: {e}"))),
    };
    let bytes = std::fs::read(path).map_err(|e| {
        eprintln!("httplib serve: --app {}: {e}", path.display());
        ExitCode::from(EXIT_NOT_A_HANDLER)
    })?;
    crate::server::HandlerApp::load(runtime, &bytes, policy).map_err(|e| {
        eprintln!("httplib serve: --app {}: {e}", path.display());
        ExitCode::from(EXIT_NOT_A_HANDLER)
    })
}

pub fn run(args: ServeArgs) -> ExitCode {
    let protocol = args.protocol.to_ascii_uppercase();
    if !matches!(protocol.as_str(), "HTTP/1.0" | "HTTP/1.1") {
        eprintln!(
            "httplib serve: unsupported protocol {:?} (use HTTP/1.0 or HTTP/1.1)",
            args.protocol
        );
        return ExitCode::from(2);
    }
    let tls = match tls_config(&args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let addr = match bind_address(args.bind.as_deref(), args.port) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("httplib serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = Runtime::with_options(crate::runtime::RuntimeOptions::server()).or_else(|e| {
        // The pool reserves terabytes of address space up front: where that is refused
        // (ulimit -v), instances are made on demand instead.
        eprintln!("httplib serve: cannot reserve the instance pool ({e:#}); making instances on demand instead");
        Runtime::with_options(crate::runtime::RuntimeOptions::server_on_demand())
    });
    let runtime = match runtime {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("httplib: cannot load the guest component: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let scheme = if tls.is_some() { "HTTPS" } else { "HTTP" };
    let cgi_policy = match OutboundPolicy::allow(&args.cgi_allow) {
        Ok(policy) if !args.cgi_allow.is_empty() => policy,
        Ok(_) => OutboundPolicy::deny_all(),
        Err(e) => return parser_error(&format!("argument --cgi-allow: {e}")),
    };
    let app = match &args.app {
        Some(path) => match load_app(&runtime, path, &args.allow) {
            Ok(app) => Some(Arc::new(app)),
            Err(code) => return code,
        },
        None => None,
    };
    let mut limits = crate::limits::SessionLimits::default();
    if let Some(cpu) = args.cpu_limit.0 {
        limits.cpu = cpu;
    }
    let config = ServerConfig {
        directory: args.directory,
        app,
        limits,
        protocol_version: protocol,
        tls,
        idle_timeout: args.idle_timeout.0,
        head_timeout: args.head_timeout.0,
        body_timeout: args.body_timeout.0,
        send_timeout: args.send_timeout.0,
        tls_handshake_timeout: args.tls_handshake_timeout.0,
        max_connections: args.max_connections,
        instance_reuse: args.instance_reuse.into(),
        accepting: args.accept.into(),
        cgi_directories: if args.cgi {
            DEFAULT_CGI_DIRECTORIES.iter().map(|d| d.to_string()).collect()
        } else {
            Vec::new()
        },
        cgi_policy,
        ..ServerConfig::default()
    };
    if let Err(e) = crate::server::raise_open_file_limit() {
        eprintln!("httplib serve: cannot raise the open-file limit: {e}");
    }
    let server = match Server::bind(addr, runtime, config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("httplib serve: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let local = server.local_addr();
    let host = local.ip().to_string();
    let url_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let port = local.port();
    let url_scheme = scheme.to_ascii_lowercase();
    println!("Serving {scheme} on {host} port {port} ({url_scheme}://{url_host}:{port}/) ...");
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    on_signals(server.shutdown_handle(), interrupted.clone());
    if let Err(e) = server.serve() {
        eprintln!("httplib serve: {e:#}");
        return ExitCode::FAILURE;
    }
    let grace = if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        INTERRUPT_GRACE
    } else {
        SHUTDOWN_GRACE
    };
    let left = server.drain(grace);
    if left > 0 {
        eprintln!("{left} connection(s) still open after {grace:?}; closing them");
    }
    ExitCode::SUCCESS
}
