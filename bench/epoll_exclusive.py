#!/usr/bin/env python3
"""How many context switches a new connection costs when N threads wait on one listener.

    python3 bench/epoll_exclusive.py [THREADS] [CONNECTIONS]

Three ways to wait, each thread on an epoll of its own holding the shared listener:
- exclusive: EPOLLEXCLUSIVE, the thread blocked on that epoll itself (nginx's way);
- nested: the same epoll nested in an outer one the thread waits on, the only way to reach it
  from tokio (mio registers every source with EPOLLET alone and exposes no EPOLLEXCLUSIVE);
- plain: no EPOLLEXCLUSIVE (every thread woken, all but one finding nothing).
The kernel's ep_poll_callback counts an exclusive wake-up as done only when a thread waits on
that very epoll, so nested exclusivity wakes every thread: why the server does not use it.
"""
import re, select, socket, sys, threading, time

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 8
CONNS = int(sys.argv[2]) if len(sys.argv) > 2 else 400


def switches(tid):
    status = open(f"/proc/self/task/{tid}/status").read()
    return int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", status).group(1))


def run(mode):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1024)
    ls.setblocking(False)
    accepted, tids, stop = [0] * THREADS, [None] * THREADS, threading.Event()

    def worker(i):
        tids[i] = threading.get_native_id()
        inner = select.epoll()
        inner.register(ls.fileno(), select.EPOLLIN | (select.EPOLLEXCLUSIVE if mode != "plain" else 0))
        waiter = inner
        if mode == "nested":
            waiter = select.epoll()
            waiter.register(inner.fileno(), select.EPOLLIN)
        while not stop.is_set():
            if not waiter.poll(5):
                continue
            if mode == "nested":
                inner.poll(0)
            try:
                conn, _ = ls.accept()
                accepted[i] += 1
                conn.close()
            except BlockingIOError:
                pass
            time.sleep(0.001)  # a little work, as a server's would be

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    # Counted by this thread over the measured connections only (not the start, not the stop).
    before = sum(switches(tid) for tid in tids)
    for _ in range(CONNS):
        socket.create_connection(ls.getsockname()).close()
        time.sleep(0.004)
    time.sleep(0.5)
    after = sum(switches(tid) for tid in tids)
    served = (sum(accepted), sum(1 for a in accepted if a))
    stop.set()
    for _ in threads:  # wake each waiter once so it sees the stop
        socket.create_connection(ls.getsockname()).close()
    for t in threads:
        t.join()
    print(f"{mode:9} {THREADS} threads: {(after - before) / CONNS:.2f} context switches a connection, "
          f"{served[1]} threads accepted, {served[0]} connections")


for mode in ("exclusive", "nested", "plain"):
    run(mode)
