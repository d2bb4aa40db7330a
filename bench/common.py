"""What the benchmark's sections share: running a command once, the machine, the CA store."""

from __future__ import annotations

import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PLUGINS = Path("/usr/lib/nagios/plugins")
HOSTNAME = "pop.example.test"
SYSTEM_CA_DIR = Path("/etc/ssl/certs")
# Set by the environment the benchmark was started from (tox passes
# SSL_CERT_FILE on), never by an engine: the checks run without them.
CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "SSL_CERT_URI")
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    wall: float  # seconds
    cpu: float  # seconds, user + system
    code: int
    stdout: bytes


def spawn(argv: Sequence[str], env: Mapping[str, str]) -> Sample:
    """Run argv once; wall clock around spawn to reap, CPU from wait4()."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            list(argv),
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
        )
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        return Sample(
            wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status), out.read()
        )


def median_ms(values: Sequence[float]) -> float:
    return statistics.median(values) * 1000


def check_env() -> dict[str, str]:
    """This environment without the CA variables: OpenSSL's defaults, as under an engine."""
    return {name: value for name, value in os.environ.items() if name not in CA_VARIABLES}


def machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return [
        f"machine: {cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"load at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"python:  {platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable}), {ssl.OPENSSL_VERSION}",
    ]


def copy_system_store(workdir: Path, ca_pem: bytes) -> dict[str, str]:
    """A copy of this machine's CA directory, Debian's layout (hash links, the
    bundle beside them), with the benchmark's CA added as update-ca-certificates
    adds one; returns the variables that point OpenSSL at it.

    The plugin reads SSL_CERT_DIR/SSL_CERT_FILE as OpenSSL reads its built-in
    locations, so a check costs the same as against the real store, which the
    benchmark must not change; create_default_context() would parse this
    bundle whole just as it parses the system's."""
    store = workdir / "certs"
    store.mkdir()
    for entry in SYSTEM_CA_DIR.iterdir():  # contents, not links; rehash links anew
        if entry.is_file() and not _hash_name(entry.name):
            (store / entry.name).write_bytes(entry.read_bytes())
    (store / "pop3-ipmon-bench.pem").write_bytes(ca_pem)
    bundle = store / "ca-certificates.crt"
    bundle.write_bytes(bundle.read_bytes() + ca_pem)
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl (the command) is needed to hash the CA directory")
    subprocess.run([openssl, "rehash", str(store)], check=True, capture_output=True)
    return {"SSL_CERT_DIR": str(store), "SSL_CERT_FILE": str(bundle)}


def _hash_name(name: str) -> bool:
    stem, _, number = name.partition(".")
    return len(stem) == 8 and number.isdigit() and all(c in "0123456789abcdef" for c in stem)


def store_size(env: Mapping[str, str]) -> int:
    return Path(env["SSL_CERT_FILE"]).read_bytes().count(b"-----BEGIN CERTIFICATE-----")


def engine_cpu(session: int) -> tuple[float, float]:
    """(own, reaped children's) CPU seconds of the Icinga 2 processes in a session."""
    own = children = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name_end = stat.rindex(")")
        name = stat[stat.index("(") + 1 : name_end]
        fields = stat[name_end + 2 :].split()
        # fields[0] is the state (stat field 3): sid is field 6, utime 14 ... cstime 17.
        if int(fields[3]) != session or not name.startswith("icinga2"):
            continue
        own += (int(fields[11]) + int(fields[12])) / TICK
        children += (int(fields[13]) + int(fields[14])) / TICK
    return own, children
