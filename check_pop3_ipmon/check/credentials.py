"""Where the password comes from: a private file or an environment variable.

Never the command line (any local user can read it in ps or /proc). The
file follows the one rule for private files (core.private_files): a file
others can read or write, or that belongs to another user, is refused, as
ssh refuses a private key: the password would be as public as the file.
"""

from __future__ import annotations

import os

from check_pop3_ipmon.core import private_files

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
    label = f"--authfile {path}"
    try:
        text = private_files.read_text(path, label, secret=True, limit=MAX_FILE)
    except private_files.PrivateFileError as exc:
        raise CredentialError(str(exc)) from None
    return check_password(text.split("\n", 1)[0].removesuffix("\r"), label)


def from_env(name: str, shown: bool = True) -> str:
    """The password from environment variable `name`.

    `shown` is False for a name given with --password-env: someone may have
    put the password itself there, so messages leave the name out.
    """
    label = f"the environment variable {name}" if shown else "the --password-env variable"
    value = os.environ.get(name)
    if value is None:
        raise CredentialError(f"--login needs a password: --authfile FILE or {label}")
    try:
        # Python keeps bytes that are not UTF-8 as surrogates, which would
        # fail deep in the session; --authfile's rule, said the same way.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CredentialError(f"{label} is not UTF-8") from None
    return check_password(value, label)
