"""Where the password comes from: a private file or an environment variable.

Never the command line (any local user can read it in ps or /proc). A file
that group or others can read is refused, as ssh refuses a private key: the
password would be as public as the file.
"""

from __future__ import annotations

import os
import stat

MAX_FILE = 4096


class CredentialError(Exception):
    """Why no password could be had; one line for the UNKNOWN status."""


def check_password(password: str, source: str) -> str:
    if not password:
        raise CredentialError(f"{source} is empty")
    if any(ch in password for ch in "\0\r\n"):
        # They would end the command line (or, NUL, the SASL PLAIN fields).
        raise CredentialError(f"the password from {source} contains NUL, CR or LF")
    return password


def from_file(path: str) -> str:
    """The first line of `path` (without its line ending) is the password."""
    try:
        # O_NONBLOCK: a FIFO must not hang us before we see it is no file.
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise CredentialError(f"cannot read --authfile {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)  # of what was opened, not of what the name may point to next
        if not stat.S_ISREG(info.st_mode):
            raise CredentialError(f"--authfile {path} is not a regular file")
        if info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
            mode = stat.S_IMODE(info.st_mode)
            raise CredentialError(
                f"--authfile {path} is readable by group or others (mode {mode:04o}): "
                "refused; chmod 600 it"
            )
        data = os.read(fd, MAX_FILE + 1)
    except OSError as exc:
        raise CredentialError(f"cannot read --authfile {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE:
        raise CredentialError(f"--authfile {path} is longer than {MAX_FILE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialError(f"--authfile {path} is not UTF-8") from None
    return check_password(text.split("\n", 1)[0].removesuffix("\r"), f"--authfile {path}")


def from_env(name: str, shown: bool = True) -> str:
    """The password from environment variable `name`.

    `shown` is False for a name given with --password-env: someone may have
    put the password itself there, so messages leave the name out.
    """
    label = f"the environment variable {name}" if shown else "the --password-env variable"
    value = os.environ.get(name)
    if value is None:
        raise CredentialError(f"--login needs a password: --authfile FILE or {label}")
    return check_password(value, label)
