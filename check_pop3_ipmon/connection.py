"""A TCP (optionally TLS) connection whose every wait is bounded by one Deadline.

The socket stays non-blocking and each wait is a poll() for at most the time
the deadline has left. Blocking sockets with a timeout would bound each
recv() separately, and OpenSSL's handshake makes several of them, so a server
that stalls or drips bytes could hold the plugin past its timeout.
"""

from __future__ import annotations

import errno
import functools
import os
import select
import socket
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

from check_pop3_ipmon.deadline import Deadline

if TYPE_CHECKING:
    import ssl

T = TypeVar("T")

RECV_SIZE = 4096


class ConnectionClosed(Exception):
    """The peer closed or reset the connection; the text says which."""


class LineTooLong(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class Connection:
    def __init__(self, sock: socket.socket, deadline: Deadline, transcript: list[str]) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.deadline = deadline
        self.transcript = transcript
        self._buf = b""
        self._want_read: tuple[type[BaseException], ...] = (BlockingIOError, InterruptedError)
        self._want_write: tuple[type[BaseException], ...] = ()

    # -- waiting ---------------------------------------------------------
    def _wait(self, phase: str, for_write: bool = False) -> None:
        wait_until_ready(self.sock, self.deadline, phase, for_write)

    def _retry(self, phase: str, operation: Callable[[], T]) -> T:
        """Run a non-blocking operation until it completes or the deadline ends."""
        while True:
            try:
                return operation()
            except self._want_read:
                self._wait(phase)
            except self._want_write:
                self._wait(phase, for_write=True)
            except ConnectionResetError as exc:
                raise ConnectionClosed("connection reset by the server") from exc
            except BrokenPipeError as exc:
                raise ConnectionClosed("connection closed by the server") from exc

    # -- I/O ---------------------------------------------------------------
    def send_line(self, text: str, phase: str, shown: Optional[str] = None) -> None:
        """Send one command line; the transcript records `shown` instead when
        given, so that a password or its digest never reaches the output."""
        # UTF-8: a user name or password may be non-ASCII (RFC 6856); commands are ASCII.
        data = text.encode("utf-8") + b"\r\n"
        self.transcript.append("C: " + (text if shown is None else shown))
        view = memoryview(data)
        while view:
            sent = self._retry(phase, functools.partial(self.sock.send, view))
            view = view[sent:]

    def _fill(self, phase: str) -> None:
        chunk = self._retry(phase, lambda: self.sock.recv(RECV_SIZE))
        if not chunk:
            raise ConnectionClosed("connection closed by the server")
        self._buf += chunk

    def read_line(self, phase: str, limit: int) -> bytes:
        """One line without its CRLF (a bare LF is tolerated).

        `limit` counts the line with its line ending, as RFC 1939's 512 octets do.
        """
        while True:
            end = self._buf.find(b"\n", 0, limit)
            if end >= 0:
                line, self._buf = self._buf[:end], self._buf[end + 1 :]
                if line.endswith(b"\r"):
                    line = line[:-1]
                self.transcript.append("S: " + line.decode("utf-8", "replace"))
                return line
            if len(self._buf) >= limit:
                raise LineTooLong(limit)
            self._fill(phase)

    def read_multiline(self, phase: str, limit: int, max_lines: int) -> list[bytes]:
        """The body of a multi-line response (RFC 1939 3), dot-unstuffed."""
        lines: list[bytes] = []
        while True:
            line = self.read_line(phase, limit)
            if line == b".":
                return lines
            if len(lines) >= max_lines:
                raise LineTooLong(limit * max_lines)
            lines.append(line[1:] if line.startswith(b"..") else line)

    def start_tls(
        self, context: ssl.SSLContext, server_hostname: Optional[str], phase: str
    ) -> ssl.SSLSocket:
        import ssl

        # RFC 2595 4: anything received before the handshake must be discarded.
        self._buf = b""
        tls_sock = context.wrap_socket(
            self.sock, server_hostname=server_hostname, do_handshake_on_connect=False
        )
        self.sock = tls_sock
        self._want_read = (ssl.SSLWantReadError, BlockingIOError, InterruptedError)
        self._want_write = (ssl.SSLWantWriteError,)
        try:
            self._retry(phase, tls_sock.do_handshake)
        except ssl.SSLEOFError as exc:
            # The session adds "during the TLS handshake".
            raise ConnectionClosed("connection closed by the server") from exc
        return tls_sock

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def wait_until_ready(sock: socket.socket, deadline: Deadline, phase: str, for_write: bool) -> None:
    """Wait until `sock` can be read (or written); DeadlineExpired when time is up."""
    poller = select.poll()
    poller.register(sock, select.POLLOUT if for_write else select.POLLIN)
    while True:
        left = deadline.check(phase)
        # Round up: poll() takes whole milliseconds and 0 would not wait at all.
        if poller.poll(int(left * 1000) + 1):
            return


def connect(address: tuple[Any, ...], family: int, deadline: Deadline, phase: str) -> socket.socket:
    """Non-blocking TCP connect bounded by the deadline; raises OSError on failure."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        err = sock.connect_ex(address)
        if err in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            wait_until_ready(sock, deadline, phase, for_write=True)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
        return sock
    except BaseException:
        sock.close()
        raise
