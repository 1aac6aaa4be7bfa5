"""deertrack's pg8000 connection (deertrack.db_connection) returns exactly what pg8000's own does, with
the SQL translation cached and the fast readers in place, against a real PostgreSQL."""

from __future__ import annotations

import pg8000.native
import pytest

from deertrack import db
from deertrack.db_connection import Connection, translated
from deertrack.settings import get_settings

pytestmark = pytest.mark.integration

#: Values of the types the fast readers take over, with the cases they hand back to pg8000.
VALUES = """
SELECT TIMESTAMPTZ '2023-09-01 06:12:00+00', TIMESTAMPTZ '2023-09-01 06:12:00.5+00',
       TIMESTAMPTZ '2024-01-31 23:59:59.123456+00', TIMESTAMPTZ 'infinity', TIMESTAMPTZ '-infinity',
       TIMESTAMP '2023-09-01 06:12:00', TIMESTAMP '2023-09-01 06:12:00.25', TIMESTAMP 'infinity',
       DATE '2024-02-29', DATE 'infinity', DATE '0044-03-15 BC',
       ARRAY[1, 2, NULL, -3]::int[], ARRAY[]::int[], ARRAY[9000000000]::bigint[], ARRAY[[1, 2], [3, 4]]::int[],
       ARRAY[5]::smallint[], CAST(NULL AS int[]), now()
"""


def _plain_pg8000() -> pg8000.native.Connection:
    address = db.DatabaseAddress.parse(get_settings().database_url)
    return pg8000.native.Connection(user=address.user, password=address.password, host=address.host,
                                    port=address.port, database=address.database, ssl_context=False)


def test_every_value_reads_as_pg8000_reads_it(stack) -> None:
    plain = _plain_pg8000()
    try:
        with db.connection() as con:
            assert isinstance(con, Connection)
            ours = con.run(VALUES + ", :n::int", n=4)[0]
            theirs = plain.run(VALUES + ", :n::int", n=4)[0]
    finally:
        plain.close()
    assert ours[:-2] == theirs[:-2]
    assert [type(v) for v in ours[:-2]] == [type(v) for v in theirs[:-2]]
    assert ours[-1] == theirs[-1] == 4 and ours[-2].tzinfo is not None


def test_the_translation_of_each_sql_text_is_kept_and_parameters_still_bind(stack) -> None:
    sql = "SELECT :a::int + :b::int, :a::text, CAST(:c AS text), ':literal'"
    before = translated.cache_info().hits
    with db.connection() as con:
        assert con.run(sql, a=2, b=3, c=None) == [[5, "2", None, ":literal"]]
        assert con.run(sql, b=10, a=1, c="x") == [[11, "1", "x", ":literal"]]
        assert con.columns[0]["name"] == "?column?"  # rows_as_dicts reads the columns of the last run
        assert con.run("SELECT 1") == [[1]]  # no parameters: pg8000's simple query
        with pytest.raises(pg8000.native.DatabaseError):
            con.run("SELECT :a::int", a="not a number")
        assert con.run(sql, a=0, b=0, c="y")[0][0] == 0  # still usable after the error
    assert translated.cache_info().hits >= before + 2


def _server_statements(con: pg8000.native.Connection) -> list[str]:
    return [r[0] for r in con.run("SELECT statement FROM pg_prepared_statements ORDER BY statement")]


def test_a_query_with_parameters_is_prepared_once_and_then_bound(stack) -> None:
    sql = "SELECT :a::int * 2"
    with db.connection() as con:
        assert [con.run(sql, a=n)[0][0] for n in range(5)] == [0, 2, 4, 6, 8]
        assert con.prepared_count == 1
        assert _server_statements(con) == ["SELECT $1::int * 2"]
        assert con.run("SELECT :a::text", a="x", types={"a": 25}) == [["x"]]  # types: a statement of its own
        assert con.prepared_count == 2


def test_a_statement_made_stale_by_a_schema_change_is_prepared_again(stack) -> None:
    with db.connection() as con:
        con.run("CREATE TEMP TABLE stale_plan (id int, name text)")
        con.run("INSERT INTO stale_plan VALUES (1, 'a')")
        sql = "SELECT * FROM stale_plan WHERE id = :id"
        assert con.run(sql, id=1) == [[1, "a"]]
        con.run("ALTER TABLE stale_plan ADD COLUMN note text")  # the kept plan's row type no longer holds
        assert con.run(sql, id=1) == [[1, "a", None]]
        assert [c["name"] for c in con.columns] == ["id", "name", "note"]
        con.run("DEALLOCATE ALL")  # the server forgets every statement; the next run prepares again
        assert con.run(sql, id=1) == [[1, "a", None]]


def test_inside_a_transaction_a_stale_statement_fails_the_transaction_and_is_not_run_twice(stack) -> None:
    with db.connection() as con:
        con.run("CREATE TEMP TABLE stale_tx (id int)")
        sql = "INSERT INTO stale_tx VALUES (:id) RETURNING *"
        assert con.run(sql, id=1) == [[1]]
        con.run("ALTER TABLE stale_tx ADD COLUMN extra int")
        with pytest.raises(pg8000.native.DatabaseError, match="cached plan"), db.transaction(con):
            con.run(sql, id=2)
        assert con.run("SELECT count(*) FROM stale_tx") == [[1]]  # rolled back, not inserted twice
        assert con.run(sql, id=3) == [[3, None]]  # outside the transaction it is prepared again


def test_a_connection_keeps_at_most_its_share_of_statements(stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from deertrack import db_connection

    monkeypatch.setattr(db_connection, "PREPARED_PER_CONNECTION", 3)
    with db.connection() as con:
        for n in range(6):
            assert con.run(f"SELECT :a::int + {n}", a=1) == [[1 + n]]
        assert con.prepared_count == 3
        assert _server_statements(con) == [f"SELECT $1::int + {n}" for n in (3, 4, 5)]  # the oldest were closed
        assert con.run("SELECT :a::int + 0", a=1) == [[1]]  # evicted, prepared anew
