//! A serving server's shared state and the life of its connections: accepted (on the
//! reactor's accepting threads, or a plain accept loop), admitted to an instance, answered
//! (`connection`), then closed or parked between requests and resumed when the next one
//! begins.

use super::accept::{AcceptBackoff, Accepting, accept_nonblocking, is_out_of_descriptors, listen_beside};
use super::admission::Admission;
use super::config::ServerConfig;
use super::connection::{Answering, Arrival};
use super::linger::{linger, send_busy};
use super::park::{Parked, ParkingLot};
use super::reactor::{ACCEPTOR, Mode, Reactor};
use super::reuse::IdleInstances;
use super::workers::{Job, Workers};
use crate::runtime::{Runtime, ServedPre};
use crate::stream::PhaseCell;
use crate::view::HttplibView;
use crate::wait::block_on;
use std::net::{Shutdown, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;

/// Parked connections closed, longest idle first, each time accepting fails for want of a
/// descriptor (ours; nginx likewise closes idle keep-alive connections when it runs out of
/// connections, 32 at a time).
pub const SHED_ON_EMFILE: usize = 32;

/// What answering a connection takes, shared by the accept loop, the connections and the
/// parking lot. `T` is the data of each connection's store.
pub(super) struct Serving<T: HttplibView + 'static> {
    /// Where connections are answered: tasks on a few threads (one a core), each guest on a
    /// fiber that yields whenever its socket would block. None when it could not be started
    /// (connections then get threads of their own, as host code playing do_METHOD's do).
    reactor: Option<Reactor>,
    /// Wakes the reactor's accept loop when the server stops.
    stop_accepting: tokio::sync::Notify,
    workers: Workers,
    runtime: Arc<Runtime>,
    /// The guest linked for stores of type `T`.
    guest: ServedPre<T>,
    config: Arc<ServerConfig<T>>,
    pub admission: Arc<Admission>,
    /// The guest's 503 answer, sent to a connection no instance can be had for.
    busy: Arc<Vec<u8>>,
    /// The guest's 500 answer, sent when a handler app traps before it answered.
    failed: Arc<Vec<u8>>,
    /// Keep-alive connections between requests (none when the lot could not be started).
    parking: Option<ParkingLot>,
    /// The process's open-file limit when the server was bound.
    descriptor_limit: u64,
    /// Every connection's own address, when the listener's is not a wildcard.
    local: Option<std::net::SocketAddr>,
    /// Instances waiting for the next connection (`InstanceReuse::Serial`).
    idle: IdleInstances<T>,
}

impl<T: HttplibView + 'static> Serving<T> {
    /// Everything a server bound with `config` needs to answer connections (the reactor's
    /// and parking lot's threads started).
    pub fn start(
        addr: std::net::SocketAddr,
        runtime: Arc<Runtime>,
        config: ServerConfig<T>,
        busy: Vec<u8>,
        failed: Vec<u8>,
    ) -> anyhow::Result<Arc<Self>> {
        let guest = runtime.served_pre()?;
        Ok(Arc::new_cyclic(|me: &std::sync::Weak<Serving<T>>| {
            let me = me.clone();
            let parking = ParkingLot::start(move |parked| {
                if let Some(serving) = me.upgrade() {
                    serving.resume(parked);
                }
            });
            Serving {
                reactor: Reactor::start()
                    .inspect_err(|e| eprintln!("connections will get a thread each: {e}"))
                    .ok(),
                stop_accepting: tokio::sync::Notify::new(),
                workers: Workers::default(),
                runtime,
                guest,
                config: Arc::new(config),
                admission: Arc::default(),
                busy: Arc::new(busy),
                failed: Arc::new(failed),
                parking: parking
                    .inspect_err(|e| eprintln!("keep-alive connections will not be parked: {e}"))
                    .ok(),
                descriptor_limit: super::sys::open_file_limit().unwrap_or(u64::MAX),
                local: (!addr.ip().is_unspecified()).then_some(addr),
                idle: IdleInstances::default(),
            }
        }))
    }

    /// How this server's connections run: on the reactor, unless host code plays
    /// `do_METHOD` (its verbs block) or the reactor could not start.
    fn mode(&self) -> Mode {
        match (&self.reactor, &self.config.handler) {
            (Some(_), None) => Mode::Reactor,
            _ => Mode::Thread,
        }
    }

    /// Accept on `listener` until the server stops.
    pub fn accept(self: &Arc<Self>, listener: &TcpListener) -> std::io::Result<()> {
        match (&self.reactor, self.mode()) {
            (Some(reactor), Mode::Reactor) => {
                // The accepting reactor threads each run an accept loop (`accept_on_reactor`);
                // this thread waits until they have all stopped.
                let (done, stopped) = std::sync::mpsc::channel::<()>();
                for (thread, listener) in self.listeners(listener, reactor)? {
                    listener.set_nonblocking(true)?;
                    let (serving, done) = (self.clone(), done.clone());
                    reactor.handle(thread).spawn(async move {
                        serving.accept_on_reactor(listener, thread).await;
                        drop(done);
                    });
                }
                drop(done);
                let _ = stopped.recv();
            }
            _ => self.accept_on_thread(listener),
        }
        Ok(())
    }

    /// Which reactor threads accept, each on which listener: `ACCEPTOR` on the server's own;
    /// with `Accepting::EveryThread` every other thread on one of its own beside it (a thread
    /// whose listener cannot be had is left out, said once: the others take its share).
    fn listeners(&self, listener: &TcpListener, reactor: &Reactor) -> std::io::Result<Vec<(usize, TcpListener)>> {
        let mut listeners = vec![(ACCEPTOR, listener.try_clone()?)];
        if self.config.accepting == Accepting::EveryThread {
            let addr = listener.local_addr()?;
            for thread in (0..reactor.threads()).filter(|&t| t != ACCEPTOR) {
                match listen_beside(addr) {
                    Ok(beside) => listeners.push((thread, beside)),
                    Err(e) => eprintln!("reactor thread {thread} will not accept: {e:#}"),
                }
            }
        }
        Ok(listeners)
    }

    /// The blocking accept loop, each connection on a thread of its own.
    fn accept_on_thread(self: &Arc<Self>, listener: &TcpListener) {
        let mut backoff = AcceptBackoff::default();
        for conn in listener.incoming() {
            if self.admission.is_stopping() {
                break;
            }
            let sock = match conn {
                Ok(s) => {
                    backoff.reset();
                    s
                }
                Err(e) => {
                    if let Some(pause) = self.accept_failed(&e, &mut backoff) {
                        std::thread::sleep(pause);
                    }
                    continue;
                }
            };
            let (sock, id, phase) = self.opened(sock);
            self.dispatch(id, Arrival::New(sock, None), phase, None);
        }
    }

    /// The accept loop of reactor thread `me`: each connection a task on this thread, or on
    /// the lightest (see `Reactor::spawn_accepted`). By default one thread accepts: with every
    /// thread waiting on one listener, each connection woke them all and all but one found
    /// nothing (EPOLLEXCLUSIVE, nginx's cure, cannot be asked of tokio's epoll); with
    /// `Accepting::EveryThread` each thread has a listener of its own (bench/PROFILE.md,
    /// "Tuning record").
    async fn accept_on_reactor(self: Arc<Self>, listener: TcpListener, me: usize) {
        // SAFETY: the AsyncFd owns the listener: its descriptor stays open, the same one, for
        // the registration's whole life.
        let Ok(listener) = (unsafe { AsyncFd::register_with_interest(listener, tokio::io::Interest::READABLE) }) else {
            return;
        };
        let mut backoff = AcceptBackoff::default();
        loop {
            let stopped = self.stop_accepting.notified();
            let mut stopped = std::pin::pin!(stopped);
            let accepted = std::future::poll_fn(|cx| {
                loop {
                    if stopped.as_mut().poll(cx).is_ready() || self.admission.is_stopping() {
                        return std::task::Poll::Ready(None);
                    }
                    let Ok(mut ready) = std::task::ready!(listener.poll_read_ready(cx)) else {
                        return std::task::Poll::Ready(None);
                    };
                    match ready.try_io(|l| accept_nonblocking(l.get_ref())) {
                        Ok(result) => return std::task::Poll::Ready(Some(result)),
                        Err(_would_block) => continue,
                    }
                }
            })
            .await;
            let (sock, peer) = match accepted {
                None => return,
                Some(Ok(accepted)) => {
                    backoff.reset();
                    accepted
                }
                Some(Err(e)) => {
                    if let Some(pause) = self.accept_failed(&e, &mut backoff) {
                        tokio::time::sleep(pause).await;
                    }
                    continue;
                }
            };
            let (sock, id, phase) = self.opened(sock);
            if let Some(reactor) = &self.reactor {
                let task = self
                    .clone()
                    .answer(id, Arrival::New(sock, peer), phase, None, Mode::Reactor);
                reactor.spawn_accepted(me, Box::pin(task))
            }
        }
    }

    /// Wake the accept loop of a stopping server (the reactor's; the blocking one is woken
    /// by a connection, see `ShutdownHandle::shutdown`).
    pub fn stop_accepting(&self) {
        self.admission.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        self.stop_accepting.notify_waiters();
        self.idle.close();
    }

    /// An accept failed: out of descriptors, idle connections make room for a new one (as
    /// they do for instances); only with none to close is there a pause (returned).
    fn accept_failed(&self, e: &std::io::Error, backoff: &mut AcceptBackoff) -> Option<Duration> {
        if is_out_of_descriptors(e) && self.shed_parked() > 0 {
            return None;
        }
        backoff.failed(e)
    }

    /// A new connection enters the open-connection table (room made for it first, idle
    /// connections going): its socket, now shared with the table, its id and its phase cell.
    fn opened(&self, sock: std::net::TcpStream) -> (Arc<std::net::TcpStream>, u64, Arc<PhaseCell>) {
        while self.admission.short_of_descriptors(self.descriptor_limit) && self.shed_parked() > 0 {}
        let sock = Arc::new(sock);
        let (id, phase) = self.admission.opened(sock.clone());
        (sock, id, phase)
    }

    /// Answer a connection (new, or back from the parking lot): a task on the reactor, or a
    /// worker thread for host code playing do_METHOD (its verbs block).
    fn dispatch(self: &Arc<Self>, id: u64, conn: Arrival, phase: Arc<PhaseCell>, idle_deadline: Option<Instant>) {
        let serving = self.clone();
        let mode = self.mode();
        if let (Some(reactor), Mode::Reactor) = (&self.reactor, mode) {
            return reactor.spawn(Box::pin(serving.answer(id, conn, phase, idle_deadline, mode)));
        }
        let job: Job = Box::new(move || block_on(serving.answer(id, conn, phase, idle_deadline, mode)));
        if let Err(e) = self.workers.run(job) {
            eprintln!("cannot start a thread for a connection: {e}");
            self.admission.remove(id);
        }
    }

    /// A connection's answer: an instance slot, the guest over the connection, then close it
    /// or park it.
    async fn answer(
        self: Arc<Self>,
        id: u64,
        conn: Arrival,
        phase: Arc<PhaseCell>,
        idle_deadline: Option<Instant>,
        mode: Mode,
    ) {
        let max = Admission::max_answering(self.config.max_connections, self.descriptor_limit);
        let result = if self.admission.admit_in(id, max, mode).await {
            let answering = Answering {
                runtime: &self.runtime,
                guest: &self.guest,
                config: &self.config,
                busy: &self.busy,
                failed: &self.failed,
                mode,
                local: self.local,
                idle: &self.idle,
            };
            answering.answer(conn, phase.clone(), idle_deadline).await
        } else {
            self.admission.answered_busy();
            match conn {
                Arrival::New(sock, _) => send_busy(sock, &self.busy, mode).await,
                Arrival::Back(mut stream, _) => {
                    let _ = stream.write_all(&self.busy).await;
                    close_stream(stream, mode).await;
                }
            }
            Ok(None)
        };
        match result {
            Ok(Some(left)) => {
                let parked = Parked {
                    id,
                    stream: left.tcp,
                    phase,
                    idle_deadline: left.deadline,
                    carried: left.carried,
                };
                return self.park(parked, mode).await;
            }
            Ok(None) => {}
            Err((peer, e)) => {
                let who = peer.map_or("?".to_string(), |p| p.to_string());
                // One line: the cause, not the wasm backtrace.
                eprintln!("connection from {who} lost: {}", e.root_cause());
            }
        }
        self.admission.remove(id);
    }

    /// Between requests: give back the connection's instance slot and hold its stream in the
    /// parking lot (or close it, when the server is stopping or the lot cannot take it).
    async fn park(&self, mut conn: Parked, mode: Mode) {
        let id = conn.id;
        // Watched by the lot now, not by this thread's reactor (whose epoll would otherwise
        // wake for it too); resumed, it registers where it runs.
        conn.stream.leave_reactor();
        let Some(lot) = self.parking.as_ref().filter(|_| !self.admission.is_stopping()) else {
            close_stream(conn.stream, mode).await;
            return self.admission.remove(id);
        };
        self.admission.release(id);
        if let Err(conn) = lot.park(conn) {
            close_stream(conn.stream, mode).await;
            return self.admission.remove(id);
        }
        // Stopped while it was being parked: `drain` may have emptied the lot already.
        if self.admission.is_stopping() {
            self.close_parked();
        }
    }

    /// A parked connection's next request has begun (or its client closed, or its idle time
    /// is up): answer it again, as a connection of its own.
    fn resume(self: &Arc<Self>, conn: Parked) {
        if self.admission.is_stopping() {
            let _ = conn.stream.socket().shutdown(Shutdown::Both);
            return self.admission.remove(conn.id);
        }
        self.admission.unpark(conn.id, conn.stream.shared_socket());
        self.dispatch(
            conn.id,
            Arrival::Back(conn.stream, conn.carried),
            conn.phase,
            conn.idle_deadline,
        );
    }

    /// Close the `SHED_ON_EMFILE` parked connections idle longest; how many were closed.
    fn shed_parked(&self) -> usize {
        let shed = self.parking.iter().flat_map(|lot| lot.take_oldest(SHED_ON_EMFILE));
        shed.map(|conn| {
            let _ = conn.stream.socket().shutdown(Shutdown::Both);
            self.admission.remove(conn.id);
        })
        .count()
    }

    /// Close every parked connection (the server stops).
    pub fn close_parked(&self) {
        for conn in self.parking.iter().flat_map(ParkingLot::take_all) {
            let _ = conn.stream.socket().shutdown(Shutdown::Both);
            self.admission.remove(conn.id);
        }
    }
}

/// Close a stream that was to be parked, lingering as any other.
async fn close_stream(stream: crate::transport::TcpStream, mode: Mode) {
    let sock = stream.shared_socket();
    drop(stream);
    linger(sock, mode).await;
}
