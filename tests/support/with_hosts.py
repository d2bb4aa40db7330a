"""Run by `blackhole.hosts_prefix` inside a fresh mount namespace: bind-mount
the given file over /etc/hosts there, then become the command.

Kept free of imports from the tests: it runs as a script, outside pytest.
"""

import os
import subprocess
import sys


def main() -> None:
    hosts, *argv = sys.argv[1:]
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    os.execv(argv[0], argv)  # noqa: S606 - argv list from the test, no shell


if __name__ == "__main__":
    main()
