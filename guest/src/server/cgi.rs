//! CGIHTTPRequestHandler's `run_cgi`: find the script, refuse what is not a WebAssembly
//! component (403), hand it to the host's sandbox with the CGI/1.1 environment and the request
//! body, then send "200 Script output follows" and the script's output as it wrote it.

use super::Handler;
use crate::error::HttpError;
use crate::proto::cgi::{ServerSide, environment, header_block, is_component, script_args, split_script};
use crate::proto::limits::COPY_BUFSIZE;
use crate::proto::pyrepr::py_repr;
use crate::proto::translate_path::translate_path;
use crate::transport::{ScriptError, ScriptOutput};
use std::fs;

/// Largest script file read (ours: a component this size is already a big program).
pub const MAX_SCRIPT_BYTES: u64 = 16 * 1024 * 1024;
/// Largest request body handed to a script's stdin; past it, 413 (ours: CPython reads any size
/// into memory; nginx's `client_max_body_size` is 1 MiB). Sized so a script, its input and its
/// output (the host's 16 MiB cap) fit in the instance's 64 MiB together.
pub const MAX_SCRIPT_INPUT: u64 = 8 * 1024 * 1024;
/// A body over `MAX_SCRIPT_INPUT` is read and dropped up to this much, so the client, still
/// sending, reads the 413 instead of a reset; a longer one is cut off (ours).
pub const MAX_DISCARDED_INPUT: u64 = 64 * 1024 * 1024;

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
        let program = match fs::read(&file) {
            Ok(p) => p,
            Err(_) => return self.send_error(403, Some(&not_executable), None),
        };
        if !is_component(&program) {
            let why = "Only WebAssembly components run as CGI scripts here";
            return self.send_error(403, Some(&not_executable), Some(why));
        }
        let stdin = if self.request.command == "POST" {
            match self.read_script_input()? {
                Some(body) => body,
                None => return self.send_error(413, None, None),
            }
        } else {
            Vec::new()
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
        let result = match &self.scripts {
            Some(runner) => runner.run(&program, &args, &env, &stdin),
            None => Err(ScriptError::Disabled),
        };
        let output = match result {
            Ok(output) => output,
            Err(ScriptError::Disabled) => return self.send_error(403, Some("CGI scripts are not run here"), None),
            Err(ScriptError::NotRunnable(why)) => return self.send_error(403, Some(&not_executable), Some(&why)),
        };
        let failed = output.exit_code != 0 || output.stopped.is_some();
        if failed && output.stdout.is_empty() {
            // Nothing was written: unlike CPython, whose 200 is already out by now, the client
            // can still be told plainly.
            self.log_script_end(&output);
            let why = match &output.stopped {
                Some(why) => format!("The script was stopped: {why}"),
                None => format!(
                    "The script exited with status {:#x} and wrote nothing",
                    output.exit_code
                ),
            };
            return self.send_error(500, Some("CGI script failed"), Some(&why));
        }
        self.send_response(200, Some("Script output follows"))?;
        // The script's output carries its own header block and no framing: the end of the
        // connection ends the body.
        self.close_connection = true;
        let body = if self.request.command == "HEAD" {
            header_block(&output.stdout)
        } else {
            &output.stdout
        };
        self.write(body)?;
        self.log_script_end(&output);
        Ok(())
    }

    /// The script's stderr and how it ended, to the log (as `run_cgi` logs them).
    fn log_script_end(&self, output: &ScriptOutput) {
        if !output.stderr.is_empty() {
            self.log_error(&String::from_utf8_lossy(&output.stderr));
        }
        match (&output.stopped, output.exit_code) {
            (Some(why), _) => self.log_error(&format!("CGI script stopped: {why}")),
            (None, 0) => self.log_message("CGI script exited OK"),
            (None, code) => self.log_error(&format!("CGI script exit status {code:#x}")),
        }
    }

    /// The whole request body, or `None` when it is longer than `MAX_SCRIPT_INPUT`. Never
    /// more than the limit is held: the rest is read and dropped (up to `MAX_DISCARDED_INPUT`).
    fn read_script_input(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        let declared = self.body_length().unwrap_or(0);
        if declared > MAX_DISCARDED_INPUT {
            self.close_connection = true;
            return Ok(None);
        }
        let mut body = Vec::with_capacity(declared.min(MAX_SCRIPT_INPUT) as usize);
        let mut seen = 0u64;
        while seen <= MAX_DISCARDED_INPUT {
            let piece = self.read_body(COPY_BUFSIZE)?;
            if piece.is_empty() {
                break;
            }
            seen += piece.len() as u64;
            if seen <= MAX_SCRIPT_INPUT {
                body.extend_from_slice(&piece);
            } else {
                body = Vec::new();
            }
        }
        if seen > MAX_SCRIPT_INPUT {
            self.close_connection = true;
            return Ok(None);
        }
        Ok(Some(body))
    }
}
