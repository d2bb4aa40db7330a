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
import time
from collections.abc import Sequence

from check_pop3_ipmon.core.deadline import Deadline

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    import ssl
    from typing import Any, Callable, Optional, TypeVar

    T = TypeVar("T")

RECV_SIZE = 4096


class ConnectionClosed(Exception):
    """The peer closed or reset the connection; the text says which."""


class LineTooLong(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class TooManyLines(Exception):
    def __init__(self, max_lines: int) -> None:
        super().__init__(max_lines)
        self.max_lines = max_lines


class Connection:
    def __init__(self, sock: socket.socket, deadline: Deadline, transcript: list[str]) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.deadline = deadline
        self.transcript = transcript
        self._buf = b""
        self._eof = "connection closed by the server"
        self._want_read: tuple[type[BaseException], ...] = (BlockingIOError, InterruptedError)
        self._want_write: tuple[type[BaseException], ...] = ()

    def reset_seen(self) -> None:
        """The server reset the connection already: its end is a reset, once read up to."""
        self._eof = "connection reset by the server"

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
                raise ConnectionClosed(self._eof) from exc
            except OSError as exc:
                if exc.errno == errno.ENOTCONN:  # what the ssl module says after a reset
                    raise ConnectionClosed(self._eof) from exc
                raise

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
            raise ConnectionClosed(self._eof)
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
                raise TooManyLines(max_lines)
            lines.append(line[1:] if line.startswith(b"..") else line)

    def start_tls(
        self, context: ssl.SSLContext, server_hostname: Optional[str], phase: str
    ) -> ssl.SSLSocket:
        import ssl

        # RFC 2595 4: anything received before the handshake must be discarded.
        self._buf = b""
        # wrap_socket() reads from a socket it finds unconnected (CVE-2023-40217):
        # a reset that lands just before it must read as one, as anywhere else.
        tls_sock = self._retry(
            phase,
            functools.partial(
                context.wrap_socket,
                self.sock,
                server_hostname=server_hostname,
                do_handshake_on_connect=False,
            ),
        )
        self.sock = tls_sock
        self._want_read = (ssl.SSLWantReadError, BlockingIOError, InterruptedError)
        self._want_write = (ssl.SSLWantWriteError,)
        try:
            self._retry(phase, tls_sock.do_handshake)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
            # Python 3.9 reports an EOF in the handshake as a zero return.
            # The caller names the phase ("... during the TLS handshake").
            raise ConnectionClosed(self._eof) from exc
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


# RFC 8305 5: the recommended "Connection Attempt Delay".
ATTEMPT_DELAY = 0.25


class Dialer:
    """TCP connect to the first of several addresses that answers, within the deadline.

    One blackholed address (a firewall that drops SYNs, broken IPv6) must not
    use up the whole deadline while the next one would answer. As in RFC 8305,
    the next attempt starts when one fails or after ATTEMPT_DELAY, while the
    earlier ones go on; the first to connect wins.
    """

    def __init__(
        self,
        addresses: Sequence[tuple[int, tuple[Any, ...]]],
        deadline: Deadline,
        phase: str,
        delay: float = ATTEMPT_DELAY,
    ) -> None:
        self.addresses = list(addresses)  # (family, sockaddr) in the resolver's order
        self.deadline = deadline
        self.phase = phase
        self.delay = delay
        self.started = 0  # attempts begun: addresses[:started]
        self.failed: Optional[int] = None  # index of the last address that failed
        self.error: Optional[OSError] = None  # and why
        self.reset = False  # the winner was reset by the server already

    def connect(self) -> tuple[socket.socket, int]:
        """The connected socket and its address's index; OSError when every address failed."""
        pending: dict[int, tuple[socket.socket, int]] = {}
        poller = select.poll()
        next_at = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                if self.started < len(self.addresses) and (not pending or now >= next_at):
                    index = self.started
                    self.started += 1
                    sock, connected = self._start(index)
                    if sock is None:
                        continue  # failed at once: the next address now
                    if connected:
                        return sock, index
                    pending[sock.fileno()] = (sock, index)
                    poller.register(sock, select.POLLOUT)
                    next_at = now + self.delay
                    continue
                if not pending:
                    raise self.error or OSError(errno.EADDRNOTAVAIL, "no address to connect to")
                wait = self.deadline.check(self.phase)
                if self.started < len(self.addresses):
                    wait = min(wait, max(next_at - now, 0.0))
                # Round up: poll() takes whole milliseconds and 0 would not wait at all.
                for fd, _events in poller.poll(int(wait * 1000) + 1):
                    sock, index = pending.pop(fd)
                    poller.unregister(fd)
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err in (errno.ECONNRESET, errno.EPIPE):
                        # A SYN answered by a reset is ECONNREFUSED: this server
                        # accepted and reset before we looked. What it sent first
                        # is still to be read; the reset comes after it.
                        self.reset = True
                    elif err:
                        sock.close()
                        self._failed(index, OSError(err, os.strerror(err)))
                        next_at = time.monotonic()
                        continue
                    return sock, index
        finally:
            for sock, _index in pending.values():
                sock.close()

    def _start(self, index: int) -> tuple[Optional[socket.socket], bool]:
        """Begin connecting to addresses[index]: (socket or None if it failed, connected yet)."""
        family, address = self.addresses[index]
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:  # e.g. IPv6 disabled on this host
            self._failed(index, exc)
            return None, False
        sock.setblocking(False)
        err = sock.connect_ex(address)
        if err in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            return sock, err == 0
        sock.close()
        self._failed(index, OSError(err, os.strerror(err)))
        return None, False

    def _failed(self, index: int, error: OSError) -> None:
        self.failed, self.error = index, error
