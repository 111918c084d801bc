"""A handler component in Python, written as for CPython's http.server:

    componentize-py -d wit -w httplib:http/python-handler componentize echo_handler \
        -p guest/python -p guest/python/examples -o echo.wasm
    httplib serve 8000 --app echo.wasm

GET / says what it got; POST echoes its body; anything else under GET is a 404 page.
"""

from httplib_wasi.server import BaseHTTPRequestHandler, request_handler


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/":
            return self.send_error(404, "Nothing here")
        self.answer(f"{self.command} {self.path} from {self.client_address[0]}\n".encode())

    def do_POST(self):
        self.answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


RequestHandler = request_handler(Handler)
