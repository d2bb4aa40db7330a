"""The one error every engine's side raises: what the handler catches."""

from __future__ import annotations


class EngineError(Exception):
    """An action could not be formed or delivered to the engine."""
