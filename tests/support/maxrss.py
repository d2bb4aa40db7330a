"""Run a command as the child of this small process; write its peak memory (KiB) to a file.

wait4()'s ru_maxrss keeps the high-water mark across exec(), so a command
forked straight from pytest reports at least pytest's own size (70 MB with
hypothesis loaded). Forked from this interpreter (started with -I -S), the
floor is a few MB. Kept free of imports from the tests: it runs as a script.
"""

import os
import sys


def main() -> None:
    report, *argv = sys.argv[1:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)  # noqa: S606 - argv list from the test, no shell
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(report, "w") as out:
        out.write(str(usage.ru_maxrss))
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
