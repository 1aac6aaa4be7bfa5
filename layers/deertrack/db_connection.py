"""The pg8000 connection deertrack opens (db.connect): pg8000's native one, with the per-query work of a read
route cut down.

pg8000 rescans a query's SQL character by character on every `run` to turn `:name` parameters into `$n`
(~0.3-0.7 ms for a 300-character query), and reads each timestamp with `strptime` (~25-50 µs) and each
integer array with a character loop (~0.1 ms for 16 ids). A deer page of 20 rows paid ~8 ms for that.
Here the translation is done once per distinct SQL text, and timestamps, dates and one-dimensional integer
arrays are read with the C parsers of the standard library; anything those do not read (infinity, BC or
out-of-range dates, nested arrays) goes to pg8000's own converter, so every value is what pg8000 returns.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pg8000.native
from pg8000 import converters

#: Distinct SQL texts whose translation a process keeps (the app has a few hundred statements at most).
STATEMENT_CACHE_SIZE = 1024


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


class Connection(pg8000.native.Connection):
    """pg8000.native.Connection with cached SQL translation and the FAST_READERS."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for oid, reader in FAST_READERS.items():
            self.register_in_adapter(oid, reader)

    def run(self, sql: str, stream: Any = None, types: dict[str, int] | None = None, **params: Any) -> Any:
        """As pg8000's `run`, with the translation of `sql` taken from the cache."""
        if not params and stream is None:
            return super().run(sql, types=types)
        statement, make_vals = translated(sql)
        oids = () if types is None else make_vals(defaultdict(lambda: None, types))
        self._context = self.execute_unnamed(statement, make_vals(params), oids=oids, stream=stream)
        return self._context.rows
