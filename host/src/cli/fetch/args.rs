//! The options of `httplib get` and `httplib request`, as clap reads them.

use crate::bindings::client::ProxySetting;
use clap::Args;
use std::path::PathBuf;

/// Redirects `-L` follows before giving up (curl's `--max-redirs` default; urllib stops at 10).
pub const DEFAULT_MAX_REDIRS: u32 = 50;
/// The name under which `--cert` is registered with the host.
pub(super) const CLIENT_IDENTITY: &str = "cli";

/// The options `get` and `request` share.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Extra request header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Write the body to FILE instead of stdout ("-" is stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Vec<PathBuf>,
    /// Write the status line and headers of every response (redirects included) to FILE
    /// ("-" is stdout), as curl's -D.
    #[arg(short = 'D', long = "dump-header", value_name = "FILE")]
    pub dump_header: Option<PathBuf>,
    /// Put the files of -o (relative paths) and -O in DIR.
    #[arg(long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Create the folders an output file's path needs.
    #[arg(long = "create-dirs")]
    pub create_dirs: bool,
    /// With -O: name the file as the response's Content-Disposition says (its folders
    /// stripped); an existing file is never overwritten (exit 23).
    #[arg(short = 'J', long = "remote-header-name", requires = "remote_name")]
    pub remote_header_name: bool,
    /// Ask for this byte range only ("0-499", "500-", "-500", or several, comma-separated).
    #[arg(short = 'r', long = "range", value_name = "RANGE")]
    pub range: Option<String>,
    /// Resume at this byte offset, or with "-" where the output file ends: the body is
    /// appended to it when the server sends the rest (206); a server that sends the whole
    /// (200) is exit 33 and the file is left as it was, as curl.
    #[arg(short = 'C', long = "continue-at", value_name = "OFFSET", allow_hyphen_values = true)]
    pub continue_at: Option<String>,
    /// Cookies: "NAME=VALUE[; NAME2=VALUE2]" is sent as it is (to the first origin), anything
    /// else is a Netscape cookie file to read ("" none) and turns the cookie engine on:
    /// Set-Cookie is kept and sent back where domain, path and expiry match, as curl's -b.
    #[arg(short = 'b', long = "cookie", value_name = "DATA|FILE")]
    pub cookie: Vec<String>,
    /// Write every cookie the engine holds at the end to FILE ("-" is stdout), in the
    /// Netscape format curl's -c writes (and -b reads).
    #[arg(short = 'c', long = "cookie-jar", value_name = "FILE")]
    pub cookie_jar: Option<PathBuf>,
    /// Send HTTP/1.0 requests (curl's -0).
    #[arg(short = '0', long = "http1.0")]
    pub http10: bool,
    /// Send this Referer.
    #[arg(short = 'e', long = "referer", value_name = "URL")]
    pub referer: Option<String>,
    /// Try a transfer again, up to NUM times, after a transient failure: a timeout, or a
    /// status of 408, 429, 500, 502, 503 or 504 (waiting as Retry-After says, else 1 s
    /// doubling to 10 min), as curl's --retry.
    #[arg(long = "retry", value_name = "NUM", default_value_t = 0)]
    pub retry: u32,
    /// With --retry: wait this many seconds between attempts instead.
    #[arg(long = "retry-delay", value_name = "SECS", value_parser = seconds)]
    pub retry_delay: Option<f64>,
    /// With --retry: start no new attempt once this many seconds have passed since the first.
    #[arg(long = "retry-max-time", value_name = "SECS", value_parser = seconds)]
    pub retry_max_time: Option<f64>,
    /// With --retry: a refused connection is transient too.
    #[arg(long = "retry-connrefused")]
    pub retry_connrefused: bool,
    /// With --retry: every failure is transient.
    #[arg(long = "retry-all-errors")]
    pub retry_all_errors: bool,
    /// Print the status line and headers before the body.
    #[arg(short = 'i', long = "include")]
    pub include: bool,
    /// Exit 22, without the body, when the status is 400 or more.
    #[arg(short = 'f', long = "fail", conflicts_with = "fail_with_body")]
    pub fail: bool,
    /// Exit 22 when the status is 400 or more, after writing the body.
    #[arg(long = "fail-with-body")]
    pub fail_with_body: bool,
    /// Seconds before connecting or reading gives up.
    #[arg(long = "timeout", value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Give up on each transfer (connecting, sending, the whole body, redirects) after this
    /// many seconds, however the server paces it: exit 28, as curl's -m.
    #[arg(short = 'm', long = "max-time", value_name = "SECS", value_parser = seconds)]
    pub max_time: Option<f64>,
    /// Give up on connecting (the TLS handshake included) after this many seconds, as curl's;
    /// --timeout still bounds each read and write.
    #[arg(long = "connect-timeout", value_name = "SECS", value_parser = seconds)]
    pub connect_timeout: Option<f64>,
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
    #[arg(short = 'O', long = "remote-name", action = clap::ArgAction::Append, num_args = 0,
          default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub remote_name: Vec<bool>,
    /// Where each URL's body goes, in order: the -o and -O options as they were given (see
    /// `with_targets`); a URL past them goes to stdout.
    #[arg(skip)]
    pub targets: Vec<Target>,
    /// After each transfer print FORMAT, curl's variables filled in: %{http_code} (000 when
    /// none came), %{size_download} (bytes written: decoded ones with --compressed),
    /// %{size_header}, %{content_type}, %{url_effective}, %{redirect_url}, %{num_redirects},
    /// %{remote_ip}, %{remote_port}, %{time_connect}, %{time_starttransfer}, %{time_total},
    /// %{exitcode}, %{errormsg}, %{json}; %% is %, and \n, \r, \t newline, return and tab.
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
    /// Go through this HTTP proxy, [http://][user:password@]host[:port] (port 1080 unless
    /// named, as curl's): the absolute URL asked of it for http://, a CONNECT tunnel for
    /// https://; "" for none. Without -x, the proxy comes from http_proxy, https_proxy or
    /// HTTPS_PROXY, all_proxy or ALL_PROXY, as curl reads them (never HTTP_PROXY).
    #[arg(short = 'x', long = "proxy", value_name = "URL")]
    pub proxy: Option<String>,
    /// Hosts that go direct, not through a proxy: comma-separated names (and their
    /// subdomains), addresses, CIDR ranges, or "*" for all; instead of no_proxy or NO_PROXY.
    #[arg(long = "noproxy", value_name = "LIST")]
    pub noproxy: Option<String>,
    /// The http:// and https:// URLs.
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,
}

/// `httplib request`: the shared options plus a method and a body.
#[derive(Args, Debug)]
pub struct RequestArgs {
    /// The request method (default GET; POST with a body; PUT with -T).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,
    /// Body as text, @FILE or @- for stdin (a file's CR and LF dropped, as curl does), sent
    /// as a form (application/x-www-form-urlencoded); every -d, --data-binary and
    /// --data-urlencode is joined with "&" in the order given.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub data: Vec<String>,
    /// Body as bytes, @FILE, or @- for stdin, sent as it is (a file streamed).
    #[arg(long = "data-binary", value_name = "DATA")]
    pub data_binary: Vec<String>,
    /// A form value percent-encoded, as curl's: "content", "=content", "name=content",
    /// "@FILE" or "name@FILE" (the name is sent as given, the content encoded).
    #[arg(long = "data-urlencode", value_name = "DATA")]
    pub data_urlencode: Vec<String>,
    /// With -d, --data-binary or --data-urlencode: send the data as the URL's query in a GET
    /// (HEAD with -I) instead of as a body.
    #[arg(short = 'G', long = "get")]
    pub get: bool,
    /// JSON body: text, @FILE or @- (repeated, joined as they are), with Content-Type and
    /// Accept of application/json, as curl's --json.
    #[arg(long = "json", value_name = "DATA", conflicts_with_all = ["data", "data_binary", "data_urlencode", "get"])]
    pub json: Vec<String>,
    /// A multipart/form-data part (POST): "name=value", "name=@FILE" (a file, with its name),
    /// "name=<FILE" (a file's content as the value), "@-" and "<-" for stdin; ";type=TYPE"
    /// and ";filename=NAME" after it set the part's Content-Type and file name.
    #[arg(short = 'F', long = "form", value_name = "NAME=CONTENT",
          conflicts_with_all = ["data", "data_binary", "data_urlencode", "json", "get"])]
    pub form: Vec<String>,
    /// Upload FILE as the body of a PUT (to URL/FILE's name when the URL ends with "/");
    /// "-" reads stdin and sends it chunked.
    #[arg(short = 'T', long = "upload-file", value_name = "FILE",
          conflicts_with_all = ["data", "data_binary", "data_urlencode", "json", "form", "get"])]
    pub upload_file: Option<PathBuf>,
    /// The data options in the order given (see `with_order`).
    #[arg(skip)]
    pub data_in_order: Vec<DataArg>,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// One of -d, --data-binary and --data-urlencode, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataArg {
    /// -d: text, or a file's content without its CR and LF.
    Ascii(String),
    /// --data-binary: bytes as they are.
    Binary(String),
    /// --data-urlencode: a value to percent-encode.
    UrlEncode(String),
}

impl RequestArgs {
    /// These arguments with `data_in_order` and the output targets filled in from `matches`.
    pub fn with_order(mut self, matches: &clap::ArgMatches) -> Self {
        let mut ordered: Vec<(usize, DataArg)> = Vec::new();
        let mut take = |id: &str, values: &[String], make: fn(String) -> DataArg| {
            let at = matches.indices_of(id).into_iter().flatten();
            ordered.extend(at.zip(values.iter().cloned().map(make)));
        };
        take("data", &self.data, DataArg::Ascii);
        take("data_binary", &self.data_binary, DataArg::Binary);
        take("data_urlencode", &self.data_urlencode, DataArg::UrlEncode);
        ordered.sort_by_key(|(at, _)| *at);
        self.data_in_order = ordered.into_iter().map(|(_, d)| d).collect();
        self.fetch = self.fetch.with_targets(matches);
        self
    }
}

/// A positive number of seconds, fractions allowed.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() => Ok(secs),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

impl FetchArgs {
    /// The proxy each URL is planned with: -x, else the environment's variables (the guest
    /// reads them as curl does); --noproxy stands for no_proxy with either.
    pub(super) fn proxy_setting(&self) -> ProxySetting {
        let with_noproxy = |mut vars: Vec<(String, String)>| {
            if let Some(list) = &self.noproxy {
                vars.retain(|(name, _)| !name.eq_ignore_ascii_case("no_proxy"));
                vars.push(("no_proxy".into(), list.clone()));
            }
            ProxySetting::Environment(vars)
        };
        match (&self.proxy, &self.noproxy) {
            (Some(proxy), None) => ProxySetting::Url(proxy.clone()),
            // -x is the proxy for every scheme: as variables, so that --noproxy applies too.
            (Some(proxy), Some(_)) => with_noproxy(vec![
                ("http_proxy".into(), proxy.clone()),
                ("https_proxy".into(), proxy.clone()),
            ]),
            (None, _) => with_noproxy(
                std::env::vars()
                    .filter(|(name, _)| name.to_ascii_lowercase().ends_with("_proxy"))
                    .collect(),
            ),
        }
    }

    /// These arguments with `targets` filled in from `matches` (the subcommand's): each -o and
    /// -O in the order given, as curl pairs them with the URLs.
    pub fn with_targets(mut self, matches: &clap::ArgMatches) -> Self {
        let files = matches
            .indices_of("output")
            .into_iter()
            .flatten()
            .zip(self.output.iter().cloned());
        let mut ordered: Vec<(usize, Target)> = files.map(|(at, path)| (at, Target::File(path))).collect();
        let remote = matches.indices_of("remote_name").into_iter().flatten();
        ordered.extend(remote.map(|at| (at, Target::RemoteName)));
        ordered.sort_by_key(|(at, _)| *at);
        self.targets = ordered.into_iter().map(|(_, target)| target).collect();
        self
    }
}

/// Where one URL's body goes: `-o FILE` (`-` is stdout), `-O` (a file named after the URL),
/// or stdout for a URL with no output option of its own; as curl pairs them, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This file.
    File(PathBuf),
    /// The file named by the URL's last path segment.
    RemoteName,
    /// Standard output.
    Stdout,
}
