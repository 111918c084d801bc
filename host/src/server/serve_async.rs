//! The server from async code: [`Server::serve_until`] answers connections until a shutdown
//! future completes, then drains, all without blocking the caller's executor.
//!
//! The connections run on the server's own reactor threads (and `serve` waits on a thread of
//! its own), whatever runtime the caller's is; the caller's task waits on a oneshot channel. Dropping the future before it finished
//! stops the server at once: it stops accepting, every open connection is closed (their
//! guests see the sockets closed and end, returning their instances) and parked ones too.

use super::{SHUTDOWN_GRACE, Server, ShutdownHandle};
use crate::view::HttplibView;
use anyhow::Result;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use tokio::sync::oneshot;

/// Stops the server now if dropped while still armed: the serving future went away.
struct StopOnDrop<T: HttplibView + 'static>(Option<ShutdownHandle<T>>);

impl<T: HttplibView + 'static> Drop for StopOnDrop<T> {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.close_connections();
            // `shutdown` connects to the listener to wake its accept: not on the caller's thread.
            let _ = std::thread::Builder::new()
                .name("httplib-stop".into())
                .spawn(move || handle.shutdown());
        }
    }
}

impl<T: HttplibView + 'static> Server<T> {
    /// Serve until `shutdown` completes, then stop accepting and let the responses in flight
    /// finish (up to `SHUTDOWN_GRACE`, as `spawn`'s handle does). Returns how many
    /// connections were still open when the grace ran out. Dropping the future first closes
    /// every connection at once (see the module).
    pub async fn serve_until(self, shutdown: impl Future<Output = ()>) -> Result<usize> {
        let handle = self.shutdown_handle();
        let (done, mut finished) = oneshot::channel();
        std::thread::Builder::new()
            .name("httplib-accept".into())
            .spawn(move || {
                let served = self.serve();
                let open = self.drain(SHUTDOWN_GRACE);
                let _ = done.send(served.map(|()| open));
            })?;
        let mut guard = StopOnDrop(Some(handle.clone()));
        let mut shutdown = pin!(shutdown);
        // The accept loop ends by itself only if it fails; otherwise the caller says when.
        let ended_first = poll_fn(|cx| {
            if let Poll::Ready(r) = std::pin::Pin::new(&mut finished).poll(cx) {
                return Poll::Ready(Some(r));
            }
            shutdown.as_mut().poll(cx).map(|()| None)
        })
        .await;
        let result = match ended_first {
            Some(r) => r,
            None => {
                std::thread::Builder::new()
                    .name("httplib-stop".into())
                    .spawn(move || handle.shutdown())?;
                finished.await
            }
        };
        guard.0 = None;
        result.unwrap_or_else(|_| Err(anyhow::anyhow!("the server's accept thread ended without answering")))
    }
}
