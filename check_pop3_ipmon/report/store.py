"""The statistics database: SQLite from the standard library, one file.

Sized for a month of one-minute tests of 100 services (4.3 million results):
one row a result, kept in (service, time) order (a report reads a
service's rows as one run of pages, not a page a row); phase times as
integer microseconds in their own columns (SQLite stores small integers in
1-4 bytes; NULL where a phase was not measured costs one byte); the
plugin's output only for failed tests; labels the plugin may add later, or
per-address ones, as a small JSON text. `files`
remembers how far each perfdata file was read, in the same transaction as
its rows, so a file ingested again (or after a crash) adds nothing twice.

Schema 2 (version 1 is upgraded by ingest, in place): `downtime` marks a
result taken in scheduled downtime (maintenance), `apart` one kept out of
the reports (APART_*: stamped ahead of the ingest's clock, or earlier than
a line before it in its file). Readers refuse a version they do not know.
The database is never opened through a symbolic link.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

from check_pop3_ipmon.report.perfdata import PHASES
from check_pop3_ipmon.report.safefile import UnsafeFile, refuse_symlink

SCHEMA_VERSION = 2
APART_AHEAD = 1  # TIMET more than AHEAD_SECONDS after the ingest's clock
APART_ORDER = 2  # TIMET before an earlier line's in the same file
AHEAD_SECONDS = 300
_UPGRADE_FROM_1 = (
    "ALTER TABLE results ADD COLUMN downtime INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE results ADD COLUMN apart INTEGER NOT NULL DEFAULT 0",
)


class StoreError(Exception):
    """The database cannot be opened or is not ours."""


def phase_columns() -> str:
    return ", ".join(f'"{phase}" INTEGER' for phase in PHASES)


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS services (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    service TEXT NOT NULL,
    UNIQUE (host, service)
);
CREATE TABLE IF NOT EXISTS results (
    service_id INTEGER NOT NULL REFERENCES services(id),
    t INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    state INTEGER NOT NULL,
    hard INTEGER NOT NULL,
    {phase_columns()},
    warn TEXT,
    crit TEXT,
    extra TEXT,
    output TEXT,
    downtime INTEGER NOT NULL DEFAULT 0,
    apart INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (service_id, t, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    fingerprint TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    offset INTEGER NOT NULL,
    results INTEGER NOT NULL,
    bad_lines INTEGER NOT NULL,
    ingested_at INTEGER NOT NULL
);
"""


def _open(path: Path, create: bool) -> int:
    """The database file, opened (or created) without following a link and
    never blocking (a FIFO in its place is refused, not waited on)."""
    try:
        refuse_symlink(path)
        safe = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        return os.open(path, os.O_RDWR | os.O_CREAT | safe if create else os.O_RDONLY | safe, 0o640)
    except FileNotFoundError:
        raise StoreError(f"{path}: no such database (ingest perfdata into it first)") from None
    except UnsafeFile as exc:
        raise StoreError(f"{path}: {exc.strerror}") from None
    except OSError as exc:
        if exc.errno == 40:
            raise StoreError(f"{path}: a symbolic link, refused") from None
        raise StoreError(f"{path}: {exc.strerror or exc}") from None


def connect(path: Path, create: bool) -> sqlite3.Connection:
    """Open (or, for ingest, create) the database; StoreError says why not, in one line.

    SQLite opens it by name: what it opened is compared with what _open()
    did, so a link swapped in meanwhile is refused.
    """
    fd = _open(path, create)
    try:
        mine = os.fstat(fd)
        if not stat.S_ISREG(mine.st_mode):
            raise StoreError(f"{path}: not a regular file")
        uri = f"{Path(os.path.abspath(path)).as_uri()}?mode={'rwc' if create else 'ro'}"
        db = sqlite3.connect(uri, uri=True, timeout=30)
    except sqlite3.Error as exc:
        os.close(fd)
        raise StoreError(f"{path}: {exc}") from None
    except BaseException:
        os.close(fd)
        raise
    try:
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        now = os.stat(path, follow_symlinks=False)
        if (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
            raise StoreError(f"{path}: replaced while being opened, refused")
    except sqlite3.Error as exc:
        db.close()
        raise StoreError(f"{path}: {exc}") from None
    except BaseException:
        db.close()
        raise
    finally:
        os.close(fd)
    try:
        if create:
            _create(db, path)
        else:
            _check(db, path)
    except StoreError:
        db.close()
        raise
    except sqlite3.Error as exc:
        db.close()
        raise StoreError(f"{path}: {exc}") from None
    return db


def _check(db: sqlite3.Connection, path: Path) -> None:
    """The tables exist and are of our schema version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if not tables:
        raise StoreError(f"{path}: empty database (ingest perfdata into it first)")
    if version == 1:
        raise StoreError(f"{path}: an older database (schema 1): ingest once to upgrade it")
    if version != SCHEMA_VERSION:
        raise StoreError(f"{path}: not a pop3_ipmon_report database (user_version {version})")


def _wal(db: sqlite3.Connection, wait: float = 30.0) -> None:
    """Write-ahead logging, so reports read while an ingest writes.

    Switching a new file to WAL needs it to itself, and SQLite answers
    "database is locked" at once rather than through the busy timeout when
    another run holds it: try again until `wait` is over.
    """
    end = time.monotonic() + wait
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > end:
                raise
            time.sleep(0.05)


def _create(db: sqlite3.Connection, path: Path) -> None:
    """Create the schema, or check it, under one write lock.

    Two ingests may start on a new file at once (overlapping cron runs): the
    tables and their version are written in one IMMEDIATE transaction, so
    the other run waits for it and never sees tables without a version.
    """
    _wal(db)
    db.execute("PRAGMA synchronous=NORMAL")
    # The (service, time) index takes rows for 100 services at once: a
    # larger page cache keeps a month's ingest from slowing down.
    db.execute("PRAGMA cache_size=-65536")
    db.execute("BEGIN IMMEDIATE")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if tables and version == 1:
        for statement in _UPGRADE_FROM_1:
            db.execute(statement)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    elif tables and version != SCHEMA_VERSION:
        db.rollback()
        raise StoreError(f"{path}: not a pop3_ipmon_report database (user_version {version})")
    if not tables:
        # executescript() would commit first: one statement at a time keeps
        # them in this transaction.
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    db.commit()
