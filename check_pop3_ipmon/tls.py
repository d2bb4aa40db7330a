"""TLS for the POP3 session: context, handshake, and what it tells us.

Imported only when TLS is asked for: `ssl` costs start-up time that a
plaintext check should not pay.
"""

from __future__ import annotations

import ssl
from datetime import datetime, timezone

from check_pop3_ipmon.castore import system_context
from check_pop3_ipmon.certificate import Certificate, CertificateError, parse_certificate
from check_pop3_ipmon.connection import Connection
from check_pop3_ipmon.record import Record

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Optional

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class TLSFailed(Exception):
    """The handshake failed; `verify` tells a rejected certificate apart."""

    def __init__(self, message: str, verify: bool) -> None:
        super().__init__(message)
        self.verify = verify


class TLSInfo(Record):
    __slots__ = ("certificate", "certificate_error", "cipher", "days_left", "verified", "version")

    def __init__(
        self,
        *,
        version: str,
        cipher: str,
        verified: bool,
        certificate: Optional[Certificate],
        days_left: Optional[float],
        certificate_error: Optional[str] = None,
    ) -> None:
        self.version = version
        self.cipher = cipher
        self.verified = verified
        self.certificate = certificate
        self.days_left = days_left
        self.certificate_error = certificate_error


def make_context(
    ca_file: Optional[str], insecure: bool, min_version: Optional[str]
) -> ssl.SSLContext:
    """Chain and hostname verification on, as RFC 8314 asks, unless --insecure."""
    if insecure:
        # create_default_context() would read the system's CA store for a
        # verification that --insecure turns off. Same context otherwise.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if ca_file:
            context.load_verify_locations(cafile=ca_file)  # still refused if unusable
    elif ca_file:
        context = ssl.create_default_context(cafile=ca_file)
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
