"""URLs as a log may show them: without user information or query.

An administrator may put a password in a URL (`https://user:pw@host:5665`)
or a token in its query (`?key=...`); logs and syslog are read by more
people than the configuration. Every URL the handlers log, on its own or
inside an error message, goes through here first.
"""

from __future__ import annotations

import re
import urllib.parse

HIDDEN = "***"
# A URL in running text: up to white space or a quote, without the
# punctuation that ends a sentence or a clause after it.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,:;)]")


def url(text: str) -> str:
    """The URL with its user information and query (and fragment) replaced."""
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return f"(a URL that does not parse, {HIDDEN})"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rpartition('@')[2]}"
    query = HIDDEN if parts.query else ""
    fragment = HIDDEN if parts.fragment else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def origin(text: str) -> str:
    """Scheme and host only: for a webhook, whose path is the secret itself."""
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return f"(a URL that does not parse, {HIDDEN})"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def urls_in(text: str) -> str:
    """`text` (an error message, say) with every URL in it redacted."""
    return _URL.sub(lambda found: url(found.group(0)), text)
