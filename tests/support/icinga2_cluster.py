"""Real Icinga 2 clusters on loopback: masters, satellites, agents, an HA pair.

Each node is a stock installation in its own directory: a copy of /etc/icinga2
as its ConfigDir, and every icinga2 command (node setup, pki, daemon) run with
-DDataDir= -DLogDir= -DCacheDir= -DSpoolDir= -DInitRunDir= -DConfigDir=
-DZonesDir= pointing into that directory, so nodes never share a file with
each other, with the system's instance or with other tests. Each listens on
its own free loopback port.

Certificates and configuration are what `icinga2 node setup` leaves:

  master      node setup --master (its own CA)
  satellite,  pki save-cert from the signing master, pki ticket on it,
  agent,      node setup --ticket ... --accept-config --accept-commands
  2nd master  (the certificate is signed at once, through the ticket)

All with --disable-confd (the example services of conf.d would only add load).
The harness then adds only what an administrator adds by hand: the child's
Endpoint and Zone in its parents' zones.conf, the HA pair's zones.conf, the
plugin's directory (PluginContribDir in constants.conf), the configuration in
the config master's zones.d (synced to the children) and, for the test's own
eyes, an ApiUser on every node. Anything else a topology needs (a feature
node setup disables) the test does itself, through Node.feature().

The test follows every node's event stream (/v1/events); a node that reloads
after a config sync, or is restarted, is subscribed again.

    cluster = Cluster(tmp_path / "cluster", plugin_dir=BIN)
    master = cluster.master("master1")
    satellite = cluster.child("satellite", zone="satellite", parent=[master])
    cluster.zone_file("satellite", "hosts.conf", "object Host ...")
    cluster.start()                    # every node, with its zones.conf
    satellite.wait_for_object("services", "h!s")
    master.events, satellite.check_results("h", "s"); cluster.stop()
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, Optional

from tests.support.icinga2 import TEST_USER, Icinga2, string
from tests.support.integration import (
    find_program,
    free_port,
    require_root,
    stop_process_group,
)

STOCK_CONFIG = Path("/etc/icinga2")
DIRECTORIES = (
    ("DataDir", "data"),
    ("LogDir", "log"),
    ("CacheDir", "cache"),
    ("SpoolDir", "spool"),
    ("InitRunDir", "run"),
    ("ConfigDir", "etc"),
    ("ZonesDir", "etc/zones.d"),
)
TEST_API_FILE = "pop3-ipmon-test-api.conf"


def poll(predicate: Callable[[], bool], wait: float, what: str, every: float = 0.5) -> None:
    """wait_until, but asking a daemon at most every `every` s (each question
    is two log lines on it, and the machine is shared)."""
    end = time.monotonic() + wait
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {wait:g}s waiting for {what}")
        time.sleep(every)


class _NodeConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1, verifying the node's certificate by its name (the
    CN and only subjectAltName `icinga2 pki` gives it)."""

    def __init__(self, port: int, context: ssl.SSLContext, name: str, timeout: float) -> None:
        super().__init__("127.0.0.1", port, context=context, timeout=timeout)
        self._name = name
        self._tls = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._name)


class Node:
    """One Icinga 2 instance of a cluster."""

    # The single-node harness's API pieces, as they are: requests, objects and
    # the check results seen on the stream.
    _headers = Icinga2._headers
    api = Icinga2.api
    service = Icinga2.service
    check_results = Icinga2.check_results

    def __init__(self, binary: str, workdir: Path, name: str, zone: str) -> None:
        self.binary = binary
        self.workdir = workdir
        self.name = name
        self.zone = zone
        self.dirs = {key: workdir / sub for key, sub in DIRECTORIES}
        workdir.mkdir(parents=True)
        shutil.copytree(STOCK_CONFIG, self.dirs["ConfigDir"], symlinks=True)
        for path in self.dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.log = self.dirs["LogDir"] / "icinga2.log"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.events: list[dict[str, Any]] = []
        self.subscriptions = 0  # event streams opened (1 + reloads and restarts seen)
        self._types: Sequence[str] = ()
        self._following = False
        self._stream: Optional[_NodeConnection] = None
        self._reader: Optional[threading.Thread] = None

    def __repr__(self) -> str:
        return f"<icinga2 node {self.name} zone {self.zone} port {self.port}>"

    # ------------------------------------------------------------ commands

    @property
    def config_dir(self) -> Path:
        return self.dirs["ConfigDir"]

    @property
    def ca_file(self) -> Path:
        return self.dirs["DataDir"] / "certs" / "ca.crt"

    def defines(self) -> list[str]:
        return [
            *(f"-D{key}={path}" for key, path in self.dirs.items()),
            "-DRunAsUser=root",
            "-DRunAsGroup=root",
        ]

    def icinga2(self, *args: str, timeout: float = 120) -> str:
        """Run `icinga2 ARGS` as this node; its output, or an error with it."""
        result = subprocess.run(
            [self.binary, *args, *self.defines()],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{self.name}: icinga2 {' '.join(args)}: exit {result.returncode}\n"
                f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        return result.stdout

    def constant(self, name: str, value: str) -> None:
        """Set a constant in this node's constants.conf, as an administrator edits it."""
        path = self.config_dir / "constants.conf"
        text, count = re.subn(
            rf"^const {name} = .*$",
            f"const {name} = {string(value)}".replace("\\", "\\\\"),
            path.read_text(),
            flags=re.M,
        )
        if count != 1:
            raise RuntimeError(f"{path}: no single const {name}")
        path.write_text(text)

    def feature(self, action: str, name: str) -> None:
        """`icinga2 feature enable|disable NAME` on this node."""
        self.icinga2("feature", action, name)

    def enabled_features(self) -> set[str]:
        return {path.stem for path in (self.config_dir / "features-enabled").glob("*.conf")}

    def add_zones_conf(self, text: str) -> None:
        with open(self.config_dir / "zones.conf", "a", encoding="utf-8") as handle:
            handle.write("\n// Added by the administrator\n" + text)

    def write_test_api_user(self) -> None:
        """An ApiUser for the test itself (its queries and event streams)."""
        (self.config_dir / TEST_API_FILE).write_text(
            f"object ApiUser {string(TEST_USER)} {{\n  password = {string(self.password)}\n"
            f'  permissions = [ "*" ]\n}}\n'
        )
        main = self.config_dir / "icinga2.conf"
        include = f"include {string(TEST_API_FILE)}\n"
        if include not in main.read_text():
            with open(main, "a", encoding="utf-8") as handle:
                handle.write(include)

    # ------------------------------------------------------------ the daemon

    def validate(self) -> str:
        return self.icinga2("daemon", "-C", "-c", str(self.config_dir / "icinga2.conf"))

    def start(self, wait: float = 90.0) -> None:
        if self.running():
            return
        self.process = subprocess.Popen(
            [
                self.binary,
                "daemon",
                *self.defines(),
                "-c",
                str(self.config_dir / "icinga2.conf"),
            ],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=open(self.workdir / "icinga2.out", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_answering(wait)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_answering(self, wait: float = 90.0) -> None:
        process = self.process
        assert process is not None, f"{self.name} is not started"
        poll(
            lambda: process.poll() is not None or self.answers(),
            wait,
            f"the API of {self.name}",
        )
        if process.poll() is not None:
            raise RuntimeError(f"{self.name}: icinga2 exited: {self.diagnostics()}")

    def answers(self) -> bool:
        try:
            self.api("GET", "/v1/status/IcingaApplication")
        except (OSError, http.client.HTTPException, RuntimeError, ValueError):
            return False
        return True

    def stop(self) -> None:
        """Stop the daemon (SIGTERM, as systemctl stop); the event stream waits."""
        if self.process is None:
            return
        stop_process_group(self.process, 30)
        self.process = None

    def close(self) -> None:
        self._following = False
        self._close_stream()
        self.stop()
        if self._reader is not None:
            self._reader.join(10)

    def diagnostics(self) -> str:
        parts = []
        for path in (self.workdir / "icinga2.out", self.log):
            if path.exists():
                parts.append(
                    f"--- {self.name}: {path.name}\n" + path.read_text(errors="replace")[-4000:]
                )
        return "\n".join(parts)

    def log_lines(self, pattern: str) -> list[str]:
        """Lines of this node's log (every run of it) matching a regular expression."""
        if not self.log.exists():
            return []
        found = re.compile(pattern)
        return [
            line for line in self.log.read_text(errors="replace").splitlines() if found.search(line)
        ]

    # ------------------------------------------------------------ API

    def _connection(self, timeout: float = 10.0) -> _NodeConnection:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return _NodeConnection(self.port, context, self.name, timeout)

    def object(self, kind: str, name: str) -> Optional[dict[str, Any]]:
        """The attributes of one object (kind as in the URL: services,
        notifications...), or None when this node does not have it."""
        quoted = "!".join(urllib.parse.quote(part, safe="") for part in name.split("!"))
        try:
            result = self.api("GET", f"/v1/objects/{kind}/{quoted}")
        except RuntimeError as error:
            if "HTTP 404" in str(error):
                return None
            raise
        return dict(result["results"][0]["attrs"])

    def wait_for_object(self, kind: str, name: str, wait: float = 150.0) -> dict[str, Any]:
        """Wait until this node has the object (a config sync reached it)."""
        found: dict[str, Any] = {}

        def present() -> bool:
            if not self.answers():
                return False
            attrs = self.object(kind, name)
            if attrs is None:
                return False
            found.update(attrs)
            return True

        try:
            poll(present, wait, f"{kind} {name} on {self.name}")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.diagnostics()}") from None
        return found

    def connected_endpoints(self) -> set[str]:
        status = self.api("GET", "/v1/status/ApiListener")["results"][0]["status"]["api"]
        return set(status["conn_endpoints"])

    # ------------------------------------------------------------ events

    def follow_events(
        self, types: Sequence[str] = ("CheckResult", "StateChange", "Notification")
    ) -> None:
        """Collect this node's event stream into self.events, subscribing
        again whenever the stream ends (a reload or a restart), until close()."""
        self._types = tuple(types)
        self._following = True
        self._reader = threading.Thread(
            target=self._read_events, daemon=True, name=f"icinga2-events-{self.name}"
        )
        self._reader.start()
        poll(lambda: self.subscriptions > 0, 90, f"the event stream of {self.name}")

    def _read_events(self) -> None:
        while self._following:
            try:
                self._read_stream()
            except (OSError, ValueError, http.client.HTTPException):
                pass
            if self._following:
                time.sleep(0.5)

    def _read_stream(self) -> None:
        connection = self._connection(timeout=3600)
        body = json.dumps({"queue": f"test-{secrets.token_hex(4)}", "types": list(self._types)})
        connection.request("POST", "/v1/events", body=body.encode(), headers=self._headers())
        response = connection.getresponse()
        if response.status != 200:
            connection.close()
            return
        self._stream = connection
        self.subscriptions += 1
        try:
            while self._following:
                line = response.readline()
                if not line:
                    return
                if line.strip():
                    event = json.loads(line)
                    event["node"] = self.name
                    self.events.append(event)
        finally:
            self._stream = None
            connection.close()

    def _close_stream(self) -> None:
        stream = self._stream
        if stream is not None and stream.sock is not None:
            try:
                stream.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def events_of(self, kind: str, host: str, service: str) -> list[dict[str, Any]]:
        return [
            event
            for event in list(self.events)
            if event.get("type") == kind
            and event.get("host") == host
            and event.get("service") == service
        ]


class Cluster:
    """Nodes set up as an administrator sets them up, started and stopped together."""

    def __init__(self, workdir: Path, plugin_dir: Path) -> None:
        require_root("Icinga 2")
        self.binary = find_program("icinga2", "icinga2-bin")
        self.workdir = workdir
        self.plugin_dir = plugin_dir
        self.nodes: dict[str, Node] = {}
        self.config_master: Optional[Node] = None
        self.parents: dict[str, list[Node]] = {}  # zone -> its parent zone's endpoints
        self.timings: dict[str, float] = {}

    def _node(self, name: str, zone: str) -> Node:
        node = Node(self.binary, self.workdir / name, name, zone)
        self.nodes[name] = node
        return node

    def _configure(self, node: Node) -> None:
        # The package puts the plugin in /usr/lib/nagios/plugins; this run's is in the venv.
        node.constant("PluginContribDir", str(self.plugin_dir))
        node.write_test_api_user()

    def master(self, name: str, zone: str = "master") -> Node:
        """`node setup --master`, then start it: children get their certificates from it."""
        node = self._node(name, zone)
        node.icinga2(
            "node",
            "setup",
            "--master",
            "--cn",
            name,
            "--zone",
            zone,
            "--listen",
            f"127.0.0.1,{node.port}",
            "--disable-confd",
        )
        self._configure(node)
        self.config_master = self.config_master or node
        node.start()
        return node

    def _signed_child(
        self,
        name: str,
        zone: str,
        parent_zone: str,
        endpoints: Sequence[Node],
        signer: Node,
    ) -> Node:
        node = self._node(name, zone)
        trusted = node.workdir / "trusted-parent.crt"
        node.icinga2(
            "pki", "save-cert", "--host", "127.0.0.1", "--port", str(signer.port),
            "--trustedcert", str(trusted),
        )  # fmt: skip
        ticket = signer.icinga2("pki", "ticket", "--cn", name).strip().splitlines()[-1]
        assert re.fullmatch(r"[0-9a-f]{40}", ticket), ticket
        arguments = [
            "node", "setup", "--ticket", ticket, "--cn", name, "--zone", zone,
            "--parent_zone", parent_zone, "--parent_host", f"127.0.0.1,{signer.port}",
            "--trustedcert", str(trusted), "--listen", f"127.0.0.1,{node.port}",
            "--accept-config", "--accept-commands", "--disable-confd",
        ]  # fmt: skip
        for endpoint in endpoints:
            arguments += ["--endpoint", f"{endpoint.name},127.0.0.1,{endpoint.port}"]
        node.icinga2(*arguments)
        assert (node.dirs["DataDir"] / "certs" / f"{name}.crt").exists()
        self._configure(node)
        return node

    def child(
        self, name: str, zone: str, parent: Sequence[Node], signer: Optional[Node] = None
    ) -> Node:
        """A satellite or agent of the zone `parent` is in, its certificate signed
        by `signer` (the CA's master; by default the first parent)."""
        parent_zone = parent[0].zone
        node = self._signed_child(name, zone, parent_zone, parent, signer or parent[0])
        self.parents[zone] = list(parent)
        # The administrator makes the child known to every node that must talk
        # to it or hold its objects: its parents and their parents.
        for above in self._zone_and_parents(parent_zone):
            above.add_zones_conf(
                f"object Endpoint {string(name)} {{\n}}\n\n"
                f"object Zone {string(zone)} {{\n  endpoints = [ {string(name)} ]\n"
                f"  parent = {string(parent_zone)}\n}}\n"
            )
        return node

    def ha_master(self, name: str, primary: Node) -> Node:
        """A second master of the primary's zone: node setup --ticket against the
        primary, then the zones.conf an HA pair needs on both (one zone, two
        endpoints that know where the other listens)."""
        node = self._signed_child(name, primary.zone, primary.zone, [primary], primary)
        pair = sorted((primary, node), key=lambda n: n.name)
        zones = "".join(
            f'object Endpoint {string(n.name)} {{\n  host = "127.0.0.1"\n  port = {n.port}\n}}\n\n'
            for n in pair
        )
        zones += (
            f"object Zone {string(primary.zone)} {{\n"
            f"  endpoints = [ {', '.join(string(n.name) for n in pair)} ]\n}}\n\n"
            'object Zone "global-templates" {\n  global = true\n}\n\n'
            'object Zone "director-global" {\n  global = true\n}\n'
        )
        for member in pair:
            (member.config_dir / "zones.conf").write_text(
                "// The HA pair's zones.conf, written by the administrator\n" + zones
            )
        return node

    def _zone_and_parents(self, zone: str) -> list[Node]:
        found: list[Node] = [n for n in self.nodes.values() if n.zone == zone]
        for parent in self.parents.get(zone, []):
            found += [n for n in self._zone_and_parents(parent.zone) if n not in found]
        return found

    def zone_file(self, zone: str, name: str, text: str) -> Path:
        """A file in the config master's zones.d/ZONE (synced to the zone's nodes)."""
        assert self.config_master is not None, "no master"
        directory = self.config_master.dirs["ZonesDir"] / zone
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        path.write_text(text)
        return path

    def start(self, nodes: Optional[Iterable[Node]] = None) -> None:
        """(Re)start the nodes with their configuration as it is now, parents first."""
        began = time.monotonic()
        for node in nodes or self.nodes.values():
            node.stop()
            node.validate()
            node.start()
        self.timings["start"] = time.monotonic() - began

    def follow_events(
        self, types: Sequence[str] = ("CheckResult", "StateChange", "Notification")
    ) -> None:
        for node in self.nodes.values():
            node.follow_events(types)

    def wait_connected(self, wait: float = 120.0) -> None:
        """Until every node is connected to the endpoints of its own and its parent zone."""

        def expected(node: Node) -> set[str]:
            names = {n.name for n in self.nodes.values() if n.zone == node.zone and n is not node}
            return names | {p.name for p in self.parents.get(node.zone, [])}

        def all_connected() -> bool:
            for node in self.nodes.values():
                if not node.running():
                    continue
                try:
                    if not expected(node) <= node.connected_endpoints():
                        return False
                except (OSError, http.client.HTTPException, RuntimeError, KeyError):
                    return False
            return True

        try:
            poll(all_connected, wait, "the cluster's connections")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.diagnostics()}") from None

    def diagnostics(self) -> str:
        return "\n".join(node.diagnostics() for node in self.nodes.values())

    def stop(self) -> None:
        for node in reversed(list(self.nodes.values())):
            node.close()


def record_command(
    name: str,
    recorder: Sequence[str],
    env: Mapping[str, str],
) -> str:
    """A NotificationCommand that runs the pd-nagios-like recorder (tests/support/
    pd_recorder.py) with the type, the engine's notification number, the
    service and this node's name, and the environment given."""
    command = "[ " + ", ".join(string(part) for part in recorder) + " ]"
    variables = "".join(f"    {key} = {value}\n" for key, value in env.items())
    return f"""\
object NotificationCommand {string(name)} {{
  command = {command}
  arguments = {{
    "-t" = "$notification.type$"
    "-n" = "$notification.notification_number$"
    "-s" = "$host.name$!$service.name$"
    "-f" = {{
      value = "node=" + NodeName
    }}
  }}
  env = {{
{variables}  }}
}}
"""
