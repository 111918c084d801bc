//! The guest's `tcp-stream` resource: a client's transport stream, or a served connection's.
//!
//! A served connection's stream is the transport's `TcpStream` plus what the listener must
//! know of it: the phase its guest reports (`PhaseCell`: which connections cost least to
//! close when every instance is taken), and parking. A keep-alive connection whose guest
//! waits long for its next request is parked: the wait ends early as if the client had
//! closed, the guest ends and frees its instance, and the stream (TLS state and all) goes
//! back to the listener instead of being closed. A connection waiting for more of a request
//! body (phase `AwaitingBody`) is parked the same way, but goes back only with the state its
//! guest handed to `carry` (opaque here), which the resuming instance takes with `carried`.
//! `transport/` knows none of this.

use crate::transport::{SocketError, TcpStream};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// What a served connection's guest is doing (WIT `server-phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Not yet reported: being set up, or answering. Never closed to make room.
    Busy,
    /// Between requests, nothing of the next one arrived.
    Idle,
    /// Part of a request head arrived.
    ReadingHead,
    /// Waiting for more of a request body its guest can carry to another instance.
    AwaitingBody,
}

/// Most bytes of state a guest may carry over a park (ours: a CGI script's largest input,
/// 8 MiB, which a slow upload's state holds, and its request head with room to spare).
pub const MAX_CARRIED_STATE: usize = 9 * 1024 * 1024;

/// What a served connection's guest is doing, and since when: the listener reads it to
/// choose which connections to close when every instance is taken.
#[derive(Debug, Default)]
pub struct PhaseCell {
    phase: AtomicU8,
    since_ms: AtomicU64,
}

impl PhaseCell {
    /// Record `phase`, starting now.
    pub fn set(&self, phase: Phase) {
        self.phase.store(phase as u8, Relaxed);
        self.since_ms.store(monotonic_ms(), Relaxed);
    }

    /// The phase alone (no clock read: a served connection's every read asks).
    pub fn phase(&self) -> Phase {
        match self.phase.load(Relaxed) {
            x if x == Phase::Idle as u8 => Phase::Idle,
            x if x == Phase::ReadingHead as u8 => Phase::ReadingHead,
            x if x == Phase::AwaitingBody as u8 => Phase::AwaitingBody,
            _ => Phase::Busy,
        }
    }

    /// The phase and how long it has lasted.
    pub fn get(&self) -> (Phase, Duration) {
        let since = self.since_ms.load(Relaxed);
        (
            self.phase(),
            Duration::from_millis(monotonic_ms().saturating_sub(since)),
        )
    }
}

/// Milliseconds on a process-wide monotonic clock.
fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Whether a served stream may be parked, and where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parking {
    /// Never: the guest waits as long as it says.
    Off,
    /// A wait for a next request, or for more of a body the guest can carry, longer than
    /// `after` parks the connection; `idle_deadline` ends a wait that began before it was
    /// last parked.
    Armed {
        after: Duration,
        idle_deadline: Option<Instant>,
    },
    /// Left to be parked: the guest's closing of it is not the connection's end. Its wait
    /// ends at `idle_deadline` (none: never). `mid_body`: it was parked waiting for a request
    /// body, and goes back only with the state its guest carried (else it closes: without
    /// it, the rest of the body would be read as a next request).
    Parked {
        idle_deadline: Option<Instant>,
        mid_body: bool,
    },
}

/// A connection its guest left to be parked.
pub struct Left {
    /// Its stream.
    pub tcp: TcpStream,
    /// When its wait ends (none: never).
    pub deadline: Option<Instant>,
    /// The state its guest carried (parked mid-body).
    pub carried: Option<Vec<u8>>,
}

/// A served connection's stream (see the module).
pub struct ServedStream {
    tcp: TcpStream,
    phase: Arc<PhaseCell>,
    parking: Parking,
    /// Whether the guest wrote anything since the host last asked (`take_wrote`).
    wrote: bool,
    /// The state an earlier instance carried, for this one (`carried`).
    carried_in: Option<Vec<u8>>,
    /// The state this instance carried for the next (`carry`).
    carried_out: Option<Vec<u8>>,
}

impl ServedStream {
    /// `tcp`, its guest's phase reported to `phase`; never parked.
    pub fn new(tcp: TcpStream, phase: Arc<PhaseCell>) -> Self {
        Self {
            tcp,
            phase,
            parking: Parking::Off,
            wrote: false,
            carried_in: None,
            carried_out: None,
        }
    }

    /// Park this connection when its guest waits more than `after` for a next request;
    /// `idle_deadline` ends a wait that began before it was last parked.
    pub fn with_parking(mut self, after: Duration, idle_deadline: Option<Instant>) -> Self {
        self.parking = Parking::Armed { after, idle_deadline };
        self
    }

    /// This stream resumes a connection parked mid-body: its guest takes `state` with `carried`.
    pub fn resuming(mut self, state: Option<Vec<u8>>) -> Self {
        self.carried_in = state;
        self
    }

    /// `carried`: the state an earlier instance carried, once.
    pub fn carried(&mut self) -> Option<Vec<u8>> {
        self.carried_in.take()
    }

    /// `carry`: keep `state` for the instance that resumes this connection, if it was just
    /// parked waiting for a body (and `state` is within `MAX_CARRIED_STATE`).
    pub fn carry(&mut self, state: Vec<u8>) -> bool {
        let parked_mid_body = matches!(self.parking, Parking::Parked { mid_body: true, .. });
        if parked_mid_body && state.len() <= MAX_CARRIED_STATE {
            self.carried_out = Some(state);
            return true;
        }
        false
    }

    /// The transport's stream.
    pub fn tcp(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }

    /// Whether the guest's wait for a next request ended so that it may be parked.
    pub fn is_parked(&self) -> bool {
        matches!(self.parking, Parking::Parked { .. })
    }

    /// A connection left to be parked; `None` when it was not (or was parked mid-body and its
    /// guest carried nothing: it closes).
    pub fn into_parked(self) -> Option<Left> {
        match self.parking {
            Parking::Parked { mid_body: true, .. } if self.carried_out.is_none() => None,
            Parking::Parked { idle_deadline, .. } => Some(Left {
                tcp: self.tcp,
                deadline: idle_deadline,
                carried: self.carried_out,
            }),
            _ => None,
        }
    }

    /// Up to `max` bytes. While the guest waits for a next request (phase `Idle`), or for
    /// a body it can carry (`AwaitingBody`), with parking armed, the wait lasts at most until
    /// parking (or the idle deadline): then the stream is left to be parked and the guest
    /// sees it closed (and reads nothing more of it).
    pub async fn read(&mut self, max: usize) -> Result<Vec<u8>, SocketError> {
        let (after, idle_deadline) = match self.parking {
            Parking::Off => return self.tcp.read(max).await,
            Parking::Parked { .. } => return Err(SocketError::Closed),
            Parking::Armed { after, idle_deadline } => (after, idle_deadline),
        };
        let phase = self.phase.phase();
        if !matches!(phase, Phase::Idle | Phase::AwaitingBody) {
            return self.tcp.read(max).await;
        }
        let now = Instant::now();
        let ends = idle_deadline.or_else(|| self.tcp.read_timeout().map(|t| now + t));
        let park = ends.is_none_or(|end| end > now + after);
        let wait = match (park, ends) {
            (false, Some(end)) => end.saturating_duration_since(now),
            _ => after,
        };
        if wait.is_zero() {
            return Err(SocketError::Timeout);
        }
        match self.tcp.read_within(max, Some(wait)).await {
            Err(SocketError::Timeout) if park => {
                self.parking = Parking::Parked {
                    idle_deadline: ends,
                    mid_body: phase == Phase::AwaitingBody,
                };
                Err(SocketError::Closed)
            }
            Ok(data) => {
                // The next request has begun: later idle waits are the guest's own.
                self.parking = Parking::Armed {
                    after,
                    idle_deadline: None,
                };
                Ok(data)
            }
            other => other,
        }
    }

    /// Whether the guest wrote to the stream (or sent a file on it) since the last call: the
    /// host asks before a handler component answers, and after it traps, to know whether any
    /// byte of its response went out.
    pub fn take_wrote(&mut self) -> bool {
        std::mem::take(&mut self.wrote)
    }

    /// Record the phase the guest reports.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.set(phase);
    }

    /// Close one or both directions, unless the stream was left to be parked (the listener
    /// keeps the connection open for its next request).
    pub fn shutdown(&mut self, how: Shutdown) -> Result<(), SocketError> {
        match self.parking {
            Parking::Parked { .. } => Ok(()),
            _ => self.tcp.shutdown(how),
        }
    }
}

/// The Rust type of the guest's `tcp-stream` resource.
pub enum GuestStream {
    /// A connection the guest opened as a client (`transport.connect`).
    Client(TcpStream),
    /// A connection the server accepted and handed to the guest's handler.
    Served(ServedStream),
}

impl GuestStream {
    /// The transport's stream under it.
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self {
            GuestStream::Client(tcp) => tcp,
            GuestStream::Served(served) => served.tcp(),
        }
    }

    /// `read`, a client's giving up at its request's `deadline`: `Ok(None)` when it passed.
    pub async fn read(&mut self, max: usize, deadline: Option<Instant>) -> Result<Option<Vec<u8>>, SocketError> {
        match self {
            GuestStream::Client(tcp) => tcp.read_by(max, deadline).await,
            GuestStream::Served(served) => served.read(max).await.map(Some),
        }
    }

    /// The transport's stream, to write to: a served one notes that its guest wrote.
    pub fn sending(&mut self) -> &mut TcpStream {
        match self {
            GuestStream::Client(tcp) => tcp,
            GuestStream::Served(served) => {
                served.wrote = true;
                served.tcp()
            }
        }
    }

    /// Close one or both directions (see `ServedStream::shutdown`).
    pub fn shutdown(&mut self, how: Shutdown) -> Result<(), SocketError> {
        match self {
            GuestStream::Client(tcp) => tcp.shutdown(how),
            GuestStream::Served(served) => served.shutdown(how),
        }
    }

    /// Record a served connection's phase (a client stream has none).
    pub fn set_phase(&self, phase: Phase) {
        if let GuestStream::Served(served) = self {
            served.set_phase(phase);
        }
    }

    /// The remote end's address.
    pub fn peer_address(&mut self) -> Result<SocketAddr, SocketError> {
        self.tcp().peer_address()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A served stream over a blocking loopback connection, and its client.
    fn served() -> (ServedStream, std::net::TcpStream, Arc<PhaseCell>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let phase = Arc::new(PhaseCell::default());
        (ServedStream::new(TcpStream::new(server), phase.clone()), client, phase)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        crate::wait::block_on(f)
    }

    #[test]
    fn an_idle_wait_past_the_parking_delay_leaves_the_stream_to_be_parked() {
        let (stream, _client, phase) = served();
        let mut stream = stream.with_parking(Duration::from_millis(50), None);
        phase.set(Phase::Idle);
        let started = Instant::now();
        assert_eq!(block_on(stream.read(100)), Err(SocketError::Closed));
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(stream.is_parked());
        // The guest's shutdown of a parked stream is not passed on.
        stream.shutdown(Shutdown::Both).unwrap();
        let left = stream.into_parked().unwrap();
        assert_eq!(left.deadline, None);
        assert!(left.carried.is_none());
        assert!(left.tcp.peer_address().is_ok());
    }

    #[test]
    fn a_request_that_comes_in_time_is_read_and_the_idle_deadline_forgotten() {
        let (stream, mut client, phase) = served();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = stream.with_parking(Duration::from_secs(5), Some(deadline));
        phase.set(Phase::Idle);
        client.write_all(b"GET").unwrap();
        assert_eq!(block_on(stream.read(100)).unwrap(), b"GET");
        assert_eq!(
            stream.parking,
            Parking::Armed {
                after: Duration::from_secs(5),
                idle_deadline: None
            }
        );
    }

    #[test]
    fn an_idle_deadline_sooner_than_parking_times_the_wait_out() {
        let (stream, _client, phase) = served();
        let deadline = Instant::now() + Duration::from_millis(30);
        let mut stream = stream.with_parking(Duration::from_secs(5), Some(deadline));
        phase.set(Phase::Idle);
        assert_eq!(block_on(stream.read(100)), Err(SocketError::Timeout));
        assert!(!stream.is_parked());
    }

    #[test]
    fn a_body_wait_parks_only_with_the_state_its_guest_carried() {
        // Carried: the connection goes back with the state, for the next instance alone.
        let (stream, _client, phase) = served();
        let mut stream = stream.with_parking(Duration::from_millis(20), None);
        phase.set(Phase::AwaitingBody);
        assert_eq!(block_on(stream.read(100)), Err(SocketError::Closed));
        // A parked stream is read no more: its bytes are the next instance's.
        assert_eq!(block_on(stream.read(100)), Err(SocketError::Closed));
        assert!(!stream.carry(vec![0; MAX_CARRIED_STATE + 1]));
        assert!(stream.carry(b"state".to_vec()));
        let left = stream.into_parked().unwrap();
        assert_eq!(left.carried.as_deref(), Some(&b"state"[..]));
        let mut next = ServedStream::new(left.tcp, phase).resuming(left.carried);
        assert_eq!(next.carried().as_deref(), Some(&b"state"[..]));
        assert_eq!(next.carried(), None);

        // Nothing carried: it closes rather than let the body's rest be read as a request.
        let (stream, _client, phase) = served();
        let mut stream = stream.with_parking(Duration::from_millis(20), None);
        phase.set(Phase::AwaitingBody);
        assert_eq!(block_on(stream.read(100)), Err(SocketError::Closed));
        assert!(stream.is_parked());
        assert!(stream.into_parked().is_none());
    }

    #[test]
    fn only_a_body_wait_takes_carried_state() {
        let (stream, _client, phase) = served();
        let mut stream = stream.with_parking(Duration::from_millis(20), None);
        assert!(!stream.carry(b"state".to_vec()));
        phase.set(Phase::Idle);
        assert_eq!(block_on(stream.read(100)), Err(SocketError::Closed));
        assert!(!stream.carry(b"state".to_vec()));
        assert!(stream.into_parked().unwrap().carried.is_none());
    }

    #[test]
    fn only_an_idle_wait_parks() {
        let (stream, mut client, phase) = served();
        let mut stream = stream.with_parking(Duration::from_millis(10), None);
        phase.set(Phase::ReadingHead);
        stream.tcp().set_read_timeout(Some(200)).unwrap();
        let started = Instant::now();
        assert_eq!(block_on(stream.read(100)), Err(SocketError::Timeout));
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(!stream.is_parked());
        client.write_all(b"x").unwrap();
        assert_eq!(block_on(stream.read(100)).unwrap(), b"x");
    }

    #[test]
    fn the_phase_cell_says_how_long_a_phase_has_lasted() {
        let cell = PhaseCell::default();
        assert_eq!(cell.phase(), Phase::Busy);
        cell.set(Phase::ReadingHead);
        std::thread::sleep(Duration::from_millis(20));
        let (phase, age) = cell.get();
        assert_eq!(phase, Phase::ReadingHead);
        assert!(age >= Duration::from_millis(10), "{age:?}");
    }
}
