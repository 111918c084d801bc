"""httplib's `http-error` as the exceptions CPython raises for each case."""

import errno
import http.client as _std

from wit_world.imports import httplib_http_types as t

try:
    import ssl as _ssl

    SSLError = _ssl.SSLError
    SSLCertVerificationError = _ssl.SSLCertVerificationError
except ImportError:  # CPython on WASI is built without _ssl: TLS is the host's.

    class SSLError(OSError):
        """ssl.SSLError's place where the ssl module is missing."""

    class SSLCertVerificationError(SSLError, ValueError):
        """ssl.SSLCertVerificationError's place where the ssl module is missing."""


try:
    from socket import gaierror
except ImportError:  # pragma: no cover - socket is in every CPython build we know

    class gaierror(OSError):
        """socket.gaierror's place."""


def _with_message(cls, message):
    """An http.client exception whose constructor wants other arguments (LineTooLong)."""
    e = cls.__new__(cls)
    _std.HTTPException.__init__(e, message)
    return e


def to_exception(err, partial=b""):
    """The exception for a WIT `http-error`; `partial`: body bytes read before an
    IncompleteRead, which CPython's exception carries."""
    e = err
    if isinstance(e, t.HttpError_IncompleteRead):
        return _std.IncompleteRead(partial, e.value.expected)
    if isinstance(e, t.HttpError_Timeout):
        return TimeoutError("timed out")
    if isinstance(e, t.HttpError_ConnectionRefused):
        return ConnectionRefusedError(errno.ECONNREFUSED, e.value or "Connection refused")
    if isinstance(e, t.HttpError_ConnectionReset):
        return ConnectionResetError(errno.ECONNRESET, e.value or "Connection reset by peer")
    if isinstance(e, t.HttpError_Denied):
        return PermissionError(errno.EACCES, e.value)
    if isinstance(e, t.HttpError_NameUnresolvable):
        return gaierror(-2, e.value)
    if isinstance(e, t.HttpError_Tls):
        return SSLError(e.value)
    if isinstance(e, t.HttpError_CertificateVerification):
        return SSLCertVerificationError(e.value)
    simple = {
        t.HttpError_HttpException: _std.HTTPException,
        t.HttpError_InvalidUrl: _std.InvalidURL,
        t.HttpError_UnknownProtocol: _std.UnknownProtocol,
        t.HttpError_ImproperConnectionState: _std.ImproperConnectionState,
        t.HttpError_CannotSendRequest: _std.CannotSendRequest,
        t.HttpError_CannotSendHeader: _std.CannotSendHeader,
        t.HttpError_ResponseNotReady: _std.ResponseNotReady,
        t.HttpError_BadStatusLine: _std.BadStatusLine,
        t.HttpError_RemoteDisconnected: _std.RemoteDisconnected,
        t.HttpError_InvalidHeader: ValueError,
        t.HttpError_InvalidArgument: ValueError,
        t.HttpError_Io: OSError,
        t.HttpError_ContentDecoding: OSError,
        t.HttpError_LimitExceeded: OSError,
    }
    for case, cls in simple.items():
        if isinstance(e, case):
            return cls(e.value)
    if isinstance(e, t.HttpError_LineTooLong):
        return _with_message(_std.LineTooLong, e.value)
    if isinstance(e, t.HttpError_TooManyHeaders):
        return _std.HTTPException("got more than 100 headers")
    if isinstance(e, t.HttpError_NotConnected):
        return _std.NotConnected()
    if isinstance(e, t.HttpError_UnknownTransferEncoding):
        return _std.UnknownTransferEncoding()
    if isinstance(e, t.HttpError_UnimplementedFileMode):
        return _std.UnimplementedFileMode()
    if isinstance(e, t.HttpError_Cancelled):
        return InterruptedError(errno.EINTR, "the host cancelled this session")
    return OSError(repr(e))
