"""Python's http.server for tether's interop tests (tests/python_server.rs).

Serves --root with SimpleHTTPRequestHandler on 127.0.0.1, port chosen by the OS; prints
"port N" on stdout once listening. --protocol HTTP/1.0 keeps the module's default
(one request per connection); HTTP/1.1 sets protocol_version so connections persist.
Every request is logged to --log as "PEER_PORT METHOD PATH STATUS" (the client's port
names the connection), written before the response is sent. A POST whose body ends
before its Content-Length is not answered, and is logged with "truncated" for STATUS.

POST /multipart parses a multipart/form-data body (sent with Content-Length or chunked)
with the standard library's email parser and answers JSON: how the body was framed, and
each part's name, file name, media type, Content-Language and data (hex), with the
parser's defect count. POST /multipart-307 answers 307 to /multipart.
"""

import argparse
import http.server
import json
import sys
from email import policy
from email.parser import BytesParser


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=["HTTP/1.0", "HTTP/1.1"], required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()

    log = open(args.log, "a", buffering=1)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=args.root, **kw)

        def log_request(self, code="-", size="-"):
            code = getattr(code, "value", code)
            log.write(f"{self.client_address[1]} {self.command} {self.path} {code}\n")

        def log_message(self, format, *a):
            pass

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return "chunked", body
                    body += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:
                # The client stopped short of its Content-Length: no answer, and a log
                # line that says so.
                log.write(f"{self.client_address[1]} {self.command} {self.path} truncated\n")
                self.close_connection = True
                return "truncated", None
            return "length", body

        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            framing, body = self.read_body()
            if body is None:
                return
            if self.path == "/multipart-307":
                return self.reply(307, headers=[("Location", "/multipart")])
            if self.path != "/multipart":
                return self.reply(404)
            content_type = self.headers.get("Content-Type", "")
            message = BytesParser(policy=policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
            )
            if not message.is_multipart():
                return self.reply(400, b"not multipart")

            def text(value):
                if value is None:
                    return None
                return str(value).encode("utf-8", "surrogateescape").decode("utf-8")

            parts = []
            defects = len(message.defects)
            for part in message.iter_parts():
                defects += len(part.defects)
                parts.append({
                    "name": text(part.get_param("name", header="content-disposition")),
                    "filename": text(part.get_param("filename", header="content-disposition")),
                    "type": part.get_content_type(),
                    "language": text(part.get("content-language")),
                    "data": part.get_payload(decode=True).hex(),
                })
            answer = {"framing": framing, "defects": defects, "parts": parts}
            self.reply(200, json.dumps(answer).encode(), [("Content-Type", "application/json")])

    if args.protocol == "HTTP/1.1":
        Handler.protocol_version = "HTTP/1.1"

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
