"""`deertrack bench backfill`: the backfill against a raw COPY of the same rows, side by side.

Self-contained: it creates a throwaway database, applies the migrations, loads demo-shaped data
(synthetic.py: 4,546 detections x 53 deer by default, random embeddings), fills the score log
once, then alternates, `repeats` times:

* baseline — a raw COPY of exactly the rows the backfill writes (pre-formatted) into an identical
  EMPTY table (same columns, defaults, checks, unique constraint, foreign keys and indexes);
* atomic — `deertrack backfill --atomic`: plan, load embeddings and gallery, score, format, TRUNCATE
  + COPY into the full score log, one transaction;
* chunked — `deertrack backfill`: the same in shards of 500 detections, each DELETE + COPY,
  committed with its resume state.

Each side is timed from its first statement to its COMMIT, after a CHECKPOINT (when the admin
connection may run one) so that no side pays for another's dirty pages. The ratio of medians is
printed; the database is dropped at the end.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pg8000.native

from deertrack import db, migrations
from deertrack.backfill import enqueue
from deertrack.backfill.plan import DEFAULT_SHARD_SIZE
from deertrack.backfill.scope import BackfillScope
from deertrack.reid.gallery import load_gallery
from deertrack.reid.score_log import MATRIX_COLUMNS, copy_chunks
from deertrack.settings import get_settings
from gpu_batch.backfill import runner
from gpu_batch.backfill.rescore import load_detections, rescore
from infra.bench import synthetic

SOURCE = "reid_similarity_scores"
TARGET = "bench_copy_target"
BARE = "bench_bulk_build"
MODES = ("atomic", "chunked")


@dataclass
class BenchResult:
    detections: int
    deer: int
    rows: int
    times: dict[str, list[float]] = field(default_factory=dict)
    format_numpy_s: float = 0.0
    scoring_s: float = 0.0
    heap_bytes: int = 0
    index_bytes: int = 0

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratio(self, mode: str) -> float:
        return self.median(mode) / self.median("baseline")


def _checkpoint(admin_url: str) -> None:
    try:
        with db.connection(admin_url) as admin:
            admin.run("CHECKPOINT")
    except Exception:  # noqa: BLE001 - no superuser: the runs simply share the checkpointer's noise
        pass


def copy_foreign_keys(con: pg8000.native.Connection, source: str, target: str) -> None:
    """Give `target` the foreign keys of `source`."""
    for (definition,) in con.run(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'",
        t=source,
    ):
        con.run(f"ALTER TABLE {target} ADD {definition}")


def create_identical_empty(con: pg8000.native.Connection, source: str = SOURCE, target: str = TARGET) -> None:
    """`target` with the columns, defaults, checks, indexes, unique constraint and FKs of `source`."""
    con.run(f"DROP TABLE IF EXISTS {target}")
    con.run(f"CREATE TABLE {target} (LIKE {source} INCLUDING ALL)")
    copy_foreign_keys(con, source, target)


def create_bare(con: pg8000.native.Connection, source: str = SOURCE, target: str = BARE) -> None:
    """`target` with the columns, defaults and checks of `source`, and no index, key or FK yet."""
    con.run(f"DROP TABLE IF EXISTS {target}")
    con.run(f"CREATE TABLE {target} (LIKE {source} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")


def build_keys(con: pg8000.native.Connection, source: str = SOURCE, target: str = BARE) -> None:
    """Give `target` the indexes (primary key and unique ones included) and FKs of `source`."""
    for name, definition in con.run(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :t", t=source,
    ):
        statement = definition.replace(f" ON {source} ", f" ON {target} ").replace(
            f" ON public.{source} ", f" ON {target} ").replace(f"INDEX {name} ON", f"INDEX {name}_b ON")
        con.run(statement)
    copy_foreign_keys(con, source, target)


def describe_table(con: pg8000.native.Connection, table: str) -> dict[str, int]:
    """Counts of what makes COPY cost: columns, indexes, constraints by kind."""
    rows = con.run(
        "SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0"
        "        AND NOT attisdropped),"
        " (SELECT count(*) FROM pg_index WHERE indrelid = CAST(:t AS regclass)),"
        " (SELECT count(*) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'),"
        " (SELECT count(*) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'c'),"
        " (SELECT count(*) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'u')",
        t=table,
    )
    columns, indexes, fks, checks, uniques = rows[0]
    return {"columns": columns, "indexes": indexes, "foreign_keys": fks, "checks": checks, "unique": uniques}


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run_bench(*, detections: int = synthetic.DEMO_DETECTIONS, deer: int = synthetic.DEMO_DEER,
              dim: int = synthetic.DEFAULT_DIM, repeats: int = 3, modes: tuple[str, ...] = MODES,
              shard_size: int = DEFAULT_SHARD_SIZE, say: Callable[[str], None] = print,
              keep_database: bool = False, bulk_build: bool = False) -> BenchResult:
    settings = get_settings()
    name = f"deertrack_bench_{uuid.uuid4().hex[:8]}"
    url = db.DatabaseAddress.parse(settings.database_url).with_database(name).url()
    admin = settings.database_admin_url
    db.ensure_role_and_database(url, admin)
    say(f"scratch database {name}")
    try:
        with db.connection(url, timeout=enqueue.SOCKET_TIMEOUT_S) as con:
            migrations.apply(con)
            started = time.perf_counter()
            synthetic.load(con, detections=detections, deer=deer, dim=dim)
            con.run("ANALYZE")
            say(f"loaded {detections:,} detections x {deer} deer ({dim}-d embeddings) in "
                f"{time.perf_counter() - started:.1f} s")
            result = _measure(con, admin, repeats=repeats, modes=modes, shard_size=shard_size, say=say,
                              detections=detections, deer=deer, bulk_build=bulk_build)
    finally:
        if not keep_database:
            db.drop_database(name, admin)
    return result


def _measure(con: pg8000.native.Connection, admin: str, *, repeats: int, modes: tuple[str, ...], shard_size: int,
             say: Callable[[str], None], detections: int, deer: int, bulk_build: bool = False) -> BenchResult:
    scope = BackfillScope()
    threshold = scope.resolved_threshold()
    # The exact rows a backfill writes, formatted once, for the baseline COPY (not timed).
    first, last = con.run("SELECT min(id), max(id) FROM detections")[0]
    stored = load_detections(con, first, last, None)
    gallery = load_gallery(con)
    started = time.perf_counter()
    rescored = rescore(stored, gallery, threshold)
    scoring_s = time.perf_counter() - started
    started = time.perf_counter()
    chunks = list(rescored.copy_chunks())
    format_numpy_s = time.perf_counter() - started
    rows = rescored.rows
    result = BenchResult(detections=detections, deer=deer, rows=rows, format_numpy_s=format_numpy_s,
                         scoring_s=scoring_s,
                         times={"baseline": [], **{m: [] for m in modes}})
    say(f"{rows:,} score rows; table {SOURCE}: {describe_table(con, SOURCE)}")

    def baseline() -> None:
        con.run("BEGIN")
        copy_chunks(con, iter(chunks), TARGET, MATRIX_COLUMNS)
        con.run("COMMIT")

    def backfill(atomic: bool) -> None:
        run, _ = runner.prepare_run(con, scope, trigger="bench", atomic=atomic, shard_size=shard_size, resume=False)
        outcome = runner.execute_run(con, run)
        if outcome.rows != rows:
            raise RuntimeError(f"the backfill wrote {outcome.rows} rows, expected {rows}")

    def build() -> None:
        """The bulk-load pattern a partitioned log would use: COPY into a bare table, then index it."""
        con.run("BEGIN")
        copy_chunks(con, iter(chunks), BARE, MATRIX_COLUMNS)
        build_keys(con)
        con.run("COMMIT")

    # Fill the log once (a backfill replaces a full log), and warm the caches of both sides.
    backfill(atomic=True)
    if repeats > 1:
        create_identical_empty(con)
        baseline()
    sides: list[tuple[str, Callable[[], None]]] = [("baseline", baseline)]
    sides += [(m, (lambda a=(m == "atomic"): backfill(a))) for m in modes]
    if bulk_build:
        result.times["build"] = []
        sides.append(("build", build))
    for repeat in range(repeats):
        order = sides[repeat % len(sides):] + sides[:repeat % len(sides)]  # rotate: no side always first
        for name, action in order:
            if name == "baseline":
                create_identical_empty(con)
            elif name == "build":
                create_bare(con)
            _checkpoint(admin)
            seconds = _timed(action)
            result.times[name].append(seconds)
            say(f"  run {repeat + 1}/{repeats} {name:<9} {seconds:7.2f} s  ({rows / seconds:,.0f} rows/s)")
    # Bytes a score row takes in a freshly COPYed table (no dead tuples): heap, and all indexes.
    heap, indexes = con.run(f"SELECT pg_relation_size('{TARGET}'), pg_indexes_size('{TARGET}')")[0]
    result.heap_bytes, result.index_bytes = int(heap), int(indexes)
    con.run(f"DROP TABLE IF EXISTS {TARGET}")
    con.run(f"DROP TABLE IF EXISTS {BARE}")
    return result


def report_lines(result: BenchResult, limit: float = 1.3) -> list[str]:
    base = result.median("baseline")
    lines = [
        f"score rows: {result.rows:,} ({result.detections:,} detections x {result.deer} deer)",
        f"scoring (matrix product + decisions): {result.scoring_s * 1000:.0f} ms "
        f"({result.rows / max(result.scoring_s, 1e-9):,.0f} scores/s)",
        f"raw COPY into an identical empty table: median {base:.2f} s ({result.rows / base:,.0f} rows/s)",
        f"COPY text (score_log's encoder): {result.format_numpy_s * 1000:.0f} ms, "
        f"{result.format_numpy_s / max(base, 1e-9):.2f} of the raw COPY of the same rows",
        f"size per score row: heap {result.heap_bytes / result.rows:.0f} B + indexes "
        f"{result.index_bytes / result.rows:.0f} B = {(result.heap_bytes + result.index_bytes) / result.rows:.0f} B",
    ]
    for mode in result.times:
        if mode == "baseline":
            continue
        if mode == "build":
            median = result.median(mode)
            lines.append(f"bulk build (COPY into a bare table, then indexes and FKs): median {median:.2f} s "
                         f"({result.rows / median:,.0f} rows/s), ratio {result.ratio(mode):.2f} (scale design, "
                         "not a backfill mode)")
            continue
        median = result.median(mode)
        ratio = result.ratio(mode)
        verdict = "ok" if ratio <= limit else f"over {limit}"
        label = "backfill --atomic (TRUNCATE+COPY)" if mode == "atomic" else "backfill (shards, DELETE+COPY)"
        lines.append(f"{label}: median {median:.2f} s ({result.rows / median:,.0f} rows/s), "
                     f"ratio {ratio:.2f} ({verdict})")
    return lines
