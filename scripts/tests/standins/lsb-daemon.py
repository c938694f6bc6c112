#!/usr/bin/python3
"""Test stand-in daemon for scripts/lsb-service, with the behaviours an init
script must cope with:

  lsb-daemon.py [--port N] [--pidfile FILE] [--fork] [--crash]
                [--crash-after-listen] [--ignore-term] [--slow-start SECONDS]

  --port N             listen on 127.0.0.1:N and answer HTTP GET with "ok"
  --pidfile FILE       write our pid to FILE (atomically) once listening
  --fork               daemonize: the started process exits 0 at once and a
                       grandchild in a new session does the work
  --crash              print an error and exit 1 before doing anything
  --crash-after-listen exit 1 right after listening (and writing the pidfile)
  --ignore-term        ignore SIGTERM, so only SIGKILL stops it
  --slow-start S       wait S seconds before listening

SIGHUP logs "reloaded" (a daemon that can reload). Every step is logged to
stdout, which the init script sends to its log file.
Not part of the product: it lives under scripts/tests/.
"""

import argparse
import http.server
import os
import signal
import sys
import time


def log(message):
    print(f"lsb-daemon[{os.getpid()}]: {message}", flush=True)


def write_pidfile(path):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(tmp, path)


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    parser.add_argument("--pidfile")
    parser.add_argument("--fork", action="store_true")
    parser.add_argument("--crash", action="store_true")
    parser.add_argument("--crash-after-listen", action="store_true")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--slow-start", type=float, default=0.0)
    args = parser.parse_args()

    if args.crash:
        print("lsb-daemon: fatal: cannot read /nonexistent/lsb-daemon.conf", file=sys.stderr, flush=True)
        sys.exit(1)
    if args.fork:
        if os.fork() > 0:
            os._exit(0)
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
    signal.signal(signal.SIGHUP, lambda *_: log("reloaded"))
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: (log("stopping"), os._exit(0)))
    log("starting")
    if args.slow_start:
        time.sleep(args.slow_start)
    server = None
    if args.port:
        server = http.server.HTTPServer(("127.0.0.1", args.port), Hello)
        log(f"listening on 127.0.0.1:{args.port}")
    if args.pidfile:
        write_pidfile(args.pidfile)
    if args.crash_after_listen:
        log("fatal: lost the database right after start")
        sys.exit(1)
    if server:
        server.serve_forever()
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
