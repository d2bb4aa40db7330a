"""The session's own deadline where no server is involved: a resolver that hangs."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from check_pop3_ipmon.check import session


def test_hanging_resolver_is_cut_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(*args: Any, **kwargs: Any) -> Any:
        time.sleep(5)
        raise socket.gaierror(socket.EAI_AGAIN, "too late")

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    result = session.probe(session.Settings(host="pop.example.test", port=110, timeout=0.3))
    assert result.failure == session.Failure(session.TIMEOUT, "no DNS answer within 0.3s")
    assert result.total < 2  # the lookup thread is abandoned, not waited for


def test_resolver_error_is_reported_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    result = session.probe(session.Settings(host="pop.example.test", port=110, timeout=1))
    assert result.failure == session.Failure(
        session.RESOLVE, "cannot resolve pop.example.test: Name or service not known"
    )
