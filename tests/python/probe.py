"""The tests' Python app (tests/tests/python.rs): http.client and urllib.request as a
Python program uses them, on WASI through httplib. `probe MODE ARGS...`:

- `urlopen URL [DATA] [OUT]`: urllib.request.urlopen; prints status, final URL, length and
  sha256 of the body; writes the body to OUT (a preopened path) when given.
- `client HOST PORT PATH`: http.client.HTTPConnection GET; prints what the response says,
  or the exception's class and the attributes CPython gives it.
- `chunked HOST PORT PATH PART...`: http.client.HTTPConnection POST of the parts as an
  iterable body (so chunked, with no length); prints the status and the response body.
- `insecure HOST PORT PATH`: HTTPSConnection GET with verification off (CERT_NONE, as
  `ssl._create_unverified_context()`); prints the status, or the exception.
- `keepalive HOST PORT PATH...`: one http.client.HTTPConnection, a GET of each path in turn
  (each response read whole first, so the connection is reused); prints each status and length.
"""

import hashlib
import sys

import httplib_wasi

httplib_wasi.install()

import http.client  # noqa: E402
import urllib.request  # noqa: E402

from wit_world import exports  # noqa: E402


def describe(e):
    extra = ""
    if isinstance(e, http.client.IncompleteRead):
        extra = f" partial={len(e.partial)} expected={e.expected}"
    return f"{type(e).__module__}.{type(e).__name__}{extra}: {e}"


def urlopen(url, data=None, out=None):
    body = data.encode() if data else None
    req = urllib.request.Request(url, data=body, headers={"X-Probe": "yes"})
    with urllib.request.urlopen(req, timeout=30) as r:
        content = r.read()
        print(r.status, r.geturl(), len(content), hashlib.sha256(content).hexdigest())
        print("content-type:", r.headers.get("Content-Type"))
        if out:
            with open(out, "wb") as f:
                f.write(content)
        if data:
            print("echo:", content.decode(errors="replace"))


def client(host, port, path):
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    print(r.status, r.reason, r.version, r.getheader("Content-Length"))
    body = r.read()
    print(len(body), r.isclosed(), r.closed)
    c.close()


def chunked(host, port, path, *parts):
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request("POST", path, body=iter([p.encode() for p in parts]))
    r = c.getresponse()
    print(r.status, r.read().decode(errors="replace"))
    c.close()


def insecure(host, port, path):
    c = http.client.HTTPSConnection(host, int(port), timeout=10, context=httplib_wasi.TLSContext(verify=False))
    c.request("GET", path)
    print(c.getresponse().status)
    c.close()


def keepalive(host, port, *paths):
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    for path in paths:
        c.request("GET", path)
        r = c.getresponse()
        print(path, r.status, len(r.read()))
    c.close()


class Run(exports.Run):
    def run(self) -> None:
        mode, args = sys.argv[1], sys.argv[2:]
        try:
            if mode == "urlopen":
                urlopen(*args)
            elif mode == "client":
                client(*args)
            elif mode == "chunked":
                chunked(*args)
            elif mode == "insecure":
                insecure(*args)
            elif mode == "keepalive":
                keepalive(*args)
            else:
                raise SystemExit(f"unknown mode {mode}")
        except Exception as e:  # each test reads the class CPython would raise
            print("raised", describe(e))
            cause = getattr(e, "reason", None)
            if isinstance(cause, BaseException):
                print("reason", describe(cause))
            sys.stdout.flush()
            sys.exit(1)
