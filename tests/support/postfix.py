"""A real Postfix on loopback, from a temporary configuration, delivering into
the Maildirs a Dovecot fixture serves by POP3.

Debian's postfix package, never its system instance: `postfix -c DIR
start-fg` with its own main.cf and master.cf, queue and data directories
below the work directory, submission (STARTTLS, port 587's service) and
submissions (implicit TLS, 465's) on free loopback ports. AUTH goes to
Dovecot's auth service (an inet listener the Dovecot fixture opens), so the
users and passwords are the POP3 ones. The virtual delivery agent writes
straight into each user's Maildir as the Dovecot fixture's mail user.

A third submission service (STARTTLS, `held_port`) puts every message it
accepts on hold; `release()` lets the held ones go: a slow delivery and a
message that never arrives, with a real queue and no reload to race with.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path
from typing import Optional

from tests.support.dovecot import MAIL_USER, USERS, TLSFiles
from tests.support.integration import find_program, free_port, missing, require_root

DOMAIN = "example.test"
POSTFIX_LIBEXEC = Path("/usr/lib/postfix/sbin")
# The services a delivering Postfix needs (Debian's master.cf, without chroot).
_MASTER_BASE = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    def __init__(self, workdir: Path, tls: TLSFiles, maildirs: Path, auth_port: int) -> None:
        """`maildirs` holds USER/Maildir for each of the Dovecot fixture's
        users; `auth_port` is its auth service's inet listener."""
        require_root("Postfix")
        self.binary = find_program("postfix", "postfix")
        if not (POSTFIX_LIBEXEC / "master").exists():
            missing("Postfix's daemons not found: install the Debian package postfix")
        self.workdir = workdir
        self.tls = tls
        self.maildirs = maildirs
        self.auth_port = auth_port
        self.host = "127.0.0.1"
        self.submission_port = free_port(self.host)
        self.submissions_port = free_port(self.host)
        self.held_port = free_port(self.host)
        self.config_dir = workdir / "etc"
        self.log = workdir / "maillog"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self._write_config()

    def _write_config(self) -> None:
        w = self.workdir
        os.chmod(w, 0o755)  # noqa: S103 - postfix's daemons (uid postfix) walk into it
        self.config_dir.mkdir(exist_ok=True)
        (w / "queue").mkdir(exist_ok=True)
        (w / "data").mkdir(exist_ok=True)
        owner = pwd.getpwnam("postfix")
        os.chown(w / "data", owner.pw_uid, owner.pw_gid)
        mail = pwd.getpwnam(MAIL_USER)
        mailboxes = " ".join(f"{{{user}@{DOMAIN}={user}/Maildir/}}" for user in USERS)
        (self.config_dir / "main.cf").write_text(
            f"""\
compatibility_level = 3.6
queue_directory = {w}/queue
data_directory = {w}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.log}
maillog_file_prefixes = {w}
inet_interfaces = {self.host}
inet_protocols = ipv4
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {self.maildirs}
virtual_mailbox_maps = inline:{{ {mailboxes} }}
virtual_uid_maps = static:{mail.pw_uid}
virtual_gid_maps = static:{mail.pw_gid}
virtual_minimum_uid = 1
smtpd_tls_cert_file = {self.tls.cert_chain}
smtpd_tls_key_file = {self.tls.key}
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{self.auth_port}
smtpd_relay_restrictions = permit_sasl_authenticated, reject
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""
        )
        auth = (
            "-o smtpd_sasl_auth_enable=yes "
            "-o smtpd_client_restrictions=permit_sasl_authenticated,reject"
        )
        (self.config_dir / "master.cf").write_text(
            f"{self.host}:{self.submission_port} inet n - n - - smtpd "
            f"-o smtpd_tls_security_level=encrypt {auth}\n"
            f"{self.host}:{self.submissions_port} inet n - n - - smtpd "
            f"-o smtpd_tls_wrappermode=yes {auth}\n"
            f"{self.host}:{self.held_port} inet n - n - - smtpd "
            f"-o smtpd_tls_security_level=encrypt {auth} "
            "-o smtpd_end_of_data_restrictions=check_client_access,static:HOLD\n" + _MASTER_BASE
        )

    def _postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, "-c", str(self.config_dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def start(self, wait: float = 30.0) -> None:
        check = self._postfix("check")
        if check.returncode != 0:
            raise RuntimeError(f"postfix check failed: {check.stderr}{check.stdout}")
        with open(self.workdir / "postfix.stderr", "ab") as stderr:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config_dir), "start-fg"],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        import socket

        end = time.monotonic() + wait
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postfix exited: {self.diagnostics()}")
            try:
                with socket.create_connection((self.host, self.submission_port), timeout=1) as s:
                    s.settimeout(5)
                    if s.recv(512).startswith(b"220"):
                        return
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"postfix did not listen: {self.diagnostics()}")
            time.sleep(0.1)

    def diagnostics(self) -> str:
        parts = []
        for name in ("postfix.stderr", "maillog"):
            path = self.workdir / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def release(self) -> None:
        """The messages on hold are let go, and delivered at once."""
        subprocess.run(
            [
                str(Path(self.binary).with_name("postsuper")),
                "-c",
                str(self.config_dir),
                "-H",
                "ALL",
            ],
            capture_output=True,
            timeout=30,
            check=True,
        )
        subprocess.run(
            [str(Path(self.binary).with_name("postqueue")), "-c", str(self.config_dir), "-f"],
            capture_output=True,
            timeout=30,
            check=False,
        )

    def held(self) -> int:
        """Messages in the hold queue."""
        hold = self.workdir / "queue" / "hold"
        return sum(len(files) for _root, _dirs, files in os.walk(hold))

    def stop(self) -> None:
        if self.process is None:
            return
        self._postfix("stop")
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None
