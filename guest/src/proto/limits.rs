//! Every limit the protocol code enforces, with the value it comes from.

/// Longest status, request, header or chunk-size line (CPython `http.client._MAXLINE`).
pub const MAX_LINE: usize = 65536;
/// Most header fields in one message (CPython `http.client._MAXHEADERS`).
pub const MAX_HEADERS: usize = 100;
/// Most interim (1xx) responses skipped before the final one. CPython bounds only the
/// headers of each (CVE-2021-3737); we also bound their number so a peer cannot stall us forever.
pub const MAX_INTERIM_RESPONSES: usize = 100;
/// Most trailer fields after a chunked body (same bound as headers, CPython `_MAXHEADERS`).
pub const MAX_TRAILERS: usize = MAX_HEADERS;
/// Default read/send buffer size (CPython `HTTPConnection.blocksize` default, 8192).
pub const DEFAULT_BLOCKSIZE: usize = 8192;
/// Default port of http (CPython `http.client.HTTP_PORT`).
pub const HTTP_PORT: u16 = 80;
/// Default port of https (CPython `http.client.HTTPS_PORT`).
pub const HTTPS_PORT: u16 = 443;
/// Largest chunk of file or body the server writes at once (CPython `shutil.COPY_BUFSIZE` on Linux is 64 KiB).
pub const COPY_BUFSIZE: usize = 64 * 1024;
/// Largest whole request head the server reads, request line included: room for one header
/// line at CPython's full `_MAXLINE` and the rest; past it, 431 (ours: CPython bounds only each
/// line and the count, letting 100 x 64 KiB = 6.4 MiB through; nginx's default whole head is
/// `large_client_header_buffers 4 8k`, 32 KiB).
pub const MAX_REQUEST_HEAD: usize = 128 * 1024;

/// Empty lines skipped before a request line (RFC 9112 2.2: a server SHOULD ignore at least
/// one, as a client may send a CRLF after a POST body; nginx ignores any number, CPython none);
/// one more closes the connection unanswered, as CPython does with the first.
pub const MAX_EMPTY_LINES_BEFORE_REQUEST: usize = 8;
