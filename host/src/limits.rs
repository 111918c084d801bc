//! The limits every guest instance runs under, and a session's limits with their defaults:
//! each a named constant with its source (CPython, curl, wasmtime or ours) beside it.

use std::time::Duration;

/// Default cap on one instance's linear memory (ours; a connection needs well under this).
pub const DEFAULT_MEMORY_LIMIT: usize = 64 * 1024 * 1024;
/// How often the engine's one epoch-ticker thread advances the epoch (ours): a guest
/// computing on an event-loop thread yields to the thread's other connections at least this
/// often, and the CPU limit and cancellation are checked as often.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// How long a guest may compute without calling the host before it is stopped (ours:
/// generous for a protocol guest, which spends its life waiting on sockets).
pub const MAX_GUEST_RUN_WITHOUT_HOST: Duration = Duration::from_secs(10);

/// A session's default wall-clock limit on one request, from sending it to the end of its
/// response: none (curl and http.client have none either; set one for untrusted peers).
pub const DEFAULT_REQUEST_DEADLINE: Option<Duration> = None;
/// A session's default timeout for connecting, and for each read and write, when the caller
/// set none: curl's connect timeout (300 s). http.client's default is to wait for ever; a
/// plugin host cannot afford that.
pub const DEFAULT_IO_TIMEOUT: Option<Duration> = Some(Duration::from_secs(300));
/// Most connections one session may hold open at once (ours: a browser opens 6 a host).
pub const DEFAULT_MAX_CONNECTIONS: usize = 32;
/// How long a cancelled session's guest may go on computing before it is interrupted (ours:
/// one that is waiting on a socket gets the cancellation as an error and returns at once; this
/// is for one that was busy).
pub const CANCEL_GRACE: Duration = Duration::from_secs(1);
/// A whole-body `read()` may gather at most this fraction of the memory cap (a growing buffer
/// briefly needs up to three times its length).
pub const READ_ALL_MEMORY_DIVISOR: u64 = 4;

/// The limits of one client session or served connection, each with its named default.
/// Exceeding one is a `limit-exceeded` error the caller can handle, not a trap: the session
/// stays usable for what the limits allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLimits {
    /// Cap on the instance's linear memory; none takes the runtime's
    /// (`RuntimeOptions::memory_limit`, 64 MiB by default), which is also the most a session
    /// may ask for.
    pub memory: Option<usize>,
    /// How long the guest may compute without calling the host before it is stopped
    /// (`MAX_GUEST_RUN_WITHOUT_HOST`, 10 s). Time blocked on sockets does not count.
    pub cpu: Duration,
    /// Wall-clock time from sending a request to the end of its response.
    pub request_deadline: Option<Duration>,
    /// Most body bytes one response may deliver.
    pub max_response_body: Option<u64>,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Timeout for connecting and for each read and write when the caller set none.
    pub io_timeout: Option<Duration>,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            memory: None,
            cpu: MAX_GUEST_RUN_WITHOUT_HOST,
            request_deadline: DEFAULT_REQUEST_DEADLINE,
            max_response_body: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            io_timeout: DEFAULT_IO_TIMEOUT,
        }
    }
}
