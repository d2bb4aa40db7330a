"""Which HTTP proxy the environment names for a URL, as urllib.request reads it.

An enterprise network reaches a cloud chat only through its proxy, named in
https_proxy / http_proxy (lower case first, then upper case, as curl and
urllib do), with no_proxy for the hosts reached directly. The webhook talks
http.client itself (one deadline over the whole request, nothing logged
with the token), so it asks here what urllib.request would have used.
"""

from __future__ import annotations

import base64
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional


class ProxyError(Exception):
    """The proxy setting cannot be used; one line, without its password."""


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: Optional[str] = None  # the Proxy-Authorization header, from user:password@
    shown: str = ""  # http://HOST:PORT, for messages

    @property
    def headers(self) -> dict[str, str]:
        return {"Proxy-Authorization": self.authorization} if self.authorization else {}


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    """urllib.request.getproxies_environment() over `env` instead of os.environ."""
    proxies: dict[str, str] = {}
    # Any case first, then lower case again: lower case (curl's) wins.
    for lower_only in (False, True):
        for name, value in env.items():
            key = name.lower()
            if key.endswith("_proxy") and (not lower_only or name == key):
                if value:
                    proxies[key[: -len("_proxy")]] = value
                elif lower_only:
                    proxies.pop(key[: -len("_proxy")], None)
    # A CGI program's HTTP_PROXY is a request header (httpoxy): urllib ignores it.
    if "REQUEST_METHOD" in env:
        proxies.pop("http", None)
        if "http_proxy" in env:
            proxies["http"] = env["http_proxy"]
    return proxies


def _parse(setting: str, variable: str) -> Proxy:
    text = setting if "://" in setting else "http://" + setting
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port or 3128
    except ValueError:
        raise ProxyError(f"{variable} is not a proxy URL (http://HOST:PORT)") from None
    if parts.scheme != "http" or not parts.hostname:
        # http.client speaks plain HTTP to a proxy (CONNECT for https targets).
        raise ProxyError(f"{variable} must be http://HOST:PORT")
    authorization = None
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        authorization = f"Basic {token}"
    host = parts.hostname
    shown_host = f"[{host}]" if ":" in host else host
    return Proxy(host, port, authorization, f"http://{shown_host}:{port}")


def for_url(url: str, env: Mapping[str, str]) -> Optional[Proxy]:
    """The proxy to reach `url` through, or None for a direct connection."""
    parts = urllib.parse.urlsplit(url)
    proxies = _environment(env)
    setting = proxies.get(parts.scheme)
    if not setting:
        return None
    host = parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    # no_proxy read by urllib's own rules (suffixes, ports, "*"); typeshed
    # leaves the function out, though urllib.request has had it since 3.2.
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if bypass(netloc, proxies):
        return None
    return _parse(setting, f"{parts.scheme}_proxy")
