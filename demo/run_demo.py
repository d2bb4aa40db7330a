"""Run check_pop3_ipmon for real against a small local POP3 responder.

For a first look without a POP3 server of one's own: starts three responders
on loopback (healthy, slow, refusing service) and runs the installed plugin
against each, as Nagios would, showing OK, WARNING and CRITICAL.
"""

from __future__ import annotations

import shlex
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path


class Responder(socketserver.StreamRequestHandler):
    greeting = b"+OK demo POP3 responder ready\r\n"
    delay = 0.0

    def handle(self) -> None:
        time.sleep(self.delay)
        self.wfile.write(self.greeting)
        if self.rfile.readline(512).strip().upper() == b"QUIT":
            self.wfile.write(b"+OK bye\r\n")


class Slow(Responder):
    delay = 0.3


class Busy(Responder):
    greeting = b"-ERR [SYS/TEMP] too many connections, try later\r\n"


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def start(handler: type[Responder]) -> int:
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return int(server.server_address[1])


def main() -> int:
    plugin = Path(sys.executable).parent / "check_pop3_ipmon"
    cases = [
        ("a healthy server", 0, ["-p", str(start(Responder))]),
        ("a server slower than -w 0.2", 1, ["-p", str(start(Slow)), "-w", "0.2", "-c", "2"]),
        ("a server refusing service", 2, ["-p", str(start(Busy))]),
    ]
    failed = 0
    for what, expected, args in cases:
        argv = [str(plugin), "-H", "127.0.0.1", *args]
        print(f"# {what}\n$ {shlex.join(['check_pop3_ipmon', *argv[1:]])}")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        print(proc.stdout + proc.stderr, end="")
        print(f"(exit {proc.returncode})\n")
        failed += proc.returncode != expected
    if failed:
        print(f"{failed} case(s) did not give the expected state", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
