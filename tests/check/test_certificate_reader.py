"""The DER reader against certificates trustme makes (and cryptography reads)."""

from __future__ import annotations

import datetime

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from check_pop3_ipmon.check.certificate import CertificateError, parse_certificate

UTC = datetime.timezone.utc


@pytest.mark.parametrize(
    "not_after",
    [
        None,  # trustme's default, year 3000: GeneralizedTime
        datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC),  # UTCTime
        datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),  # last UTCTime year
        datetime.datetime(2050, 1, 1, 0, 0, 0, tzinfo=UTC),  # GeneralizedTime from 2050
    ],
)
def test_dates_and_names_match_cryptography(not_after: datetime.datetime) -> None:
    ca = trustme.CA(organization_name="Test CA Org")
    leaf = ca.issue_cert(
        "pop.example.test",
        common_name="pop.example.test",
        organization_name="Mail Org",
        not_after=not_after,
    )
    pem = leaf.cert_chain_pems[0].bytes()
    reference = x509.load_pem_x509_certificate(pem)
    der = reference.public_bytes(Encoding.DER)
    parsed = parse_certificate(der)
    assert parsed.not_after == reference.not_valid_after_utc
    assert parsed.not_before == reference.not_valid_before_utc
    assert "CN=pop.example.test" in parsed.subject and "O=Mail Org" in parsed.subject
    assert "O=Test CA Org" in parsed.issuer


@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"\x30",
        b"\x30\x85\xff\xff\xff\xff\xff",
        b"\x02\x01\x00",
        b"\x30\x03\x30\x01\x00",
        b"\x30\x82\xff\xff",
    ],
)
def test_garbage_is_a_certificate_error(der: bytes) -> None:
    with pytest.raises(CertificateError):
        parse_certificate(der)
