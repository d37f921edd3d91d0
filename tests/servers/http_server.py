"""Python's http.server for tether's interop tests (tests/python_server.rs).

Serves --root with SimpleHTTPRequestHandler on 127.0.0.1, port chosen by the OS; prints
"port N" on stdout once listening. --protocol HTTP/1.0 keeps the module's default
(one request per connection); HTTP/1.1 sets protocol_version so connections persist.
Every request is logged to --log as "PEER_PORT METHOD PATH STATUS" (the client's port
names the connection), written before the response is sent.
"""

import argparse
import http.server
import sys


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

    if args.protocol == "HTTP/1.1":
        Handler.protocol_version = "HTTP/1.1"

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
