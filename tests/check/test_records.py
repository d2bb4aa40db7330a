"""The records' one declaration: fields from annotations, defaults, factories, errors."""

from __future__ import annotations

import pytest

from check_pop3_ipmon.check import failures
from check_pop3_ipmon.check.cli import Options, parse
from check_pop3_ipmon.check.link import LinkResult
from check_pop3_ipmon.check.pop3 import ProbeResult, Settings


def test_fields_come_from_the_annotations_base_first() -> None:
    assert Settings.fields()[:3] == ("host", "port", "timeout")
    assert "login" in Settings.fields() and "tls" in Settings.fields()
    assert ProbeResult.fields()[0] == "settings"
    assert set(LinkResult.fields()) < set(ProbeResult.fields())


def test_defaults_and_fresh_factories() -> None:
    settings = Settings("127.0.0.1", 110, 10)
    one, two = ProbeResult(settings), ProbeResult(settings)
    one.timings["connect"] = 1.0
    assert two.timings == {} and one.tried is not two.tried
    assert settings.tls == "none" and settings.probe == ()
    assert Settings("h", 1, 2.0, tls="implicit") == Settings(
        host="h", port=1, timeout=2.0, tls="implicit"
    )


def test_bad_construction_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="missing argument 'timeout'"):
        Settings("h", 1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected arguments"):
        Settings("h", 1, 2, colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="keyword arguments only"):
        Options(Settings("h", 1, 2))  # type: ignore[misc]


def test_every_options_field_is_filled_from_the_command_line() -> None:
    options = parse(["-H", "127.0.0.1", "-w", "2", "--busy-state", "2", "-M", "3"])
    assert (options.warning, options.busy_state, options.mismatch_state) == ("2", 2, 3)


@pytest.mark.parametrize("name", sorted(failures.KINDS))
def test_each_overridable_kind_names_an_options_field(name: str) -> None:
    kind = failures.KINDS[name]
    if kind.attribute is not None:
        assert kind.attribute in Options.fields()
        options = parse(["-H", "127.0.0.1", "-r", "0", "--timeout-state", "1", "--busy-state", "3"])
        state = failures.state_of(name, options)
        assert state == getattr(options, kind.attribute) != kind.state
        assert failures.text_of(name, "x", options).endswith(f" as asked by {kind.flag}")
    else:
        assert failures.text_of(name, "x", object()) == "x"
