"""Hold N idle keep-alive connections against a server, then time a new client.

    python3 bench/idle.py PORT N PID [PID...]

Each connection sends one request for /1k.bin, reads its answer and stays open. After 3 s
(enough for any server to settle), prints one line: "rss_mib threads median_ms", where RSS and
threads are summed over the PIDs (nginx's master and workers) and median_ms is the median time
for a new client to get its answer while the N are held. Exits 1 if any connection is refused
or closed.
"""
import os, resource, socket, sys, time

port, n, pids = int(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
REQ = b"GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def answer(s):
    got = b""
    while b"\r\n\r\n" not in got or len(got) < got.index(b"\r\n\r\n") + 4 + 1024:
        d = s.recv(65536)
        if not d:
            sys.exit(f"a connection closed after {len(got)} bytes")
        got += d
    if not got.startswith(b"HTTP/1.1 200"):
        sys.exit(f"not 200: {got[:40]!r}")


held = []
while len(held) < n:
    batch = [socket.create_connection(("127.0.0.1", port)) for _ in range(min(200, n - len(held)))]
    for s in batch:
        s.sendall(REQ)
    for s in batch:
        answer(s)
    held.extend(batch)
time.sleep(3)
rss = threads = 0
for pid in pids:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            rss += int(line.split()[1])
        elif line.startswith("Threads:"):
            threads += int(line.split()[1])
took = []
for _ in range(21):
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(REQ)
    answer(s)
    took.append((time.perf_counter() - t) * 1000)
    s.close()
print(f"{rss / 1024:.0f} {threads} {sorted(took)[10]:.2f}")
