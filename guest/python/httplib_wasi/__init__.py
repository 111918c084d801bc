"""http.client, urllib.request and http.server for Python on WASI, through httplib.

CPython built for WASI has these modules but no sockets to run them on. In a component
built by componentize-py against httplib's `python-command` world, `install()` puts this
package's HTTPConnection, HTTPSConnection and HTTPResponse into `http.client` itself, so
that unmodified code (`urllib.request.urlopen`, libraries built on http.client) works,
every connection going through the host's policy (`httplib run --allow`).
"""

from .client import (
    HTTP_PORT,
    HTTPS_PORT,
    HTTPConnection,
    HTTPResponse,
    HTTPSConnection,
    TLSContext,
)

__all__ = [
    "HTTP_PORT",
    "HTTPS_PORT",
    "HTTPConnection",
    "HTTPResponse",
    "HTTPSConnection",
    "TLSContext",
    "install",
]


def install():
    """Make http.client (and through it urllib.request) use httplib: its connection and
    response classes become ours, and urllib gains an https handler where CPython, built
    without ssl, has none."""
    import http.client as std

    std.HTTPConnection = HTTPConnection
    std.HTTPSConnection = HTTPSConnection
    std.HTTPResponse = HTTPResponse
    import urllib.request as ur

    if not hasattr(ur, "HTTPSHandler") or not _handler_is_usable(ur):

        class HTTPSHandler(ur.AbstractHTTPHandler):
            """urllib's https handler, TLS being the host's."""

            def __init__(self, debuglevel=None, context=None, check_hostname=None):
                super().__init__(debuglevel if debuglevel is not None else 0)
                self._context = context

            def https_open(self, req):
                return self.do_open(std.HTTPSConnection, req, context=self._context)

            https_request = ur.AbstractHTTPHandler.do_request_

        ur.HTTPSHandler = HTTPSHandler
        if "HTTPSHandler" not in ur.__all__:
            ur.__all__.append("HTTPSHandler")
    # An opener built before this call keeps CPython's classes: the next urlopen builds anew.
    ur.install_opener(None)


def _handler_is_usable(ur):
    """Whether CPython's own HTTPSHandler can be made here (it builds an ssl context)."""
    try:
        ur.HTTPSHandler()
        return True
    except Exception:
        return False
