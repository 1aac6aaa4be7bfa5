"""Answers a process keeps for as long as the database could not have changed under them.

An answer is stored with the MVCC snapshot it was computed under: `pg_current_snapshot()` read in the same
statement as the answer itself (the xmin, xmax and in-progress transactions the statement saw). Before an
answer is handed out again, the current snapshot is read (one tiny query): when it is the same text, no
transaction has committed or aborted anywhere in the cluster since, so every row the answer was made from
reads exactly as it did, and the kept answer is the answer. Any write anywhere in the cluster changes the
snapshot, which makes every kept answer a miss: the cache is never stale, only sometimes useless (a busy
cluster recomputes every time). The snapshot is tagged with the server (port, start time) and database, so
that two servers or databases never share an answer.

What may be cached: an answer that depends only on the database's committed rows and on the request (not
on the clock, on Redis, or on who asks). GET /api/review/queue uses it: its answer ranks every open
detection, tens of milliseconds of work on the demo data, and it is asked for again and again between
answers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import pg8000.native

T = TypeVar("T")

#: SQL of the tag an answer is kept under; a query that makes an answer selects it as its last column.
SNAPSHOT_SQL = ("concat_ws('/', pg_current_snapshot()::text, current_database(), inet_server_port(),"
                " pg_postmaster_start_time())")


def current_snapshot(con: pg8000.native.Connection) -> str:
    """The tag of the snapshot a statement would see now."""
    return str(con.run(f"SELECT {SNAPSHOT_SQL}")[0][0])


class SnapshotCache(Generic[T]):
    """The `size` most recently used answers, each kept with the snapshot it was computed under."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[str, T]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def answer(self, con: pg8000.native.Connection, key: Hashable,
               compute: Callable[[pg8000.native.Connection], tuple[T, str]]) -> T:
        """The kept answer for `key` if the snapshot is unchanged, else `compute(con)`: (answer, its snapshot
        tag, read in the same statement as the answer with SNAPSHOT_SQL)."""
        with self._lock:
            kept = self._entries.get(key)
        if kept is not None and current_snapshot(con) == kept[0]:
            with self._lock:
                self.hits += 1
                if key in self._entries:
                    self._entries.move_to_end(key)
            return kept[1]
        value, snapshot = compute(con)
        with self._lock:
            self.misses += 1
            self._entries[key] = (snapshot, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses}


__all__ = ["SNAPSHOT_SQL", "SnapshotCache", "current_snapshot"]
