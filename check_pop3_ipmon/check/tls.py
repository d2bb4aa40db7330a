"""TLS for the POP3 session: context, handshake, and what it tells us.

Imported only when TLS is asked for: `ssl` costs start-up time that a
plaintext check should not pay.
"""

from __future__ import annotations

import os
import select
import ssl
import stat
from datetime import datetime, timezone

from check_pop3_ipmon.check.castore import system_context
from check_pop3_ipmon.check.certificate import Certificate, CertificateError, parse_certificate
from check_pop3_ipmon.check.connection import Connection
from check_pop3_ipmon.check.record import Record
from check_pop3_ipmon.core.deadline import Deadline, DeadlineExpired

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Optional

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class TLSFailed(Exception):
    """The handshake failed; `verify` tells a rejected certificate apart."""

    def __init__(self, message: str, verify: bool) -> None:
        super().__init__(message)
        self.verify = verify


class TLSInfo(Record, kw_only=True):
    version: str
    cipher: str
    verified: bool
    certificate: Optional[Certificate]
    days_left: Optional[float]
    certificate_error: Optional[str] = None


CA_FILE_LIMIT = 16 << 20  # Debian's whole bundle is some 220 KB


def read_ca_file(path: str, deadline: Optional[Deadline]) -> str:
    """--ca-file's PEM text, read within the deadline.

    OpenSSL opens and reads the file blocking, outside the deadline: a FIFO
    in its place (nobody writing, or a writer that never ends) held the
    check until nagiosplugin's backstop. Opened non-blocking, a regular file
    is read at once; anything else (a pipe: `--ca-file <(...)`) as long as
    the deadline allows, and without a deadline not at all. PEM is ASCII:
    other bytes (a bundle's titles in UTF-8) lie outside the certificates
    and are dropped.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        if not regular and deadline is None:
            raise ValueError("not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= CA_FILE_LIMIT:
            if deadline is not None and not regular and not _readable(fd, deadline):
                raise DeadlineExpired("ca-file")
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > CA_FILE_LIMIT:
        raise ValueError(f"larger than {CA_FILE_LIMIT >> 20} MiB")
    return b"".join(chunks).decode("ascii", "ignore")


def _readable(fd: int, deadline: Deadline) -> bool:
    return bool(select.select([fd], [], [], deadline.check("ca-file"))[0])


def make_context(
    ca_file: Optional[str],
    insecure: bool,
    min_version: Optional[str],
    deadline: Optional[Deadline] = None,
) -> ssl.SSLContext:
    """Chain and hostname verification on, as RFC 8314 asks, unless --insecure."""
    cadata = read_ca_file(ca_file, deadline) if ca_file else None
    if insecure:
        # create_default_context() would read the system's CA store for a
        # verification that --insecure turns off. Same context otherwise.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if cadata is not None:
            context.load_verify_locations(cadata=cadata)  # still refused if unusable
    elif cadata is not None:
        context = ssl.create_default_context(cadata=cadata)
    else:
        context = system_context()
    if min_version:
        context.minimum_version = _VERSIONS[min_version]
    return context


def handshake(
    conn: Connection, context: ssl.SSLContext, server_hostname: Optional[str], phase: str
) -> TLSInfo:
    try:
        tls_sock = conn.start_tls(context, server_hostname, phase)
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or str(exc)
        raise TLSFailed(f"certificate verification failed: {reason}", verify=True) from exc
    except ssl.SSLError as exc:
        raise TLSFailed(f"TLS handshake failed: {exc.reason or exc}", verify=False) from exc
    cipher = tls_sock.cipher()
    der = tls_sock.getpeercert(binary_form=True)
    certificate = None
    days_left = None
    error = None
    if der:
        try:
            certificate = parse_certificate(der)
            days_left = certificate.days_left(datetime.now(timezone.utc))
        except CertificateError as exc:
            error = str(exc)
    return TLSInfo(
        version=tls_sock.version() or "unknown",
        cipher=cipher[0] if cipher else "unknown",
        verified=context.verify_mode != ssl.CERT_NONE,
        certificate=certificate,
        days_left=days_left,
        certificate_error=error,
    )
