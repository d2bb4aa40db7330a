"""pop3_ipmon_webhook: a notification command that posts the alert to a chat webhook.

Nagios runs it with the notification in its environment (NAGIOS_*, with
enable_environment_macros=1) and nothing but the config path on the command
line, so no macro ever reaches a shell; Icinga 2 passes the same facts as
arguments. The webhook URL carries the chat's secret token: it comes only
from a config file its owner alone may read, and is never printed.

The body is the JSON most chat webhooks take ({"text": ...}: Slack,
Mattermost, Rocket.Chat, Zulip's Slack-compatible hook); `format = full` adds
the facts as a "notification" object for a receiver of your own; `format =
teams` sends an Adaptive Card, which Microsoft Teams' workflow webhooks take.
The request goes through the proxy that https_proxy / http_proxy name,
unless no_proxy lists the host (alerting/proxy.py), as urllib's would.

Exit status: 0 posted (HTTP 2xx), 1 not delivered (refused, unreachable,
no answer within the timeout, HTTP error), 2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import http.client
import json
import os
import re
import signal
import ssl
import sys
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import NoReturn, Optional

from check_pop3_ipmon import __version__
from check_pop3_ipmon.alerting import proxy
from check_pop3_ipmon.core import redact
from check_pop3_ipmon.core.private_files import PrivateFileError, read_text

PROG = "pop3_ipmon_webhook"
MAX_VALUE = 1000  # characters per fact: a chat line, not a log file
MAX_ANSWER = 65536
FORMATS = ("text", "full", "teams")

# Each fact: its option, and the Nagios environment variable it falls back to.
FACTS = (
    ("type", "NAGIOS_NOTIFICATIONTYPE"),
    ("host", "NAGIOS_HOSTNAME"),
    ("service", "NAGIOS_SERVICEDESC"),
    ("monitor_name", "NAGIOS_SERVICEDISPLAYNAME"),
    ("state", "NAGIOS_SERVICESTATE"),
    ("output", "NAGIOS_SERVICEOUTPUT"),
    ("number", "NAGIOS_SERVICENOTIFICATIONNUMBER"),
    ("author", "NAGIOS_NOTIFICATIONAUTHOR"),
    ("comment", "NAGIOS_NOTIFICATIONCOMMENT"),
    ("ipmon_state", "NAGIOS__SERVICEPOP3_IPMON_STATE"),
    ("alert", "NAGIOS__SERVICEPOP3_IPMON_ALERT"),
)
REQUIRED = ("type", "host", "service")


class WebhookError(Exception):
    """Not delivered; one line, without the URL's secret parts."""


class ConfigError(Exception):
    """The config file cannot be used; one line."""


@dataclass(frozen=True)
class Notification:
    type: str
    host: str
    service: str
    monitor_name: str = ""
    state: str = ""
    output: str = ""
    number: str = ""
    author: str = ""
    comment: str = ""
    ipmon_state: str = ""
    alert: str = ""


@dataclass(frozen=True)
class Config:
    url: str
    ca_file: Optional[Path] = None
    timeout: float = 10.0
    format: str = "text"

    @property
    def shown(self) -> str:
        """The URL without path, query or user: those may hold the token."""
        return redact.origin(self.url)


def notification(given: Mapping[str, Optional[str]], env: Mapping[str, str]) -> Notification:
    """The facts from the options, else from Nagios' environment macros."""
    values: dict[str, str] = {}
    for name, variable in FACTS:
        value = given.get(name)
        if value is None:
            value = env.get(variable, "")
        values[name] = value[:MAX_VALUE]
    missing = [name for name in REQUIRED if not values[name]]
    if missing:
        wanted = ", ".join(f"--{name} (or {dict(FACTS)[name]})" for name in missing)
        raise ConfigError(f"missing {wanted}")
    _describe_the_alert(values, nagios_number=given.get("number") is None)
    return Notification(**values)


# A zero-width space: invisible in the chat, but it breaks what follows it
# as markup.
_BREAK = "\u200b"
# Mattermost's and Rocket.Chat's mentions (@channel, @here, @all, @user).
_MENTION = re.compile(r"@(?=\w)")
# Markdown's links and images: [label](target), ![alt](target). With the
# break between ] and ( it is neither: the text stays, the link (or the
# image fetched from an address of the sender's choosing) does not.
_LINK = re.compile(r"\](?=\()")


def _describe_the_alert(values: dict[str, str], nagios_number: bool) -> None:
    """ipMonitor's state and alert as of the notification being sent.

    The handler sets the service's variables after the engine notified for
    a result, so they hold the test before (Warn, alert 0 at PROBLEM 1).
    The type says more: a PROBLEM is always Down, its alert the engine's
    number; a RECOVERY is Up, and Nagios (which counts the recovery too)
    sent its number less one PROBLEMs. Others (ACKNOWLEDGEMENT) keep them.
    """
    kind, number = values["type"], values["number"]
    if kind == "PROBLEM":
        values["ipmon_state"] = "Down"
        if number.isdigit():
            values["alert"] = number
    elif kind == "RECOVERY":
        values["ipmon_state"] = "Up"
        if nagios_number and number.isdigit() and int(number) > 0:
            values["alert"] = str(int(number) - 1)


def _chat(text: str) -> str:
    # Slack's control sequences (<!channel>, <@user>, <url|label>) live in
    # angle brackets; the others' mentions and Markdown are broken with a
    # zero-width space: a server's banner must not page a whole channel, nor
    # put a link or a tracking image into it.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MENTION.sub("@" + _BREAK, text)
    return _LINK.sub("]" + _BREAK, text)


def message_text(n: Notification) -> str:
    """One chat line: what happened to which monitor, then the test's output."""
    head = f"{n.type}: {n.monitor_name or n.service} on {n.host}"
    if n.state:
        head += f" is {n.state}"
    ipmon = [f"ipMonitor {n.ipmon_state}"] if n.ipmon_state else []
    if n.alert and n.alert != "0":
        ipmon.append(f"alert {n.alert}")
    if n.number and n.number != "0":
        ipmon.append(f"notification {n.number}")
    if ipmon:
        head += f" ({', '.join(ipmon)})"
    if n.author:
        head += f", by {n.author}"
    parts = [head] + [part for part in (n.output, n.comment) if part]
    return _chat(" - ".join(parts))


def _teams(text: str) -> dict[str, object]:
    """An Adaptive Card in a message: what a Teams workflow ("Post to a channel
    when a webhook request is received") takes; Markdown in a TextBlock is
    broken by _chat as in the other chats."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [{"type": "TextBlock", "text": text, "wrap": True}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def body(n: Notification, config: Config) -> bytes:
    if config.format == "teams":
        return json.dumps(_teams(message_text(n))).encode("utf-8")
    payload: dict[str, object] = {"text": message_text(n)}
    if config.format == "full":
        payload["notification"] = asdict(n)
    return json.dumps(payload).encode("utf-8")


def _url(text: str) -> str:
    # Said without the URL, whose path is the token. http.client would send a
    # space or control character as part of the request line (and quote the
    # URL in its error) and fail on a non-ASCII one with a traceback.
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ConfigError("url holds a space or control character: percent-encode it")
    if not text.isascii():
        raise ConfigError(
            "url holds non-ASCII characters: percent-encode them (and give the host in punycode)"
        )
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        raise ConfigError("url does not parse") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError("url must be https://HOST/... (or http://)")
    if parts.username is not None or parts.fragment:
        raise ConfigError("url takes no user@ and no #fragment")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError("url has a bad port") from None
    return text


def read_config(path: Path) -> Config:
    """[webhook] url = ..., optional ca_file, timeout (seconds), format (text or full)."""
    try:
        text = read_text(path, f"config {path}", secret=True)
    except PrivateFileError as exc:
        raise ConfigError(str(exc)) from None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, str(path))
    except configparser.Error as exc:
        # Its message may quote a line, and a line may be the URL.
        raise ConfigError(f"config {path}: syntax error ({type(exc).__name__})") from None
    if not parser.has_section("webhook") or "url" not in parser["webhook"]:
        raise ConfigError(f"config {path}: needs [webhook] with url =")
    values = dict(parser["webhook"])
    unknown = sorted(set(values) - {"url", "ca_file", "timeout", "format"})
    if unknown:
        raise ConfigError(f"config {path}: unknown setting(s) {', '.join(unknown)}")
    try:
        timeout = float(values.get("timeout", "10"))
    except ValueError:
        timeout = 0.0
    if not 0 < timeout <= 300:
        raise ConfigError(f"config {path}: timeout must be seconds from 0 to 300")
    form = values.get("format", "text")
    if form not in FORMATS:
        raise ConfigError(f"config {path}: format must be text, full or teams")
    try:
        url = _url(values["url"].strip())
    except ConfigError as exc:
        raise ConfigError(f"config {path}: {exc}") from None
    ca_file = Path(values["ca_file"]) if values.get("ca_file") else None
    return Config(url, ca_file, timeout, form)


class _Expired(Exception):
    pass


def _expire(signum: int, frame: Optional[FrameType]) -> NoReturn:
    raise _Expired


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """The whole request, however slowly a server drips its answer (SIGALRM: main thread)."""
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _context(config: Config) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise WebhookError(f"ca_file {config.ca_file}: {exc}") from None


def _connection(
    config: Config, via: Optional[proxy.Proxy]
) -> tuple[http.client.HTTPConnection, str]:
    """The connection to open, and the request target to send on it."""
    parts = urllib.parse.urlsplit(config.url)
    host, port = parts.hostname or "", parts.port
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "http":
        if via is None:
            return http.client.HTTPConnection(host, port, timeout=config.timeout), target
        # A plain-HTTP target through a proxy: the absolute URL, as urllib sends it.
        connection = http.client.HTTPConnection(via.host, via.port, timeout=config.timeout)
        return connection, config.url
    context = _context(config)
    if via is None:
        connection = http.client.HTTPSConnection(
            host, port, timeout=config.timeout, context=context
        )
        return connection, target
    # CONNECT through the proxy, then TLS with the chat server itself: the
    # certificate is checked against the chat's name, the proxy sees no token.
    connection = http.client.HTTPSConnection(
        via.host, via.port, timeout=config.timeout, context=context
    )
    connection.set_tunnel(host, port, headers=via.headers)
    return connection, target


def post(config: Config, data: bytes, env: Optional[Mapping[str, str]] = None) -> None:
    """POST the body; WebhookError unless the answer is 2xx within the timeout."""
    try:
        via = proxy.for_url(config.url, os.environ if env is None else env)
    except proxy.ProxyError as exc:
        raise WebhookError(str(exc)) from None
    shown = config.shown + (f" via proxy {via.shown}" if via else "")
    headers = {"Content-Type": "application/json", "User-Agent": f"{PROG}/{__version__}"}
    if via is not None and urllib.parse.urlsplit(config.url).scheme == "http":
        headers.update(via.headers)
    connection, target = _connection(config, via)
    try:
        with _deadline(config.timeout):
            connection.request("POST", target, body=data, headers=headers)
            response = connection.getresponse()
            response.read(MAX_ANSWER)
    except _Expired:
        raise WebhookError(f"{shown}: no answer within {config.timeout:g}s") from None
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise WebhookError(f"{shown}: {reason}") from None
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise WebhookError(f"{shown}: HTTP {response.status} {response.reason}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Post a notification to a chat webhook. Facts not given as options "
        "come from Nagios' environment macros (NAGIOS_NOTIFICATIONTYPE, NAGIOS_HOSTNAME, ...).",
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        required=True,
        help="INI file, mode 0600: [webhook] url = ..., ca_file, timeout (10), "
        "format (text, full or teams)",
    )
    for name, variable in FACTS:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"else ${variable}")
    return parser


def main(argv: Optional[Sequence[str]] = None, env: Optional[Mapping[str, str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = read_config(args.config)
        facts = notification(vars(args), os.environ if env is None else env)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        post(config, body(facts, config), env)
    except WebhookError as exc:
        print(f"{PROG}: not delivered: {exc}", file=sys.stderr)
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
