//! The sockets one session has open: their count (what `max_connections` limits), and the
//! cancel handle that shuts them all from another thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The open sockets of a session, and whether it was cancelled.
#[derive(Debug, Default)]
pub struct SessionSockets {
    cancelled: AtomicBool,
    next_id: AtomicU64,
    /// Each open socket, shared with its stream (to shut it on cancel).
    open: Mutex<HashMap<u64, Arc<std::net::TcpStream>>>,
}

impl SessionSockets {
    /// Whether the session was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<std::net::TcpStream>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether another socket fits under `max`.
    pub fn room(&self, max: usize) -> Result<(), String> {
        let open = self.open().len();
        match open >= max {
            true => Err(format!("the session already has {open} connections open, its limit")),
            false => Ok(()),
        }
    }

    /// Count `sock` among the open ones (shared with its stream, to shut it on cancel),
    /// unless that would make more than `max`.
    pub fn admit(self: &Arc<Self>, sock: Arc<std::net::TcpStream>, max: usize) -> Result<SocketTicket, String> {
        self.room(max)?;
        let mut open = self.open();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        open.insert(id, sock);
        Ok(SocketTicket {
            sockets: self.clone(),
            id,
        })
    }
}

/// A socket's place among its session's open sockets; dropping it (with the socket) frees
/// the place.
#[derive(Debug)]
pub struct SocketTicket {
    sockets: Arc<SessionSockets>,
    id: u64,
}

impl Drop for SocketTicket {
    fn drop(&mut self) {
        // The socket closes (when this was its last holder) outside the table's lock.
        let sock = self.sockets.open().remove(&self.id);
        drop(sock);
    }
}

/// Ends a session from another thread: its sockets are shut down (a blocked read returns at
/// once), its guest is interrupted if it goes on computing, and every later operation of
/// the session fails with `limit-exceeded("the session was cancelled")`.
#[derive(Clone, Debug)]
pub struct CancelHandle(Arc<SessionSockets>);

impl CancelHandle {
    pub(crate) fn new(sockets: Arc<SessionSockets>) -> Self {
        Self(sockets)
    }

    /// End the session (see the type).
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        for sock in self.0.open().values() {
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}
