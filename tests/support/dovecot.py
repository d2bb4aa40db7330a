"""A real Dovecot POP3 server on loopback, from a temporary configuration.

Runs `dovecot -F` as a child in its own session, so a test can stop it hard
(SIGKILL frees the port at once; after SIGTERM Dovecot holds it for about a
second) and start it again on the same ports.

Logging in works: the passdb holds USERS, each with a maildir that
`add_message` fills. The pytest temp tree above the work directory is private
to root, so the auth process runs as root to read the passwd file, and mail
processes run as nobody (Dovecot refuses uid 0 there) chrooted into the homes
directory: the chroot is entered before privileges are dropped.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tests.support.integration import (
    find_program,
    free_port,
    missing,
    require_root,
    wait_for_banner,
)

USERS = {"alice": "wonderland-secret", "bob": "builder-secret"}
MAIL_USER = "nobody"


@dataclass
class TLSFiles:
    cert_chain: Path  # PEM: leaf first, then intermediates
    key: Path


class Dovecot:
    def __init__(
        self,
        workdir: Path,
        tls: Optional[TLSFiles] = None,
        greeting: str = "Dovecot ready.",
        extra_config: str = "",
        host: str = "127.0.0.1",
        *,
        auth_mechanisms: str = "plain login",
        disable_plaintext_auth: bool = False,
        also_listen: Sequence[str] = (),
        no_apop_secret: Sequence[str] = (),
        auth_listener: bool = False,
    ) -> None:
        """`auth_mechanisms` as Dovecot spells it ("apop" adds the greeting's
        timestamp); `disable_plaintext_auth` hides USER and PLAIN before TLS,
        but only for a client on another address than the server's (Dovecot
        trusts a connection from its own address, so use host="127.0.0.2");
        `also_listen`: more addresses on the same ports; `no_apop_secret`: users
        whose password is stored hashed, so APOP (which needs it in clear)
        fails for them while USER/PASS works, as for most users of GNU
        mailutils and solid-pop3d; `auth_listener`: the auth service on a
        TCP port too (`auth_port`), for Postfix's SMTP AUTH (tests/support/postfix.py)."""
        require_root("Dovecot")
        self.binary = find_program("dovecot", "dovecot-pop3d")
        if not Path("/usr/lib/dovecot/pop3-login").exists():
            missing("Dovecot's POP3 server not found: install the Debian package dovecot-pop3d")
        self.workdir = workdir
        self.tls = tls
        self.greeting = greeting
        self.extra_config = extra_config
        self.host = host
        self.auth_mechanisms = auth_mechanisms
        self.disable_plaintext_auth = disable_plaintext_auth
        self.listen = [host, *also_listen]
        self.no_apop_secret = tuple(no_apop_secret)
        self.port = free_port(host)
        self.tls_port = free_port(host)
        self.auth_port = free_port(host) if auth_listener else 0
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.config = workdir / "dovecot.conf"
        self.log = workdir / "dovecot.log"
        self._write_config()

    def _write_config(self) -> None:
        w = self.workdir
        # Dovecot's login processes run as dovenull and must reach base_dir.
        os.chmod(w, 0o755)  # noqa: S103 - a directory, not a secret
        (w / "passwd").write_text(
            "".join(f"{user}:{self._stored(user, pw)}::::::\n" for user, pw in USERS.items())
        )
        owner = pwd.getpwnam(MAIL_USER)
        for user in USERS:
            for sub in ("cur", "new", "tmp"):
                (w / "home" / user / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
            for directory, _subdirs, _files in os.walk(w / "home" / user):
                os.chown(directory, owner.pw_uid, owner.pw_gid)
        os.chmod(w / "home", 0o755)  # noqa: S103 (the chroot, entered before dropping to nobody)
        if self.tls:
            ssl = f"ssl = yes\nssl_cert = <{self.tls.cert_chain}\nssl_key = <{self.tls.key}\n"
            pop3s = f"port = {self.tls_port}\n    ssl = yes"
        else:
            ssl = "ssl = no\n"
            pop3s = "port = 0"
        auth_listener = (
            f"  inet_listener auth-inet {{\n    address = {self.host}\n"
            f"    port = {self.auth_port}\n  }}\n"
            if self.auth_port
            else ""
        )
        self.config.write_text(
            f"""\
base_dir = {w}/run
state_dir = {w}/state
log_path = {self.log}
instance_name = test-{self.port}
protocols = pop3
listen = {", ".join(self.listen)}
login_greeting = {self.greeting}
{ssl}
disable_plaintext_auth = {"yes" if self.disable_plaintext_auth else "no"}
auth_mechanisms = {self.auth_mechanisms}
passdb {{
  driver = passwd-file
  args = {w}/passwd
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={w}/home/./%u
}}
valid_chroot_dirs = {w}/home
mail_location = maildir:~/Maildir
service pop3-login {{
  inet_listener pop3 {{
    port = {self.port}
  }}
  inet_listener pop3s {{
    {pop3s}
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
# The auth process reads the passwd file, below pytest's root-only temp tree.
service auth {{
  user = root
{auth_listener}}}
{self.extra_config}
"""
        )

    def _stored(self, user: str, password: str) -> str:
        if user not in self.no_apop_secret:
            return f"{{PLAIN}}{password}"
        digest = hashlib.sha256(password.encode()).digest()
        return "{SHA256}" + base64.b64encode(digest).decode("ascii")

    @property
    def command(self) -> list[str]:
        """The argv that starts this instance in the foreground."""
        return [self.binary, "-F", "-c", str(self.config)]

    def start(self, wait: float = 15.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        with open(self.workdir / "dovecot.stderr", "ab") as stderr:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        self.wait_listening(wait)

    def wait_listening(self, wait: float = 15.0) -> None:
        if self.process is None:
            raise RuntimeError("dovecot is not started")
        wait_for_banner(
            self.host, self.port, b"+OK", self.process, wait=wait, diagnostics=self.diagnostics
        )

    def diagnostics(self) -> str:
        parts = []
        for name in ("dovecot.stderr", "dovecot.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-2000:])
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop at once (SIGKILL to the whole session): the port is free on return."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)
        self.process = None
        # Children that left the process group (none expected) would hold the port.
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    pass
            except OSError:
                return
            time.sleep(0.05)

    def add_message(self, user: str, body: bytes) -> None:
        """Deliver a message straight into the user's maildir.

        With CRLF line endings, STAT counts exactly len(body) octets.
        """
        new = self.workdir / "home" / user / "Maildir" / "new"
        name = f"{time.time_ns()}.{os.getpid()}.test"
        (new / name).write_bytes(body)
        owner = pwd.getpwnam(MAIL_USER)
        os.chown(new / name, owner.pw_uid, owner.pw_gid)
