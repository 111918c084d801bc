"""http.client's HTTPConnection, HTTPSConnection and HTTPResponse, over httplib's client
(the `httplib:http/client` import): the same constructors, methods, attributes and
exceptions as CPython's, so code written for http.client runs on WASI unchanged.

The HTTP/1.1 work (framing, chunking, keep-alive, TLS, the host's policy on every
connection) is the httplib guest's; this module only converts at the edge.
"""

import io
import socket
import http.client as _std

from componentize_py_types import Err
from wit_world.imports import client as _c
from wit_world.imports import httplib_http_types as _t

from ._errors import to_exception

HTTP_PORT = 80
HTTPS_PORT = 443

# CPython's default for `timeout`: the global socket default.
_GLOBAL_DEFAULT_TIMEOUT = getattr(socket, "_GLOBAL_DEFAULT_TIMEOUT", object())
# CPython's default `blocksize`.
_BLOCKSIZE = 8192
# CPython's own class (before `install` replaces it), for the helpers urllib calls on it.
_CPYTHON_CONNECTION = _std.HTTPConnection


def _call(f, *args):
    """`f(*args)`, a WIT `http-error` raised as CPython's exception."""
    try:
        return f(*args)
    except Err as e:
        raise to_exception(e.value) from None


def _timeout_ms(timeout):
    if timeout is _GLOBAL_DEFAULT_TIMEOUT:
        timeout = socket.getdefaulttimeout() if hasattr(socket, "getdefaulttimeout") else None
    if timeout is None:
        return None
    return max(1, int(timeout * 1000))


def _value_bytes(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, int):
        return str(value).encode("ascii")
    return str(value).encode("latin-1")


def _header_list(headers):
    items = headers.items() if hasattr(headers, "items") else headers
    return [(str(name), _value_bytes(value)) for name, value in items]


def _body(body, blocksize):
    """A request body as http.client's `request` takes it, as a WIT `body`."""
    if body is None:
        return _c.Body_None_()
    if isinstance(body, str):
        return _c.Body_Text(body)
    if isinstance(body, (bytes, bytearray, memoryview)):
        return _c.Body_Bytes(bytes(body))
    if hasattr(body, "read"):
        # A file: its data, sent with its length (CPython sends a file of known size so).
        parts = []
        while True:
            data = body.read(blocksize)
            if not data:
                break
            parts.append(data.encode("iso-8859-1") if isinstance(data, str) else bytes(data))
        return _c.Body_Bytes(b"".join(parts))
    try:
        chunks = iter(body)
    except TypeError:
        raise TypeError(
            "message_body should be a bytes-like object or an iterable, got %r" % type(body)
        ) from None
    return _c.Body_Chunks(
        [c.encode("iso-8859-1") if isinstance(c, str) else bytes(c) for c in chunks]
    )


class TLSContext:
    """What an `ssl.SSLContext` says to HTTPSConnection, for CPython builds without the
    ssl module (CPython on WASI): the host does TLS. `cadata` is PEM text or bytes;
    `cafile` a PEM file the program can read; `verify=False` is `CERT_NONE` (and no host
    name check), as `ssl._create_unverified_context()`."""

    def __init__(self, *, cafile=None, cadata=None, verify=True, check_hostname=True):
        pem = b""
        if cafile is not None:
            with open(cafile, "rb") as f:
                pem += f.read()
        if cadata is not None:
            pem += cadata.encode("ascii") if isinstance(cadata, str) else bytes(cadata)
        self.ca_certs = pem or None
        self.verify = bool(verify and check_hostname)

    @classmethod
    def of(cls, context):
        """Ours, for what HTTPSConnection was given: none, ours, or an ssl.SSLContext."""
        if context is None:
            return cls()
        if isinstance(context, cls):
            return context
        verify_mode = getattr(context, "verify_mode", 2)
        return cls(verify=int(verify_mode) != 0, check_hostname=getattr(context, "check_hostname", True))


class HTTPResponse(io.BufferedIOBase):
    """CPython's HTTPResponse over a WIT `response`: the body by `read`, `read1`,
    `readinto`, `readline`, `peek` and iteration; `headers` (and `msg`) an
    `http.client.HTTPMessage`."""

    def __init__(self, response, method=None, url=None, blocksize=_BLOCKSIZE):
        self._r = response
        self._method = method
        self._blocksize = blocksize
        self.debuglevel = 0
        self.status = self.code = response.status()
        self.reason = response.reason()
        self.version = response.version()
        raw = response.raw_head()
        fields = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
        self.headers = self.msg = _std.parse_headers(io.BytesIO(fields))
        self.length = response.length()
        self.chunked = response.chunked()
        self.will_close = response.will_close()
        self.url = url

    # -- the body --

    def readable(self):
        return True

    def read(self, amt=None):
        if self._r is None:
            return b""
        if amt is not None and amt >= 0:
            return _call(self._r.read, amt)
        # The rest, in pieces: an IncompleteRead then carries what did arrive, as CPython's.
        got = []
        while True:
            try:
                piece = self._r.read(max(self._blocksize, 65536))
            except Err as e:
                raise to_exception(e.value, b"".join(got)) from None
            if not piece:
                return b"".join(got)
            got.append(piece)

    def read1(self, n=-1):
        if self._r is None:
            return b""
        return _call(self._r.read1, None if n is None or n < 0 else n)

    def readinto(self, b):
        view = memoryview(b).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readline(self, limit=-1):
        if self._r is None:
            return b""
        return _call(self._r.readline, None if limit is None or limit < 0 else limit)

    def peek(self, n=0):
        if self._r is None:
            return b""
        return _call(self._r.peek, max(n, 1))

    def isclosed(self):
        """True once the body was read to its end or the response closed."""
        return self._r is None or self._r.isclosed()

    def close(self):
        try:
            super().close()
        finally:
            if self._r is not None:
                self._r.close()
                self._r = None

    def flush(self):
        super().flush()

    def fileno(self):
        raise io.UnsupportedOperation("fileno: the connection is the host's")

    # -- the head --

    def getheader(self, name, default=None):
        headers = self.headers.get_all(name) or default
        if isinstance(headers, str) or not hasattr(headers, "__iter__"):
            return headers
        return ", ".join(headers)

    def getheaders(self):
        return list(self.headers.items())

    def info(self):
        return self.headers

    def geturl(self):
        return self.url

    def getcode(self):
        return self.status


class HTTPConnection:
    """CPython's HTTPConnection over a WIT `connection`."""

    default_port = HTTP_PORT
    response_class = HTTPResponse
    _http_vsn = 11
    _http_vsn_str = "HTTP/1.1"
    debuglevel = 0
    # urllib.request asks http.client's connection class what Content-Length a body has.
    _get_content_length = staticmethod(_CPYTHON_CONNECTION._get_content_length)

    def __init__(self, host, port=None, timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None, blocksize=_BLOCKSIZE):
        self.timeout = timeout
        self.source_address = source_address
        self.blocksize = blocksize
        self.sock = None
        self._tunnel_host = None
        self._tunnel_port = None
        self._tunnel_headers = {}
        self._method = None
        self._url = None
        address = None
        if source_address is not None:
            address = _t.SocketAddress(host=str(source_address[0]), port=int(source_address[1]))
        options = _c.ConnectionOptions(
            timeout_ms=_timeout_ms(timeout),
            connect_timeout_ms=None,
            source_address=address,
            blocksize=blocksize,
            tls=self._tls(),
            auto_open=True,
        )
        self._c = _call(_c.Connection.open, host, port, options)
        self.host = self._c.host()
        self.port = self._c.port()
        if self._http_vsn_str != "HTTP/1.1":
            _call(self._c.set_http_version, self._http_vsn_str)

    def _tls(self):
        return None

    def set_debuglevel(self, level):
        self.debuglevel = level
        self._c.set_debuglevel(max(0, int(level)))

    def set_tunnel(self, host, port=None, headers=None):
        self._tunnel_host, self._tunnel_port = host, port
        self._tunnel_headers = dict(headers or {})
        _call(self._c.set_tunnel, host, port, _header_list(self._tunnel_headers))

    def get_proxy_response_headers(self):
        fields = self._c.get_proxy_response_headers()
        if fields is None:
            return None
        text = b"".join(name.encode("latin-1") + b": " + value + b"\r\n" for name, value in fields)
        return _std.parse_headers(io.BytesIO(text + b"\r\n"))

    def connect(self):
        _call(self._c.connect)

    def close(self):
        self._c.close()

    def request(self, method, url, body=None, headers={}, *, encode_chunked=False):
        self._method, self._url = method, url
        _call(self._c.request, method, url, _body(body, self.blocksize), _header_list(headers), encode_chunked)

    def putrequest(self, method, url, skip_host=False, skip_accept_encoding=False):
        self._method, self._url = method, url
        _call(self._c.putrequest, method, url, skip_host, skip_accept_encoding)

    def putheader(self, header, *values):
        if isinstance(header, bytes):
            header = header.decode("ascii")
        _call(self._c.putheader, header, [_value_bytes(v) for v in values])

    def endheaders(self, message_body=None, *, encode_chunked=False):
        body = None if message_body is None else _body(message_body, self.blocksize)
        _call(self._c.endheaders, body, encode_chunked)

    def send(self, data):
        if hasattr(data, "read"):
            while True:
                block = data.read(self.blocksize)
                if not block:
                    return
                _call(self._c.send, _value_bytes(block))
        if isinstance(data, (bytes, bytearray, memoryview, str)):
            _call(self._c.send, _value_bytes(data))
            return
        for piece in data:
            _call(self._c.send, _value_bytes(piece))

    def getresponse(self):
        response = _call(self._c.getresponse)
        return self.response_class(response, self._method, self._url, self.blocksize)


class HTTPSConnection(HTTPConnection):
    """CPython's HTTPSConnection: TLS by the host, verified against its roots (and
    `httplib run --cacert`'s); `context` an ssl.SSLContext or a `TLSContext`."""

    default_port = HTTPS_PORT

    def __init__(self, host, port=None, *, timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None, context=None, blocksize=_BLOCKSIZE):
        self._context = TLSContext.of(context)
        super().__init__(host, port, timeout, source_address, blocksize=blocksize)

    def _tls(self):
        return _t.TlsOptions(
            server_name=None,
            verify=self._context.verify,
            ca_certs=self._context.ca_certs,
            system_roots=False,
            client_identity=None,
            alpn_protocols=["http/1.1"],
        )
