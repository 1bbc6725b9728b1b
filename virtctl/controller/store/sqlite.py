"""The SQLite file behind the store: current objects, a bounded event history, the resourceVersion
counter. WAL + ``synchronous=FULL`` + one transaction per write: a write that returned has been
fsynced and survives ``kill -9`` (and power loss)."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from virtctl.errors import ConfigError

Key = tuple[str, str, str, str]      # (group, plural, namespace, name); namespace "" when cluster-scoped

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    grp TEXT NOT NULL, plural TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (grp, plural, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY, grp TEXT NOT NULL, plural TEXT NOT NULL, namespace TEXT NOT NULL,
    name TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Database:
    """Not thread-safe by itself: the ObjectStore serialises every call under its lock."""

    def __init__(self, path: Path, history_limit: int):
        self.path = Path(path)
        self.history_limit = history_limit
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # one process owns a store file: a second server on the same state dir would fork history
        self._lock_file = open(str(self.path) + ".lock", "a+")
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise ConfigError(f"the store {self.path} is in use by another process") from None
        self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        os.chmod(self.path, 0o600)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            self._lock_file.close()

    # --- reads ---
    def current_rv(self) -> int:
        row = self.conn.execute("SELECT value FROM counters WHERE name='rv'").fetchone()
        return int(row[0]) if row else 0

    def oldest_event_rv(self) -> int | None:
        row = self.conn.execute("SELECT MIN(rv) FROM events").fetchone()
        return row[0] if row and row[0] is not None else None

    def get(self, key: Key) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT body FROM objects WHERE grp=? AND plural=? AND namespace=? AND name=?",
                                key).fetchone()
        return json.loads(row[0]) if row else None

    def list(self, group: str, plural: str, namespace: str | None, name: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT body FROM objects WHERE grp=? AND plural=?"
        args: list[Any] = [group, plural]
        if namespace is not None:
            sql += " AND namespace=?"
            args.append(namespace)
        if name is not None:
            sql += " AND name=?"
            args.append(name)
        sql += " ORDER BY namespace, name"
        return [json.loads(r[0]) for r in self.conn.execute(sql, args)]

    def events_after(self, rv: int, group: str, plural: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
        cur = self.conn.execute("SELECT rv, type, body FROM events WHERE rv>? AND grp=? AND plural=? ORDER BY rv",
                                (rv, group, plural))
        for r in cur.fetchall():
            yield r[0], r[1], json.loads(r[2])

    # --- the one write path ---
    def commit(self, rv: int, key: Key, event_type: str, obj: dict[str, Any]) -> None:
        """Store ``obj`` (or remove it when ``event_type`` is DELETED) with history, atomically."""
        body = dumps(obj)
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if event_type == "DELETED":
                c.execute("DELETE FROM objects WHERE grp=? AND plural=? AND namespace=? AND name=?", key)
            else:
                c.execute("INSERT OR REPLACE INTO objects (grp, plural, namespace, name, rv, body) "
                          "VALUES (?,?,?,?,?,?)", (*key, rv, body))
            c.execute("INSERT INTO events (rv, grp, plural, namespace, name, type, body) VALUES (?,?,?,?,?,?,?)",
                      (rv, *key, event_type, body))
            c.execute("INSERT OR REPLACE INTO counters (name, value) VALUES ('rv', ?)", (rv,))
            c.execute("DELETE FROM events WHERE rv<=?", (rv - self.history_limit,))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
