#!/usr/bin/python3
"""Test stand-in for the Arvados API server run by `passenger start`.

Takes passenger's flags as start-stack.sh passes them (start, -p PORT,
--pid-file, --log-file, --ssl, --ssl-certificate, --ssl-certificate-key,
--address) and serves HTTPS with the given certificate:

  POST   /database/reset                  admin token only: forget registrations
  GET    /arvados/v1/keep_services        list (filters on service_type)
  POST   /arvados/v1/keep_services        create
  DELETE /arvados/v1/keep_services/UUID   delete
  ... the same for /arvados/v1/keep_disks

Every request needs `Authorization: OAuth2 TOKEN` (or Bearer) with the admin
token, read at start from the fixtures (--fixtures DIR, via fixture-token) or
--admin-token-file. Each accepted reset logs a line "database reset N".

Stand-in options for fault tests: --fail-after-pidfile (write the pidfile,
then exit 3 without listening); --echo-headers-on-error (POST and DELETE of
keep_services and keep_disks fail with 500, the reply echoing the request's
headers, Authorization included, as some servers' error pages do).
It listens on --address, 127.0.0.1 unless given (passenger's default is
0.0.0.0): the tests' servers are never reachable from outside.
Not part of the product: it lives under scripts/tests/.
"""

import argparse
import http.server
import json
import os
import secrets
import socket
import ssl
import string
import subprocess
import sys
import threading
import urllib.parse

KINDS = {"keep_services": "bi6l4", "keep_disks": "penuu"}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="stack-api")
    p.add_argument("command", nargs="?", default="start", choices=["start"])
    p.add_argument("-p", "--port", type=int, required=True)
    p.add_argument("-a", "--address", default="127.0.0.1")
    p.add_argument("--pid-file", required=True)
    p.add_argument("--log-file")
    p.add_argument("--ssl", action="store_true")
    p.add_argument("--ssl-certificate")
    p.add_argument("--ssl-certificate-key")
    p.add_argument("-d", "--daemonize", action="store_true")
    p.add_argument("--fixtures", help="directory of api_client_authorizations.yml")
    p.add_argument("--admin-token-file")
    p.add_argument("--fail-after-pidfile", action="store_true")
    p.add_argument("--echo-headers-on-error", action="store_true")
    args = p.parse_args(argv)
    if args.daemonize:
        p.error("-d: this stand-in runs in the foreground only")
    if args.ssl and not (args.ssl_certificate and args.ssl_certificate_key):
        p.error("--ssl needs --ssl-certificate and --ssl-certificate-key")
    if not (args.fixtures or args.admin_token_file):
        p.error("give --fixtures DIR or --admin-token-file FILE")
    return args


def admin_token(args):
    if args.admin_token_file:
        with open(args.admin_token_file) as f:
            return f.read().strip()
    out = subprocess.run(
        ["fixture-token", "--fixtures", args.fixtures, "admin"],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


def write_pidfile(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, path)


class Store:
    """The registrations, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = {kind: {} for kind in KINDS}
        self.resets = 0

    def reset(self):
        with self.lock:
            for kind in self.items:
                self.items[kind].clear()
            self.resets += 1
            return self.resets

    def create(self, kind, fields):
        with self.lock:
            uuid = fields.get("uuid") or "zzzzz-%s-%s" % (
                KINDS[kind],
                "".join(secrets.choice(string.ascii_lowercase + string.digits)
                        for _ in range(15)))
            item = dict(fields, uuid=uuid)
            self.items[kind][uuid] = item
            return item

    def delete(self, kind, uuid):
        with self.lock:
            return self.items[kind].pop(uuid, None)

    def list(self, kind, filters):
        with self.lock:
            items = list(self.items[kind].values())
        for attr, op, value in filters:
            if op != "=":
                raise ValueError("only '=' filters are supported")
            items = [i for i in items if i.get(attr) == value]
        return items


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stack-api-standin"

    def log_message(self, fmt, *args):
        sys.stderr.write("stack-api: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, status, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme not in ("OAuth2", "Bearer") or not token:
            self.reply(401, {"errors": ["Not logged in"]})
            return False
        if token != self.server.token:
            self.reply(403, {"errors": ["Permission denied"]})
            return False
        return True

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = urllib.parse.parse_qs(raw.decode())
            return {k: json.loads(v[0]) for k, v in form.items()}
        return json.loads(raw)

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        return url, parts

    def echo_error(self, parts):
        """With --echo-headers-on-error: fail a registration change, echoing the headers."""
        if not (self.server.echo_headers and len(parts) >= 3 and parts[2] in KINDS):
            return False
        # Authorization first: a client shows only the start of an error body.
        items = sorted(self.headers.items(), key=lambda kv: kv[0].lower() != "authorization")
        headers = "".join("%s: %s\n" % kv for kv in items)
        self.reply(500, {"errors": ["internal error", "request headers:\n" + headers]})
        return True

    def do_POST(self):
        if not self.authorized():
            return
        _, parts = self.route()
        if self.echo_error(parts):
            return
        if parts == ["database", "reset"]:
            self.body()
            n = self.server.store.reset()
            sys.stderr.write("stack-api: database reset %d\n" % n)
            self.reply(200, {})
        elif len(parts) == 3 and parts[:2] == ["arvados", "v1"] and parts[2] in KINDS:
            kind = parts[2]
            try:
                fields = self.body()[kind[:-1]]
            except (ValueError, KeyError, TypeError):
                self.reply(422, {"errors": ["expected a JSON body with %r" % kind[:-1]]})
                return
            self.reply(200, self.server.store.create(kind, fields))
        else:
            self.reply(404, {"errors": ["no route for POST %s" % self.path]})

    def do_GET(self):
        if not self.authorized():
            return
        url, parts = self.route()
        if len(parts) == 3 and parts[:2] == ["arvados", "v1"] and parts[2] in KINDS:
            query = urllib.parse.parse_qs(url.query)
            try:
                filters = json.loads(query.get("filters", ["[]"])[0])
                items = self.server.store.list(parts[2], filters)
            except ValueError as err:
                self.reply(422, {"errors": [str(err)]})
                return
            self.reply(200, {"items": items, "items_available": len(items)})
        else:
            self.reply(404, {"errors": ["no route for GET %s" % self.path]})

    def do_DELETE(self):
        if not self.authorized():
            return
        _, parts = self.route()
        if self.echo_error(parts):
            return
        if len(parts) == 4 and parts[:2] == ["arvados", "v1"] and parts[2] in KINDS:
            item = self.server.store.delete(parts[2], parts[3])
            if item is None:
                self.reply(404, {"errors": ["%s not found" % parts[3]]})
            else:
                self.reply(200, item)
        else:
            self.reply(404, {"errors": ["no route for DELETE %s" % self.path]})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, args, token):
        self.token = token
        self.echo_headers = args.echo_headers_on_error
        self.store = Store()
        super().__init__((args.address, args.port), Handler)
        if args.ssl:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.ssl_certificate, args.ssl_certificate_key)
            # Handshake in the handler thread, so a silent client blocks no one.
            self.socket = ctx.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False)

    def get_request(self):
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr


def main():
    args = parse_args(sys.argv[1:])
    if args.log_file:
        log = open(args.log_file, "a", buffering=1)
        os.dup2(log.fileno(), 2)
    token = admin_token(args)
    if args.fail_after_pidfile:
        write_pidfile(args.pid_file)
        sys.stderr.write("stack-api: failing on purpose after writing the pidfile\n")
        sys.exit(3)
    server = Server(args, token)
    write_pidfile(args.pid_file)
    scheme = "https" if args.ssl else "http"
    sys.stderr.write("stack-api: Accessible via: %s://%s:%d/\n" % (scheme, args.address, args.port))
    server.serve_forever()


if __name__ == "__main__":
    main()
