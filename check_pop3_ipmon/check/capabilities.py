"""What a CAPA list (RFC 2449) offers, and the policies checked against it.

Pure functions on the sanitised CAPA lines the session recorded: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Optional

# SASL mechanisms that carry the password itself (RFC 4616; LOGIN is the
# de-facto draft-murchison-sasl-login).
PLAINTEXT_SASL = ("PLAIN", "LOGIN")


class Capabilities:
    """A CAPA list: each line is a tag and its arguments (RFC 2449 section 6)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.tags: dict[str, list[str]] = {}
        for line in lines:
            words = line.split()
            if words:
                self.tags[words[0].upper()] = [word.upper() for word in words[1:]]

    @property
    def sasl(self) -> list[str]:
        return self.tags.get("SASL", [])

    def offers(self, name: str) -> bool:
        """`name` is a tag ("TOP"), a SASL mechanism ("PLAIN"), or a tag with
        arguments that must all be listed ("SASL PLAIN", "EXPIRE NEVER")."""
        words = name.upper().split()
        if not words:
            return False
        tag, wanted = words[0], words[1:]
        if tag in self.tags:
            return all(word in self.tags[tag] for word in wanted)
        return not wanted and tag in self.sasl

    def plaintext_auth(self) -> list[str]:
        """The ways offered to send a password in clear: USER, SASL PLAIN/LOGIN."""
        offered = ["USER"] if "USER" in self.tags else []
        offered += [f"SASL {mech}" for mech in PLAINTEXT_SASL if mech in self.sasl]
        return offered


def normalise_name(name: str) -> Optional[str]:
    """A --require-capa NAME in canonical form, or None when it cannot be one."""
    words = name.upper().split()
    if not words or not all(_is_capa_word(word) for word in words):
        return None
    return " ".join(words)


def _is_capa_word(word: str) -> bool:
    return len(word) <= 64 and all(ch.isalnum() or ch in "-_." for ch in word)


def missing(
    required: Sequence[str],
    final: Optional[Sequence[str]],
    before_tls: Optional[Sequence[str]],
) -> list[str]:
    """The required names the server does not offer.

    STLS can only be listed before TLS, so it is looked for in the CAPA read
    before STLS; everything else in the CAPA of the session as it ends (after
    TLS when there is TLS: RFC 2595 makes the client forget the earlier one).
    A name whose CAPA was never read (the session failed first) is not judged.
    """
    absent = []
    for name in required:
        capa = before_tls if name == "STLS" else final
        if capa is not None and not Capabilities(capa).offers(name):
            absent.append(name)
    return absent
