//! A CGI script running: what the guest's `cgi.script` resource is on the host. Its stdout is
//! one end of an in-memory pipe the script writes into as it runs (a bounded one: a script
//! that writes faster than its client reads waits), and its end arrives once its store is
//! gone. Knows nothing of WIT (`wit_host` converts) nor of how scripts run (`cgi`).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncReadExt, AsyncWrite, DuplexStream};
use tokio::sync::oneshot;

/// Bytes a script may have written that its reader has not taken yet (ours: one copy block).
pub const SCRIPT_PIPE_CAPACITY: usize = 64 * 1024;

/// Why the host stopped a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It trapped.
    Trapped,
    /// It ran past its time limit.
    TimeLimit,
    /// It asked for more memory than its limit.
    MemoryLimit,
}

impl Stop {
    /// The limit or failure, in words for the log.
    pub fn describe(self) -> &'static str {
        match self {
            Stop::Trapped => "it trapped",
            Stop::TimeLimit => "it ran past its time limit",
            Stop::MemoryLimit => "it went over its memory limit",
        }
    }
}

/// How a script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptEnd {
    /// Its exit status.
    pub exit_code: u8,
    /// Why the host stopped it, if it did.
    pub stopped: Option<Stop>,
    /// What it wrote to stderr (capped).
    pub stderr: Vec<u8>,
}

/// A script running (see the module).
pub struct RunningScript {
    stdout: DuplexStream,
    end: Option<oneshot::Receiver<ScriptEnd>>,
    /// Called when the script is dropped before its end: stops it.
    stop: Option<Box<dyn FnOnce() + Send + Sync>>,
}

/// The script's side of its stdout pipe, shared by every stream WASI makes of it.
#[derive(Clone)]
pub struct ScriptStdout(Arc<Mutex<DuplexStream>>);

impl RunningScript {
    /// A script whose stdout is the returned writer's, whose end comes on `end`, and which
    /// `stop` ends early.
    pub fn new(stop: impl FnOnce() + Send + Sync + 'static) -> (Self, ScriptStdout, oneshot::Sender<ScriptEnd>) {
        let (stdout, writer) = tokio::io::duplex(SCRIPT_PIPE_CAPACITY);
        let (ended, end) = oneshot::channel();
        let script = Self {
            stdout,
            end: Some(end),
            stop: Some(Box::new(stop)),
        };
        (script, ScriptStdout(Arc::new(Mutex::new(writer))), ended)
    }

    /// Up to `max` bytes the script wrote, waiting until some are there; empty at its end.
    pub async fn read(&mut self, max: usize) -> Vec<u8> {
        let mut buf = vec![0u8; max.clamp(1, SCRIPT_PIPE_CAPACITY)];
        match self.stdout.read(&mut buf).await {
            Ok(n) => {
                buf.truncate(n);
                buf
            }
            Err(_) => Vec::new(),
        }
    }

    /// Wait for the script's end.
    pub async fn finish(&mut self) -> ScriptEnd {
        let lost = ScriptEnd {
            exit_code: 1,
            stopped: Some(Stop::Trapped),
            stderr: Vec::new(),
        };
        match self.end.take() {
            Some(end) => {
                let ended = end.await.unwrap_or(lost);
                self.stop = None;
                ended
            }
            None => lost,
        }
    }
}

impl Drop for RunningScript {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

impl AsyncWrite for ScriptStdout {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let mut writer = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Pin::new(&mut *writer).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut writer = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Pin::new(&mut *writer).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut writer = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Pin::new(&mut *writer).poll_shutdown(cx)
    }
}

impl wasmtime_wasi::cli::IsTerminal for ScriptStdout {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for ScriptStdout {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn what_the_script_writes_is_read_as_it_comes_then_its_end() {
        crate::wait::block_on(async {
            let (mut script, stdout, _ended) = RunningScript::new(|| {});
            let mut writer = Box::into_pin(wasmtime_wasi::cli::StdoutStream::async_stream(&stdout));
            writer.write_all(b"Content-Type: text/plain\r\n\r\n").await.unwrap();
            assert_eq!(script.read(1024).await, b"Content-Type: text/plain\r\n\r\n");
            writer.write_all(b"line 1\n").await.unwrap();
            assert_eq!(script.read(1024).await, b"line 1\n", "each line as it is written");
        });
    }

    #[test]
    fn dropping_a_script_before_its_end_stops_it_and_the_end_comes_once() {
        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stopped.clone();
        let (script, _stdout, _ended) =
            RunningScript::new(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
        drop(script);
        assert!(stopped.load(std::sync::atomic::Ordering::SeqCst));

        let (mut script, stdout, ended) = RunningScript::new(|| panic!("an ended script is not stopped"));
        drop(stdout);
        let end = ScriptEnd {
            exit_code: 3,
            stopped: None,
            stderr: b"oops".to_vec(),
        };
        ended.send(end.clone()).unwrap();
        crate::wait::block_on(async {
            assert!(
                script.read(10).await.is_empty(),
                "all writers gone: the end of its stdout"
            );
            assert_eq!(script.finish().await, end);
        });
    }
}
