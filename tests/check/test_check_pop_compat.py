"""check_pop and check_pop3_ipmon side by side: the same state, or a documented deviation.

Each case runs the real check_pop (or check_spop) of Debian's
monitoring-plugins-basic and the installed plugin at the same time, with the
same command line, against the same server: a real Dovecot (plaintext, TLS,
a certificate 10.5 days from expiry) or a fake server for what no real
server does. Both states are asserted. Where they differ, the case names a
row of the README's table of deviations and the states must be the ones
that row names; every row must be shown by a case, and every case's
deviation must be a row.
"""

from __future__ import annotations

import datetime
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
import trustme

from tests.conftest import HOSTNAME, issue
from tests.support.dovecot import Dovecot
from tests.support.fakepop3 import FakePOP3, Script, greeting_then_quit, reset
from tests.support.integration import RefusingPort, find_program
from tests.support.output import plugin_command

README = Path(__file__).resolve().parents[2] / "README.md"
STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
OK, WARNING, CRITICAL, UNKNOWN = range(4)


@dataclass(frozen=True)
class Case:
    """check_pop's command line `args` (after -H and -p, which `server` gives)
    and the state each program must give; `deviation` names the README row
    when they differ. `{ini}` in args is the ini file of the extra-opts cases."""

    server: str
    args: tuple[str, ...]
    check_pop: int
    ours: Optional[int] = None  # None: the same as check_pop
    deviation: Optional[str] = None
    program: str = "check_pop"  # or check_spop: ours then gets -S
    trusted: bool = True  # ours trusts the test CA (SSL_CERT_FILE)
    env: tuple[tuple[str, str], ...] = ()

    @property
    def expected_ours(self) -> int:
        return self.check_pop if self.ours is None else self.ours

    @property
    def id(self) -> str:
        words = " ".join(self.args) or "(none)"
        trust = "" if self.trusted else " (CA unknown to ours)"
        return f"{self.program} {self.server}{trust}: {words}"


C = Case
MISMATCH_TIME = ("-e", "Courier", "-w", "0.000001")
CASES = [
    # A real Dovecot, plaintext: the options as check_pop reads them.
    C("dovecot", (), OK),
    C("dovecot", ("-e", "+OK"), OK),
    C("dovecot", ("-e", "Dovecot"), OK),
    C("dovecot", ("-e", "ready."), OK),
    C("dovecot", ("-e", "Courier", "-e", "Dovecot"), OK),
    C("dovecot", ("-e", "Courier"), WARNING),
    C("dovecot", ("-e", "dovecot"), WARNING),  # case matters
    C("dovecot", ("-e", "Courier", "-M", "ok"), OK),
    C("dovecot", ("-e", "Courier", "-M", "crit"), CRITICAL),
    C("dovecot", ("-e", "Courier", "--mismatch=warning"), WARNING),
    C("dovecot", ("-e", "Dovecot", "-e", "Courier", "-A"), WARNING),
    C("dovecot", ("-e", "Dovecot", "-e", "ready", "--all"), OK),
    C("dovecot", ("-A",), OK),
    # getopt_long's spellings: unique prefixes of check_pop's long options, values with "-".
    C("dovecot", ("--mis=ok", "-e", "Courier"), OK),
    C("dovecot", ("--exp=Dovecot", "--ma", "1024"), OK),
    C("dovecot", ("--a", "-e", "Dovecot", "-e", "Courier"), WARNING),
    C("dovecot", ("-e", "-ERR"), WARNING),
    C("dovecot", ("--mismatch", "crit", "--expect=-ERR", "--j"), CRITICAL),
    C("dovecot", ("-w", "5", "-c", "10"), OK),
    C("dovecot", ("-w", "0.000001"), WARNING),
    C("dovecot", ("-w", "0.000001", "-c", "0.000001"), CRITICAL),
    C("dovecot", ("-wt", "5", "-ct", "10", "-to", "5"), OK),
    C("dovecot", ("-w", ".000001"), WARNING),
    C("dovecot", ("-w", "5.", "-c", "1e-6"), CRITICAL),
    C("dovecot", ("-w", "+4", "-c", "1E1"), OK),
    C("dovecot", ("-t", "5", "-r", "ok", "-j", "-v", "-4"), OK),
    C("dovecot", ("-m", "1024"), OK),
    C("dovecot", ("-t", "2147483647", "-m", "2147483647"), OK),
    C("dovecot", ("-q", "BYE", "-E"), OK),
    C("dovecot", ("-d", "1"), OK),
    C("dovecot", ("-S",), CRITICAL),  # TLS against a plaintext port
    C("dovecot", ("-D", "30"), CRITICAL),  # -D switches TLS on
    C("dovecot", ("-e", "Courier", "-t", "1"), CRITICAL, WARNING, "expect-wait"),
    C(
        "dovecot",
        ("-e", "Courier", "-M", "ok", "-w", "0.000001"),
        OK,
        WARNING,
        "mismatch-hides-time",
    ),
    C("dovecot", ("-E", "-s", "CAPA\\r\\n", "-e", "UIDL"), OK, WARNING, "send"),
    C("dovecot", ("-d", "2", "-t", "1"), CRITICAL, OK, "delay"),
    C("dovecot", ("-m", "5"), OK, CRITICAL, "maxbytes"),
    C("dovecot", ("-w", "abc"), WARNING, UNKNOWN, "thresholds"),
    C("dovecot", ("-c", "1:"), OK, CRITICAL, "thresholds"),
    C("dovecot", ("-6",), CRITICAL, UNKNOWN, "bad-host"),
    C("bad-name", (), CRITICAL, UNKNOWN, "bad-host"),
    # The host as check_pop also takes it: first or last without -H, or none.
    C("dovecot-positional-first", (), OK),
    C("dovecot-positional-last", (), OK),
    # --extra-opts, the same file for both (see `ini` below).
    C("dovecot", ("--extra-opts=pop@{ini}",), OK),
    C("dovecot", ("--extra-opts", "pop@{ini}", "-M", "crit"), CRITICAL),
    C("dovecot", ("--extra-opts=nosuch@{ini}",), UNKNOWN),
    # The default file through NAGIOS_CONFIG_PATH (check_pop 2.3.3 aborts in
    # free() when the default file comes from MP_CONFIG_FILE or its fixed list).
    C("dovecot", ("--extra-opts",), WARNING, env=(("NAGIOS_CONFIG_PATH", "/nonexistent:{dir}"),)),
    C("dovecot", ("--extra-opts", "-e", "Dovecot"), OK, env=(("NAGIOS_CONFIG_PATH", "{dir}"),)),
    # Nothing listens, or it cannot be reached.
    C("refused", (), CRITICAL),
    C("refused", ("-r", "ok"), OK),
    C("refused", ("-r", "warn"), WARNING),
    C("refused", ("--ref=warn",), WARNING),
    C("refused-wrapped", ("-r", "ok"), OK, UNKNOWN, "port-range"),
    C("refused", ("-r", "crit", "-e", "x"), CRITICAL),
    C("unresolvable", (), CRITICAL),
    C("invalid-address", ("-r", "ok"), OK, CRITICAL, "refuse-other-failures"),
    C("unix-socket", (), OK, UNKNOWN, "unix-socket"),
    # Misbehaviour no real server shows.
    C("silent", ("-t", "1"), CRITICAL),
    C("closes", (), CRITICAL),
    C("resets", (), CRITICAL),
    C("split", ("-e", "hello"), OK),
    C("long", (), OK),
    C("long", ("-m", "512"), OK, CRITICAL, "maxbytes"),
    C("err", (), WARNING, CRITICAL, "err-greeting"),
    C("err", ("-M", "ok"), OK, CRITICAL, "err-greeting"),
    C("err", ("-e", "busy"), OK, CRITICAL, "err-greeting"),
    C("err", ("-e", "-ERR"), OK, CRITICAL, "err-greeting"),
    C("err", ("-M", "crit"), CRITICAL),
    C("smtp", (), WARNING, CRITICAL, "not-pop3"),
    C("garbage", (), WARNING, CRITICAL, "not-pop3"),
    C("smtp", ("-M", "critical"), CRITICAL),
    C("oklahoma", (), OK, CRITICAL, "oklahoma"),
    C("unterminated", (), OK, CRITICAL, "unterminated"),
    C("drip", ("-t", "2"), OK, CRITICAL, "drip"),
    C("quit-silent", (), OK, WARNING, "quit"),
    C("quit-err", (), OK, WARNING, "quit"),
    # TLS: check_spop, and check_pop with -S, -D or --sni.
    C("tls", (), OK, program="check_spop"),
    C("tls", ("-D", "30"), OK, program="check_spop"),
    C("tls", ("-e", "Courier"), WARNING, program="check_spop"),
    C("tls", ("-S",), OK),
    C("tls", ("-D", "30"), OK),
    C("tls", ("--cert=30", "--sn", HOSTNAME), OK),
    C("tls", ("--s", HOSTNAME), UNKNOWN),  # ambiguous: --send, --ssl, --sni
    C("tls", ("--sni", HOSTNAME), OK),
    C("tls", (), OK, CRITICAL, "unverified-certificate", program="check_spop", trusted=False),
    C("tls", ("--sni", "other.example.test"), OK, CRITICAL, "unverified-certificate"),
    C("tls-plain", ("-S",), CRITICAL),
    C("expiring", ("-D", "9"), OK, program="check_spop"),
    C("expiring", ("-D", "10"), WARNING, program="check_spop"),
    C("expiring", ("-D", "20,9"), WARNING, program="check_spop"),
    C("expiring", ("-D", "20,10"), CRITICAL, program="check_spop"),
]

INI = """\
# the same file for check_pop and check_pop3_ipmon
[pop]
expect = Courier
mismatch = ok

[check_pop]
expect = Courier
[check_pop3_ipmon]
 expect   =   Courier
"""


def deviation_table() -> dict[str, tuple[str, str]]:
    """README's deviations: id -> (check_pop's cell, ours)."""
    text = README.read_text()
    start = text.index("<!-- deviations from check_pop")
    table = text[start : text.index("<!-- end of deviations -->")]
    rows = {}
    for line in table.splitlines()[3:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        match = re.fullmatch(r"`([a-z0-9-]+)`", cells[0])
        assert match and len(cells) == 5, f"README deviation row does not parse: {line!r}"
        rows[match.group(1)] = (cells[2], cells[3])
    return rows


def test_the_readme_table_and_the_matrix_name_the_same_deviations() -> None:
    table = deviation_table()
    assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"
    used = {case.deviation for case in CASES if case.deviation}
    assert used == set(table), (used ^ set(table), "in one list only")
    for case in CASES:
        if case.deviation is None:
            assert case.ours is None, f"{case.id}: states differ without a deviation"
            continue
        assert case.expected_ours != case.check_pop, f"{case.id}: not a deviation"
        theirs, ours = table[case.deviation]
        assert STATES[case.check_pop] in theirs, (case.id, theirs)
        assert STATES[case.expected_ours] in ours, (case.id, ours)


# Servers ------------------------------------------------------------------


def _quit_after(greeting: bytes, reply: Optional[bytes] = b"+OK bye\r\n") -> Script:
    return greeting_then_quit(greeting, reply)


def _silent(server: FakePOP3, conn: socket.socket) -> None:
    time.sleep(8)


def _closes(server: FakePOP3, conn: socket.socket) -> None:
    conn.close()


def _resets(server: FakePOP3, conn: socket.socket) -> None:
    reset(conn)


def _split(server: FakePOP3, conn: socket.socket) -> None:
    conn.sendall(b"+OK hel")
    time.sleep(0.3)
    conn.sendall(b"lo\r\n")
    if server.read_line(conn) is not None:
        conn.sendall(b"+OK bye\r\n")


def _unterminated(server: FakePOP3, conn: socket.socket) -> None:
    conn.sendall(b"+OK hi")
    time.sleep(0.2)


def _drip(server: FakePOP3, conn: socket.socket) -> None:
    for byte in b"+OK drip-fed greeting\r\n":
        conn.sendall(bytes([byte]))
        time.sleep(0.4)


FAKES: dict[str, Script] = {
    "silent": _silent,
    "closes": _closes,
    "resets": _resets,
    "split": _split,
    "unterminated": _unterminated,
    "drip": _drip,
    "long": _quit_after(b"+OK " + b"A" * 3000 + b"\r\n"),
    "err": _quit_after(b"-ERR [SYS/TEMP] busy, try later\r\n"),
    "smtp": _quit_after(b"220 mail.example.test ESMTP Postfix\r\n"),
    "garbage": _quit_after(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 junk\r\n"),
    "oklahoma": _quit_after(b"+OKLAHOMA\r\n"),
    "quit-silent": _quit_after(b"+OK hi\r\n", None),
    "quit-err": _quit_after(b"+OK hi\r\n", b"-ERR not now\r\n"),
}


class UnixPOP3:
    """A POP3 greeting on a Unix socket (check_pop's -H /path)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"+OK unix\r\n")
                conn.settimeout(2)
                try:
                    conn.recv(64)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


@dataclass
class Servers:
    targets: dict[str, list[str]]  # server name -> the command line's host part
    ini: Path
    ca_file: Path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    base = tmp_path_factory.mktemp("compat")
    ca = trustme.CA()
    ca_file = base / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    now = datetime.datetime.now(datetime.timezone.utc)
    dovecots = []
    fakes = []
    unix = None
    refusing: Optional[RefusingPort] = None
    try:
        for name, tls in (
            ("plain", None),
            ("tls", issue(ca, base / "tls", HOSTNAME, "127.0.0.1")),
            (
                "expiring",
                issue(
                    ca,
                    base / "expiring",
                    HOSTNAME,
                    "127.0.0.1",
                    not_before=now - datetime.timedelta(days=1),
                    not_after=now + datetime.timedelta(days=10, hours=12),
                ),
            ),
        ):
            workdir = base / name
            workdir.mkdir(exist_ok=True)
            server = Dovecot(workdir, tls=tls)
            dovecots.append(server)
            server.start()
        plain, tls_server, expiring = dovecots
        host = ["-H", "127.0.0.1"]
        # Held, not merely free: a fake server below once got the same port.
        refusing = RefusingPort()
        refused = refusing.port
        targets = {
            "dovecot": [*host, "-p", str(plain.port)],
            "dovecot-positional-first": ["127.0.0.1", "-p", str(plain.port)],
            "dovecot-positional-last": ["-p", str(plain.port), "127.0.0.1"],
            "tls": [*host, "-p", str(tls_server.tls_port)],
            "tls-plain": [*host, "-p", str(tls_server.port)],
            "expiring": [*host, "-p", str(expiring.tls_port)],
            "refused": [*host, "-p", str(refused)],
            # check_pop's port 65536 + N is port N (getaddrinfo keeps 16 bits).
            "refused-wrapped": [*host, "-p", str(refused + 65536)],
            "unresolvable": ["-H", "no-such-host.invalid", "-p", "110"],
            "bad-name": ["-H", "mail server", "-p", "110"],
            # A link-local address without a scope: connect() fails at once (EINVAL).
            "invalid-address": ["-H", "fe80::1", "-p", "110"],
        }
        for name, script in FAKES.items():
            fake = FakePOP3(script)
            fakes.append(fake)
            targets[name] = [*host, "-p", str(fake.port)]
        unix = UnixPOP3(base / "pop3.sock")
        targets["unix-socket"] = ["-H", str(unix.path)]
        ini = base / "plugins.ini"
        ini.write_text(INI)
        yield Servers(targets, ini, ca_file)
    finally:
        for fake in fakes:
            fake.close()
        if unix is not None:
            unix.close()
        if refusing is not None:
            refusing.close()
        for server in dovecots:
            server.stop()


@pytest.fixture(scope="module")
def check_pop() -> str:
    return find_program("check_pop", "monitoring-plugins-basic")


def _start(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return process.returncode, out + err


@dataclass
class Outcome:
    args: list[str]
    theirs: int
    theirs_out: str
    ours: int
    ours_out: str


def _run_case(case: Case, servers: Servers, check_pop: str) -> Outcome:
    args = [*servers.targets[case.server], *(a.format(ini=servers.ini) for a in case.args)]
    env = dict(os.environ)
    env.update((name, value.format(dir=servers.ini.parent)) for name, value in case.env)
    ours_env = dict(env)
    if case.trusted:
        ours_env["SSL_CERT_FILE"] = str(servers.ca_file)
    theirs_argv = [str(Path(check_pop).with_name(case.program)), *args]
    ours_argv = [*plugin_command(), *(["-S"] if case.program == "check_spop" else []), *args]
    theirs_process = _start(theirs_argv, env)
    ours_process = _start(ours_argv, ours_env)
    theirs, theirs_out = _finish(theirs_process)
    ours, ours_out = _finish(ours_process)
    return Outcome(args, theirs, theirs_out, ours, ours_out)


@pytest.fixture(scope="module")
def outcomes(servers: Servers, check_pop: str) -> dict[str, Outcome]:
    """Every case, run a few at a time: most of the matrix's time is check_pop
    waiting (2 s for more data after an unmatched -e, -d, timeouts)."""
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {case.id: pool.submit(_run_case, case, servers, check_pop) for case in CASES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_same_state_as_check_pop(case: Case, outcomes: dict[str, Outcome]) -> None:
    run = outcomes[case.id]
    assert "Traceback" not in run.ours_out
    assert run.ours_out.startswith("POP3 "), run.ours_out
    lines = run.ours_out.splitlines()
    usage = len(lines) == 2 and lines[1].startswith("Usage: ")
    assert len(lines) == 1 or usage or "-v" in run.args, run.ours_out
    assert (STATES[run.theirs], STATES[run.ours]) == (
        STATES[case.check_pop],
        STATES[case.expected_ours],
    ), f"\ncheck_pop: {run.theirs_out}check_pop3_ipmon: {run.ours_out}"
