"""Loopback addresses where connect() hangs, and names that resolve to them.

Nothing may leave the machine, so "blackholed" cannot mean an unrouted
address. On Linux a listening socket whose accept queue is full drops every
new SYN (tcp_conn_request: LISTENOVERFLOWS), and the connecting side keeps
retransmitting it: exactly what a firewall that drops packets looks like.
listen(0) and one connection that is never accepted fill the queue.

A name with several such addresses comes from tests/support/hosts.py.
"""

from __future__ import annotations

import errno
import select
import socket
from collections.abc import Sequence


class Blackhole:
    """Listeners on `hosts` (one port for all) that never complete a handshake."""

    def __init__(self, hosts: Sequence[str], port: int = 0) -> None:
        self.hosts = list(hosts)
        self._sockets: list[socket.socket] = []
        for attempt in range(20):
            try:
                self.port = self._listen(port)
                break
            except OSError as exc:
                self.close()
                if exc.errno != errno.EADDRINUSE or port or attempt == 19:
                    raise
        for host in self.hosts:
            self._fill(host)

    def _listen(self, port: int) -> int:
        for host in self.hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            listener = socket.socket(family, socket.SOCK_STREAM)
            self._sockets.append(listener)
            listener.bind((host, port))
            listener.listen(0)
            port = listener.getsockname()[1]
        return port

    def _fill(self, host: str) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        filler = socket.socket(family, socket.SOCK_STREAM)
        self._sockets.append(filler)
        filler.setblocking(False)
        filler.connect_ex((host, self.port))
        poller = select.poll()
        poller.register(filler, select.POLLOUT)
        if not poller.poll(5000) or filler.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            raise RuntimeError(f"could not fill the accept queue of {host}:{self.port}")

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
