"""http.server's BaseHTTPRequestHandler and SimpleHTTPRequestHandler for a Python handler
component: `httplib serve --app handler.wasm` reads and checks each request (httplib's
guest), then calls the component's `request-handler.handle`, which runs the class's
`do_METHOD` with CPython's attributes (`command`, `path`, `request_version`,
`requestline`, `headers`, `client_address`, `rfile`, `wfile`, `close_connection`) and verbs
(`send_response`, `send_header`, `end_headers`, `send_error`, `log_message`, ...), each a
call to the guest, which writes and frames the response.

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self): ...

    RequestHandler = httplib_wasi.server.request_handler(Handler)   # the one export line

The class attributes `server_version`, `sys_version` and `protocol_version` are the
server's (`httplib serve --protocol`): a handler class's own are not consulted.
"""

import io
import http.client as _std

from componentize_py_types import Err

from ._errors import to_exception


def _call(f, *args):
    try:
        return f(*args)
    except Err as e:
        raise to_exception(e.value) from None


class _BodyReader(io.RawIOBase):
    """`rfile`: the request body (Content-Length or chunked, decoded by the guest); end of
    file at its end."""

    def __init__(self, exchange):
        self._x = exchange

    def readable(self):
        return True

    def readinto(self, b):
        view = memoryview(b).cast("B")
        if len(view) == 0:
            return 0
        data = _call(self._x.read_body, len(view))
        view[: len(data)] = data
        return len(data)


class _ResponseWriter(io.RawIOBase):
    """`wfile`: response bytes, written as they come."""

    def __init__(self, exchange):
        self._x = exchange

    def writable(self):
        return True

    def write(self, b):
        data = bytes(b)
        if data:
            _call(self._x.write, data)
        return len(data)


class BaseHTTPRequestHandler:
    """CPython's BaseHTTPRequestHandler, over the request the server's guest parsed."""

    server_version = "BaseHTTP/0.6"
    sys_version = "httplib"
    protocol_version = "HTTP/1.0"
    MessageClass = _std.HTTPMessage
    responses = {s: (s.phrase, s.description) for s in __import__("http").HTTPStatus}

    def __init__(self, exchange, server=None):
        self._x = exchange
        self.server = server
        request = exchange.request()
        self.command = request.command
        self.path = request.path
        self.request_version = request.request_version
        self.requestline = request.requestline
        text = b"".join(name.encode("latin-1") + b": " + value + b"\r\n" for name, value in request.headers)
        self.headers = _std.parse_headers(io.BytesIO(text + b"\r\n"), _class=self.MessageClass)
        peer = exchange.client_address()
        self.client_address = (peer.host, peer.port)
        self.rfile = io.BufferedReader(_BodyReader(exchange))
        self.wfile = _ResponseWriter(exchange)

    @property
    def close_connection(self):
        return self._x.close_connection()

    @close_connection.setter
    def close_connection(self, close):
        self._x.set_close_connection(bool(close))

    def send_response(self, code, message=None):
        _call(self._x.send_response, int(code), message)

    def send_response_only(self, code, message=None):
        _call(self._x.send_response_only, int(code), message)

    def send_header(self, keyword, value):
        _call(self._x.send_header, str(keyword), str(value))

    def end_headers(self):
        _call(self._x.end_headers)

    def flush_headers(self):
        _call(self._x.flush_headers)

    def send_error(self, code, message=None, explain=None):
        _call(self._x.send_error, int(code), message, explain)

    def log_request(self, code="-", size="-"):
        code = int(code) if str(code).isdigit() else None
        size = int(size) if str(size).isdigit() else None
        self._x.log_request(code, size)

    def log_error(self, format, *args):
        self._x.log_error(format % args if args else format)

    def log_message(self, format, *args):
        self._x.log_message(format % args if args else format)

    def version_string(self):
        return self._x.version_string()

    def date_time_string(self, timestamp=None):
        return self._x.date_time_string(None if timestamp is None else int(timestamp))

    def log_date_time_string(self):
        return self._x.log_date_time_string()

    def address_string(self):
        return self._x.address_string()


class SimpleHTTPRequestHandler(BaseHTTPRequestHandler):
    """CPython's SimpleHTTPRequestHandler: GET and HEAD from the directory the server
    serves (`httplib serve -d`), listings, ranges and conditional requests included."""

    server_version = "SimpleHTTP/0.6"

    def do_GET(self):
        _call(self._x.serve_file)

    def do_HEAD(self):
        _call(self._x.serve_file)


def request_handler(handler_class):
    """The component's `request-handler` export for `handler_class`: each request gets an
    instance, and its `do_METHOD` answers (none: the server's 501)."""
    from wit_world import exports

    class RequestHandler(exports.RequestHandler):
        def handle(self, request) -> bool:
            handler = handler_class(request)
            method = getattr(handler, "do_" + handler.command, None)
            if method is None:
                return False
            method()
            handler.wfile.flush()
            return True

    return RequestHandler
