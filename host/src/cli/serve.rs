//! `httplib serve [port] [--bind ADDR] [--directory DIR] [--protocol VERSION]`.

use crate::runtime::Runtime;
use crate::server::{SHUTDOWN_GRACE, Server, ServerConfig};
use clap::Args;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Bind to this port (default: 8000).
    #[arg(default_value_t = 8000)]
    pub port: u16,
    /// Bind to this address (default: all interfaces).
    #[arg(short = 'b', long = "bind", value_name = "ADDRESS")]
    pub bind: Option<String>,
    /// Serve this directory (default: current directory).
    #[arg(short = 'd', long = "directory", value_name = "DIRECTORY", default_value = ".")]
    pub directory: PathBuf,
    /// Conform to this HTTP version (default: HTTP/1.0).
    #[arg(short = 'p', long = "protocol", value_name = "VERSION", default_value = "HTTP/1.0")]
    pub protocol: String,
}

/// Where to listen: the given address, else the IPv6 wildcard (dual-stack), else IPv4's.
fn bind_address(bind: Option<&str>, port: u16) -> std::io::Result<SocketAddr> {
    match bind {
        Some(b) => {
            let b = b.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = b.parse::<IpAddr>() {
                return Ok(SocketAddr::new(ip, port));
            }
            (b, port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("{b}: no address")))
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

pub fn run(args: ServeArgs) -> ExitCode {
    let protocol = args.protocol.to_ascii_uppercase();
    if !matches!(protocol.as_str(), "HTTP/1.0" | "HTTP/1.1") {
        eprintln!(
            "httplib serve: unsupported protocol {:?} (use HTTP/1.0 or HTTP/1.1)",
            args.protocol
        );
        return ExitCode::from(2);
    }
    let addr = match bind_address(args.bind.as_deref(), args.port) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("httplib serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match Runtime::new() {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("httplib: cannot load the guest component: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let config = ServerConfig {
        directory: args.directory,
        protocol_version: protocol,
        ..ServerConfig::default()
    };
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
    println!(
        "Serving HTTP on {host} port {} (http://{url_host}:{}/) ...",
        local.port(),
        local.port()
    );
    // Ctrl-C or SIGTERM: stop accepting, let responses in flight finish, exit 0.
    let shutdown = server.shutdown_handle();
    let _ = ctrlc::set_handler(move || {
        println!("\nKeyboard interrupt received, exiting.");
        shutdown.shutdown();
    });
    if let Err(e) = server.serve() {
        eprintln!("httplib serve: {e:#}");
        return ExitCode::FAILURE;
    }
    let left = server.drain(SHUTDOWN_GRACE);
    if left > 0 {
        eprintln!("{left} connection(s) still open after {SHUTDOWN_GRACE:?}; closing them");
    }
    ExitCode::SUCCESS
}
