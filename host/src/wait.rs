//! Waiting for a future on the calling thread: the blocking API (`ClientSession`, host code
//! playing `do_METHOD`, CGI scripts) over the async one. At the bottom of the crate: it
//! knows nothing of the rest.

use std::sync::Arc;

/// Drive `future` to its end on this thread: the blocking API (`ClientSession`, the server's
/// workers, CGI) over the async one. Host imports that would wait on a socket complete on
/// their first poll when the socket is blocking, so this rarely parks; a future that does
/// pend unparks it when it is woken. Reentrant: a CGI script's instance runs inside its
/// server guest's call.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    /// Wakes the thread blocked in `block_on`.
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    thread_local! {
        static WAKER: Waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    }
    // No tokio runtime is entered here: a future that needs one (a socket that waits by
    // readiness) says so with an error, and the blocking API's sockets block.
    let mut future = std::pin::pin!(future);
    WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            std::thread::park();
        }
    })
}

/// `future.wait()`: [`block_on`] written after the call it waits for.
pub trait Wait: std::future::Future + Sized {
    /// Drive this future to its end on this thread.
    fn wait(self) -> Self::Output {
        block_on(self)
    }
}

impl<F: std::future::Future> Wait for F {}
