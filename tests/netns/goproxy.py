#!/usr/bin/env python3
"""A tiny GOPROXY (https://go.dev/ref/mod#goproxy-protocol) for one fake module, on plain HTTP.

Used by crates/modsniff/tests/run.rs inside a network namespace:

    goproxy.py --listen 10.213.0.1 --port 8080 --module example.com/hello --version v1.0.0 \
        [--fault zip-404|zip-500|mod-500]

It prints "ready" on stdout once listening, and serves until killed. A fault makes one endpoint
answer with that status, the way a broken mirror does, so that the go command fails for real.
"""

import argparse
import http.server
import io
import json
import sys
import zipfile


def module_zip(module: str, version: str, gomod: bytes) -> bytes:
    # The module zip layout: every file under "<module>@<version>/".
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        prefix = f"{module}@{version}/"
        z.writestr(prefix + "go.mod", gomod)
        z.writestr(
            prefix + "hello.go",
            b'package hello\n\n// Hello says hello.\nfunc Hello() string { return "hello" }\n',
        )
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--module", default="example.com/hello")
    ap.add_argument("--version", default="v1.0.0")
    ap.add_argument("--fault", choices=["none", "zip-404", "zip-500", "mod-500"], default="none")
    a = ap.parse_args()

    gomod = f"module {a.module}\n\ngo 1.21\n".encode()
    base = f"/{a.module}/@v/"
    files = {
        base + "list": (b"text/plain", f"{a.version}\n".encode()),
        base + f"{a.version}.info": (
            b"application/json",
            json.dumps({"Version": a.version, "Time": "2024-01-02T03:04:05Z"}).encode(),
        ),
        base + f"{a.version}.mod": (b"text/plain", gomod),
        base + f"{a.version}.zip": (b"application/zip", module_zip(a.module, a.version, gomod)),
    }
    faults = {
        "zip-404": (base + f"{a.version}.zip", 404),
        "zip-500": (base + f"{a.version}.zip", 500),
        "mod-500": (base + f"{a.version}.mod", 500),
    }
    fault = faults.get(a.fault)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real mirrors do

        def do_GET(self):  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            if fault and path == fault[0]:
                body = f"{fault[1]} fault injected by goproxy.py\n".encode()
                self.send_response(fault[1])
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if path not in files:
                body = b"not found\n"
                self.send_response(404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            ctype, body = files[path]
            self.send_response(200)
            self.send_header("Content-Type", ctype.decode())
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            sys.stderr.write("goproxy.py: " + (fmt % args) + "\n")

    srv = http.server.ThreadingHTTPServer((a.listen, a.port), Handler)
    print("ready", flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
