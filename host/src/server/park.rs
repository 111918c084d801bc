//! The parking lot: keep-alive connections between requests, held as their streams (no thread,
//! no instance, one file descriptor each) and watched by one thread until their next request's
//! bytes arrive, the client closes, or their idle time runs out. Each then goes back to the
//! listener (`resume`), which answers it in an instance as it would a new connection.

use crate::stream::PhaseCell;
use crate::transport::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use std::collections::{BTreeSet, HashMap};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The waker's token (connection ids count up from 0 and never get here).
const WAKE: Token = Token(usize::MAX);
/// Readiness events taken from the kernel per wakeup (ours).
const EVENTS_PER_POLL: usize = 1024;

/// A parked connection.
pub struct Parked {
    /// The listener's id for it.
    pub id: u64,
    /// Its stream (TLS state included; its socket is the only descriptor the server keeps
    /// for it while parked).
    pub stream: TcpStream,
    /// Where its guests report their phase.
    pub phase: Arc<PhaseCell>,
    /// When its wait for a next request (or for more of a body) ends (the guest then times
    /// it out); none: never.
    pub idle_deadline: Option<Instant>,
    /// The state its guest carried, when it was parked in the middle of a request body.
    pub carried: Option<Vec<u8>>,
}

/// What the lot holds, shared by `park` and the watching thread.
#[derive(Default)]
struct Lot {
    parked: HashMap<u64, Parked>,
    /// (deadline, id) of those with an idle deadline, soonest first.
    deadlines: BTreeSet<(Instant, u64)>,
}

impl Lot {
    fn take(&mut self, registry: &Registry, id: u64) -> Option<Parked> {
        let parked = self.parked.remove(&id)?;
        if let Some(deadline) = parked.idle_deadline {
            self.deadlines.remove(&(deadline, id));
        }
        let _ = registry.deregister(&mut SourceFd(&parked.stream.socket().as_raw_fd()));
        Some(parked)
    }
}

/// The lot and its watching thread.
pub struct ParkingLot {
    lot: Arc<Mutex<Lot>>,
    registry: Registry,
    waker: Arc<Waker>,
    stopping: Arc<AtomicBool>,
}

impl ParkingLot {
    /// Start watching; `resume` gets each connection whose next request has begun (or whose
    /// client closed, or whose idle time is up). It runs on the watching thread: it must hand
    /// the connection on, not serve it.
    pub fn start(resume: impl Fn(Parked) + Send + 'static) -> std::io::Result<Self> {
        let mut poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        let lot = Arc::new(Mutex::new(Lot::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let (watched, stop) = (lot.clone(), stopping.clone());
        std::thread::Builder::new().name("httplib-park".into()).spawn(move || {
            let mut events = Events::with_capacity(EVENTS_PER_POLL);
            while !stop.load(Ordering::SeqCst) {
                let next = watched
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .deadlines
                    .first()
                    .copied();
                let timeout = next.map(|(at, _)| at.saturating_duration_since(Instant::now()));
                if let Err(e) = poll.poll(&mut events, timeout)
                    && e.kind() != std::io::ErrorKind::Interrupted
                {
                    eprintln!("parked connections can no longer be watched: {e}");
                    return;
                }
                let mut ready = Vec::new();
                {
                    let mut lot = watched.lock().unwrap_or_else(|p| p.into_inner());
                    for event in events.iter().filter(|e| e.token() != WAKE) {
                        ready.extend(lot.take(poll.registry(), event.token().0 as u64));
                    }
                    let now = Instant::now();
                    while let Some(&(at, id)) = lot.deadlines.first()
                        && at <= now
                    {
                        lot.deadlines.pop_first();
                        ready.extend(lot.take(poll.registry(), id));
                    }
                }
                ready.into_iter().for_each(&resume);
            }
        })?;
        Ok(Self {
            lot,
            registry,
            waker,
            stopping,
        })
    }

    /// Hold `parked` until its socket is readable (or its deadline). `Err` gives it back when
    /// it cannot be watched.
    pub fn park(&self, parked: Parked) -> Result<(), Box<Parked>> {
        let id = parked.id;
        let fd = parked.stream.socket().as_raw_fd();
        let mut lot = self.lot.lock().unwrap_or_else(|p| p.into_inner());
        let Ok(token) = usize::try_from(id) else {
            return Err(Box::new(parked));
        };
        // The watching thread sleeps until the soonest deadline: wake it only when this one
        // is sooner (idle deadlines mostly come in order, so rarely).
        let sooner = parked
            .idle_deadline
            .is_some_and(|deadline| lot.deadlines.first().is_none_or(|&(first, _)| deadline < first));
        if let Some(deadline) = parked.idle_deadline {
            lot.deadlines.insert((deadline, id));
        }
        lot.parked.insert(id, parked);
        // Already readable (a request that came while it was being parked) is reported at once.
        if self
            .registry
            .register(&mut SourceFd(&fd), Token(token), Interest::READABLE)
            .is_err()
        {
            return Err(Box::new(lot.take(&self.registry, id).expect("inserted above")));
        }
        drop(lot);
        if sooner {
            let _ = self.waker.wake();
        }
        Ok(())
    }

    /// Hand back up to `n` parked connections, those idle longest first (by their idle
    /// deadlines; then any): to be closed when the server runs out of descriptors.
    pub fn take_oldest(&self, n: usize) -> Vec<Parked> {
        let mut lot = self.lot.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<u64> = lot.deadlines.iter().take(n).map(|&(_, id)| id).collect();
        if ids.len() < n {
            let more: Vec<u64> = lot
                .parked
                .keys()
                .filter(|id| !ids.contains(id))
                .take(n - ids.len())
                .copied()
                .collect();
            ids.extend(more);
        }
        ids.into_iter().filter_map(|id| lot.take(&self.registry, id)).collect()
    }

    /// Stop watching and hand back every parked connection (to be closed: the server stops).
    pub fn take_all(&self) -> Vec<Parked> {
        let mut lot = self.lot.lock().unwrap_or_else(|p| p.into_inner());
        let ids: Vec<u64> = lot.parked.keys().copied().collect();
        ids.into_iter().filter_map(|id| lot.take(&self.registry, id)).collect()
    }
}

impl Drop for ParkingLot {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}
