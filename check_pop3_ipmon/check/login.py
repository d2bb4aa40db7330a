"""What a login is: the credentials and the method, shared by the session and auth."""

from __future__ import annotations

from check_pop3_ipmon.check.record import Record

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Optional

AUTH_USER, AUTH_APOP, AUTH_PLAIN = "user", "apop", "plain"
AUTH_METHODS = (AUTH_USER, AUTH_APOP, AUTH_PLAIN)


class Login(Record):
    username: str
    password: str
    method: Optional[str] = None  # one of AUTH_METHODS; None: the best the server offers
    allow_plaintext: bool = False  # USER/PASS or PLAIN without TLS

    def __repr__(self) -> str:
        return (
            f"Login(username={self.username!r}, password=<hidden>, method={self.method!r}, "
            f"allow_plaintext={self.allow_plaintext!r})"
        )
