//! The `httplib` command line: `serve` (like `python -m http.server`) and `get` (like curl).

mod compose;
mod fetch;
mod run;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "httplib",
    version,
    about = "Python's http.client and http.server, in a WebAssembly sandbox"
)]
/// The `httplib` command line.
pub struct Cli {
    #[command(subcommand)]
    /// What to do.
    pub command: Command,
}

#[derive(Subcommand, Debug)]
/// `httplib serve`, `httplib get`, `httplib request`, `httplib run`, `httplib compose`.
pub enum Command {
    /// Serve a directory over HTTP, like `python -m http.server`.
    Serve(serve::ServeArgs),
    /// Fetch URLs and write their bodies to stdout, like `curl`.
    #[command(after_help = fetch::EXIT_CODES_HELP)]
    Get(fetch::FetchArgs),
    /// Send any request, with headers and a body, like `curl -X`.
    #[command(after_help = fetch::EXIT_CODES_HELP)]
    Request(fetch::RequestArgs),
    /// Run a WebAssembly command that uses httplib's client, like `wasmtime run`, its sockets
    /// limited to what `--allow` grants.
    Run(run::RunArgs),
    /// Compose a WebAssembly command that uses httplib's client with httplib, into one
    /// component (for a plugin host, or with `--adapter wasi-sockets` for any WASI runtime).
    Compose(compose::ComposeArgs),
}

/// Parse the process's arguments and run; the exit code to return.
pub fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // -o and -O pair with the URLs in the order they were given: clap's matches know it.
    let sub = |name: &str| matches.subcommand_matches(name).cloned().unwrap_or_default();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Get(args) => fetch::get(args.with_targets(&sub("get"))),
        Command::Request(args) => fetch::request(args.with_order(&sub("request"))),
        Command::Run(args) => run::run(args),
        Command::Compose(args) => compose::run(args),
    }
}
