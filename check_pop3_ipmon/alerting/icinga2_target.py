"""Where check-icinga2 reads from: the API's URL(s), CA file and credentials.

Only from the administrator's own files and options: an [icinga2-api]
section in a file only its owner may read (0600), or --api-url, --api-ca and
--api-credentials (a credentials file: a password is never an argument,
which every user sees in ps). Never from an object's custom variables, which
whoever may edit one service could point at their own server.

    [icinga2-api]
    url = https://master1.example.com:5665 https://master2.example.com:5665
    ca = /var/lib/icinga2/certs/ca.crt
    credentials = /etc/icinga2/pop3_ipmon-check-api.conf
    # or, in this file itself: username = ... and password = ...

Several URLs: one node each (the HA pair's two masters, a satellite), each
checked for its own features; the objects are read from the first.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from check_pop3_ipmon.alerting.icinga2_api import (
    ApiError,
    Credentials,
    check_url,
    read_credentials,
)
from check_pop3_ipmon.core import private_files

SECTION = "icinga2-api"
KEYS = ("url", "ca", "credentials", "username", "password", "timeout")


@dataclass(frozen=True)
class Target:
    urls: tuple[str, ...]
    credentials: Credentials
    ca_file: Optional[Path]
    timeout: float


def _section(path: Path) -> dict[str, str]:
    label = f"API configuration {path}"
    try:
        text = private_files.read_text(path, label, secret=True)
    except private_files.PrivateFileError as exc:
        raise ApiError(str(exc)) from None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        # The first line only: configparser quotes the offending line, which
        # could be the password.
        first = str(exc).splitlines()[0]
        raise ApiError(f"{label}: {first}") from None
    if not parser.has_section(SECTION):
        raise ApiError(f"{label} has no [{SECTION}] section")
    values = dict(parser.items(SECTION, raw=True))
    unknown = sorted(set(values) - set(KEYS) - set(parser.defaults()))
    if unknown:
        raise ApiError(f"{label}: unknown key {unknown[0]!r} in [{SECTION}]")
    if "credentials" in values and ("username" in values or "password" in values):
        raise ApiError(f"{label}: give credentials = or username and password, not both")
    return values


def resolve(
    config: Optional[Path],
    urls: list[str],
    ca_file: Optional[Path],
    credentials_file: Optional[Path],
    timeout: Optional[float] = None,
) -> Target:
    """The target from the file and the options (an option wins over the file)."""
    values = _section(config) if config is not None else {}
    chosen = urls or values.get("url", "").split()
    if not chosen:
        raise ApiError("no API URL: give --api-url or url = in an [icinga2-api] section")
    for url in chosen:
        check_url(url)
    ca: Optional[Path] = ca_file or (Path(values["ca"]) if values.get("ca") else None)
    if credentials_file is not None:
        credentials = read_credentials(credentials_file)
    elif values.get("credentials"):
        credentials = read_credentials(Path(values["credentials"]))
    elif values.get("username") and "password" in values:
        credentials = Credentials(values["username"], values["password"])
    else:
        raise ApiError(
            "no API credentials: give --api-credentials FILE, or credentials = (or "
            f"username and password) in an [{SECTION}] section"
        )
    if timeout is None:
        try:
            timeout = float(values.get("timeout", "30"))
        except ValueError:
            raise ApiError(f"[{SECTION}] timeout must be seconds") from None
    if not 0 < timeout <= 600:
        raise ApiError(f"[{SECTION}] timeout must be from 0 to 600 seconds")
    return Target(tuple(chosen), credentials, ca, timeout)
