"""Hold N connections in the middle of a request body, as slow uploads do, and measure what
they cost the server.

    python3 bench/slow_uploads.py PORT N PATH METHOD PID [PID...]

Each connection sends `METHOD PATH` with `Content-Length: 100000` and the first byte of the
body, then waits (a real slow client sends a byte every few seconds; these stay quiet, well
inside any body timeout). After 5 s prints one line: "rss_mib per_connection_kib
baseline_mib", RSS summed over the PIDs (nginx's master and workers) before and while the N
are held. For METHOD GET the server answers the head first and waits in the body between
requests (draining it); for POST to a CGI script it waits while collecting stdin.
"""
import resource, socket, sys, time

port, n, path, method, pids = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], [int(p) for p in sys.argv[5:]]
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
HEAD = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nx".encode()


def rss_kib():
    total = 0
    for pid in pids:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


before = rss_kib()
held = []
while len(held) < n:
    batch = [socket.create_connection(("127.0.0.1", port)) for _ in range(min(200, n - len(held)))]
    for s in batch:
        s.sendall(HEAD)
    held.extend(batch)
    time.sleep(0.2)
time.sleep(5)
closed = 0
for s in held:
    s.setblocking(False)
    try:
        if s.recv(1, socket.MSG_PEEK) == b"":
            closed += 1
    except BlockingIOError:
        pass
during = rss_kib()
if closed:
    print(f"{closed} of the {n} connections were closed by the server", file=sys.stderr)
print(f"{during / 1024:.0f} {(during - before) / n:.0f} {before / 1024:.0f}")
