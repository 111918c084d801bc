//! One URL's transfer as the output options shape it: the last response fetched (redirects
//! followed), then the output chosen knowing it (-o, -O, -J's Content-Disposition name,
//! --output-dir, --create-dirs, -C's append), -D's dump, --fail and --fail-with-body, and
//! --retry's further attempts after a transient failure.

use super::args::{FetchArgs, Target};
use super::failure::{ClientErrorOrIo, exit, exit_code, is_broken_pipe};
use super::fetcher::{Answer, Fetcher};
use super::max_time::Watchdog;
use super::output::{OutputFile, remote_name, say};
use super::upload::Payload;
use super::write_out::Report;
use crate::view::CancelHandle;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Statuses curl's --retry takes for transient (RFC 9110: timeout, too many requests, and
/// the server errors that say "try later").
const TRANSIENT_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];
/// --retry's first wait, doubled after each attempt (curl's).
const FIRST_RETRY_WAIT: Duration = Duration::from_secs(1);
/// --retry's longest wait (curl's ten minutes).
const LONGEST_RETRY_WAIT: Duration = Duration::from_secs(600);

/// One URL to fetch and where its body goes.
pub(super) struct Job<'a> {
    pub(super) url: &'a str,
    pub(super) target: Target,
    pub(super) method: &'a str,
    pub(super) payload: &'a Payload,
    pub(super) headers: &'a [(String, Vec<u8>)],
}

/// How a transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// Done: go on to the next URL.
    Done,
    /// A status of 400 or more under --fail or --fail-with-body: go on, exit 22 at the end.
    FailedStatus,
    /// Stop here with this exit status.
    Exit(u8),
}

/// What one attempt came to.
enum Attempt {
    Ended(Ended),
    /// A transient failure that --retry tries again: what to call it, and how long the
    /// server asked us to wait (Retry-After).
    Transient(&'static str, Option<Duration>),
}

/// Where -D writes every response's head.
pub(super) type Dump = Option<Box<dyn Write>>;

/// Fetch `job`, trying again after transient failures as --retry allows; how it ended and
/// its report for -w.
pub(super) fn transfer(fetcher: &mut Fetcher, job: &Job, dump: &mut Dump, cancel: &CancelHandle) -> (Ended, Report) {
    let args = fetcher.args;
    let first = Instant::now();
    let mut retries_left = args.retry;
    let mut wait = FIRST_RETRY_WAIT;
    loop {
        let in_time = args
            .retry_max_time
            .is_none_or(|max| first.elapsed().as_secs_f64() < max);
        let may_retry = retries_left > 0 && in_time;
        let (attempt, report) = attempt(fetcher, job, dump, cancel, may_retry);
        let Attempt::Transient(problem, asked) = attempt else {
            let Attempt::Ended(ended) = attempt else { unreachable!() };
            return (ended, report);
        };
        let pause = args.retry_delay.map(Duration::from_secs_f64).or(asked).unwrap_or(wait);
        if !args.silent {
            eprintln!(
                "Warning: Problem : {problem}. Will retry in {} seconds. {retries_left} retries left.",
                pause.as_secs()
            );
        }
        std::thread::sleep(pause);
        wait = (wait * 2).min(LONGEST_RETRY_WAIT);
        retries_left -= 1;
    }
}

/// One attempt: the request, its answer, the output.
fn attempt(
    fetcher: &mut Fetcher,
    job: &Job,
    dump: &mut Dump,
    cancel: &CancelHandle,
    may_retry: bool,
) -> (Attempt, Report) {
    let args = fetcher.args;
    let started = Instant::now();
    let mut report = Report {
        url_effective: job.url.to_string(),
        ..Report::default()
    };
    fetcher.received = 0;
    fetcher.connected_at = None;
    let watchdog = args
        .max_time
        .map(|secs| Watchdog::arm(cancel.clone(), Duration::from_secs_f64(secs)));
    let result = answer_and_write(fetcher, job, dump, may_retry, started, &mut report);
    let timed_out = watchdog.is_some_and(Watchdog::disarm);
    report.time_total = started.elapsed();
    report.remote = fetcher.remote();
    if let Some(at) = fetcher.connected_at {
        report.time_connect = at.duration_since(started);
    }
    let e = match result {
        Ok(attempt) => return (attempt, report),
        Err(e) => e,
    };
    let (code, message) = match timed_out {
        // curl's words for it, and its code.
        true => (
            exit::OPERATION_TIMEDOUT,
            format!(
                "Operation timed out after {} milliseconds with {} bytes received",
                started.elapsed().as_millis(),
                fetcher.received
            ),
        ),
        false => (exit_code(e.as_ref()), e.to_string()),
    };
    report.exitcode = code;
    report.size_download = fetcher.received;
    let transient = match code {
        exit::OPERATION_TIMEDOUT => Some("timeout"),
        exit::COULDNT_CONNECT if args.retry_connrefused => Some("connection refused"),
        _ if args.retry_all_errors => Some("error"),
        _ => None,
    };
    if let Some(problem) = transient.filter(|_| may_retry) {
        return (Attempt::Transient(problem, None), report);
    }
    if is_broken_pipe(e.as_ref()) {
        // The reader is gone (`| head`): nothing more to say to anyone.
        return (Attempt::Ended(Ended::Exit(code)), report);
    }
    say(args, &message);
    if code == exit::URL_MALFORMAT && !job.url.contains("://") {
        say(args, &format!("a URL starts with its scheme: http://{}", job.url));
    }
    report.errormsg = Some(message);
    (Attempt::Ended(Ended::Exit(code)), report)
}

type AttemptResult = Result<Attempt, Box<dyn std::error::Error>>;

/// The answer, and what the options do with it.
fn answer_and_write(
    fetcher: &mut Fetcher,
    job: &Job,
    dump: &mut Dump,
    may_retry: bool,
    started: Instant,
    report: &mut Report,
) -> AttemptResult {
    let args = fetcher.args;
    let offset = resume_offset(args, &job.target, job.url)?;
    let mut headers = job.headers.to_vec();
    if offset > 0 && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("range")) {
        headers.push(("Range".into(), format!("bytes={offset}-").into_bytes()));
    }
    let answer = fetcher.fetch_head(job.url, job.method, job.payload, &headers)?;
    let Answer { response, status, .. } = answer;
    report.http_code = status;
    report.num_redirects = answer.redirects;
    report.url_effective = answer.url.clone();
    report.size_header = answer.heads.len() as u64;
    report.time_starttransfer = started.elapsed();
    report.content_type = fetcher.header(response, "content-type")?;
    report.redirect_url = answer.redirect_url.clone();
    if let Some(dump) = dump {
        dump.write_all(&answer.heads)
            .and_then(|()| dump.flush())
            .map_err(ClientErrorOrIo::Io)?;
    }
    if may_retry && TRANSIENT_STATUSES.contains(&status) {
        let asked = fetcher.header(response, "retry-after")?;
        let asked = asked
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        fetcher.drop_body(response)?;
        return Ok(Attempt::Transient("HTTP error", asked));
    }
    if args.fail && status >= 400 {
        fetcher.close_response(response)?;
        say(args, &format!("The requested URL returned error: {status}"));
        return Ok(Attempt::Ended(Ended::FailedStatus));
    }
    let mode = match (offset, status) {
        (0, _) => Mode::Replace,
        (_, 206) => Mode::Append,
        (_, 416) => {
            // Asked for what follows the end: the file is whole already.
            fetcher.drop_body(response)?;
            return Ok(Attempt::Ended(Ended::Done));
        }
        (_, 200..=299) => {
            fetcher.close_response(response)?;
            say(args, "HTTP server doesn't seem to support byte ranges. Cannot resume.");
            return Ok(Attempt::Ended(Ended::Exit(exit::RANGE_ERROR)));
        }
        _ => Mode::Append,
    };
    let path = match output_path(fetcher, job, response)? {
        Ok(path) => path,
        Err(code) => {
            fetcher.close_response(response)?;
            return Ok(Attempt::Ended(Ended::Exit(code)));
        }
    };
    let mut file = match &path {
        Some(path) => match open_output(args, path, mode) {
            Ok(file) => Some(file),
            Err(why) => {
                fetcher.close_response(response)?;
                say(args, &why);
                return Ok(Attempt::Ended(Ended::Exit(exit::WRITE_ERROR)));
            }
        },
        None => None,
    };
    fetcher.guard_terminal = job.target == Target::Stdout && std::io::stdout().is_terminal();
    fetcher.progress = file.is_some() && !args.silent && std::io::stderr().is_terminal();
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let out: &mut dyn Write = match &mut file {
        Some(file) => file,
        None => &mut stdout,
    };
    let written = write_answer(fetcher, &answer, response, out);
    let _ = out.flush();
    // FILE changes only when its transfer succeeded; otherwise it keeps what it held.
    let kept = match (file, &written) {
        (Some(file), Ok(_)) => file.keep(),
        (Some(file), Err(_)) => {
            file.discard();
            Ok(())
        }
        (None, _) => Ok(()),
    };
    report.size_download = written?;
    kept.map_err(ClientErrorOrIo::Io)?;
    if args.fail_with_body && status >= 400 {
        say(args, &format!("The requested URL returned error: {status}"));
        return Ok(Attempt::Ended(Ended::FailedStatus));
    }
    Ok(Attempt::Ended(Ended::Done))
}

/// -i's heads, then the body; the body's size.
fn write_answer(
    fetcher: &mut Fetcher,
    answer: &Answer,
    response: crate::client::Response,
    out: &mut dyn Write,
) -> Result<u64, ClientErrorOrIo> {
    if fetcher.args.include || fetcher.args.head {
        out.write_all(&answer.heads)?;
    }
    fetcher.copy_body(response, out)
}

/// How an output file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Whole, replacing what it held once the transfer succeeded.
    Replace,
    /// After what it holds (-C).
    Append,
}

/// Where -C starts: its number, or with "-" the size of the output file (0 if none yet).
fn resume_offset(args: &FetchArgs, target: &Target, url: &str) -> Result<u64, ClientErrorOrIo> {
    match args.continue_at.as_deref() {
        None => Ok(0),
        Some("-") => {
            let path = match target {
                Target::File(path) if path.as_os_str() != "-" => Some(with_dir(args, path.clone())),
                Target::RemoteName => remote_name(url).map(|name| with_dir(args, name.into())),
                _ => None,
            };
            Ok(path.and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len()))
        }
        Some(n) => n
            .parse()
            .map_err(|_| ClientErrorOrIo::Usage(format!("-C {n:?}: an offset in bytes, or \"-\""))),
    }
}

/// An output path under --output-dir (a relative one).
fn with_dir(args: &FetchArgs, path: PathBuf) -> PathBuf {
    match &args.output_dir {
        Some(dir) => dir.join(path),
        None => path,
    }
}

/// The file the target names for this answer (none: stdout); `Err` is the exit status
/// when it names none.
fn output_path(
    fetcher: &mut Fetcher,
    job: &Job,
    response: crate::client::Response,
) -> Result<Result<Option<PathBuf>, u8>, Box<dyn std::error::Error>> {
    let args = fetcher.args;
    let name = match &job.target {
        Target::Stdout => return Ok(Ok(None)),
        Target::File(path) if path.as_os_str() == "-" => return Ok(Ok(None)),
        Target::File(path) => return Ok(Ok(Some(with_dir(args, path.clone())))),
        Target::RemoteName => {
            let suggested = match args.remote_header_name {
                true => match fetcher.header(response, "content-disposition")? {
                    Some(value) => fetcher.session.content_disposition_filename(&value)?,
                    None => None,
                },
                false => None,
            };
            let Some(name) = suggested.or_else(|| remote_name(job.url)) else {
                say(args, "Remote file name has no length!");
                return Ok(Err(exit::WRITE_ERROR));
            };
            name
        }
    };
    let path = with_dir(args, name.clone().into());
    if args.remote_header_name && std::fs::symlink_metadata(&path).is_ok() {
        say(args, &format!("Refusing to overwrite {name}: File exists"));
        return Ok(Err(exit::WRITE_ERROR));
    }
    Ok(Ok(Some(path)))
}

/// The output file, its folders made first with --create-dirs.
fn open_output(args: &FetchArgs, path: &std::path::Path, mode: Mode) -> Result<OutputFile, String> {
    if args.create_dirs
        && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let opened = match mode {
        Mode::Replace => OutputFile::create(path),
        Mode::Append => Ok(OutputFile::append(path)),
    };
    opened.map_err(|e| format!("cannot write {}: {e}", path.display()))
}
