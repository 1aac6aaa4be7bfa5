"""The pg8000 connection deertrack opens (db.connect): pg8000's native one, with the per-query work of a read
route cut down.

pg8000 rescans a query's SQL character by character on every `run` to turn `:name` parameters into `$n`
(~0.3-0.7 ms for a 300-character query), and reads each timestamp with `strptime` (~25-50 µs) and each
integer array with a character loop (~0.1 ms for 16 ids). A deer page of 20 rows paid ~8 ms for that.
Here the translation is done once per distinct SQL text, and timestamps, dates and one-dimensional integer
arrays are read with the C parsers of the standard library; anything those do not read (infinity, BC or
out-of-range dates, nested arrays) goes to pg8000's own converter, so every value is what pg8000 returns.

A query with parameters runs as a server-side prepared statement, kept per connection (the
PREPARED_PER_CONNECTION most recently used; an evicted one is closed on the server). pg8000's `run` sends
an unnamed statement each time: parse, describe, then bind and execute, three round trips and a fresh plan
per query (a detection's candidates took ~3 ms to plan and ~2.5 ms to run). A kept statement is one round
trip (bind, execute), planned by PostgreSQL's own plan cache (custom plans first, a generic plan once it is
no worse). When a schema change makes a kept plan stale ("cached plan must not change result type", or a
statement the server no longer has), the statement is prepared again and, outside a transaction, the query
is run again once; inside a transaction the error stands, as the transaction has failed anyway. Queries
without parameters, and COPY (`stream`), go as pg8000 sends them.
"""

from __future__ import annotations

import functools
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from contextlib import suppress
from datetime import date, datetime
from typing import Any, NamedTuple

import pg8000.native
from pg8000 import converters
from pg8000.converters import make_params

#: Distinct SQL texts whose translation a process keeps (the app has a few hundred statements at most).
STATEMENT_CACHE_SIZE = 1024
#: Prepared statements one connection keeps on the server.
PREPARED_PER_CONNECTION = 256
#: SQLSTATEs of a kept statement the server can no longer run as prepared: 0A000 "cached plan must not change
#: result type" (a table's columns changed), 26000 invalid_sql_statement_name (DISCARD ALL, DEALLOCATE).
STALE_STATEMENT_SQLSTATES = ("0A000", "26000")


@functools.lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def translated(sql: str) -> tuple[str, Callable[[dict[str, Any]], Any]]:
    """pg8000's translation of `sql` (`:name` → `$n`, and the function that orders the parameters)."""
    return pg8000.native.to_statement(sql)


def _or_pg8000(fast: Callable[[str], Any], slow: Callable[[str], Any]) -> Callable[[str], Any]:
    def read(text: str) -> Any:
        try:
            return fast(text)
        except ValueError:
            return slow(text)

    return read


def _date(text: str) -> date:
    return date.fromisoformat(text)


def _int_list(text: str) -> list[int | None]:
    """A one-dimensional integer array in PostgreSQL's text form, e.g. `{1,2,NULL}`."""
    inner = text[1:-1]
    if text[:1] != "{" or text[-1:] != "}" or "{" in inner or '"' in inner:
        raise ValueError(text)  # nested, or not an array literal: pg8000's parser
    if not inner:
        return []
    return [None if item == "NULL" else int(item) for item in inner.split(",")]


#: oid -> reader, each falling back to pg8000's converter for the same oid.
FAST_READERS: dict[int, Callable[[str], Any]] = {
    converters.TIMESTAMPTZ: _or_pg8000(datetime.fromisoformat, converters.timestamptz_in),
    converters.TIMESTAMP: _or_pg8000(datetime.fromisoformat, converters.timestamp_in),
    converters.DATE: _or_pg8000(_date, converters.date_in),
    converters.INTEGER_ARRAY: _or_pg8000(_int_list, converters.int_array_in),
    converters.BIGINT_ARRAY: _or_pg8000(_int_list, converters.int_array_in),
    converters.SMALLINT_ARRAY: _or_pg8000(_int_list, converters.int_array_in),
}


class Prepared(NamedTuple):
    """A statement prepared on the server: its name there, and how its rows are read."""

    name: bytes
    columns: Any
    input_funcs: Any


def _sqlstate(exc: pg8000.native.DatabaseError) -> str:
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return str(fields.get("C", ""))


class Connection(pg8000.native.Connection):
    """pg8000.native.Connection with cached SQL translation, kept prepared statements and the FAST_READERS."""

    def __init__(self, *args: Any, prepare_statements: bool = True, **kwargs: Any) -> None:
        """`prepare_statements=False` sends every query as pg8000 does (unnamed): for a pooler that hands
        each transaction a different server connection (PgBouncer in transaction mode), and as the
        baseline of `deertrack bench queries`."""
        super().__init__(*args, **kwargs)
        for oid, reader in FAST_READERS.items():
            self.register_in_adapter(oid, reader)
        self.prepare_statements = prepare_statements
        self._prepared: OrderedDict[tuple[str, tuple[int, ...]], Prepared] = OrderedDict()

    def run(self, sql: str, stream: Any = None, types: dict[str, int] | None = None, **params: Any) -> Any:
        """As pg8000's `run`; a query with parameters runs as a kept prepared statement."""
        if not params and stream is None:
            return super().run(sql, types=types)
        statement, make_vals = translated(sql)
        oids = () if types is None else tuple(make_vals(defaultdict(lambda: None, types)))
        if stream is not None or not self.prepare_statements:
            self._context = self.execute_unnamed(statement, make_vals(params), oids=oids, stream=stream)
            return self._context.rows
        values = make_params(self.py_types, make_vals(params))
        key = (statement, oids)
        try:
            self._context = self._execute_prepared(key, values)
        except pg8000.native.DatabaseError as exc:
            if _sqlstate(exc) not in STALE_STATEMENT_SQLSTATES or key not in self._prepared:
                raise
            self._forget(key)
            if self._transaction_status != b"I":  # the transaction failed with it: no second try inside it
                raise
            self._context = self._execute_prepared(key, values)
        return self._context.rows

    @property
    def prepared_count(self) -> int:
        """Statements this connection keeps prepared on the server."""
        return len(self._prepared)

    def _execute_prepared(self, key: tuple[str, tuple[int, ...]], values: Any) -> Any:
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = Prepared(*self.prepare_statement(key[0], key[1]))
            self._prepared[key] = prepared
            if len(self._prepared) > PREPARED_PER_CONNECTION:
                _, evicted = self._prepared.popitem(last=False)
                self.close_prepared_statement(evicted.name)
        else:
            self._prepared.move_to_end(key)
        return self.execute_named(prepared.name, values, prepared.columns, prepared.input_funcs, key[0])

    def _forget(self, key: tuple[str, tuple[int, ...]]) -> None:
        prepared = self._prepared.pop(key)
        with suppress(pg8000.native.DatabaseError):  # the server refused: the name stays taken, never reused
            self.close_prepared_statement(prepared.name)
