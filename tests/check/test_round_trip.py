"""--round-trip against a real Postfix delivering into a real Dovecot's Maildirs.

One Postfix and one Dovecot for the module (each test its own state file):
the mailbox also holds a person's message and a look-alike with a token the
check never sent, which no run may touch. Messages sent to Postfix's held
port stay in its queue until `release()`: a slow delivery, a lost one, a
late one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.support.dovecot import USERS, Dovecot, TLSFiles
from tests.support.integration import wait_until
from tests.support.output import Run, plugin_command, run_plugin
from tests.support.postfix import Postfix

pytestmark = pytest.mark.engines

NO_PENALTY = "auth_failure_delay = 0\n"
PERSONAL = b"From: <carol@example.test>\r\nSubject: lunch?\r\n\r\nSee you at noon.\r\n"
# A check's headers, but a token no state file holds: someone else's, never ours to delete.
LOOK_ALIKE = (
    b"From: <x@example.test>\r\nMessage-ID: <" + b"f" * 32 + b"@check-pop3-ipmon.invalid>\r\n"
    b"X-Check-Pop3-Ipmon-Token: " + b"f" * 32 + b"\r\n\r\nnot yours\r\n"
)


class Mail:
    def __init__(self, root: Path, ca: trustme.CA, dovecot: Dovecot, postfix: Postfix) -> None:
        self.root = root
        self.ca_file = root / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.dovecot = dovecot
        self.postfix = postfix
        self.authfile = root / "alice.pass"
        self.authfile.write_text(USERS["alice"] + "\n")
        self.authfile.chmod(0o600)

    def maildir(self) -> list[bytes]:
        box = self.dovecot.workdir / "home" / "alice" / "Maildir"
        return sorted(p.read_bytes() for sub in ("new", "cur") for p in (box / sub).iterdir())

    def args(self, state: Path, *extra: str, port: int = 0) -> list[str]:
        return [
            "-H", "127.0.0.1", "--tls", "implicit", "-p", str(self.dovecot.tls_port),
            "--ca-file", str(self.ca_file), "--login", "-u", "alice",
            "--authfile", str(self.authfile), "--round-trip", "--mail-to", "alice@example.test",
            "--smtp-port", str(port or self.postfix.submission_port),
            "--state-file", str(state), "-t", "20", *extra,
        ]  # fmt: skip

    def run(self, state: Path, *extra: str, port: int = 0) -> Run:
        return run_plugin(*self.args(state, *extra, port=port))


@pytest.fixture(scope="module")
def mail() -> Iterator[Mail]:
    # Postfix's delivery agent writes as the Dovecot fixture's mail user, who
    # cannot walk into pytest's root-only temp tree: a directory of our own.
    root = Path(tempfile.mkdtemp(prefix="check-pop3-ipmon-mail-", dir="/tmp"))
    os.chmod(root, 0o755)  # noqa: S103 - a directory; the secrets in it are 0600
    ca = trustme.CA()
    cert = ca.issue_cert("mail.example.test", "127.0.0.1")
    (root / "cert").mkdir()
    tls = TLSFiles(root / "cert" / "chain.pem", root / "cert" / "key.pem")
    tls.cert_chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(tls.key))
    (root / "dovecot").mkdir()
    (root / "postfix").mkdir()
    dovecot = Dovecot(root / "dovecot", tls=tls, auth_listener=True, extra_config=NO_PENALTY)
    postfix = None
    try:
        dovecot.start()
        postfix = Postfix(root / "postfix", tls, root / "dovecot" / "home", dovecot.auth_port)
        postfix.start()
        dovecot.add_message("alice", PERSONAL)
        dovecot.add_message("alice", LOOK_ALIKE)
        yield Mail(root, ca, dovecot, postfix)
    finally:
        if postfix is not None:
            postfix.stop()
        dovecot.stop()
        assert str(root).startswith("/tmp/check-pop3-ipmon-mail-")
        shutil.rmtree(root)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    return directory / "round-trip.json"


def untouched(mail: Mail) -> None:
    box = mail.maildir()
    assert PERSONAL in box and LOOK_ALIKE in box
    assert not any(b"check_pop3_ipmon round trip" in m for m in box if m != LOOK_ALIKE)


@pytest.mark.parametrize("implicit", [False, True], ids=["587-starttls", "465-implicit"])
def test_a_round_trip_delivers_measures_and_deletes_only_its_own(
    mail: Mail, state: Path, implicit: bool
) -> None:
    extra = ["--smtp-tls", "implicit"] if implicit else []
    port = mail.postfix.submissions_port if implicit else 0
    run = mail.run(state, "--delivery-warn", "10", "--delivery-crit", "15", *extra, port=port)
    assert run.code == 0, run.stdout
    assert re.fullmatch(
        r"POP3 OK - message delivered in [0-9.]+s \(SMTP 127\.0\.0\.1:\d+ TLSv1\.[23]\); "
        r"0 pending, 0 lost; greeting in [0-9.]+s from 127\.0\.0\.1:\d+ \(TLSv1\.[23]\): "
        r"\+OK Dovecot ready\.; alice \(SASL PLAIN\): \d+ messages, \d+ B",
        run.first,
    ), run.first
    perf = run.perfdata
    assert (perf["delivery_time"].warn, perf["delivery_time"].crit) == ("10", "15")
    assert 0 < perf["delivery_time"].value < 15
    for label in ("smtp_connect_time", "smtp_tls_time", "smtp_auth_time", "smtp_submit_time"):
        assert perf[label].uom == "s"
    assert ("smtp_starttls_time" in perf) is not implicit
    assert (perf["pending"].value, perf["lost"].value, perf["late"].value) == (0, 0, 0)
    assert perf["smtp_cert_days"].value > 300 and "login_time" in perf
    untouched(mail)
    assert state.stat().st_mode & 0o077 == 0


def test_a_slow_delivery_is_a_warning(mail: Mail, state: Path) -> None:
    def later() -> None:
        wait_until(lambda: mail.postfix.held() > 0, 15, "the message on hold")
        time.sleep(2.0)
        mail.postfix.release()

    release = threading.Thread(target=later)
    release.start()
    try:
        run = mail.run(
            state, "--delivery-warn", "1", "--delivery-crit", "15", port=mail.postfix.held_port
        )
    finally:
        release.join()
    assert run.code == 1, run.stdout
    assert re.match(
        r"POP3 WARNING - delivered in ([0-9.]+)s \(outside warning range 1\); 0 pending, 0 lost",
        run.first,
    ), run.first
    assert 2.0 <= run.perfdata["delivery_time"].value < 15
    untouched(mail)


def test_a_message_that_never_arrives_is_critical_then_lost_then_cleaned_up(
    mail: Mail, state: Path
) -> None:
    held = mail.postfix.held_port
    first = mail.run(state, "--delivery-crit", "2", port=held)
    assert first.code == 2, first.stdout
    assert re.fullmatch(
        r"POP3 CRITICAL - message not delivered within 2\.\ds of its submission; "
        r"1 pending, 0 lost",
        first.first,
    ), first.first
    assert (first.perfdata["pending"].value, first.perfdata["lost"].value) == (1, 0)
    time.sleep(1.2)
    second = mail.run(state, "--delivery-crit", "1", "--lost-after", "1", "-v", port=held)
    assert second.code == 2
    assert second.first.endswith("of its submission; 1 pending, 1 lost"), second.first
    assert "counted lost now: 1" in second.lines
    # Both arrive at last: the lost one and the pending one are the check's, and deleted.
    mail.postfix.release()
    third = mail.run(state)
    assert third.code == 0, third.stdout
    assert "; 0 pending, 0 lost, 2 late arrived; " in third.first
    assert third.perfdata["late"].value == 2
    untouched(mail)


def test_a_late_message_is_picked_up_by_the_next_run(mail: Mail, state: Path) -> None:
    first = mail.run(state, "--delivery-crit", "1.5", port=mail.postfix.held_port)
    assert first.code == 2 and first.first.endswith("1 pending, 0 lost"), first.stdout
    mail.postfix.release()
    second = mail.run(state)
    assert second.code == 0, second.stdout
    assert "; 0 pending, 0 lost, 1 late arrived; " in second.first
    untouched(mail)


def test_smtp_refusing_auth_is_critical_and_sends_nothing(mail: Mail, state: Path) -> None:
    wrong = mail.root / "wrong.pass"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    before = mail.maildir()
    run = mail.run(state, "--smtp-authfile", str(wrong))
    assert run.code == 2, run.stdout
    assert re.fullmatch(
        r"POP3 CRITICAL - SMTP login as alice failed \(PLAIN\): 535 5\.7\.8 .*; 0 pending, 0 lost",
        run.first,
    ), run.first
    assert "not-the-password" not in run.stdout and "smtp_submit_time" not in run.perfdata
    assert mail.maildir() == before


def test_a_bad_smtp_certificate_is_critical(mail: Mail, state: Path) -> None:
    run = mail.run(state, "--smtp-sni", "other.example.test")
    assert run.code == 2, run.stdout
    assert re.fullmatch(
        r"POP3 CRITICAL - SMTP: .*certificate.*other\.example\.test.*; 0 pending, 0 lost", run.first
    ), run.first
    assert "smtp_auth_time" not in run.perfdata


def test_a_bad_pop3_certificate_is_critical_and_the_message_stays_pending(
    mail: Mail, state: Path
) -> None:
    run = mail.run(state, "--sni", "other.example.test")
    assert run.code == 2, run.stdout
    assert re.fullmatch(
        r"POP3 CRITICAL - .*certificate.*other\.example\.test.*; 1 pending, 0 lost", run.first
    ), run.first
    assert "smtp_submit_time" in run.perfdata
    # The next good run finds it: a late arrival, deleted.
    again = mail.run(state)
    assert again.code == 0 and "1 late arrived" in again.first, again.stdout
    untouched(mail)


def test_two_runs_on_one_state_file_do_not_overlap(mail: Mail, state: Path) -> None:
    first = subprocess.Popen(
        [*plugin_command(), *mail.args(state, "--delivery-crit", "3", port=mail.postfix.held_port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # On hold: the first run has sent it and polls, holding the state file.
        wait_until(lambda: mail.postfix.held() > 0, 30, "the first run's message on hold")
        second = mail.run(state)
    finally:
        first.communicate(timeout=60)
        mail.postfix.release()
    assert second.code == 3
    assert second.first.startswith("POP3 UNKNOWN - another --round-trip run holds "), second.first
    assert mail.run(state).code == 0  # the first run's message, released: collected
    untouched(mail)


RT_DEFINITION = """\
[round-trip]
host = {host}
address = 127.0.0.1
port = {port}
timeout = 1
up_interval = 4
down_interval = 2
lost_interval = 3
failures_per_alert = 2
max_alerts = 2
contacts = recorder
"""


def test_the_alerting_takes_a_round_trip_service_as_any_other(mail: Mail, tmp_path: Path) -> None:
    """Issue 21: a real Nagios 4 with the shipped templates and a service from
    pop3_ipmon_config whose check is a round trip; Dovecot stopped (the POP3
    leg and SMTP AUTH fail) for an outage: F=2, M=2 gives PROBLEM 1 and 2 at
    failures 2 and 4, then Lost, and one RECOVERY; the report takes its
    results as any other (test_the_report_reads_a_round_trip_result_as_any_other)."""
    from tests.alerting.test_engines import BIN, CONTRIB, HOST, generate, nagios_objects
    from tests.support import pd_recorder
    from tests.support.nagios import Nagios, main_settings

    definition = tmp_path / "monitors.ini"
    definition.write_text(RT_DEFINITION.format(host=HOST, port=mail.dovecot.tls_port))
    services = generate("nagios", definition, tmp_path / "services.cfg", "--interval-length", "1")
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    args = mail.args(state_dir / "rt.json", "--delivery-crit", "8", "-t", "10")
    assert args[:2] == ["-H", "127.0.0.1"]  # the host's address gives -H
    text = services.read_text()
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("check_command"))
    services.write_text(
        text.replace(line, f"    check_command  check_pop3_ipmon!{' '.join(args[2:])}")
    )
    notes = tmp_path / "notifications.jsonl"
    files = [
        CONTRIB / "nagios" / "pop3_ipmon_commands.cfg",
        CONTRIB / "nagios" / "pop3_ipmon_templates.cfg",
        nagios_objects(tmp_path, notes),
        services,
    ]
    nagios = Nagios(
        tmp_path / "nagios",
        files,
        resource={"USER1": str(BIN)},
        settings=main_settings(CONTRIB / "nagios-main" / "pop3_ipmon_main.cfg"),
    )
    assert "Total Errors:   0" in nagios.verify().stdout
    nagios.start()
    handler_log = nagios.log.parent / "pop3_ipmon.log"
    service = "round-trip"  # pd-nagios takes no space: its -s is one word

    def alerts() -> list[tuple[str, int]]:
        return [
            (r["type"], r["number"])
            for r in pd_recorder.read(notes)
            if r["service"] == f"{HOST}!{service}"
        ]

    def logged(text: str) -> bool:
        return handler_log.exists() and text in handler_log.read_text()

    try:

        def passed() -> bool:
            status = nagios.service_status(HOST, service)
            return status.get("has_been_checked") == "1" and status.get("current_state") == "0"

        wait_until(passed, 60, "a passing round trip")
        mail.dovecot.stop()
        try:
            wait_until(lambda: logged("the engine sent alert 2 of 2"), 90, "alert 2 handled")
            wait_until(lambda: logged("-> Lost"), 30, "Lost")
        finally:
            mail.dovecot.start()
        wait_until(lambda: any(t == "RECOVERY" for t, _ in alerts()), 90, "the RECOVERY")
        assert [t for t, _ in alerts()] == ["PROBLEM", "PROBLEM", "RECOVERY"], alerts()
        assert alerts()[:2] == [("PROBLEM", 1), ("PROBLEM", 2)]
        # At failures 2 and 4 (F = 2): the handler says so with each.
        text = handler_log.read_text()
        assert "failures 2, alerts 1; the engine sent alert 1 of 2" in text, text
        assert "failures 4, alerts 2; the engine sent alert 2 of 2" in text, text
        hard = [a for a in nagios.service_alerts(HOST, service) if a.state_type == "HARD"]
        # HARD at failure F = 2 (Nagios' own record), then the recovery.
        assert [(a.state, a.attempt) for a in hard][:1] == [("CRITICAL", 2)], hard
        assert [a.state for a in hard][:2] == ["CRITICAL", "OK"], hard
    finally:
        nagios.stop()
    assert mail.run(tmp_path / "state" / "rt.json").code == 0  # and the mailbox is clean again
    untouched(mail)
