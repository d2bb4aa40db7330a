"""Validity dates and names from a DER certificate, with no dependency.

`ssl.SSLSocket.getpeercert()` returns nothing when verification is off
(`--insecure`), yet the expiry check must still work there. The standard
library has no public DER decoder and `cryptography` would cost its import
on every TLS check, so this reads the few fields we need directly: they sit
at fixed positions in TBSCertificate (RFC 5280 4.1).
"""

from __future__ import annotations

from datetime import datetime, timezone

from check_pop3_ipmon.check.record import Record

_SEQUENCE, _OID, _UTCTIME, _GENTIME, _VERSION = 0x30, 0x06, 0x17, 0x18, 0xA0

# The attribute types a person recognises in a subject or issuer.
_NAMES = {
    b"\x55\x04\x03": "CN",
    b"\x55\x04\x06": "C",
    b"\x55\x04\x07": "L",
    b"\x55\x04\x08": "ST",
    b"\x55\x04\x0a": "O",
    b"\x55\x04\x0b": "OU",
}


class CertificateError(ValueError):
    """The DER is not a certificate this reader understands."""


class Certificate(Record):
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the element at `pos`."""
    if pos + 2 > len(data):
        raise CertificateError("truncated certificate")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise CertificateError("bad length in certificate")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise CertificateError("truncated certificate")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        element = _tlv(data, start)
        out.append(element)
        start = element[2]
    return out


def _time(data: bytes, element: tuple[int, int, int]) -> datetime:
    """UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280 4.1.2.5),
    read by hand: datetime.strptime() imports _strptime and calendar, 1.5 ms of
    every TLS check's start-up."""
    tag, start, end = element
    text = data[start:end].decode("ascii", "replace")
    digits = {_UTCTIME: 12, _GENTIME: 14}.get(tag)
    if digits is None:
        raise CertificateError("unexpected time type in certificate")
    fields = text[:-1]
    if len(text) != digits + 1 or not text.endswith("Z") or not fields.isdigit():
        raise CertificateError(f"bad time in certificate: {text!r}")
    if tag == _UTCTIME:  # RFC 5280 4.1.2.5.1: YY >= 50 means 19YY
        year = int(fields[:2])
        fields = str(year + (1900 if year >= 50 else 2000)) + fields[2:]
    month, day, hour, minute, second = (int(fields[i : i + 2]) for i in range(4, 14, 2))
    try:
        return datetime(int(fields[:4]), month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError as exc:
        raise CertificateError(f"bad time in certificate: {text!r}") from exc


def _name(data: bytes, element: tuple[int, int, int]) -> str:
    parts = []
    for rdn in _children(data, element[1], element[2]):
        for attribute in _children(data, rdn[1], rdn[2]):
            fields = _children(data, attribute[1], attribute[2])
            if len(fields) != 2 or fields[0][0] != _OID:
                continue
            key = _NAMES.get(data[fields[0][1] : fields[0][2]])
            if key:
                value = data[fields[1][1] : fields[1][2]].decode("utf-8", "replace")
                parts.append(f"{key}={value}")
    return ", ".join(parts)


def parse_certificate(der: bytes) -> Certificate:
    tag, start, end = _tlv(der, 0)
    if tag != _SEQUENCE:
        raise CertificateError("not a certificate")
    tag, start, end = _tlv(der, start)  # TBSCertificate
    if tag != _SEQUENCE:
        raise CertificateError("not a certificate")
    fields = _children(der, start, end)
    if fields and fields[0][0] == _VERSION:
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject
    if len(fields) < 5 or fields[3][0] != _SEQUENCE:
        raise CertificateError("not a certificate")
    validity = _children(der, fields[3][1], fields[3][2])
    if len(validity) != 2:
        raise CertificateError("bad validity in certificate")
    return Certificate(
        subject=_name(der, fields[4]),
        issuer=_name(der, fields[2]),
        not_before=_time(der, validity[0]),
        not_after=_time(der, validity[1]),
    )
