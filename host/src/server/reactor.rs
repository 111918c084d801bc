//! Where connections run. [`Mode`] says how one waits for its socket; [`Reactor`] is the
//! event loop most run on: one thread a core (as nginx's `worker_processes auto`), each a
//! single-threaded tokio runtime (IO and timers on) whose tasks are its connections.
//!
//! No task moves between threads: no work stealing, no cross-thread wake-ups (tokio's
//! multi-threaded runtime was slower; bench/PROFILE.md, "Tuning record").

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How a connection waits for its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A task on the reactor: its socket is non-blocking and awaited by readiness, its guest
    /// on a fiber that is suspended wherever the socket would block.
    Reactor,
    /// A thread of its own (host code playing `do_METHOD`, whose verbs block; or a server
    /// whose reactor could not start): its socket blocks, with the socket's own timeouts.
    Thread,
}

/// A connection's task, boxed: answering a connection is a large future, and tokio moves a
/// task's future on spawn and again at each change of its stage (unboxed, those copies were
/// 5% of a new connection's server CPU: `memmove` under `new_task` and `set_stage`).
pub type ConnectionTask = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The reactor thread that accepts connections.
pub(super) const ACCEPTOR: usize = 0;

/// The event loop's threads.
pub(super) struct Reactor {
    threads: Vec<ReactorThread>,
    /// Dropped with the reactor: each thread's runtime then ends (its tasks dropped).
    _stop: tokio::sync::watch::Sender<()>,
}

/// One of the reactor's threads: where to spawn on it, and how many connections it holds.
struct ReactorThread {
    handle: tokio::runtime::Handle,
    load: Arc<AtomicUsize>,
}

/// A connection counted on its reactor thread while its task lives (dropped with the task,
/// however it ends).
struct Load(Arc<AtomicUsize>);

impl Load {
    fn count(load: &Arc<AtomicUsize>) -> Self {
        load.fetch_add(1, Ordering::Relaxed);
        Self(load.clone())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Reactor {
    /// One thread a core.
    pub fn start() -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (stop, stopped) = tokio::sync::watch::channel(());
        let mut threads = Vec::with_capacity(cores);
        for _ in 0..cores {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            threads.push(ReactorThread {
                handle: runtime.handle().clone(),
                load: Default::default(),
            });
            let mut stopped = stopped.clone();
            std::thread::Builder::new().name("httplib-io".into()).spawn(move || {
                runtime.block_on(async move {
                    let _ = stopped.changed().await;
                });
                // The runtime's tasks (connections still open) are dropped with it here.
                runtime.shutdown_background();
            })?;
        }
        Ok(Self { threads, _stop: stop })
    }

    /// The runtime of thread `i`, to run something there that is no connection (the accept loop).
    pub fn handle(&self, i: usize) -> &tokio::runtime::Handle {
        &self.threads[i].handle
    }

    /// How many threads it has.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// The thread holding the fewest connections.
    fn lightest(&self) -> usize {
        (0..self.threads.len())
            .min_by_key(|&i| self.threads[i].load.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Run a connection's task on the thread holding the fewest.
    pub fn spawn(&self, task: ConnectionTask) {
        self.spawn_on(self.lightest(), task);
    }

    fn spawn_on(&self, i: usize, task: ConnectionTask) {
        let thread = &self.threads[i];
        let load = Load::count(&thread.load);
        thread.handle.spawn(async move {
            task.await;
            drop(load);
        });
    }

    /// Run a connection accepted on thread `me` there (no hand-off, no wake-up of another
    /// thread), unless `me` holds more than one connection over the lightest: a burst of
    /// connections (wrk opening 16 at once) wakes one thread first, which would otherwise
    /// take them all while the others idle.
    pub fn spawn_accepted(&self, me: usize, task: ConnectionTask) {
        let lightest = self.lightest();
        let load = |i: usize| self.threads[i].load.load(Ordering::Relaxed);
        let to = if load(me) <= load(lightest) + 1 { me } else { lightest };
        // Spawned from thread `me` onto itself, it is queued there without waking anyone.
        self.spawn_on(to, task);
    }
}
