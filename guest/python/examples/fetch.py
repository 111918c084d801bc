"""A command that fetches a URL with urllib.request, unmodified, over httplib:

    componentize-py -d wit -w httplib:http/python-command componentize fetch \
        -p guest/python -p guest/python/examples -o fetch.wasm
    httplib run fetch.wasm --allow https://example.org -- https://example.org/ [DATA]

Prints the status, the URL it ended at (after redirects) and the body; with DATA, POSTs it.
"""

import sys

import httplib_wasi

httplib_wasi.install()

import urllib.request  # noqa: E402  (after install: urllib then sees httplib's classes)

from wit_world import exports  # noqa: E402


class Run(exports.Run):
    def run(self) -> None:
        args = sys.argv[1:]
        if not args:
            print("usage: fetch URL [DATA]", file=sys.stderr)
            sys.exit(2)
        data = args[1].encode() if len(args) > 1 else None
        with urllib.request.urlopen(args[0], data=data, timeout=30) as response:
            print(response.status, response.reason, response.geturl())
            sys.stdout.flush()
            sys.stdout.buffer.write(response.read())
