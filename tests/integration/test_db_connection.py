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
