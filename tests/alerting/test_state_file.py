"""The handler's state file: round trip, atomic replacement, locking, refusals."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from check_pop3_ipmon.alerting import statefile
from check_pop3_ipmon.alerting.model import Interval, Memory, Phase

MEMORY = Memory(
    failures=7, alerts=2, phase=Phase.DOWN, interval=Interval.DOWN, gate=False, last_result="x/7"
)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return statefile.prepare_directory(tmp_path / "state")


def test_round_trip_with_owner_only_modes(directory: Path) -> None:
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    with statefile.locked(directory, "mail1", "POP3 head office") as slot:
        assert slot.load() == Memory()
        slot.save(MEMORY)
    with statefile.locked(directory, "mail1", "POP3 head office") as slot:
        assert slot.load() == MEMORY
        data = json.loads(slot.path.read_text())
        assert stat.S_IMODE(slot.path.stat().st_mode) == 0o600
    assert data["host"] == "mail1" and data["service"] == "POP3 head office"
    assert (data["phase"], data["interval"], data["failures"]) == ("Down", "down", 7)
    assert data["gate"] is False


def test_a_file_from_before_the_gate_still_counts(directory: Path) -> None:
    """State files written before Icinga 2's notification gate existed: gate open."""
    with statefile.locked(directory, "h", "s") as slot:
        old = {
            "version": 1,
            "host": "h",
            "service": "s",
            "failures": 4,
            "alerts": 1,
            "phase": "Down",
            "interval": "down",
            "last_result": "1/4/CRITICAL",
        }
        slot.path.write_text(json.dumps(old))
        assert slot.load() == Memory(4, 1, Phase.DOWN, Interval.DOWN, True, "1/4/CRITICAL")
        old["gate"] = "yes"
        slot.path.write_text(json.dumps(old))
        assert slot.load() == Memory()
        assert "gate is not true or false" in slot.problem


def test_services_never_share_a_file(directory: Path) -> None:
    # "a" + "b!c" and "a!b" + "c" would collide if names were just joined.
    names = {statefile.file_stem(h, s) for h, s in [("a", "b!c"), ("a!b", "c"), ("a", "b/../c")]}
    assert len(names) == 3
    assert all(len(name) == 40 and name.isalnum() for name in names)


def test_replacement_is_atomic(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with statefile.locked(directory, "h", "s") as slot:
        slot.save(MEMORY)

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with statefile.locked(directory, "h", "s") as slot, pytest.raises(OSError):
        slot.save(Memory(failures=99))
    monkeypatch.undo()
    with statefile.locked(directory, "h", "s") as slot:
        assert slot.load() == MEMORY  # the old file, whole
    assert not [p for p in directory.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"version": 99}',
        json.dumps({"version": 1, "host": "other", "service": "s"}).encode(),
        json.dumps(
            {
                "version": 1,
                "host": "h",
                "service": "s",
                "failures": -1,
                "alerts": 0,
                "phase": "Up",
                "interval": "down",
                "last_result": "",
            }
        ).encode(),
        json.dumps(
            {
                "version": 1,
                "host": "h",
                "service": "s",
                "failures": 1,
                "alerts": 0,
                "phase": "Sideways",
                "interval": "down",
                "last_result": "",
            }
        ).encode(),
    ],
)
def test_unusable_file_starts_afresh_and_says_why(directory: Path, content: bytes) -> None:
    with statefile.locked(directory, "h", "s") as slot:
        slot.path.write_bytes(content)
        assert slot.load() == Memory()
        assert slot.problem.startswith(f"ignored unusable state file {slot.path}: ")


def test_symlinked_state_file_is_not_followed(directory: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    with statefile.locked(directory, "h", "s") as slot:
        slot.path.symlink_to(target)
        with pytest.raises(statefile.StateError, match="cannot read"):
            slot.load()


def test_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(statefile.StateError, match="has mode 0777: group/other may write it"):
        statefile.prepare_directory(shared)
    plain = tmp_path / "file"
    plain.write_text("")
    with pytest.raises(statefile.StateError, match="not a directory"):
        statefile.prepare_directory(plain)


def test_lock_excludes_a_second_holder(directory: Path) -> None:
    with statefile.locked(directory, "h", "s"):
        with pytest.raises(statefile.StateError, match=r"still locked after 0\.2s"):
            with statefile.locked(directory, "h", "s", wait=0.2):
                pass
        # Another service is not held up.
        with statefile.locked(directory, "h", "other", wait=0.2):
            pass


WORKER = textwrap.dedent(
    """
    import sys
    from check_pop3_ipmon.core.record import replace
    from pathlib import Path
    from check_pop3_ipmon.alerting import statefile
    directory = Path(sys.argv[1])
    for _ in range(int(sys.argv[2])):
        with statefile.locked(directory, "h", "s") as slot:
            memory = slot.load()
            slot.save(replace(memory, failures=memory.failures + 1))
    """
)


def test_concurrent_handlers_lose_no_update(directory: Path) -> None:
    """Four processes, 40 read-modify-write rounds each: all 160 must land."""
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(directory), "40"]) for _ in range(4)
    ]
    assert [worker.wait(120) for worker in workers] == [0, 0, 0, 0]
    with statefile.locked(directory, "h", "s") as slot:
        assert slot.load().failures == 160
