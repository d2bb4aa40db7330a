"""The installed plugin against a real Dovecot: plaintext, POP3S and STLS."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Callable

import pytest
import trustme

from tests.conftest import HOSTNAME, issue
from tests.support.dovecot import Dovecot
from tests.support.output import run_plugin

UTC = datetime.timezone.utc
NOW = datetime.datetime.now(UTC)
OK_LINE = re.compile(r"POP3 OK - greeting in \d+\.\d{3}s from 127\.0\.0\.1:(\d+)")


def test_plaintext_ok_with_perfdata(dovecot: Dovecot) -> None:
    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port))
    assert run.code == 0, run.stdout
    assert OK_LINE.match(run.first)
    assert run.first.endswith(f"127.0.0.1:{dovecot.port}: +OK Dovecot ready.")
    perf = run.perfdata
    assert set(perf) == {"time", "resolve_time", "connect_time", "greeting_time", "quit_time"}
    assert perf["time"].uom == "s" and perf["time"].min == "0" and perf["time"].max == "10"
    assert 0 < perf["time"].value < 10
    assert perf["greeting_time"].value <= perf["time"].value


def test_thresholds_land_in_the_right_fields(dovecot: Dovecot) -> None:
    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port), "-w", "0.0000001", "-c", "30")
    assert run.code == 1, run.stdout
    assert run.first.startswith("POP3 WARNING - response time ")
    assert "(outside warning range 0.0000001)" in run.first
    assert run.first.endswith(": +OK Dovecot ready.")
    time = run.perfdata["time"]
    assert (time.warn, time.crit) == ("0.0000001", "30")

    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port), "-w", "20", "-c", "0.0000001")
    assert run.code == 2, run.stdout
    assert run.first.startswith("POP3 CRITICAL - response time ")
    assert (run.perfdata["time"].warn, run.perfdata["time"].crit) == ("20", "0.0000001")


def test_inside_range_says_inside(dovecot: Dovecot) -> None:
    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port), "-w", "@0:30")
    assert run.code == 1, run.stdout
    assert "(inside warning range @0:30)" in run.first
    assert run.perfdata["time"].warn == "@0:30"


def test_expect_and_hide_banner(dovecot: Dovecot) -> None:
    port = str(dovecot.port)
    # -e is a plain substring (check_pop's); one of several is enough, -A wants all.
    assert run_plugin("-H", "127.0.0.1", "-p", port, "-e", "+OK Dovecot").code == 0
    assert run_plugin("-H", "127.0.0.1", "-p", port, "-e", "Courier", "-e", "Dovecot").code == 0
    assert run_plugin("-H", "127.0.0.1", "-p", port, "--expect-regex", r"Dovecot \w+").code == 0
    run = run_plugin("-H", "127.0.0.1", "-p", port, "-e", "Dovecot", "-e", "Courier", "-A")
    assert run.code == 1
    assert run.first.startswith("POP3 WARNING - greeting does not contain 'Courier'; greeting in ")
    run = run_plugin("-H", "127.0.0.1", "-p", port, "-e", r"Dovecot \w+")
    assert run.code == 1
    assert run.first.startswith(
        r"POP3 WARNING - greeting does not contain 'Dovecot \w+'; greeting in "
    )
    run = run_plugin("-H", "127.0.0.1", "-p", port, "--expect-regex", "Exchange|Courier")
    assert run.code == 1
    assert run.first.startswith(
        "POP3 WARNING - greeting does not match the --expect-regex text; greeting in "
    )
    run = run_plugin("-H", "127.0.0.1", "-p", port, "-e", "Exchange", "-e", "Courier", "-M", "ok")
    assert run.code == 0
    assert run.first.startswith(
        "POP3 OK - greeting contains none of 'Exchange', 'Courier', reported OK as asked by -M; "
        "greeting in "
    )
    run = run_plugin("-H", "127.0.0.1", "-p", port, "-e", "Exchange", "-M", "critical", "-j")
    assert run.code == 2
    assert run.first.startswith(
        "POP3 CRITICAL - greeting does not contain 'Exchange', reported CRITICAL"
    )
    assert "Dovecot" not in run.first
    assert run.first.endswith(f"from 127.0.0.1:{port}")


def test_refused_after_dovecot_stops(dovecot: Dovecot) -> None:
    dovecot.stop()
    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port))
    assert run.code == 2
    assert run.first == f"POP3 CRITICAL - connection refused by 127.0.0.1:{dovecot.port}"
    assert "time" in run.perfdata
    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port), "-r", "warn")
    assert run.code == 1


def test_implicit_tls_verified(dovecot_tls: Dovecot, ca_file: Path) -> None:
    run = run_plugin(
        "-H",
        "127.0.0.1",
        "-p",
        str(dovecot_tls.tls_port),
        "-S",
        "--sni",
        HOSTNAME,
        "--ca-file",
        str(ca_file),
        "-vv",
    )
    assert run.code == 0, run.stdout
    assert re.match(
        rf"POP3 OK - greeting in \d+\.\d{{3}}s from 127\.0\.0\.1:{dovecot_tls.tls_port} "
        r"\(TLSv1\.[23]\): \+OK Dovecot ready\.$",
        run.first,
    ), run.first
    assert {"tls_time", "cert_days"} <= set(run.perfdata)
    assert run.perfdata["cert_days"].value > 300  # trustme certificates last until 3000
    assert any(line.startswith("tls: TLSv1.") and "verified" in line for line in run.lines)
    assert any("certificate subject:" in line for line in run.lines)


def test_starttls_verified_by_ip_address(dovecot_tls: Dovecot, ca_file: Path) -> None:
    run = run_plugin(
        "-H",
        "127.0.0.1",
        "-p",
        str(dovecot_tls.port),
        "--tls",
        "starttls",
        "--ca-file",
        str(ca_file),
        "-vv",
    )
    assert run.code == 0, run.stdout
    assert "(TLSv1." in run.first
    assert {"tls_time", "stls_time", "cert_days"} <= set(run.perfdata)
    capa = next(line for line in run.lines if line.startswith("capa: "))
    assert "STLS" in capa


def test_unknown_ca_is_critical(dovecot_tls: Dovecot) -> None:
    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot_tls.tls_port), "-S", "--sni", HOSTNAME)
    assert run.code == 2
    assert run.first.startswith(
        "POP3 CRITICAL - certificate verification failed: unable to get local issuer certificate"
    ), run.first
    assert "time" in run.perfdata and "connect_time" in run.perfdata


def test_insecure_says_so_and_still_measures_the_certificate(dovecot_tls: Dovecot) -> None:
    run = run_plugin(
        "-H",
        "127.0.0.1",
        "-p",
        str(dovecot_tls.tls_port),
        "-S",
        "--insecure",
        "--cert-warn",
        "400000",
    )
    assert run.code == 1, run.stdout
    assert run.first.startswith("POP3 WARNING - certificate expires in ")
    assert "certificate NOT verified" in run.first
    assert run.perfdata["cert_days"].warn == "400000:"


def test_wrong_hostname_is_critical(dovecot_tls: Dovecot, ca_file: Path) -> None:
    run = run_plugin(
        "-H",
        "127.0.0.1",
        "-p",
        str(dovecot_tls.tls_port),
        "-S",
        "--sni",
        "other.example.test",
        "--ca-file",
        str(ca_file),
    )
    assert run.code == 2
    assert run.first.startswith(
        "POP3 CRITICAL - certificate verification failed: Hostname mismatch"
    ), run.first


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
def test_expiring_certificate_warns_with_pop3_result(
    mode: str,
    dovecot_factory: Callable[..., Dovecot],
    ca: trustme.CA,
    tmp_path: Path,
    ca_file: Path,
) -> None:
    tls = issue(ca, tmp_path / "soon", HOSTNAME, not_after=NOW + datetime.timedelta(days=5))
    server = dovecot_factory(tls=tls)
    port = server.tls_port if mode == "implicit" else server.port
    args = [
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
        "--tls",
        mode,
        "--sni",
        HOSTNAME,
        "--ca-file",
        str(ca_file),
    ]
    run = run_plugin(*args, "--cert-warn", "30", "--cert-crit", "3")
    assert run.code == 1, run.stdout
    assert re.match(
        r"POP3 WARNING - certificate expires in [45]\.\d days \(\d{4}-\d\d-\d\d "
        r"\d\d:\d\d UTC\); greeting in \d+\.\d{3}s from ",
        run.first,
    ), run.first
    assert run.first.endswith(": +OK Dovecot ready.")
    cert = run.perfdata["cert_days"]
    assert (cert.warn, cert.crit) == ("30:", "3:")
    assert 4.8 < cert.value <= 5.0
    assert "greeting_time" in run.perfdata and "quit_time" in run.perfdata

    run = run_plugin(*args, "-D", "30,6")
    assert run.code == 2
    assert run.first.startswith("POP3 CRITICAL - certificate expires in ")


def test_expired_certificate_is_critical(
    dovecot_factory: Callable[..., Dovecot], ca: trustme.CA, tmp_path: Path, ca_file: Path
) -> None:
    tls = issue(
        ca,
        tmp_path / "old",
        HOSTNAME,
        not_before=NOW - datetime.timedelta(days=30),
        not_after=NOW - datetime.timedelta(days=2),
    )
    server = dovecot_factory(tls=tls)
    run = run_plugin(
        "-H",
        "127.0.0.1",
        "-p",
        str(server.tls_port),
        "-S",
        "--sni",
        HOSTNAME,
        "--ca-file",
        str(ca_file),
    )
    assert run.code == 2
    assert run.first.startswith(
        "POP3 CRITICAL - certificate verification failed: certificate has expired"
    ), run.first
    run = run_plugin("-H", "127.0.0.1", "-p", str(server.tls_port), "-S", "--insecure", "-D", "7")
    assert run.code == 2
    assert run.first.startswith("POP3 CRITICAL - certificate expired 2.0 days ago"), run.first


def test_no_stls_offered(dovecot: Dovecot) -> None:
    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port), "--tls", "starttls")
    assert run.code == 2
    assert run.first.startswith("POP3 CRITICAL - server does not offer STLS; greeting in ")
    assert "greeting_time" in run.perfdata


def test_ipv6_loopback(dovecot_factory: Callable[..., Dovecot]) -> None:
    server = dovecot_factory(host="::1")
    run = run_plugin("-H", "::1", "-p", str(server.port), "-6")
    assert run.code == 0, run.stdout
    assert f"from [::1]:{server.port}: +OK" in run.first
    run = run_plugin("-H", "::1", "-p", str(server.port), "-4")
    assert run.code == 3
    assert run.first == "POP3 UNKNOWN - ::1 is not an IPv4 address, but -4 was given"


def test_ca_file_that_is_not_pem_is_unknown(dovecot_tls: Dovecot, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    run = run_plugin(
        "-H", "127.0.0.1", "-p", str(dovecot_tls.tls_port), "-S", "--ca-file", str(bogus)
    )
    assert run.code == 3
    assert run.first.startswith(f"POP3 UNKNOWN - cannot use --ca-file {bogus}: ")


def test_sni_is_sent_by_default_and_can_be_overridden(
    dovecot_factory: Callable[..., Dovecot], ca: trustme.CA, tmp_path: Path, ca_file: Path
) -> None:
    """Dovecot serves the right certificate only to a client that sends SNI."""
    default = issue(ca, tmp_path / "default", "default.example.test")
    named = issue(ca, tmp_path / "named", "localhost")
    server = dovecot_factory(
        tls=default,
        extra_config=(
            f"local_name localhost {{\n  ssl_cert = <{named.cert_chain}\n"
            f"  ssl_key = <{named.key}\n}}\n"
        ),
    )
    common = ("-p", str(server.tls_port), "-S", "--ca-file", str(ca_file))
    run = run_plugin("-H", "localhost", *common)
    assert run.code == 0, run.stdout
    assert f"from 127.0.0.1:{server.tls_port} (TLSv1." in run.first
    run = run_plugin("-H", "127.0.0.1", "--sni", "localhost", *common)
    assert run.code == 0, run.stdout
    run = run_plugin("-H", "127.0.0.1", "--sni", "default.example.test", *common)
    assert run.code == 0, run.stdout


def test_verbose_long_output(dovecot: Dovecot) -> None:
    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port), "-vvv")
    assert run.code == 0
    assert run.lines[1] == f"target: 127.0.0.1 port {dovecot.port}, TLS none, timeout 10s"
    assert run.lines[2] == f"address: 127.0.0.1:{dovecot.port}"
    assert [line.split(":")[0] for line in run.lines[3:8]] == [
        "resolve",
        "connect",
        "greeting",
        "quit",
        "total",
    ]
    assert "S: +OK Dovecot ready." in run.lines
    assert "C: QUIT" in run.lines
    assert run.lines[-1].startswith("| ")  # perfdata moves to the end with -v
    assert set(run.perfdata) >= {"time", "greeting_time"}
