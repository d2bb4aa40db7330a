"""pop3_ipmon_webhook against a real HTTP server on loopback.

The installed console script is run as an engine runs it: Icinga 2 style
(facts as --name=value arguments) and Nagios style (facts in NAGIOS_*
environment variables, only the config path on the command line).
"""

from __future__ import annotations

import os
import secrets
import ssl
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Optional

import pytest
import trustme

from check_pop3_ipmon.alerting import webhook
from tests.support.chatserver import ChatServer
from tests.support.integration import free_port
from tests.support.tinyproxy import TinyProxy

SCRIPT = Path(sys.executable).parent / "pop3_ipmon_webhook"
TOKEN = "T0K3N-" + secrets.token_hex(8)  # the part of the URL that must never show
PROBLEM_ARGS = [
    "--type=PROBLEM",
    "--host=mail1",
    "--service=POP3",
    "--monitor-name=Mail POP3 (head office)",
    "--state=CRITICAL",
    "--output=POP3 CRITICAL - connection refused",
    "--number=2",
    "--ipmon-state=Down",
    "--alert=2",
]
PROBLEM_TEXT = (
    "PROBLEM: Mail POP3 (head office) on mail1 is CRITICAL "
    "(ipMonitor Down, alert 2, notification 2) - POP3 CRITICAL - connection refused"
)


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def config(tmp_path: Path, chat: ChatServer) -> Path:
    url = chat.url(f"/hooks/{TOKEN}?channel=mail")
    return write_config(tmp_path / "webhook.ini", f"[webhook]\nurl = {url}\ntimeout = 5\n")


def run(
    config: Path, *args: str, env: Optional[Mapping[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(
        [str(SCRIPT), "--config", str(config), *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
        check=False,
    )


def test_icinga2_style_arguments_post_one_chat_line(config: Path, chat: ChatServer) -> None:
    result = run(config, *PROBLEM_ARGS)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    (post,) = chat.posts
    assert post.path == f"/hooks/{TOKEN}?channel=mail"
    assert post.headers["Content-Type"] == "application/json"
    assert post.body == {"text": PROBLEM_TEXT}


def test_nagios_style_environment_gives_the_same_message(config: Path, chat: ChatServer) -> None:
    env = {
        "NAGIOS_NOTIFICATIONTYPE": "PROBLEM",
        "NAGIOS_HOSTNAME": "mail1",
        "NAGIOS_SERVICEDESC": "POP3",
        "NAGIOS_SERVICEDISPLAYNAME": "Mail POP3 (head office)",
        "NAGIOS_SERVICESTATE": "CRITICAL",
        "NAGIOS_SERVICEOUTPUT": "POP3 CRITICAL - connection refused",
        "NAGIOS_SERVICENOTIFICATIONNUMBER": "2",
        "NAGIOS__SERVICEPOP3_IPMON_STATE": "Down",
        "NAGIOS__SERVICEPOP3_IPMON_ALERT": "2",
    }
    assert run(config, env=env).returncode == 0
    assert [post.body for post in chat.posts] == [{"text": PROBLEM_TEXT}]


def test_recovery_and_acknowledgement(config: Path, chat: ChatServer) -> None:
    recovery = ["--type=RECOVERY", "--host=mail1", "--service=POP3", "--state=OK"]
    assert run(config, *recovery, "--output=POP3 OK - 0.004 s", "--ipmon-state=Up").returncode == 0
    ack = ["--type=ACKNOWLEDGEMENT", "--host=mail1", "--service=POP3", "--state=CRITICAL"]
    assert run(config, *ack, "--author=alice", "--comment=disk full, on it").returncode == 0
    assert [post.body["text"] for post in chat.posts] == [
        "RECOVERY: POP3 on mail1 is OK (ipMonitor Up) - POP3 OK - 0.004 s",
        "ACKNOWLEDGEMENT: POP3 on mail1 is CRITICAL, by alice - disk full, on it",
    ]


def test_full_format_adds_the_facts(tmp_path: Path, chat: ChatServer) -> None:
    config = write_config(
        tmp_path / "full.ini", f"[webhook]\nurl = {chat.url('/in')}\nformat = full\n"
    )
    assert run(config, *PROBLEM_ARGS).returncode == 0
    (post,) = chat.posts
    assert post.body["text"] == PROBLEM_TEXT
    assert post.body["notification"] == {
        "type": "PROBLEM",
        "host": "mail1",
        "service": "POP3",
        "monitor_name": "Mail POP3 (head office)",
        "state": "CRITICAL",
        "output": "POP3 CRITICAL - connection refused",
        "number": "2",
        "author": "",
        "comment": "",
        "ipmon_state": "Down",
        "alert": "2",
    }


def test_hostile_output_cannot_ping_the_channel(config: Path, chat: ChatServer) -> None:
    banner = '--output=+OK <!channel> <https://evil.example|click> & "quotes" $(reboot)'
    assert run(config, "--type=PROBLEM", "--host=mail1", "--service=POP3", banner).returncode == 0
    (post,) = chat.posts
    assert post.body["text"] == (
        "PROBLEM: POP3 on mail1 (ipMonitor Down) - "
        "+OK &lt;!channel&gt; &lt;https://evil.example|click&gt; "
        '&amp; "quotes" $(reboot)'
    )


def test_an_http_error_is_one_line_without_the_token(config: Path, chat: ChatServer) -> None:
    chat.status = 500
    result = run(config, *PROBLEM_ARGS)
    assert result.returncode == 1
    assert result.stderr == (
        f"pop3_ipmon_webhook: not delivered: http://127.0.0.1:{chat.port}: "
        "HTTP 500 Internal Server Error\n"
    )


def test_a_server_that_never_answers_is_given_up_after_the_timeout(
    tmp_path: Path, chat: ChatServer
) -> None:
    chat.silent = True
    config = write_config(
        tmp_path / "slow.ini", f"[webhook]\nurl = {chat.url('/hooks/' + TOKEN)}\ntimeout = 1\n"
    )
    result = run(config, *PROBLEM_ARGS)
    assert (result.returncode, result.stderr) == (
        1,
        f"pop3_ipmon_webhook: not delivered: http://127.0.0.1:{chat.port}: no answer within 1s\n",
    )
    assert len(chat.posts) == 1


def test_a_refused_connection(tmp_path: Path) -> None:
    with ChatServer() as closed:
        url = closed.url("/hooks/" + TOKEN)
    config = write_config(tmp_path / "gone.ini", f"[webhook]\nurl = {url}\n")
    result = run(config, *PROBLEM_ARGS)
    assert result.returncode == 1
    assert result.stderr.startswith("pop3_ipmon_webhook: not delivered: http://127.0.0.1:")
    assert result.stderr.endswith(": Connection refused\n") and TOKEN not in result.stderr


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        (
            "[webhook]\nurl = http://127.0.0.1/x\n",
            0o644,
            "is readable by group or others (mode 0644): refused; chmod 600 it",
        ),
        ("[chat]\nurl = http://127.0.0.1/x\n", 0o600, "needs [webhook] with url ="),
        ("[webhook]\nurl = ftp://127.0.0.1/x\n", 0o600, "url must be https://HOST/..."),
        (f"[webhook]\nurl = https://u:{TOKEN}@h/x\n", 0o600, "url takes no user@"),
        ("[webhook]\nurl = http://h/x\ntimeout = 0\n", 0o600, "timeout must be seconds"),
        (
            "[webhook]\nurl = http://h/x\nformat = xml\n",
            0o600,
            "format must be text, full or teams",
        ),
        ("[webhook]\nurl = http://h/x\ntoken = 1\n", 0o600, "unknown setting(s) token"),
        (f"url = https://h/{TOKEN}\n", 0o600, "syntax error (MissingSectionHeaderError)"),
    ],
)
def test_a_bad_config_is_one_line_and_nothing_is_sent(
    tmp_path: Path, text: str, mode: int, message: str
) -> None:
    config = write_config(tmp_path / "bad.ini", text, mode)
    result = run(config, *PROBLEM_ARGS)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert TOKEN not in result.stderr


def test_missing_facts_are_named(config: Path, chat: ChatServer) -> None:
    result = run(config, "--host=mail1")
    assert (result.returncode, result.stderr) == (
        2,
        "pop3_ipmon_webhook: missing --type (or NAGIOS_NOTIFICATIONTYPE), "
        "--service (or NAGIOS_SERVICEDESC)\n",
    )
    assert chat.posts == []


def test_https_with_the_config_ca_file(tmp_path: Path) -> None:
    """A chat server with a private CA: verified against ca_file, by name."""
    ca = trustme.CA()
    with ChatServer() as chat:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(context)
        chat.httpd.socket = context.wrap_socket(chat.httpd.socket, server_side=True)
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        url = f"https://localhost:{chat.port}/hooks/{TOKEN}"
        good = write_config(tmp_path / "good.ini", f"[webhook]\nurl = {url}\nca_file = {ca_file}\n")
        assert run(good, *PROBLEM_ARGS).returncode == 0
        assert [post.body for post in chat.posts] == [{"text": PROBLEM_TEXT}]
        untrusted = write_config(tmp_path / "untrusted.ini", f"[webhook]\nurl = {url}\n")
        result = run(untrusted, *PROBLEM_ARGS)
        assert result.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in result.stderr
        assert len(chat.posts) == 1


def test_the_message_caps_each_value() -> None:
    facts = webhook.notification(
        {"type": "PROBLEM", "output": "x" * 5000},
        {
            "NAGIOS_HOSTNAME": "mail1",
            "NAGIOS_SERVICEDESC": "POP3",
        },
    )
    assert len(facts.output) == webhook.MAX_VALUE
    assert (
        webhook.message_text(facts)
        == "PROBLEM: POP3 on mail1 (ipMonitor Down) - " + "x" * webhook.MAX_VALUE
    )


def test_hostile_text_cannot_mention_everyone_or_post_links(config: Path, chat: ChatServer) -> None:
    """Mattermost and Rocket.Chat: @channel/@here/@all and Markdown links and images
    are broken by a zero-width space; the text itself still reads the same."""
    banner = "--output=+OK @channel @here @all ![x](https://evil.example/t.png) [login](https://evil.example)"
    assert run(config, "--type=PROBLEM", "--host=mail1", "--service=POP3", banner).returncode == 0
    (post,) = chat.posts
    z = "\u200b"
    assert post.body["text"] == (
        f"PROBLEM: POP3 on mail1 (ipMonitor Down) - +OK @{z}channel @{z}here @{z}all "
        f"![x]{z}(https://evil.example/t.png) [login]{z}(https://evil.example)"
    )
    # A mail address, or an @ alone, is no mention and no markup.
    facts = webhook.notification(
        {"type": "PROBLEM", "output": "mail to a@b - @ 5 [1] (2)"},
        {"NAGIOS_HOSTNAME": "m", "NAGIOS_SERVICEDESC": "s"},
    )
    assert (
        webhook.message_text(facts)
        == f"PROBLEM: s on m (ipMonitor Down) - mail to a@{z}b - @ 5 [1] (2)"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"https://chat.example/hooks/{TOKEN} x", "url holds a space or control character"),
        (f"https://chat.example/hooks/{TOKEN}\x7f", "url holds a space or control character"),
        (f"https://chat.example/hooks/{TOKEN}\u00e9", "url holds non-ASCII characters"),
        (f"https://ch\u00e4t.example/hooks/{TOKEN}", "url holds non-ASCII characters"),
    ],
)
def test_a_url_that_cannot_be_sent_is_one_line_without_the_token(
    tmp_path: Path, url: str, message: str
) -> None:
    path = tmp_path / "webhook.ini"
    path.write_bytes(f"[webhook]\nurl = {url}\n".encode())
    path.chmod(0o600)
    result = run(path, *PROBLEM_ARGS)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"pop3_ipmon_webhook: config {path}: {message}")
    assert result.stderr.count("\n") == 1 and TOKEN not in result.stderr, result.stderr


def test_teams_gets_an_adaptive_card(tmp_path: Path, chat: ChatServer) -> None:
    url = chat.url(f"/workflows/{TOKEN}")
    config = write_config(tmp_path / "teams.ini", f"[webhook]\nurl = {url}\nformat = teams\n")
    assert run(config, *PROBLEM_ARGS).returncode == 0
    (post,) = chat.posts
    assert post.body == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{"type": "TextBlock", "text": PROBLEM_TEXT, "wrap": True}],
                },
            }
        ],
    }


@pytest.fixture
def https_chat(tmp_path: Path) -> Iterator[tuple[ChatServer, Path]]:
    """A chat server on https://localhost:PORT with a private CA, and a config for it."""
    ca = trustme.CA()
    with ChatServer() as chat:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(context)
        chat.httpd.socket = context.wrap_socket(chat.httpd.socket, server_side=True)
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        url = f"https://localhost:{chat.port}/hooks/{TOKEN}"
        config = write_config(
            tmp_path / "tls.ini", f"[webhook]\nurl = {url}\nca_file = {ca_file}\ntimeout = 10\n"
        )
        yield chat, config


@pytest.fixture
def squid(tmp_path: Path) -> Iterator[TinyProxy]:
    directory = tmp_path / "proxy"
    directory.mkdir()
    with TinyProxy(directory, basic_auth="monitor:pr0xy-pw") as server:
        yield server


def test_https_goes_through_the_proxy_https_proxy_names(
    https_chat: tuple[ChatServer, Path], squid: TinyProxy
) -> None:
    """CONNECT, then TLS with the chat itself: the proxy never sees the token."""
    chat, config = https_chat
    proxy_url = squid.url.replace("http://", "http://monitor:pr0xy-pw@")
    for variable in ("https_proxy", "HTTPS_PROXY"):
        result = run(config, *PROBLEM_ARGS, env={variable: proxy_url})
        assert (result.returncode, result.stderr) == (0, "")
    assert [post.body for post in chat.posts] == [{"text": PROBLEM_TEXT}] * 2
    assert squid.requests() == [f"CONNECT localhost:{chat.port}"] * 2
    assert TOKEN not in squid.log.read_text()


def test_no_proxy_reaches_the_host_directly(
    https_chat: tuple[ChatServer, Path], squid: TinyProxy
) -> None:
    chat, config = https_chat
    for no_proxy in ("localhost", "example.com,.localhost,localhost", "*"):
        env = {"https_proxy": squid.url, "no_proxy": no_proxy}
        assert run(config, *PROBLEM_ARGS, env=env).returncode == 0
    assert len(chat.posts) == 3 and squid.requests() == []


def test_plain_http_goes_through_the_proxy_http_proxy_names(
    config: Path, chat: ChatServer, squid: TinyProxy
) -> None:
    proxy_url = squid.url.replace("http://", "http://monitor:pr0xy-pw@")
    result = run(config, *PROBLEM_ARGS, env={"http_proxy": proxy_url, "https_proxy": "http://x:1"})
    assert (result.returncode, result.stderr) == (0, "")
    assert [post.body for post in chat.posts] == [{"text": PROBLEM_TEXT}]
    assert squid.requests() == [f"POST http://127.0.0.1:{chat.port}/hooks/{TOKEN}?channel=mail"]


def test_a_proxy_refusing_or_gone_is_one_line_without_secrets(
    https_chat: tuple[ChatServer, Path], squid: TinyProxy
) -> None:
    chat, config = https_chat
    # tinyproxy answers a CONNECT with a wrong password 401 (not 407).
    wrong = squid.url.replace("http://", "http://monitor:WRONG-pw@")
    result = run(config, *PROBLEM_ARGS, env={"https_proxy": wrong})
    assert (result.returncode, result.stderr) == (
        1,
        f"pop3_ipmon_webhook: not delivered: https://localhost:{chat.port} via proxy "
        f"{squid.url}: Tunnel connection failed: 401 Unauthorized\n",
    )
    gone = f"http://127.0.0.1:{free_port()}"
    result = run(config, *PROBLEM_ARGS, env={"https_proxy": gone})
    assert (result.returncode, result.stderr) == (
        1,
        f"pop3_ipmon_webhook: not delivered: https://localhost:{chat.port} via proxy "
        f"{gone}: Connection refused\n",
    )
    result = run(config, *PROBLEM_ARGS, env={"https_proxy": "socks5://127.0.0.1:1080"})
    assert (result.returncode, result.stderr) == (
        1,
        "pop3_ipmon_webhook: not delivered: https_proxy must be http://HOST:PORT\n",
    )
    assert chat.posts == []
