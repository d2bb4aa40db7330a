"""A threaded fake POP3 server on port 0, for misbehaviour no real server shows.

Each connection runs `script(server, conn)` in its own daemon thread; helpers below
build the common scripts. Not a stand-in for Dovecot: use it for drip-fed
bytes, resets, garbage and silence.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Callable, Optional

Script = Callable[["FakePOP3", socket.socket], None]


class FakePOP3:
    def __init__(self, script: Script, host: str = "127.0.0.1", port: int = 0) -> None:
        """`port` 0 picks a free one; give one to serve several addresses on one port."""
        self.script = script
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(16)
        self.host = host
        self.port: int = self.listener.getsockname()[1]
        self.received: list[bytes] = []  # every line clients sent, in order
        self.connections = 0
        self._conns: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.script(self, conn)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def read_line(self, conn: socket.socket, timeout: float = 5.0) -> Optional[bytes]:
        """One line from the client (recorded in `received`), None on EOF."""
        conn.settimeout(timeout)
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                return None
            data += chunk
        self.received.append(data)
        return data

    def close(self) -> None:
        self._stopped.set()
        self.listener.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass


def reset(conn: socket.socket) -> None:
    """Close with RST instead of FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def greeting_then_quit(
    greeting: bytes,
    quit_reply: Optional[bytes] = b"+OK bye\r\n",
    delay: float = 0.0,
) -> Script:
    """Greet (after `delay`), wait for QUIT, answer it (or stay silent if None)."""

    def script(server: FakePOP3, conn: socket.socket) -> None:
        if delay:
            time.sleep(delay)
        conn.sendall(greeting)
        line = server.read_line(conn)
        if line is not None and quit_reply is not None:
            conn.sendall(quit_reply)
        elif line is not None:
            time.sleep(30)

    return script
