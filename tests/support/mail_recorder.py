"""Stands in for /usr/bin/mail in a mail notification command: records, sends nothing.

    python mail_recorder.py OUTFILE -s SUBJECT ADDRESS... < body

Appends one JSON line: {"subject", "to", "body", "argv"}.
"""

from __future__ import annotations

import fcntl
import json
import sys


def main(argv: list[str]) -> int:
    out, args = argv[1], argv[2:]
    subject = args[args.index("-s") + 1] if "-s" in args else ""
    to = [
        arg
        for index, arg in enumerate(args)
        if arg != "-s" and (index == 0 or args[index - 1] != "-s")
    ]
    record = {"subject": subject, "to": to, "body": sys.stdin.read(), "argv": args}
    with open(out, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
