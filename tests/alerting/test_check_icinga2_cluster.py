"""check-icinga2 on a real cluster: an HA master pair and a satellite, as
`icinga2 node setup` leaves them (tests/support/icinga2_cluster.py).

As node setup leaves them, the pair loses alerts: the second master, set up
with a ticket, has the notification feature disabled (so the Notifications
whose HA authority it holds are never sent), and the first has
accept_config = false (what the other master creates at run time never
reaches it). The satellite, with the notification feature enabled as the
old docs said, would send every alert a second time. Each is one line, read
through each node's own API as the documented ApiUser (the names the
certificates carry, resolved by nss_wrapper); with the settings fixed the
same run is clean. Given only the first master, the second is named as not
checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.check_icinga2 import USER, documented_api_user
from tests.support.hosts import hosts_env
from tests.support.icinga2 import keep_secret
from tests.support.icinga2_cluster import Cluster, Node

pytestmark = pytest.mark.engines

BIN = Path(sys.executable).parent
PASSWORD = "check-" + os.urandom(12).hex()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path / "cluster", plugin_dir=BIN)
    try:
        yield cluster
    finally:
        cluster.stop()


def add_check_user(node: Node) -> None:
    (node.config_dir / "check-user.conf").write_text(documented_api_user(PASSWORD))
    with open(node.config_dir / "icinga2.conf", "a", encoding="utf-8") as handle:
        handle.write('include "check-user.conf"\n')


def check(nodes: list[Node], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    urls = " ".join(f"https://{node.name}:{node.port}" for node in nodes)
    config = keep_secret(
        tmp_path / "check.ini",
        f"[icinga2-api]\nurl = {urls}\nca = {nodes[0].ca_file}\n"
        f"username = {USER}\npassword = {PASSWORD}\n",
    )
    env = {
        **os.environ,
        **hosts_env(tmp_path / "hosts", {node.name: ["127.0.0.1"] for node in nodes}),
    }
    done = subprocess.run(
        [str(BIN / "pop3_ipmon_config"), "check-icinga2", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert PASSWORD not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_an_ha_pair_and_a_satellite_as_node_setup_leaves_them(
    cluster: Cluster, tmp_path: Path
) -> None:
    master1 = cluster.master("master1")
    master2 = cluster.ha_master("master2", master1)
    satellite = cluster.child("satellite1", zone="satellite", parent=[master1, master2])
    satellite.feature("enable", "notification")
    assert "notification" not in master2.enabled_features()  # what node setup did
    for node in (master1, master2, satellite):
        add_check_user(node)
    cluster.start()
    cluster.wait_connected()

    done = check([master1, master2, satellite], tmp_path)
    assert (done.returncode, done.stdout.splitlines()) == (
        2,
        [
            "error: node 'master1': ApiListener accept_config = false on an HA master pair: "
            "what the other master creates or changes at run time (downtimes, API changes) is "
            "dropped here, and the notifications this master owns ignore it; set "
            "accept_config = true in features-enabled/api.conf (`icinga2 node setup` writes "
            "it only with --accept-config)",
            "error: node 'master2': the notification feature is disabled on this node of the "
            "master zone 'master': no alert goes out from it; run `icinga2 feature enable "
            "notification`",
            "warning: node 'satellite1': the notification feature is enabled in zone "
            "'satellite', a child of 'master': every alert goes out twice, from here and from "
            "the master zone; run `icinga2 feature disable notification` on this node",
            "0 service(s) with ipMonitor alerting, 3 node(s): 2 error(s), 1 warning(s)",
        ],
    ), done.stdout + done.stderr

    only_first = check([master1], tmp_path)
    assert only_first.returncode == 2
    assert (
        "warning: node 'master2': the other master of the HA pair was not checked (its "
        f"notification feature, enable_ha, accept_config): add its API, e.g. url = ... "
        f"https://127.0.0.1:{master2.port}"
    ) in only_first.stdout.splitlines(), only_first.stdout

    # The fixes the lines give, then the same run is clean.
    api = master1.config_dir / "features-enabled" / "api.conf"
    text, count = re.subn(r"accept_config = false", "accept_config = true", api.read_text())
    assert count == 1
    api.write_text(text)
    master2.feature("enable", "notification")
    satellite.feature("disable", "notification")
    cluster.start()
    cluster.wait_connected()
    done = check([master1, master2, satellite], tmp_path)
    assert (done.returncode, done.stdout) == (
        0,
        "0 service(s) with ipMonitor alerting, 3 node(s): 0 error(s), 0 warning(s)\n",
    ), done.stdout + done.stderr
