//! Connection threads, for connections that block (`Mode::Thread`: host code playing
//! `do_METHOD`, or a server whose reactor could not start). Every such connection gets a
//! thread at once (an idle one, or a new one), so a slow connection never waits behind
//! another; threads are reused, and a flood's extra threads leave seconds after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Most worker threads kept waiting for a next connection (ours). Threads are reused because
/// creating and tearing one down (stack mappings, TLB shootdowns) cost more than the request.
pub const MAX_IDLE_WORKERS: usize = 64;
/// Idle workers kept however long they wait, at least (ours); past them (and past one a
/// core, see `min_idle_workers`), a worker waits `WORKER_LINGER` for a next connection and
/// then exits, so a flood's threads (their stacks and malloc arenas) are gone seconds after
/// it. 8 kept a 2-core server at 15 threads when idle; one a core, as nginx's `worker_processes
/// auto`, at 8.
pub const MIN_IDLE_WORKERS: usize = 2;
/// How long a worker beyond `MIN_IDLE_WORKERS` waits for a next connection (ours).
pub const WORKER_LINGER: Duration = Duration::from_secs(2);

/// Idle workers kept: one a core, at least `MIN_IDLE_WORKERS`.
fn min_idle_workers() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES
        .get_or_init(|| std::thread::available_parallelism().map_or(MIN_IDLE_WORKERS, |n| n.get()))
        .max(&MIN_IDLE_WORKERS)
}

/// One connection's work, run on a worker thread.
pub(super) type Job = Box<dyn FnOnce() + Send>;

/// The pool of connection threads.
pub(super) struct Workers {
    sender: crossbeam_channel::Sender<Job>,
    receiver: crossbeam_channel::Receiver<Job>,
    /// Workers waiting for a job and not yet counted on: each is reserved by exactly one `run`
    /// when it takes the count down, and that `run` then sends the job it will take.
    idle: Arc<AtomicUsize>,
}

impl Default for Workers {
    fn default() -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Self {
            sender,
            receiver,
            idle: Arc::default(),
        }
    }
}

impl Workers {
    /// Run `job` on an idle worker, or on a new one when none is idle.
    pub fn run(&self, job: Job) -> std::io::Result<()> {
        let reserved = self
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !reserved {
            return self.spawn(job);
        }
        match self.sender.send(job) {
            Ok(()) => Ok(()),
            // No worker left to take it (cannot happen while `self` holds the receiver).
            Err(crossbeam_channel::SendError(job)) => self.spawn(job),
        }
    }

    fn spawn(&self, first: Job) -> std::io::Result<()> {
        let (idle, receiver) = (self.idle.clone(), self.receiver.clone());
        std::thread::Builder::new().name("httplib-conn".into()).spawn(move || {
            let mut job = first;
            loop {
                job();
                // Become idle, unless enough already are. Counted before waiting: counted
                // after, `idle` was rarely above 1, so under load most connections spawned a
                // thread (measured: 112 thread spawns and exits a second, their stack
                // mappings' TLB shootdowns 18% of the server's time).
                let room = |n: usize| (n < MAX_IDLE_WORKERS).then_some(n + 1);
                if idle.fetch_update(Ordering::SeqCst, Ordering::SeqCst, room).is_err() {
                    return;
                }
                job = loop {
                    match receiver.recv_timeout(WORKER_LINGER) {
                        Ok(next) => break next,
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                            // Leave, unless only the kept few are idle. Taking ourselves out of
                            // the count fails when every idle worker is counted on: a job is
                            // on its way, and we wait for it.
                            let spare = |n: usize| (n > min_idle_workers()).then(|| n - 1);
                            if idle.fetch_update(Ordering::SeqCst, Ordering::SeqCst, spare).is_ok() {
                                return;
                            }
                        }
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                    }
                };
            }
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_worker_takes_the_next_job() {
        let workers = Workers::default();
        let (done, finished) = std::sync::mpsc::channel();
        let first = done.clone();
        workers
            .run(Box::new(move || first.send(std::thread::current().id()).unwrap()))
            .unwrap();
        let a = finished.recv().unwrap();
        // The first worker counts itself idle once its job is done.
        while workers.idle.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        workers
            .run(Box::new(move || done.send(std::thread::current().id()).unwrap()))
            .unwrap();
        assert_eq!(finished.recv().unwrap(), a, "the same thread served both jobs");
    }
}
