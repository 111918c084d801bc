//! CGIHTTPRequestHandler's `run_cgi`: find the script, refuse what is not a WebAssembly
//! component (403), start it in the host's sandbox with the CGI/1.1 environment and the
//! request body, then answer with what it writes, as it writes it (RFC 3875: its header
//! block the response head, `Status:` the status line).

use super::Handler;
use super::carry::Carried;
use super::handler::ScriptInputSoFar;
use crate::error::HttpError;
use crate::proto::body::BodyDecoder;
use crate::proto::cgi::{ServerSide, environment, is_component, script_args, split_script};
use crate::proto::cgi_response::{ScriptHeadParse, parse_script_head};
use crate::proto::chunked::encode_chunk;
use crate::proto::limits::COPY_BUFSIZE;
use crate::proto::pyrepr::py_repr;
use crate::proto::translate_path::translate_path;
use crate::transport::{RunningScript, ScriptEnd, ScriptError, ServerPhase, TransportError};
use std::fs;

/// Largest script file read (ours: a component this size is already a big program).
pub const MAX_SCRIPT_BYTES: u64 = 16 * 1024 * 1024;
/// Largest request body handed to a script's stdin; past it, 413 (ours: CPython reads any size
/// into memory; nginx's `client_max_body_size` is 1 MiB). Sized so a script and its input fit
/// in its instance's 64 MiB together.
pub const MAX_SCRIPT_INPUT: u64 = 8 * 1024 * 1024;
/// A body over `MAX_SCRIPT_INPUT` is read and dropped up to this much, so the client, still
/// sending, reads the 413 instead of a reset; a longer one is cut off (ours).
pub const MAX_DISCARDED_INPUT: u64 = 64 * 1024 * 1024;

/// Whether the file at `path` begins as a WebAssembly component does (its first bytes only).
fn starts_as_component(path: &str) -> bool {
    use std::io::Read;
    let mut preamble = [0u8; 8];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut preamble))
        .is_ok()
        && is_component(&preamble)
}

impl Handler {
    /// `run_cgi` for a request under the CGI directory `dir`, `rest` being what follows it.
    pub(super) fn run_cgi(&mut self, dir: &str, rest: &str) -> Result<(), HttpError> {
        let root = self.config.directory.clone();
        let on_disk = |url: &str| translate_path(url).map(|p| p.under(&root));
        let script = split_script(dir, rest, |d| {
            on_disk(d).is_some_and(|p| fs::metadata(p).is_ok_and(|m| m.is_dir()))
        });
        let name = script.script_name();
        let meta = on_disk(&name).and_then(|p| fs::metadata(&p).ok().map(|m| (p, m)));
        let Some((file, meta)) = meta else {
            return self.send_error(404, Some(&format!("No such CGI script ({})", py_repr(&name))), None);
        };
        if !meta.is_file() {
            let msg = format!("CGI script is not a plain file ({})", py_repr(&name));
            return self.send_error(403, Some(&msg), None);
        }
        let not_executable = format!("CGI script is not executable ({})", py_repr(&name));
        if meta.len() > MAX_SCRIPT_BYTES {
            return self.send_error(
                403,
                Some(&not_executable),
                Some("The script is larger than this server runs"),
            );
        }
        // The body first (it may be slow to arrive), the script's bytes only then: a
        // connection waiting for an upload holds no copy of the program.
        if !starts_as_component(&file) {
            let why = "Only WebAssembly components run as CGI scripts here";
            return self.send_error(403, Some(&not_executable), Some(why));
        }
        let stdin = if self.request.command == "POST" {
            match self.read_script_input()? {
                ScriptInput::Whole(body) => body,
                ScriptInput::TooLarge => return self.send_error(413, None, None),
                // Another instance goes on once more of the body arrives.
                ScriptInput::Carried => return Ok(()),
            }
        } else {
            Vec::new()
        };
        let program = match fs::read(&file) {
            Ok(p) if is_component(&p) => p,
            _ => return self.send_error(403, Some(&not_executable), None),
        };
        let software = self.version_string();
        let remote_addr = self.address_string();
        let server = ServerSide {
            server_software: &software,
            server_name: &self.config.server_name,
            server_port: self.config.server_port,
            protocol_version: &self.config.protocol_version,
            method: &self.request.command,
            remote_addr: &remote_addr,
            document_root: &root,
        };
        let env = environment(&server, &script, &self.request.headers);
        let args = script_args(&script);
        let started = match &self.scripts {
            Some(runner) => runner.start(&program, &args, &env, &stdin),
            None => Err(ScriptError::Disabled),
        };
        drop((program, stdin));
        let mut running = match started {
            Ok(running) => running,
            Err(ScriptError::Disabled) => return self.send_error(403, Some("CGI scripts are not run here"), None),
            Err(ScriptError::NotRunnable(why)) => return self.send_error(403, Some(&not_executable), Some(&why)),
            Err(ScriptError::Busy(retry_after)) => return self.script_busy(retry_after),
        };
        self.answer_script(running.as_mut())
    }

    /// Every place for a script is taken: 503 with `Retry-After`, and the connection closes.
    fn script_busy(&mut self, retry_after: u32) -> Result<(), HttpError> {
        self.log_request(Some(503), None);
        self.close_connection = true;
        let answer = super::busy_response(&self.config, retry_after);
        self.write(&answer)
    }

    /// Send what the script writes as it writes it: its header block as the response head
    /// (`Status:` the status line), then its body framed by its Content-Length, chunked on
    /// HTTP/1.1, or by closing the connection. A script stopped by a limit leaves the body
    /// visibly incomplete: no final chunk, or the connection closed short of its length.
    fn answer_script(&mut self, script: &mut dyn RunningScript) -> Result<(), HttpError> {
        let mut output = Vec::new();
        let mut ended = false;
        let (head, len) = loop {
            match parse_script_head(&output, ended) {
                ScriptHeadParse::Partial => {
                    let piece = script.read(COPY_BUFSIZE);
                    ended = piece.is_empty();
                    output.extend_from_slice(&piece);
                }
                ScriptHeadParse::Complete { head, len } => break (head, len),
                ScriptHeadParse::Invalid(why) => return self.script_without_head(script, ended, why),
            }
        };
        let head_only = self.request.command == "HEAD";
        let chunked =
            head.content_length.is_none() && self.http11() && self.request.request_version.as_str() >= "HTTP/1.1";
        self.send_response(head.status, head.reason.as_deref())?;
        for (name, value) in &head.fields {
            self.send_header(name, value)?;
        }
        if chunked {
            self.send_header("Transfer-Encoding", "chunked")?;
        } else if head.content_length.is_none() {
            // The end of the connection ends the body.
            self.close_connection = true;
            self.send_header("Connection", "close")?;
        }
        self.end_headers()?;
        let mut sent = 0u64;
        let mut pending = output.split_off(len);
        loop {
            if pending.is_empty() {
                pending = script.read(COPY_BUFSIZE);
                if pending.is_empty() {
                    break;
                }
            }
            let room = head.content_length.map_or(u64::MAX, |length| length - sent);
            let piece = &pending[..pending.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
            if !head_only && !piece.is_empty() {
                match chunked {
                    true => self.write(&encode_chunk(piece))?,
                    false => self.write(piece)?,
                }
            }
            sent += piece.len() as u64;
            // Past its Content-Length the script's output is read and dropped, to its end.
            pending.clear();
        }
        let end = script.finish();
        self.log_script_end(&end);
        let whole = end.stopped.is_none() && head.content_length.is_none_or(|length| sent == length);
        match (chunked && !head_only, whole) {
            (true, true) => self.write(b"0\r\n\r\n")?,
            (_, true) => {}
            (_, false) => {
                // Cut short: the client must see it (no final chunk; fewer bytes than said).
                self.close_connection = true;
                if let Some(stop) = end.stopped {
                    self.log_error(&format!("CGI script output cut short: {}", stop.describe()));
                }
            }
        }
        Ok(())
    }

    /// The script's output had no valid header block: 500 when it failed before writing one,
    /// 502 (as nginx answers an upstream's invalid header) otherwise. A script still running is
    /// stopped.
    fn script_without_head(&mut self, script: &mut dyn RunningScript, ended: bool, why: &str) -> Result<(), HttpError> {
        let end = ended.then(|| script.finish());
        if let Some(end) = &end {
            self.log_script_end(end);
            let failure = match end.stopped {
                Some(stop) => Some(format!("The script was stopped: {}", stop.describe())),
                None if end.exit_code != 0 => Some(format!(
                    "The script exited with status {:#x} before it wrote its header",
                    end.exit_code
                )),
                None => None,
            };
            if let Some(explain) = failure {
                return self.send_error(500, Some("CGI script failed"), Some(&explain));
            }
        }
        self.log_error(&format!("CGI script sent {why}"));
        self.send_error(502, None, Some(&format!("The script's output had {why}")))
    }

    /// The script's stderr and how it ended, to the log (as `run_cgi` logs them).
    fn log_script_end(&self, end: &ScriptEnd) {
        if !end.stderr.is_empty() {
            self.log_error(&String::from_utf8_lossy(&end.stderr));
        }
        match (end.stopped, end.exit_code) {
            (Some(stop), _) => self.log_error(&format!("CGI script stopped: {}", stop.describe())),
            (None, 0) => self.log_message("CGI script exited OK"),
            (None, code) => self.log_error(&format!("CGI script exit status {code:#x}")),
        }
    }

    /// The whole request body, unless it is longer than `MAX_SCRIPT_INPUT`. Never more than
    /// the limit is held: the rest is read and dropped (up to `MAX_DISCARDED_INPUT`). A
    /// Content-Length body that keeps the client waiting is carried over a park with what
    /// arrived of it (`carry`), and goes on from there in the instance that resumes it.
    fn read_script_input(&mut self) -> Result<ScriptInput, HttpError> {
        let declared = self.body_length().unwrap_or(0);
        let ScriptInputSoFar { mut input, mut seen } = self.script_input.take().unwrap_or(ScriptInputSoFar {
            input: Vec::new(),
            seen: 0,
        });
        if seen.saturating_add(declared) > MAX_DISCARDED_INPUT {
            self.close_connection = true;
            return Ok(ScriptInput::TooLarge);
        }
        if seen <= MAX_SCRIPT_INPUT {
            input.reserve(declared.min(MAX_SCRIPT_INPUT - seen) as usize);
        }
        let carriable = matches!(self.body, BodyDecoder::Length(_));
        if carriable {
            self.stream.set_phase(ServerPhase::AwaitingBody);
        }
        while seen <= MAX_DISCARDED_INPUT {
            let Some(piece) = self.read_body_or_closed(COPY_BUFSIZE)? else {
                let state = Carried::ScriptInput {
                    request: Box::new(self.request.clone()),
                    close_connection: self.close_connection,
                    seen,
                    input,
                    left: self.body_length().unwrap_or(0),
                };
                if carriable && self.carry(&state) {
                    return Ok(ScriptInput::Carried);
                }
                return Err(TransportError::Closed.into());
            };
            if piece.is_empty() {
                break;
            }
            seen += piece.len() as u64;
            if seen <= MAX_SCRIPT_INPUT {
                input.extend_from_slice(&piece);
            } else {
                input = Vec::new();
            }
        }
        self.stream.set_phase(ServerPhase::Responding);
        if seen > MAX_SCRIPT_INPUT {
            self.close_connection = true;
            return Ok(ScriptInput::TooLarge);
        }
        Ok(ScriptInput::Whole(input))
    }
}

/// What `read_script_input` got.
enum ScriptInput {
    /// The whole body.
    Whole(Vec<u8>),
    /// More than a script takes (413).
    TooLarge,
    /// Carried over a park: this instance is done with the connection.
    Carried,
}
