#!/usr/bin/env python3
"""A small internet for the go command, in one process: a DNS resolver and module proxies with
the faults that make `go mod download` fail. Used by crates/modsniff/tests/run/join.rs inside
a network namespace:

    world.py --addr 10.214.255.1 --pki tests/netns/pki

Prints "ready" on stdout once every socket listens, and serves until killed. Every service is
on ADDR:

  udp 53    DNS: goproxy.test and stall.test -> ADDR; servfail.test -> SERVFAIL; any other
            name -> NXDOMAIN; AAAA of a known name -> no answer (NOERROR).
  tcp 8080  GOPROXY over plain HTTP serving example.com/hello v1.0.0 (any other module: 404).
  tcp 8081  a GOPROXY that answers 404 to everything, closing each connection (the first
            entry of a GOPROXY list).
  tcp 8082  example.com/hello v1.0.0 with a tampered zip (same .info and .mod).
  tcp 8083  example.com/hello v1.0.0 whose zip stops half way, the connection left open.
  tcp 8084  example.com/hello v1.0.0 whose zip comes after SLOW_ZIP seconds.
  tcp 8443  GOPROXY over HTTPS, certificate good.pem (goproxy.test, ADDR).
  tcp 8444  the same, certificate wrongname.pem (other.test only).
  tcp 8445  the same, certificate noipsan.pem (goproxy.test only, no IP address).
  tcp 8446  the same, certificate expired.pem (valid in 2024 only).
Nothing listens on tcp 3129 (a proxy that is down).
"""

import argparse
import http.server
import io
import json
import os
import socket
import ssl
import sys
import threading
import time
import zipfile

MODULE = "example.com/hello"
VERSION = "v1.0.0"
# Long enough for the connections closed before it to be reported while go still runs
# (modsniff reports a closed connection 5 s after its close).
SLOW_ZIP = 6.5


def module_zip(module: str, version: str, gomod: bytes, body: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        prefix = f"{module}@{version}/"
        z.writestr(prefix + "go.mod", gomod)
        z.writestr(prefix + "hello.go", body)
        # Incompressible filler: the stalling proxy needs a zip large enough to stop inside.
        z.writestr(prefix + "data.txt", os.urandom(96 * 1024).hex().encode())
    return buf.getvalue()


def files(tampered: bool):
    gomod = f"module {MODULE}\n\ngo 1.21\n".encode()
    body = b'package hello\n\n// Hello says hello.\nfunc Hello() string { return "hello" }\n'
    if tampered:
        body = body.replace(b'"hello"', b'"pwned"')
    base = f"/{MODULE}/@v/"
    return {
        base + "list": (b"text/plain", f"{VERSION}\n".encode()),
        base + f"{VERSION}.info": (
            b"application/json",
            json.dumps({"Version": VERSION, "Time": "2024-01-02T03:04:05Z"}).encode(),
        ),
        base + f"{VERSION}.mod": (b"text/plain", gomod),
        base + f"{VERSION}.zip": (b"application/zip", module_zip(MODULE, VERSION, gomod, body)),
    }


GOOD = files(False)
# The same random filler in both zips would not matter: the hashes differ by hello.go.
TAMPERED = files(True)


def handler(mode: str):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, code, ctype, body):
            self.send_response(code)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            table = TAMPERED if mode == "tampered" else GOOD
            if mode == "404" or path not in table:
                if mode == "404":
                    self.close_connection = True
                self.reply(404, "text/plain", b"not found\n")
                return
            ctype, body = table[path]
            if mode == "slowzip" and path.endswith(".zip"):
                time.sleep(SLOW_ZIP)
            if mode == "stall" and path.endswith(".zip"):
                self.send_response(200)
                self.send_header("Content-Type", ctype.decode())
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                # The rest never comes; the connection stays open until the client leaves.
                self.connection.settimeout(None)
                try:
                    while self.connection.recv(4096):
                        pass
                except OSError:
                    pass
                self.close_connection = True
                return
            self.reply(200, ctype.decode(), body)

        def log_message(self, fmt, *args):
            sys.stderr.write(f"world.py {mode}: " + (fmt % args) + "\n")

    return Handler


def serve_http(addr, port, mode, cert=None, pki=None):
    srv = http.server.ThreadingHTTPServer((addr, port), handler(mode))
    srv.daemon_threads = True
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(pki, cert + ".pem"), os.path.join(pki, cert + ".key"))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def dns_name(q: bytes, i: int):
    labels = []
    while i < len(q) and q[i] != 0:
        n = q[i]
        labels.append(q[i + 1 : i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    return ".".join(labels), i + 1


def serve_dns(addr):
    known = {"goproxy.test", "stall.test"}
    ip = bytes(int(x) for x in addr.split("."))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))

    def loop():
        while True:
            q, peer = s.recvfrom(4096)
            if len(q) < 17:
                continue
            name, end = dns_name(q, 12)
            qtype = q[end : end + 2]
            question = q[12 : end + 4]
            rd = q[2] & 0x01
            an = b""
            if name == "servfail.test":
                rcode = 2
            elif name in known:
                rcode = 0
                if qtype == b"\x00\x01":
                    an = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + ip
            else:
                rcode = 3
            flags = 0x8000 | 0x0400 | (rd << 8) | 0x0080 | rcode
            head = q[:2] + flags.to_bytes(2, "big") + b"\x00\x01"
            head += (b"\x00\x01" if an else b"\x00\x00") + b"\x00\x00\x00\x00"
            s.sendto(head + question + an, peer)

    threading.Thread(target=loop, daemon=True).start()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--pki", required=True)
    a = ap.parse_args()
    serve_dns(a.addr)
    serve_http(a.addr, 8080, "good")
    serve_http(a.addr, 8081, "404")
    serve_http(a.addr, 8082, "tampered")
    serve_http(a.addr, 8083, "stall")
    serve_http(a.addr, 8084, "slowzip")
    for port, cert in [(8443, "good"), (8444, "wrongname"), (8445, "noipsan"), (8446, "expired")]:
        serve_http(a.addr, port, "good", cert, a.pki)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
