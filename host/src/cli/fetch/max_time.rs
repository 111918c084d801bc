//! `-m/--max-time`: each transfer ends by its deadline however the server paces it (a byte a
//! second in the head or the body included). A watchdog thread cancels the session when the
//! deadline passes: its sockets are shut under the call that waits, and the call fails.

use crate::view::CancelHandle;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Watches one transfer.
pub(super) struct Watchdog {
    stop: mpsc::Sender<()>,
    fired: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Cancel the session of `cancel` `after` from now, unless disarmed first.
    pub fn arm(cancel: CancelHandle, after: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        let thread = std::thread::Builder::new()
            .name("httplib-max-time".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(after) {
                    flag.store(true, Ordering::SeqCst);
                    cancel.cancel();
                }
            })
            .ok();
        Self { stop, fired, thread }
    }

    /// Stop watching; whether the deadline had passed (and the session was cancelled).
    pub fn disarm(mut self) -> bool {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.fired.load(Ordering::SeqCst)
    }
}
