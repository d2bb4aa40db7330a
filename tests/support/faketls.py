"""The server half of TLS for fake POP3 scripts, byte by byte under the script's control.

`ssl.SSLContext.wrap_socket` would do the whole handshake in one go. Running the
TLS engine over memory BIOs instead lets a script stop halfway through the
handshake, send the server's flight in slow pieces, or cut the connection at
any point of it: misbehaviour no real server shows on purpose.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Callable

import trustme

Send = Callable[[bytes], None]

RECORD_HEADER = 5  # TLS record: type, version (2), length (2)


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server context presenting a certificate from `ca` for `names`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def read_record(conn: socket.socket, timeout: float = 5.0) -> bytes:
    """One whole TLS record from the client (its ClientHello, first); b"" on EOF."""
    conn.settimeout(timeout)
    data = b""
    while True:
        if len(data) >= RECORD_HEADER:
            size = RECORD_HEADER + int.from_bytes(data[3:5], "big")
            if len(data) >= size:
                return data
        chunk = conn.recv(4096)
        if not chunk:
            return b""
        data += chunk


def dribble(conn: socket.socket, interval: float, piece: int = 1) -> Send:
    """A sender that writes `piece` bytes at a time, `interval` seconds apart."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(data: bytes) -> None:
        for start in range(0, len(data), piece):
            conn.sendall(data[start : start + piece])
            time.sleep(interval)

    return send


class ServerTLS:
    """A server-side TLS session over `conn` whose output goes through `send`."""

    def __init__(self, conn: socket.socket, context: ssl.SSLContext) -> None:
        self.conn = conn
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)

    def feed(self, data: bytes) -> None:
        """Give the TLS engine bytes already read from the client."""
        self.incoming.write(data)

    def _pump_in(self, timeout: float) -> bool:
        self.conn.settimeout(timeout)
        data = self.conn.recv(4096)
        if not data:
            self.incoming.write_eof()
            return False
        self.incoming.write(data)
        return True

    def first_flight(self) -> bytes:
        """The server's answer to the ClientHello fed so far, not sent."""
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()

    def handshake(self, send: Send, timeout: float = 5.0) -> None:
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                send(self.outgoing.read())
                if not self._pump_in(timeout):
                    raise ConnectionError("client closed during the handshake") from None
                continue
            send(self.outgoing.read())
            return

    def write(self, data: bytes, send: Send) -> None:
        self.tls.write(data)
        send(self.outgoing.read())

    def read_line(self, timeout: float = 5.0) -> bytes:
        """One line from the client through TLS; b"" on EOF."""
        data = b""
        while not data.endswith(b"\n"):
            try:
                data += self.tls.read(1)
            except ssl.SSLWantReadError:
                if not self._pump_in(timeout):
                    return data
            except ssl.SSLZeroReturnError:
                return data
        return data
