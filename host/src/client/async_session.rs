//! A client session for async hosts (tokio or any executor): the session's calls are awaited,
//! never blocking the caller's thread, and dropping a call's future cancels the session.
//!
//! Today the session runs on a thread of its own (`httplib-session`), which waits on the
//! session's sockets while the caller's task is parked on a oneshot channel; the caller's
//! executor never blocks. A call is a closure over the blocking [`ClientSession`], so any
//! sequence of http.client calls (a whole exchange, say) makes one round trip to that thread.
//!
//! Cancellation: when a call's future is dropped before it finished (a `tokio::time::timeout`
//! ran out, a `select!` took another branch, the task was aborted), the session is cancelled
//! through its [`CancelHandle`]: its sockets are shut at once, so a guest blocked on one
//! returns, and the session's thread then drops the store, which returns the instance. Every
//! later call answers [`ClientError::Cancelled`].

use super::{ClientError, ClientSession, Result};
use crate::runtime::HostState;
use crate::view::{CancelHandle, HttplibView};
use std::sync::mpsc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// One call, run on the session's thread.
type Job<T> = Box<dyn FnOnce(&mut ClientSession<T>) + Send>;

/// A [`ClientSession`] whose calls are futures (see the module).
pub struct AsyncClientSession<T: HttplibView + 'static = HostState> {
    /// Calls for the session's thread; none once the session is closed.
    jobs: Option<mpsc::Sender<Job<T>>>,
    cancel: CancelHandle,
    thread: Option<JoinHandle<()>>,
}

/// Cancels the session if dropped before `finished` is set: the call's future went away.
struct CancelOnDrop {
    cancel: CancelHandle,
    finished: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.finished {
            self.cancel.cancel();
        }
    }
}

impl<T: HttplibView + 'static> AsyncClientSession<T> {
    /// Hand `session` to a thread of its own; its calls are then made with [`run`](Self::run).
    pub fn new(mut session: ClientSession<T>) -> std::io::Result<Self> {
        let cancel = session.cancel_handle();
        let (jobs, calls) = mpsc::channel::<Job<T>>();
        let cancelled = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("httplib-session".into())
            .spawn(move || {
                for call in calls {
                    call(&mut session);
                    if cancelled.is_cancelled() {
                        // Nothing more can succeed: the store (and its instance) goes now.
                        break;
                    }
                }
            })?;
        Ok(Self {
            jobs: Some(jobs),
            cancel,
            thread: Some(thread),
        })
    }

    /// Run `call` against the session on its thread and await its result. Dropping the
    /// returned future before it is ready cancels the session (see the module).
    pub async fn run<R, F>(&mut self, call: F) -> Result<R>
    where
        F: FnOnce(&mut ClientSession<T>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        if self.cancel.is_cancelled() {
            return Err(ClientError::Cancelled);
        }
        let jobs = self.jobs.as_ref().ok_or(ClientError::Cancelled)?;
        let (answer, answered) = oneshot::channel();
        let job: Job<T> = Box::new(move |session| {
            let _ = answer.send(call(session));
        });
        jobs.send(job).map_err(|_| ClientError::Cancelled)?;
        let mut guard = CancelOnDrop {
            cancel: self.cancel.clone(),
            finished: false,
        };
        let result = answered.await;
        guard.finished = true;
        match result {
            // A call that failed because the session was cancelled under it says so.
            Ok(Err(_)) if self.cancel.is_cancelled() => Err(ClientError::Cancelled),
            Ok(r) => r,
            // The thread went without answering: the call panicked (the guest's traps are
            // errors, not panics) or the session was cancelled.
            Err(_) => Err(ClientError::Cancelled),
        }
    }

    /// A handle that cancels the session from anywhere (as dropping a call does).
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Whether the session was cancelled: every call now answers [`ClientError::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

impl<T: HttplibView + 'static> Drop for AsyncClientSession<T> {
    /// The thread ends after the call in flight, dropping the store; this does not wait for it.
    fn drop(&mut self) {
        self.jobs = None;
        drop(self.thread.take());
    }
}
