"""The shared core: one rule for private files, one policy for state files.

Every reader of a credentials file (the plugin's --authfile, the alerting
handler's --api-credentials, recovery's credential sets) and the recovery
configuration go through core.private_files, so each refuses the same
files with the same words; both handlers read state through core.statestore.
The faults are real: a symlink, a FIFO nobody writes (no hang), a directory,
/proc/self/mem, a file given to an unprivileged user, invalid UTF-8.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from check_pop3_ipmon.check import credentials as plugin_credentials
from check_pop3_ipmon.core import private_files, redact, statestore
from check_pop3_ipmon.recovery import config as recovery_config
from check_pop3_ipmon.recovery import credentials as recovery_credentials
from tests.support.integration import missing

NOBODY = 65534


def authfile(path: Path) -> object:
    return plugin_credentials.from_file(str(path))


READERS: dict[str, tuple[Callable[[Path], object], str, type[Exception], str]] = {
    # name: (reader, label prefix, its error, content it accepts)
    "authfile": (authfile, "--authfile", plugin_credentials.CredentialError, "secret\n"),
    "recovery-credentials": (
        recovery_credentials.load,
        "credentials file",
        recovery_credentials.CredentialError,
        "[admin]\nmethod = local\n",
    ),
}


def private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_credentials_reader_accepts_a_private_file(tmp_path: Path, reader: str) -> None:
    read, _, _, text = READERS[reader]
    assert read(private(tmp_path / "file", text))


FAULTS = {
    "group-readable": (0o640, "is readable by group or others (mode 0640): refused; chmod 600 it"),
    "other-readable": (0o604, "is readable by group or others (mode 0604): refused; chmod 600 it"),
    "group-writable": (0o620, "is writable by group or others (mode 0620): refused; chmod 600 it"),
    "group-executable": (
        0o610,
        "is accessible by group or others (mode 0610): refused; chmod 600 it",
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("reader", sorted(READERS))
def test_one_mode_rule_for_every_credentials_file(tmp_path: Path, reader: str, fault: str) -> None:
    read, label, error, text = READERS[reader]
    mode, problem = FAULTS[fault]
    path = private(tmp_path / "file", text, mode)
    with pytest.raises(error) as raised:
        read(path)
    assert str(raised.value) == f"{label} {path} {problem}"


@pytest.mark.parametrize("reader", sorted(READERS))
def test_one_owner_rule_for_every_credentials_file(tmp_path: Path, reader: str) -> None:
    if os.geteuid() != 0:
        missing("giving a file to another user needs root")
    read, label, error, text = READERS[reader]
    path = private(tmp_path / "file", text)
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(error) as raised:
        read(path)
    assert str(raised.value) == (
        f"{label} {path} belongs to uid {NOBODY}, not to root or this user (uid 0): refused"
    )


def not_regular(tmp_path: Path, kind: str) -> tuple[Path, str]:
    if kind == "directory":
        path = tmp_path / "dir"
        path.mkdir(mode=0o700)
        return path, "is not a regular file"
    if kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path, 0o600)  # nobody writes it: a blocking open would hang
        return path, "is not a regular file"
    if kind == "symlink":
        path = tmp_path / "link"
        path.symlink_to(private(tmp_path / "real", "x"))
        return path, "cannot read"
    if kind == "proc-mem":
        return Path("/proc/self/mem"), "cannot read"
    path = private(tmp_path / "binary", "")
    path.write_bytes(b"\xff\xfe\x93 not utf-8\n")
    return path, "is not UTF-8"


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink", "proc-mem", "invalid-utf8"])
@pytest.mark.parametrize("reader", sorted(READERS))
def test_not_a_plain_private_file_is_one_clear_error(
    tmp_path: Path, reader: str, kind: str
) -> None:
    read, label, error, _ = READERS[reader]
    path, problem = not_regular(tmp_path, kind)
    with pytest.raises(error) as raised:
        read(path)
    message = str(raised.value)
    if problem == "cannot read":
        assert message.startswith(f"cannot read {label} {path}: ")
    else:
        assert message == f"{label} {path} {problem}"


def test_the_recovery_config_may_be_read_by_others_but_not_written(tmp_path: Path) -> None:
    path = private(tmp_path / "recovery.ini", "[recovery]\ncooldown = 5m\n", 0o644)
    assert recovery_config.load(path).cooldown == 300
    path.chmod(0o664)
    with pytest.raises(recovery_config.ConfigError) as raised:
        recovery_config.load(path)
    assert str(raised.value) == (
        f"recovery config {path} is writable by group or others (mode 0664): refused; chmod go-w it"
    )


def test_private_file_size_is_capped(tmp_path: Path) -> None:
    path = private(tmp_path / "big", "x" * 70_000)
    with pytest.raises(private_files.PrivateFileError, match="is longer than 65536 bytes"):
        private_files.read_text(path, f"file {path}", secret=True)


# -- statestore ------------------------------------------------------------------------------


def parse(raw: bytes) -> str:
    text = raw.decode()
    if not text.startswith("ok"):
        raise ValueError("not ok")
    return text


def test_a_missing_state_file_is_the_only_fresh_start(tmp_path: Path) -> None:
    assert statestore.load(tmp_path / "absent.json", parse) == statestore.Loaded(None)


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_state_file_that_cannot_be_read_is_unreadable_not_fresh(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "state.json"
    if kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path, 0o600)  # nobody writes it: a blocking open would hang
    # A file this user may not read: tests/recovery/test_fail_safe.py (setpriv).
    with pytest.raises(statestore.Unreadable, match=f"cannot read {path}: "):
        statestore.load(path, parse)
    assert path.exists()


def test_an_unusable_state_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("bad")
    loaded = statestore.load(path, parse)
    assert loaded == statestore.Loaded(None, "not ok; moved to state.json.unusable")
    assert not path.exists()
    assert (tmp_path / "state.json.unusable").read_text() == "bad"
    path.write_text("ok good")
    assert statestore.load(path, parse) == statestore.Loaded("ok good")


def test_an_oversized_state_file_is_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with open(path, "wb") as handle:
        handle.truncate(1 << 30)  # sparse: 1 GB, no disk used
    seen: list[int] = []

    def spy(raw: bytes) -> str:
        seen.append(len(raw))
        return "never"

    loaded = statestore.load(path, spy)
    assert loaded == statestore.Loaded(
        None, "larger than 65536 bytes; moved to state.json.unusable"
    )
    assert seen == []


def test_a_dry_run_leaves_an_unusable_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("bad")
    assert statestore.load(path, parse, move=False) == statestore.Loaded(
        None, "not ok; left in place"
    )
    assert path.read_text() == "bad"


# -- redacting URLs (issue 10, item 10) --------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("https://root:s3cret@icinga.example:5665", "https://***@icinga.example:5665"),
        ("https://user@host/v1?password=s3cret&x=1", "https://***@host/v1?***"),
        ("https://host:5665/v1/objects#frag", "https://host:5665/v1/objects#***"),
        ("https://[::1]:5665", "https://[::1]:5665"),
        ("https://a:b@c@host", "https://***@host"),
    ],
)
def test_a_url_is_shown_without_user_information_or_query(given: str, shown: str) -> None:
    assert redact.url(given) == shown
    message = f"cannot reach {given}: Connection refused"
    assert redact.urls_in(message) == f"cannot reach {shown}: Connection refused"
    assert "s3cret" not in redact.urls_in(f"API URL {given!r} takes no user")


def test_a_webhook_url_is_shown_as_its_origin_only() -> None:
    """A chat webhook's path is its token: nothing past the host is shown."""
    assert redact.origin("https://hooks.example/services/T0/B1/s3cret?x=1") == (
        "https://hooks.example"
    )
    assert redact.origin("https://user:s3cret@chat.example:8443/hook") == (
        "https://chat.example:8443"
    )
