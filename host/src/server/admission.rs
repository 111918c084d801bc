//! Admission: the table of open connections, which of them hold an instance, and what
//! happens when every instance is taken (the connection that costs least to lose is closed
//! to make room; failing that the newcomer is answered 503). Also how many connections the
//! process's descriptors allow.

use super::accept::LogThrottle;
use super::reactor::Mode;
use super::sys::release_free_memory;
use crate::stream::{Phase, PhaseCell};
use std::collections::HashMap;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Instances kept back from connections for CGI scripts and client sessions on the same
/// runtime (ours).
pub const RESERVED_INSTANCES: u32 = 64;
/// Most connections served at once, each holding an instance (ours: the pool less the reserve).
pub const MAX_CONNECTIONS: usize = (crate::runtime::MAX_INSTANCES - RESERVED_INSTANCES) as usize;
/// How long a new connection waits for an instance (while idle or slow connections are closed
/// to make room) before it is answered 503 (ours).
pub const ADMISSION_WAIT: Duration = Duration::from_millis(500);
/// Most new connections waiting for an instance at once; more are answered 503 at once (ours).
pub const MAX_ADMISSION_WAITERS: usize = 256;
/// A connection whose request head has been arriving this long may be closed to make room for a
/// new one when every instance is taken (ours; idle keep-alive connections go first).
pub const SLOW_HEAD_AGE: Duration = Duration::from_secs(1);
/// The `Retry-After` of a 503 sent for want of an instance (ours).
pub const BUSY_RETRY_AFTER_SECS: u32 = 1;
/// Descriptors kept free of connections: the listener, the poll, stdio, the code cache,
/// wasmtime's own, the preopens of instances kept for the next connection (at most
/// `MAX_IDLE_INSTANCES`, 16) (ours).
pub const DESCRIPTOR_RESERVE: u64 = 64;
/// Descriptors a connection answered in an instance may hold at once: its socket (one
/// descriptor, shared by its stream, the open-connection table and the lingering close), the
/// instance's preopened directory, a file being sent (ours; a parked one holds one).
pub const DESCRIPTORS_PER_ANSWER: u64 = 3;
/// After a wave of at least this many connections has ended, the memory their stores
/// freed is handed back to the OS (ours).
pub const TRIM_AFTER_PEAK: usize = 256;

/// The open connections and their instance slots, shared by the accept loop, every
/// connection's task and the parking lot.
#[derive(Default)]
pub(super) struct Admission {
    /// Set when the server stops: no more admissions, no more parking.
    pub stopping: AtomicBool,
    next_id: AtomicU64,
    /// Every open connection, to end idle reads at shutdown and to make room under pressure.
    open: Mutex<Open>,
    /// Signalled whenever a connection ends (its instance is free again).
    closed: Condvar,
    /// 503s sent for want of an instance, logged at most once per `LOG_EVERY`.
    busy_log: Mutex<LogThrottle>,
}

/// The open connections.
#[derive(Default)]
struct Open {
    conns: HashMap<u64, Conn>,
    /// How many hold an instance (or are about to).
    admitted: usize,
    /// How many of those were closed to make room and have not ended yet.
    evicting: usize,
    /// Most connections open at once since memory was last handed back.
    peak: usize,
    /// New connections waiting for an instance now.
    waiting: usize,
    /// Threads in `wait_all_closed` (a draining server).
    draining: usize,
}

/// One open connection, as the listener sees it.
struct Conn {
    /// Its socket, shared (none while it is parked: the parking lot holds the socket).
    sock: Option<Arc<std::net::TcpStream>>,
    /// What its guest says it is doing.
    phase: Arc<PhaseCell>,
    admitted: bool,
    /// Already closed to make room (not to be picked twice).
    evicted: bool,
}

impl Open {
    /// Close the connection that costs least to lose: the longest-idle keep-alive connection,
    /// else the request head that has been arriving longest (for `SLOW_HEAD_AGE` or more since
    /// its first byte: the guest reports a phase only when it changes).
    /// Its guest sees end-of-stream and ends, freeing its instance. `false` if none qualifies.
    fn evict_one(&mut self) -> bool {
        let mut best: Option<(u64, bool, Duration)> = None;
        for (&id, conn) in &self.conns {
            if !conn.admitted || conn.evicted {
                continue;
            }
            let (phase, age) = conn.phase.get();
            let idle = match phase {
                Phase::Idle => true,
                Phase::ReadingHead if age >= SLOW_HEAD_AGE => false,
                _ => continue,
            };
            if best.is_none_or(|(_, best_idle, best_age)| (idle, age) > (best_idle, best_age)) {
                best = Some((id, idle, age));
            }
        }
        let Some((id, _, _)) = best else {
            return false;
        };
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.evicted = true;
            self.evicting += 1;
            if let Some(sock) = &conn.sock {
                let _ = sock.shutdown(Shutdown::Both);
            }
        }
        true
    }

    /// Mark connection `id` as holding an instance.
    fn take_slot(&mut self, id: u64) {
        self.admitted += 1;
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.admitted = true;
        }
    }
}

impl Admission {
    fn open(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the server is stopping.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// A new connection enters the table (holding no instance yet): its id and phase cell.
    /// `sock` is its socket, shared, to shut it when it must make room or the server stops.
    pub fn opened(&self, sock: Arc<std::net::TcpStream>) -> (u64, Arc<PhaseCell>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let phase = Arc::new(PhaseCell::default());
        let conn = Conn {
            sock: Some(sock),
            phase: phase.clone(),
            admitted: false,
            evicted: false,
        };
        let mut open = self.open();
        open.conns.insert(id, conn);
        open.peak = open.peak.max(open.conns.len());
        (id, phase)
    }

    /// Take an instance slot for connection `id` (see `try_admit` and `admit`): on the
    /// reactor, a wait for one goes to tokio's blocking pool (it blocks on a condition).
    pub async fn admit_in(self: &Arc<Self>, id: u64, max: usize, mode: Mode) -> bool {
        match mode {
            Mode::Thread => self.admit(id, max),
            Mode::Reactor if self.try_admit(id, max) => true,
            Mode::Reactor => {
                let admission = self.clone();
                tokio::task::spawn_blocking(move || admission.admit(id, max))
                    .await
                    .unwrap_or(false)
            }
        }
    }

    /// `admit` when a slot is free now and no one waits for one: no waiting, no eviction.
    fn try_admit(&self, id: u64, max: usize) -> bool {
        let mut open = self.open();
        if open.admitted >= max || open.waiting > 0 {
            return false;
        }
        open.take_slot(id);
        true
    }

    /// Take an instance slot for connection `id`: at once if fewer than `max` are taken; else
    /// close idle or slow connections to make room and wait up to `ADMISSION_WAIT` for one.
    /// `false` when none came (or too many are waiting already).
    fn admit(&self, id: u64, max: usize) -> bool {
        let deadline = Instant::now() + ADMISSION_WAIT;
        let mut open = self.open();
        let mut waiting = false;
        let admitted = loop {
            if open.admitted < max {
                open.take_slot(id);
                break true;
            }
            if !waiting {
                if open.waiting >= MAX_ADMISSION_WAITERS {
                    return false;
                }
                open.waiting += 1;
                waiting = true;
            }
            // One victim per waiter: each connection that waits frees at most one slot.
            if open.evicting < open.waiting {
                open.evict_one();
            }
            let now = Instant::now();
            if now >= deadline || self.is_stopping() {
                break false;
            }
            open = self
                .closed
                .wait_timeout(open, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        if waiting {
            open.waiting -= 1;
        }
        admitted
    }

    /// Connection `id` is being parked: its instance slot is free, and its socket no longer
    /// kept here.
    pub fn release(&self, id: u64) {
        let mut open = self.open();
        let (admitted, evicted) = match open.conns.get_mut(&id) {
            Some(conn) => {
                conn.sock = None;
                (std::mem::take(&mut conn.admitted), std::mem::take(&mut conn.evicted))
            }
            None => (false, false),
        };
        open.admitted -= usize::from(admitted);
        open.evicting -= usize::from(evicted);
        self.signal_closed(open);
    }

    /// Connection `id` is back from the parking lot, with its socket.
    pub fn unpark(&self, id: u64, sock: Arc<std::net::TcpStream>) {
        if let Some(conn) = self.open().conns.get_mut(&id) {
            conn.sock = Some(sock);
        }
    }

    /// Connection `id` has ended: its slot (if it had one) is free.
    pub fn remove(&self, id: u64) {
        let mut open = self.open();
        let removed = open.conns.remove(&id);
        if let Some(conn) = &removed {
            open.admitted -= usize::from(conn.admitted);
            open.evicting -= usize::from(conn.evicted);
        }
        // The flood has ebbed (an eighth of its peak is left): hand its memory back.
        if open.peak >= TRIM_AFTER_PEAK && open.conns.len() * 8 <= open.peak {
            open.peak = open.conns.len();
            release_free_memory();
        }
        self.signal_closed(open);
        // Its socket, when this was the last holder, closes here: not under the table's lock.
        drop(removed);
    }

    /// Wake whoever waits for a connection to end (a new connection waiting for an instance,
    /// a draining server), and only then: with no one waiting, a wake is a wasted system call
    /// (a futex) at the end of every connection and every park. Waiters count themselves
    /// under the same lock before they wait, so none is missed.
    fn signal_closed(&self, open: MutexGuard<'_, Open>) {
        let anyone = open.waiting > 0 || open.draining > 0;
        drop(open);
        if anyone {
            self.closed.notify_all();
        }
    }

    /// Count a 503 sent for want of an instance; log the count at most once per `LOG_EVERY`.
    pub fn answered_busy(&self) {
        let mut log = self.busy_log.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = log.count() {
            eprintln!("every instance is busy: {count} connection(s) answered 503");
        }
    }

    /// Shut down every open connection's socket in direction `how` (`Read` ends the idle
    /// reads of a draining server; `Both` ends every connection).
    pub fn shutdown_all(&self, how: Shutdown) {
        for sock in self.open().conns.values().filter_map(|c| c.sock.as_ref()) {
            let _ = sock.shutdown(how);
        }
    }

    /// Wait until no connection is open, or `deadline`; how many are still open.
    pub fn wait_all_closed(&self, deadline: Instant) -> usize {
        let mut open = self.open();
        open.draining += 1;
        while !open.conns.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            open = self
                .closed
                .wait_timeout(open, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        open.draining -= 1;
        open.conns.len()
    }

    /// Most connections answered in instances at once: `max_connections`, and no more than
    /// `descriptor_limit` allows (past it, idle ones are closed to make room, as for instances).
    pub fn max_answering(max_connections: usize, descriptor_limit: u64) -> usize {
        let by_descriptors = descriptor_limit.saturating_sub(DESCRIPTOR_RESERVE) / DESCRIPTORS_PER_ANSWER;
        max_connections
            .min(usize::try_from(by_descriptors).unwrap_or(usize::MAX))
            .max(1)
    }

    /// Whether the connections open (each answered one counted at `DESCRIPTORS_PER_ANSWER`,
    /// with one more on its way) leave too few descriptors under `descriptor_limit`.
    pub fn short_of_descriptors(&self, descriptor_limit: u64) -> bool {
        let open = self.open();
        let parked = (open.conns.len() - open.admitted) as u64;
        let answered = open.admitted as u64 + 1;
        parked + answered * DESCRIPTORS_PER_ANSWER + DESCRIPTOR_RESERVE > descriptor_limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// A connected loopback socket (the table keeps a clone of each connection's).
    fn socket() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    #[test]
    fn a_free_slot_is_taken_at_once_and_a_full_table_evicts_the_idle_connection() {
        let admission = Arc::new(Admission::default());
        let (a, mut a_client) = socket();
        let (id_a, phase_a) = admission.opened(Arc::new(a));
        assert!(admission.try_admit(id_a, 1));
        phase_a.set(Phase::Idle);

        let (b, _b_client) = socket();
        let (id_b, _) = admission.opened(Arc::new(b));
        assert!(!admission.try_admit(id_b, 1), "the one slot is taken");
        // `admit` closes the idle connection to make room; once it has ended, b gets its slot.
        let waiter = {
            let admission = admission.clone();
            std::thread::spawn(move || admission.admit(id_b, 1))
        };
        use std::io::Read;
        let mut buf = [0u8; 1];
        assert_eq!(a_client.read(&mut buf).unwrap(), 0, "the idle connection was closed");
        admission.remove(id_a);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn a_connection_answering_is_never_evicted() {
        let admission = Admission::default();
        let (a, _a_client) = socket();
        let (id_a, _phase) = admission.opened(Arc::new(a));
        assert!(admission.try_admit(id_a, 1));
        let (b, _b_client) = socket();
        let (id_b, _) = admission.opened(Arc::new(b));
        // Phase is Busy (never reported): nothing to evict, so b waits ADMISSION_WAIT and fails.
        let started = Instant::now();
        assert!(!admission.admit(id_b, 1));
        assert!(started.elapsed() >= ADMISSION_WAIT);
    }

    #[test]
    fn descriptors_bound_the_connections_answered() {
        assert_eq!(
            Admission::max_answering(1984, 1024),
            ((1024 - DESCRIPTOR_RESERVE) / 3) as usize
        );
        assert_eq!(Admission::max_answering(10, u64::MAX), 10);
        assert_eq!(Admission::max_answering(10, 0), 1);
    }
}
