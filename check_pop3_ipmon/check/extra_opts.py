"""--extra-opts [section][@file]: options from an ini file, as monitoring-plugins do.

Same rules as their lib/extra_opts.c and lib/parse_ini.c (2.3.3): the
section defaults to the plugin's name, the file to the first that exists of
$MP_CONFIG_FILE, each directory of $NAGIOS_CONFIG_PATH with
monitoring-plugins.ini, plugins.ini or nagios-plugins.ini, then the fixed list
below; "-" is standard input. Every line `key = value` of the section becomes
`--key=value` (`-k=value` for a one-letter key; `--key` for `key =`, a flag),
in file order, repeated keys
repeated; all of them come before the command line's own arguments, so the
command line wins for options given once. Comments are lines starting with
`;` or `#`; there are no inline comments, quotes or continuation lines.

Hand-written rather than configparser: configparser folds key case, keeps
only the last of repeated keys (which repeatable options such as -e need),
reads indented lines as continuations and `;` after a value as a comment, so
the same file would mean something else to check_pop and to this plugin.

A `password` key is not turned into an option: the password is taken out
here, so that it reaches neither argparse (whose messages could echo it) nor
any argv, and the file holding it must be private, as --authfile must.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Optional

OPTION = "--extra-opts"
PASSWORD_KEY = "password"  # noqa: S105 - the key's name, not a password
MAX_FILE = 1 << 20
INI_NAMES = ("monitoring-plugins.ini", "plugins.ini", "nagios-plugins.ini")
INI_PATHS = (
    "/usr/local/etc/monitoring-plugins/monitoring-plugins.ini",
    "/usr/local/etc/monitoring-plugins.ini",
    "/etc/monitoring-plugins/monitoring-plugins.ini",
    "/etc/monitoring-plugins.ini",
    # The C plugins' deprecated names, still searched by them:
    "/etc/nagios/plugins.ini",
    "/usr/local/nagios/etc/plugins.ini",
    "/usr/local/etc/nagios/plugins.ini",
    "/etc/opt/nagios/plugins.ini",
    "/etc/nagios-plugins.ini",
    "/usr/local/etc/nagios-plugins.ini",
    "/etc/opt/nagios-plugins.ini",
)
_SPACE = " \t\n\r\f\v"  # C's isspace() in the C locale


class ExtraOptsError(Exception):
    """Why the options could not be read: one line for an UNKNOWN status."""


class Expanded:
    __slots__ = ("argv", "from_file", "password")

    def __init__(self, argv: list[str], from_file: list[str], password: Optional[str]) -> None:
        self.argv = argv  # the file's options, then the command line's
        self.from_file = from_file  # the file's options alone (values to keep out of messages)
        self.password = password


def wanted(argv: Sequence[str]) -> bool:
    return any(arg == OPTION or arg.startswith(OPTION + "=") for arg in argv)


def _is_option(text: str) -> bool:
    """extra_opts.c's is_option2: one or two leading dashes."""
    dashes = len(text) - len(text.lstrip("-"))
    return dashes in (1, 2)


def split(argv: Sequence[str]) -> tuple[list[Optional[str]], list[str]]:
    """The locators of every --extra-opts (None: no value), and the other arguments."""
    locators: list[Optional[str]] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith(OPTION + "="):
            locators.append(arg[len(OPTION) + 1 :])
        elif arg == OPTION:
            if i + 1 < len(argv) and not _is_option(argv[i + 1]):
                i += 1
                locators.append(argv[i])
            else:
                locators.append(None)
        else:
            rest.append(arg)
        i += 1
    return locators, rest


def default_file(env: Mapping[str, str]) -> Optional[str]:
    explicit = env.get("MP_CONFIG_FILE")
    if explicit is not None:
        return explicit
    for directory in env.get("NAGIOS_CONFIG_PATH", "").split(":"):
        if not directory:
            continue
        for name in INI_NAMES:
            path = f"{directory}/{name}"
            if os.access(path, os.F_OK):
                return path
    for path in INI_PATHS:
        if os.access(path, os.F_OK):
            return path
    return None


def locate(locator: Optional[str], section: str, env: Mapping[str, str]) -> tuple[str, str]:
    """(section, file) from "[section][@file]", defaults filled in."""
    name, at, path = (locator or "").partition("@")
    found = path if at else default_file(env)
    if not found:
        raise ExtraOptsError("--extra-opts: cannot find config file in any standard location")
    return name or section, found


class _File:
    """What the password rule needs to know of the file read: its fstat, and
    whether its name was a symlink (None for standard input)."""

    __slots__ = ("info", "symlink")

    def __init__(self, info: os.stat_result, symlink: bool) -> None:
        self.info = info
        self.symlink = symlink


def _open(path: str) -> tuple[int, bool]:
    """A descriptor for `path`, and whether the name was a symlink.

    A file of plain options may be a symlink (a shared ini linked into
    place); one that holds a password may not, as --authfile may not. The
    name is opened once without following a link, then (ELOOP) following
    it, so what is checked is what is read.
    """
    # O_NONBLOCK: a FIFO must not hang the check.
    flags = os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK
    try:
        return os.open(path, flags | os.O_NOFOLLOW), False
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
    return os.open(path, flags), True


def _read(path: str) -> tuple[str, Optional[_File]]:
    """The file's text and what the password rule needs (None for standard input)."""
    if path == "-":
        return sys.stdin.read(MAX_FILE + 1), None
    try:
        fd, symlink = _open(path)
    except OSError as exc:
        raise ExtraOptsError(
            f"--extra-opts: can't read config file {path}: {exc.strerror or exc}"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ExtraOptsError(f"--extra-opts: {path} is not a regular file")
        data = os.read(fd, MAX_FILE + 1)
    except OSError as exc:
        raise ExtraOptsError(
            f"--extra-opts: can't read config file {path}: {exc.strerror or exc}"
        ) from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE:
        raise ExtraOptsError(f"--extra-opts: {path} is longer than {MAX_FILE} bytes")
    return data.decode("utf-8", "surrogateescape"), _File(info, symlink)


def _header(line: str, section: str) -> bool:
    """Whether "[ name ]" (the rest of the line after it ignored) names `section`."""
    name, bracket, _ = line[1:].partition("]")
    return bool(bracket) and name.strip(_SPACE) == section


def section_items(text: str, section: str, path: str) -> Iterator[tuple[str, str]]:
    """(key, value) of every option line in every [section] of the text."""
    inside: Optional[bool] = None  # None: before any section header
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(_SPACE)
        if not line or line[0] in ";#":
            continue
        if line[0] == "[":
            inside = _header(line, section)
            continue
        if inside is None:
            raise ExtraOptsError(f"--extra-opts: config file error in {path} line {number}")
        if not inside:
            continue
        key, equals, value = line.partition("=")
        key = key.rstrip(_SPACE)
        if not equals or not key:
            raise ExtraOptsError(f"--extra-opts: config file error in {path} line {number}")
        yield key, value.strip(_SPACE)


def _private(path: str, file: Optional[_File]) -> None:
    """A file that holds a password follows --authfile's rule (core.private_files):
    whoever may write it may turn the login into plaintext USER/PASS."""
    if file is None:
        return
    label = f"--extra-opts: {path} holds a password and"
    if file.symlink:
        raise ExtraOptsError(f"{label} is a symlink: refused; name the file itself")
    # Only here: a check without a password in its file does not load it.
    from check_pop3_ipmon.core.private_files import refusal

    problem = refusal(file.info, label, secret=True)
    if problem:
        raise ExtraOptsError(problem)


def options(locator: Optional[str], plugin: str, env: Mapping[str, str]) -> Expanded:
    """The options of one --extra-opts, its password (if any) taken out."""
    section, path = locate(locator, plugin, env)
    text, file = _read(path)
    args: list[str] = []
    password: Optional[str] = None
    found = False
    for key, value in section_items(text, section, path):
        found = True
        if key == PASSWORD_KEY:
            _private(path, file)
            password = value
            continue
        # "key =" with no value is a flag: "--key", as parse_ini.c writes it.
        flag = f"{'-' if len(key) == 1 else '--'}{key}"
        args.append(f"{flag}={value}" if value else flag)
    if not found:
        raise ExtraOptsError(f"--extra-opts: invalid section '{section}' in config file '{path}'")
    return Expanded(args, list(args), password)


def expand(argv: Sequence[str], plugin: str, env: Optional[Mapping[str, str]] = None) -> Expanded:
    """argv with every --extra-opts replaced: the files' options first, in order."""
    environ = os.environ if env is None else env
    locators, rest = split(argv)
    from_file: list[str] = []
    password: Optional[str] = None
    for locator in locators:
        one = options(locator, plugin, environ)
        from_file += one.from_file
        if one.password is not None:
            password = one.password
    return Expanded(from_file + rest, from_file, password)
