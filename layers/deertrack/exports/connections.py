"""PostgreSQL connections kept between requests, as a warm Lambda keeps its connection.

Opening a pg8000 connection costs tens of milliseconds; the lookups validation makes cost well
under one. Idle connections wait here (a few per database URL); one that broke while idle is
replaced once, transparently.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pg8000.native

from deertrack import db
from deertrack.settings import get_settings

MAX_IDLE = 4
_idle: dict[str, list[pg8000.native.Connection]] = {}
_lock = threading.Lock()

#: Errors after which a connection is not given back.
_BROKEN = (pg8000.native.InterfaceError, OSError)


def _take(url: str) -> pg8000.native.Connection | None:
    with _lock:
        idle = _idle.get(url)
        return idle.pop() if idle else None


def _give_back(url: str, con: pg8000.native.Connection) -> None:
    with _lock:
        idle = _idle.setdefault(url, [])
        if len(idle) < MAX_IDLE:
            idle.append(con)
            return
    con.close()


@contextmanager
def connection() -> Iterator[pg8000.native.Connection]:
    """A connection to DATABASE_URL (autocommit). Raises db.DatabaseUnavailable when none can be had
    or it breaks while in use."""
    url = get_settings().database_url
    con = _take(url)
    if con is not None:
        try:
            con.run("SELECT 1")
        except _BROKEN + (pg8000.native.DatabaseError,):
            _close_quietly(con)
            con = None
    if con is None:
        con = db.connect(url)
    try:
        yield con
    except _BROKEN as exc:
        _close_quietly(con)
        raise db.DatabaseUnavailable(f"PostgreSQL connection lost: {exc}") from exc
    except BaseException:  # an SQL error leaves an autocommit connection usable
        _give_back(url, con)
        raise
    _give_back(url, con)


def _close_quietly(con: pg8000.native.Connection) -> None:
    with contextlib.suppress(Exception):  # already broken; nothing more to do
        con.close()


def close_all() -> None:
    with _lock:
        connections = [c for idle in _idle.values() for c in idle]
        _idle.clear()
    for con in connections:
        _close_quietly(con)
