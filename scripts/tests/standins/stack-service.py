#!/usr/bin/python3
"""Test stand-in for the plain-HTTP servers of the stack, one ROLE per process:

  stack-service.py keepstore -volume=DIR -listen=[HOST]:PORT [-pid=FILE]
      PUT /MD5 stores the body in DIR (the hash must match), GET /MD5[+...]
      reads it back; extra flags (-permission-key-file, -enforce-permissions)
      are accepted.
  stack-service.py keepproxy -listen=[HOST]:PORT [-pid=FILE]
      needs ARVADOS_API_TOKEN (as the real one does); GET / answers.
  stack-service.py arv-git-httpd -repo-root=DIR -address=[HOST]:PORT
      serves the files under DIR read-only.

Flags are Go-style: -flag=value, -flag value, --flag=value. A listen address
without a host (as start-stack.sh passes it, like the original) listens on
127.0.0.1 only: the tests' servers are never reachable from outside.
The pidfile, when asked for, is written once the socket listens.
Stand-in option for fault tests: -fail-after-pidfile (exit 3 before serving).
Not part of the product: it lives under scripts/tests/.
"""

import hashlib
import http.server
import os
import re
import socket
import sys

ROLES = {
    "keepstore": {"listen": "listen", "value": {"volume", "listen", "pid", "permission-key-file",
                                                 "enforce-permissions"}},
    "keepproxy": {"listen": "listen", "value": {"listen", "pid"}},
    "arv-git-httpd": {"listen": "address", "value": {"address", "repo-root", "pid"}},
}
BOOL_FLAGS = {"fail-after-pidfile"}


def fail(msg):
    sys.stderr.write("stack-service: %s\n" % msg)
    sys.exit(2)


def parse_flags(role, argv):
    known = ROLES[role]["value"]
    flags = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            fail("%s: unexpected argument %r" % (role, arg))
        name, eq, value = arg.lstrip("-").partition("=")
        if name in BOOL_FLAGS:
            flags[name] = value or "true"
        elif name in known:
            if not eq:
                i += 1
                if i == len(argv):
                    fail("%s: -%s needs a value" % (role, name))
                value = argv[i]
            flags[name] = value
        else:
            fail("%s: unknown flag -%s" % (role, name))
        i += 1
    return flags


def parse_listen(text):
    m = re.fullmatch(r"(.*):(\d+)", text)
    if not m or not 0 < int(m.group(2)) < 65536:
        fail("bad listen address %r: expected [HOST]:PORT" % text)
    return m.group(1).strip("[]"), int(m.group(2))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host, port, handler):
        if not host:
            host = "127.0.0.1"
        elif ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), handler)

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class Base(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s: %s %s\n" % (self.server.role, self.address_string(), fmt % args))

    def reply(self, status, data, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Keepstore(Base):
    def block_path(self):
        locator = self.path.lstrip("/").split("+")[0]
        if not re.fullmatch(r"[0-9a-f]{32}", locator):
            return None, locator
        return os.path.join(self.server.flags["volume"], locator), locator

    def do_GET(self):
        if self.path == "/status.json":
            self.reply(200, b'{"volumes":1}\n', "application/json")
            return
        path, locator = self.block_path()
        if path is None or not os.path.exists(path):
            self.reply(404, b"not found\n")
            return
        with open(path, "rb") as f:
            self.reply(200, f.read(), "application/octet-stream")

    def do_PUT(self):
        path, locator = self.block_path()
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path is None or hashlib.md5(data).hexdigest() != locator:
            self.reply(422, b"hash mismatch\n")
            return
        with open(path, "wb") as f:
            f.write(data)
        self.reply(200, ("%s+%d\n" % (locator, len(data))).encode())


class Keepproxy(Base):
    def do_GET(self):
        self.reply(200, b"keepproxy stand-in\n")


def git_handler(root):
    class Git(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=root, **kwargs)

        def log_message(self, fmt, *args):
            sys.stderr.write("arv-git-httpd: %s %s\n" % (self.address_string(), fmt % args))

    return Git


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ROLES:
        fail("usage: stack-service.py %s FLAGS..." % "|".join(ROLES))
    role = sys.argv[1]
    flags = parse_flags(role, sys.argv[2:])
    listen = flags.get(ROLES[role]["listen"])
    if not listen:
        fail("%s: -%s=[HOST]:PORT is required" % (role, ROLES[role]["listen"]))
    host, port = parse_listen(listen)
    if role == "keepstore":
        if not os.path.isdir(flags.get("volume", "")):
            fail("keepstore: -volume must name a directory, got %r" % flags.get("volume"))
        handler = Keepstore
    elif role == "keepproxy":
        if not os.environ.get("ARVADOS_API_TOKEN"):
            fail("keepproxy: ARVADOS_API_TOKEN is not set")
        handler = Keepproxy
    else:
        root = flags.get("repo-root", "")
        if not os.path.isdir(root):
            fail("arv-git-httpd: -repo-root must name a directory, got %r" % root)
        handler = git_handler(root)
    server = Server(host, port, handler)
    server.role = role
    server.flags = flags
    if "pid" in flags:
        tmp = flags["pid"] + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(tmp, flags["pid"])
    if "fail-after-pidfile" in flags:
        sys.stderr.write("%s: failing on purpose after writing the pidfile\n" % role)
        sys.exit(3)
    sys.stderr.write("%s: listening on %s:%d\n" % (role, host or "*", port))
    server.serve_forever()


if __name__ == "__main__":
    main()
