"""Names that resolve to chosen loopback addresses, for the plugin under test only.

cwrap's nss_wrapper (Debian: libnss-wrapper, made for Samba's and SSSD's test
suites) is preloaded into the plugin's process and answers getaddrinfo() from
a hosts file the test writes. Chosen over the alternatives:
- an entry in /etc/hosts: a shared system file (other test runs on the same
  machine, a container's bind-mounted /etc/hosts, an entry left behind when a
  test is killed);
- a resolver hook in the plugin, read from an environment variable: a test-only
  branch in production code, and the test would skip the real getaddrinfo()
  whose answers --all-addresses must handle.
With the wrapper the plugin runs unchanged, its real resolver path included,
and a name not in the file fails at once without any DNS traffic.
"""

from __future__ import annotations

import glob
from pathlib import Path

from tests.support.integration import missing

_LIBRARY_GLOBS = ("/usr/lib/*/libnss_wrapper.so", "/usr/lib64/libnss_wrapper.so")


def nss_wrapper() -> str:
    for pattern in _LIBRARY_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    missing("libnss_wrapper.so not found: install the Debian package libnss-wrapper")


def hosts_env(path: Path, entries: dict[str, list[str]]) -> dict[str, str]:
    """Write `entries` (name -> addresses) as a hosts file at `path`; return the
    environment that makes the plugin resolve from it."""
    path.write_text(
        "".join(
            f"{address} {name}\n" for name, addresses in entries.items() for address in addresses
        )
    )
    return {"LD_PRELOAD": nss_wrapper(), "NSS_WRAPPER_HOSTS": str(path)}
