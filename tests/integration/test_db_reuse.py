"""The reused connection of a process (db.reused): kept, checked, replaced when broken, never handed on
inside a transaction."""

from __future__ import annotations

import pytest

from deertrack import db

pytestmark = pytest.mark.integration


def _pid(con) -> int:  # noqa: ANN001 - a pg8000 connection
    return con.run("SELECT pg_backend_pid()")[0][0]


def test_a_kept_connection_is_reused_and_one_killed_while_idle_is_replaced(stack) -> None:
    db.drop_reused()
    with db.reused() as con:
        first = _pid(con)
    with db.reused() as con:
        assert _pid(con) == first  # the same session: no new connect
    with db.connection() as admin:
        admin.run("SELECT pg_terminate_backend(:p)", p=first)
    with db.reused() as con:  # the check finds it dead and opens another
        assert _pid(con) != first
    db.drop_reused()


def test_an_sql_error_keeps_the_connection_but_one_left_in_a_transaction_is_dropped(stack) -> None:
    db.drop_reused()
    with pytest.raises(Exception, match="no_such_table"), db.reused() as con:
        kept = _pid(con)
        con.run("SELECT * FROM no_such_table")
    with db.reused() as con:
        assert _pid(con) == kept
        con.run("BEGIN")  # and never committed
    with db.reused() as con:
        assert _pid(con) != kept
        assert con.run("SELECT count(*) FROM pg_stat_activity WHERE pid = :p AND state LIKE 'idle in transaction%'",
                       p=kept)[0][0] == 0
    db.drop_reused()


def test_a_connection_lost_in_use_is_unavailable_and_dropped(stack) -> None:
    db.drop_reused()
    with pytest.raises(db.DatabaseUnavailable, match="connection lost"), db.reused() as con:
        lost = _pid(con)
        with db.connection() as admin:
            admin.run("SELECT pg_terminate_backend(:p)", p=lost)
        con.run("SELECT 1")
    with db.reused() as con:
        assert _pid(con) != lost
    db.drop_reused()
