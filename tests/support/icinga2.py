"""A real Icinga 2 from a temporary directory, for end-to-end tests.

`icinga2 daemon -c <temp config>` as root, with DataDir, LogDir, CacheDir,
SpoolDir, InitRunDir and ConfigDir redirected into the work directory, so the
system's instance and other tests never meet it. It includes the ITL's <itl>
and <plugins>, as Debian's icinga2.conf does (the CheckCommand imports the
ITL's "ipv4-or-ipv6"). The REST API listens on a
free loopback port with certificates from a throw-away CA (its ca.crt in
DataDir/certs as Icinga 2 keeps it); the test talks to it as a user with all
permissions and can follow the event stream (check results, notifications).

    icinga = Icinga2(workdir, [commands.conf, ...], constants={"PluginDir": "/bin"})
    icinga.validate()                      # icinga2 daemon -C
    icinga.start(); icinga.follow_events()
    icinga.api("GET", "/v1/objects/services/h!s")
    icinga.check_results("h", "s"); icinga.stop()
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import trustme

from tests.support.integration import (
    find_program,
    free_port,
    require_root,
    stop_process_group,
    wait_until,
)

TEST_USER = "pop3-ipmon-test"


def string(text: str) -> str:
    """An Icinga 2 DSL string literal."""
    return json.dumps(text)


class Icinga2:
    def __init__(
        self,
        workdir: Path,
        config_files: Sequence[Path],
        constants: Optional[Mapping[str, str]] = None,
        node_name: str = "localhost",
        extra_config: str = "",
        *,
        endpoint_address: bool = False,
    ) -> None:
        require_root("Icinga 2")
        self.binary = find_program("icinga2", "icinga2-bin")
        self.workdir = workdir
        self.dirs = {
            name: workdir / sub
            for name, sub in (
                ("DataDir", "data"),
                ("LogDir", "log"),
                ("CacheDir", "cache"),
                ("SpoolDir", "spool"),
                ("InitRunDir", "run"),
                ("ConfigDir", "etc"),
            )
        }
        for path in self.dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        self.node_name = node_name
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.log = self.dirs["LogDir"] / "icinga2.log"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.events: list[dict[str, Any]] = []
        self._stream: Optional[http.client.HTTPSConnection] = None
        self._make_certificates()
        self.config = workdir / "icinga2.conf"
        constants = dict(constants or {})
        if "PluginDir" in constants:
            # As Debian's constants.conf: third-party plugins beside the others.
            constants.setdefault("PluginContribDir", constants["PluginDir"])
        defined = "".join(f"const {name} = {string(value)}\n" for name, value in constants.items())
        includes = "".join(f"include {string(str(path))}\n" for path in config_files)
        # Where the node's own API is, for a client that reads it from the
        # Endpoint object (Icinga Director's kickstart; the port is not 5665).
        endpoint = (
            f"host = {string('127.0.0.1')}\n  port = {string(str(self.port))}"
            if endpoint_address
            else ""
        )
        self.config.write_text(
            f"""\
include <itl>
const NodeName = {string(node_name)}
const ZoneName = NodeName
{defined}
include <plugins>
object Endpoint NodeName {{ {endpoint} }}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
object ApiListener "api" {{
  bind_host = "127.0.0.1"
  bind_port = {self.port}
  accept_config = false
  accept_commands = false
}}
object ApiUser {string(TEST_USER)} {{
  password = {string(self.password)}
  permissions = [ "*" ]
}}
object CheckerComponent "checker" {{}}
object NotificationComponent "notification" {{}}
object FileLogger "main-log" {{
  path = LogDir + "/icinga2.log"
  severity = "notice"
}}
{extra_config}
{includes}"""
        )

    def _make_certificates(self) -> None:
        certs = self.dirs["DataDir"] / "certs"
        certs.mkdir(exist_ok=True)
        self.ca = trustme.CA(key_type=trustme.KeyType.RSA)
        cert = self.ca.issue_cert(
            self.node_name, "127.0.0.1", common_name=self.node_name, key_type=trustme.KeyType.RSA
        )
        self.ca.cert_pem.write_to_path(str(certs / "ca.crt"))
        cert.cert_chain_pems[0].write_to_path(str(certs / f"{self.node_name}.crt"))
        cert.private_key_pem.write_to_path(str(certs / f"{self.node_name}.key"))
        self.ca_file = certs / "ca.crt"

    def arguments(self) -> list[str]:
        defines = [f"-D{name}={path}" for name, path in self.dirs.items()]
        return [*defines, "-DRunAsUser=root", "-DRunAsGroup=root", "-c", str(self.config)]

    def validate(self) -> subprocess.CompletedProcess[str]:
        """`icinga2 daemon -C`: the configuration check an administrator runs."""
        return subprocess.run(
            [self.binary, "daemon", "-C", *self.arguments()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def start(self, wait: float = 60.0) -> None:
        self.process = subprocess.Popen(
            [self.binary, "daemon", *self.arguments()],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=open(self.workdir / "icinga2.out", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = self.process
        wait_until(
            lambda: process.poll() is not None or self._answers(),
            wait,
            "the Icinga 2 API",
        )
        if process.poll() is not None:
            raise RuntimeError(f"icinga2 exited: {self.diagnostics()}")

    def _answers(self) -> bool:
        try:
            self.api("GET", "/v1/status/IcingaApplication")
        except (OSError, http.client.HTTPException, RuntimeError):
            return False
        return True

    def diagnostics(self) -> str:
        parts = []
        for path in (self.workdir / "icinga2.out", self.log):
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def _connection(self, timeout: float = 10.0) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=timeout)

    def _headers(self) -> dict[str, str]:
        from base64 import b64encode

        token = b64encode(f"{TEST_USER}:{self.password}".encode()).decode()
        return {
            "Authorization": f"Basic {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def api(self, method: str, path: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        connection = self._connection()
        try:
            headers = self._headers()
            if method == "GET" and body is not None:
                headers["X-HTTP-Method-Override"] = "GET"
                method = "POST"
            data = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status} {payload[:500]!r}")
        return json.loads(payload)

    def service(self, host: str, service: str) -> dict[str, Any]:
        name = "!".join(urllib.parse.quote(part, safe="") for part in (host, service))
        result = self.api("GET", f"/v1/objects/services/{name}")
        return dict(result["results"][0]["attrs"])

    def follow_events(self, types: Sequence[str] = ("CheckResult", "Notification")) -> None:
        """Collect the API's event stream into self.events until stop()."""
        connection = self._connection(timeout=3600)
        body = json.dumps({"queue": f"test-{secrets.token_hex(4)}", "types": list(types)})
        connection.request("POST", "/v1/events", body=body.encode(), headers=self._headers())
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"event stream: HTTP {response.status} {response.read(300)!r}")
        self._stream = connection

        def read() -> None:
            try:
                while True:
                    line = response.readline()
                    if not line:
                        return
                    if line.strip():
                        self.events.append(json.loads(line))
            except (OSError, ValueError, http.client.HTTPException):
                return

        threading.Thread(target=read, daemon=True, name="icinga2-events").start()

    def check_results(self, host: str, service: str) -> list[dict[str, Any]]:
        """Every check result of the service seen on the event stream, in order."""
        return [
            event["check_result"]
            for event in list(self.events)
            if event.get("type") == "CheckResult"
            and event.get("host") == host
            and event.get("service") == service
        ]

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self.process is None:
            return
        stop_process_group(self.process, 30)
        self.process = None


def keep_secret(path: Path, text: str) -> Path:
    """A file only its owner can read (the handler refuses anything else)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path
