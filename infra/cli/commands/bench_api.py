"""`deertrack bench api`: latency of the export API through HTTP on loopback, beside Redis.

Starts its own pieces, so a running dev stack is not disturbed: an embedded emulator (moto,
LocalStack, or one after the other: `--emulator`), a throwaway PostgreSQL database
(deertrack_bench_<run>, dropped at the end), a Redis key prefix of its own (bench:<run>:, deleted at
the end) on the configured Redis, a throwaway local user pool (every request carries its token,
checked as `deertrack up` checks it), and the Chalice app served over HTTP on a free loopback port.
Then it measures, in the same run:

- POST /api/exports/pdf (validate + Redis status + SQS message), without and with location_ids
  (the latter adds a PostgreSQL lookup),
- GET /api/exports/pdf/{job_id} (Redis read),
- a bare SQS SendMessage to the same emulator (what a POST spends enqueueing), and
- a bare Redis PING round trip on the same server: the baseline the others are divided by.

The HTTP figures are taken interleaved, one of each per round, so noise hits them alike. With both
emulators it ends with each one's POST p50/p99 beside its bare SendMessage.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.cli import CommandError
from infra.cli.commands.bench import add_benchmark

MIN_REQUESTS, MAX_REQUESTS = 20, 5000
EMULATOR_CHOICES = ("moto", "localstack", "both")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    from deertrack.caches import reset_caches

    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    reset_caches()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_caches()


@dataclass(frozen=True)
class BenchStack:
    api_url: str
    database_url: str
    token: str
    redis_prefix: str
    location_id: int


def start_emulator(name: str, files: Path) -> Any:
    """The embedded emulator `name` ("moto" or "localstack", its files under `files`), started."""
    from infra.emulator import EmbeddedEmulator

    if name == "moto":
        return EmbeddedEmulator().start()
    from infra.localstack import EmbeddedLocalStack, LocalStackRuntime, LocalStackUnavailable
    from infra.stack import DEFAULT_STATE_DIR

    try:  # the stack's LocalStack install, a run folder of its own
        return EmbeddedLocalStack(files, runtime=LocalStackRuntime.for_state_dir(DEFAULT_STATE_DIR)).start()
    except LocalStackUnavailable as exc:
        raise CommandError(f"LocalStack could not start: {exc}") from exc


@contextmanager
def isolated_stack(quiet: bool = True, emulator_name: str = "moto") -> Iterator[BenchStack]:
    """Emulator, throwaway database, own Redis prefix and the API over HTTP; all removed afterwards."""
    from deertrack import db, migrations
    from deertrack.auth import Role
    from deertrack.logs import logger
    from deertrack.redis_client import get_redis
    from deertrack.settings import get_settings
    from infra.api_server import ApiServer
    from infra.authorizer import JwtAuthorizer
    from infra.resources import create_resources
    from infra.template import declarations
    from infra.user_pool import UserPool

    run = uuid.uuid4().hex[:8]
    settings = get_settings()
    address = db.DatabaseAddress.parse(settings.database_url)
    database = f"deertrack_bench_{run}"
    database_url = address.with_database(database).url()
    admin_url = settings.database_admin_url
    prefix = f"bench:{run}:"
    try:
        get_redis().ping()
    except Exception as exc:
        raise CommandError(f"Redis at {settings.redis_url} is not reachable: {exc}") from exc
    try:
        db.ensure_role_and_database(database_url, admin_url)
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"cannot create the throwaway database {database} (needs DATABASE_ADMIN_URL "
                           f"to reach a superuser): {exc}") from exc

    files = tempfile.TemporaryDirectory(prefix="deertrack-bench-")
    try:
        emulator = start_emulator(emulator_name, Path(files.name))
    except BaseException:
        files.cleanup()
        db.drop_database(database, admin_url)
        raise
    keys_dir = tempfile.TemporaryDirectory(prefix="deertrack-bench-auth-")
    pool = UserPool(Path(keys_dir.name))
    jwks_url = pool.serve()
    log_level = logger.log_level
    quiet_loggers = {name: logging.getLogger(name).level for name in ("werkzeug", "botocore", "urllib3")}
    server: ApiServer | None = None
    handler_log = None
    try:
        with _environment({"AWS_ENDPOINT_URL": emulator.url, "DATABASE_URL": database_url,
                           "REDIS_KEY_PREFIX": prefix, "STAGE": "bench"}):
            if quiet:
                logger.setLevel("WARNING")
                for name in quiet_loggers:
                    logging.getLogger(name).setLevel(logging.WARNING)
            with db.connection(database_url) as con:
                migrations.apply(con)
                location_id = con.run("INSERT INTO locations (code, name, latitude, longitude) "
                                      "VALUES ('BENCH-1', 'Bench camera', 44.1, -73.2) RETURNING id")[0][0]
            create_resources(declarations("bench"))
            server = ApiServer(port=0, authorizer=JwtAuthorizer(jwks_url, settings.auth_issuer,
                                                                settings.auth_audience))
            # The dev server writes headers and body separately; with Nagle on, loopback delayed ACKs
            # add ~40 ms to every answer, which API Gateway does not. Measure the API, not that.
            _handler_class(server).disable_nagle_algorithm = True
            if quiet:
                handler_cls = _handler_class(server)
                handler_log = handler_cls.log_message
                handler_cls.log_message = lambda *args, **kwargs: None  # type: ignore[method-assign]
            server.start()
            try:
                yield BenchStack(server.url, database_url, pool.mint("bench", Role.VIEWER), prefix,
                                 int(location_id))
            finally:
                server.stop()
                if handler_log is not None:
                    _handler_class(server).log_message = handler_log  # type: ignore[method-assign]
                redis = get_redis()
                keys = list(redis.scan_iter(match=prefix + "*", count=1000))
                for start in range(0, len(keys), 500):
                    redis.delete(*keys[start:start + 500])
    finally:
        logger.setLevel(log_level)
        for name, level in quiet_loggers.items():
            logging.getLogger(name).setLevel(level)
        emulator.stop()
        files.cleanup()
        pool.stop()
        keys_dir.cleanup()
        try:
            db.drop_database(database, admin_url)
        except db.DatabaseUnavailable as exc:
            print(f"warning: could not drop {database}: {exc}")


def _handler_class(server: object) -> type:
    """The request handler class of the Chalice dev server (it is wrapped in a functools.partial)."""
    handler = server.server.server.RequestHandlerClass  # type: ignore[attr-defined]
    return getattr(handler, "func", handler)


# ------------------------------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class Figure:
    name: str
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples_ms, 99)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms)


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Client:
    """One keep-alive HTTP/1.1 connection; reconnects if the server closes it."""

    def __init__(self, base_url: str, token: str) -> None:
        self.authorization = f"Bearer {token}"
        host, port = base_url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        headers["Authorization"] = self.authorization
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def timed(action: Callable[[], object]) -> float:
    """Milliseconds one call of `action` takes."""
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


#: The emulator's SendMessage slows down as a queue grows; empty it this often (untimed).
PURGE_EVERY = 50


def measure(stack: BenchStack, requests: int, warmup: int) -> list[Figure]:
    """The HTTP figures are taken interleaved (one of each per round), so they see the same conditions."""
    from deertrack.aws import client as aws_client
    from deertrack.queues import queue_url
    from deertrack.redis_client import get_redis
    from deertrack.settings import get_settings

    client = Client(stack.api_url, stack.token)
    body = {"report_type": "seasonal_activity", "start_date": "2024-09-01", "end_date": "2024-11-30"}
    plain = json.dumps(body).encode()
    with_ids = json.dumps({**body, "location_ids": [stack.location_id]}).encode()
    job_ids: list[str] = []
    exports_queue = queue_url(get_settings().exports_queue_name)

    def post(payload: bytes) -> None:
        status, answer = client.request("POST", "/api/exports/pdf", payload)
        if status != 202:
            raise CommandError(f"POST /api/exports/pdf answered {status}: {answer[:300]!r}")
        job_ids.append(json.loads(answer)["job_id"])

    def get() -> None:
        status, answer = client.request("GET", f"/api/exports/pdf/{job_ids[len(job_ids) // 2]}")
        if status != 200:
            raise CommandError(f"GET status answered {status}: {answer[:300]!r}")

    def empty_queue() -> None:  # PurgeQueue is allowed once a minute; receive and delete instead
        sqs = aws_client("sqs")
        while messages := sqs.receive_message(QueueUrl=exports_queue, MaxNumberOfMessages=10,
                                              WaitTimeSeconds=0).get("Messages", []):
            sqs.delete_message_batch(QueueUrl=exports_queue, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)])

    redis = get_redis()
    sqs = aws_client("sqs")

    def bare_send() -> None:
        sqs.send_message(QueueUrl=exports_queue, MessageBody=plain.decode())

    names = ["POST /api/exports/pdf", "POST /api/exports/pdf +location_ids", "GET /api/exports/pdf/{job_id}",
             "SQS SendMessage, bare (emulator)"]
    samples: dict[str, list[float]] = {name: [] for name in names}
    try:
        for _ in range(warmup):
            post(plain)
            post(with_ids)
            get()
            redis.ping()
        empty_queue()
        baseline = [timed(redis.ping) for _ in range(requests * 4)]
        for i in range(requests):
            if i and i % PURGE_EVERY == 0:
                empty_queue()
            samples[names[0]].append(timed(lambda: post(plain)))
            samples[names[1]].append(timed(lambda: post(with_ids)))
            samples[names[2]].append(timed(get))
            samples[names[3]].append(timed(bare_send))
        baseline += [timed(redis.ping) for _ in range(requests * 4)]
    finally:
        client.close()
    return [Figure("redis PING (baseline)", baseline), *(Figure(name, samples[name]) for name in names)]


def report(figures: list[Figure]) -> str:
    baseline = figures[0]
    lines = [f"{'what':<38} {'n':>6} {'p50 ms':>9} {'p99 ms':>9} {'p50 ×redis':>11} {'p99 ×redis':>11}"]
    for figure in figures:
        lines.append(f"{figure.name:<38} {len(figure.samples_ms):>6} {figure.p50:>9.3f} {figure.p99:>9.3f} "
                     f"{figure.p50 / baseline.p50:>11.1f} {figure.p99 / baseline.p99:>11.1f}")
    return "\n".join(lines)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=300, metavar="N",
                        help=f"requests per HTTP figure ({MIN_REQUESTS}-{MAX_REQUESTS}, default 300); "
                             "the Redis baseline takes 8×N PINGs, half before and half after")
    parser.add_argument("--warmup", type=int, default=20, metavar="N", help="unmeasured requests first (default 20)")
    parser.add_argument("--emulator", choices=EMULATOR_CHOICES, default="both",
                        help="the embedded emulator behind the API: moto, localstack, or both one after the other "
                             "(default both)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")


def run(args: argparse.Namespace) -> int:
    if not MIN_REQUESTS <= args.requests <= MAX_REQUESTS:
        raise CommandError(f"--requests must be {MIN_REQUESTS}-{MAX_REQUESTS}, got {args.requests}", code=2)
    if not 0 <= args.warmup <= 1000:
        raise CommandError(f"--warmup must be 0-1000, got {args.warmup}", code=2)
    emulators = ["moto", "localstack"] if args.emulator == "both" else [args.emulator]
    results: dict[str, list[Figure]] = {}
    for name in emulators:
        print(f"starting {name}, throwaway database and API on loopback ...", flush=True)
        with isolated_stack(emulator_name=name) as stack:
            print(f"API at {stack.api_url}; database {stack.database_url.rsplit('/', 1)[1]}, "
                  f"Redis prefix {stack.redis_prefix}; {args.requests} requests per figure, sequential, keep-alive",
                  flush=True)
            results[name] = measure(stack, args.requests, args.warmup)
        print(f"\n{name}:\n{report(results[name])}\n", flush=True)
    print(comparison(results))
    if args.json:
        print(json.dumps({name: {f.name: {"n": len(f.samples_ms), "p50_ms": round(f.p50, 3),
                                          "p99_ms": round(f.p99, 3), "mean_ms": round(f.mean, 3)} for f in figures}
                          for name, figures in results.items()}))
    return 0


def comparison(results: dict[str, list[Figure]]) -> str:
    """Per emulator: POST p50/p99 beside the bare SendMessage to the same emulator (same run)."""
    lines = [f"{'emulator':<11} {'POST p50':>9} {'p99':>8} {'SendMessage p50':>16} {'p99':>8} "
             f"{'POST/Send p50':>14} {'p99':>6}   (ms)"]
    for name, figures in results.items():
        by_name = {f.name: f for f in figures}
        post, send = by_name["POST /api/exports/pdf"], by_name["SQS SendMessage, bare (emulator)"]
        lines.append(f"{name:<11} {post.p50:>9.2f} {post.p99:>8.2f} {send.p50:>16.2f} {send.p99:>8.2f} "
                     f"{post.p50 / send.p50:>14.1f} {post.p99 / send.p99:>6.1f}")
    return "\n".join(lines)


add_benchmark("api", "export API p50/p99 through HTTP on loopback, beside a bare Redis round trip",
              run, configure)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Nothing at the top level: this module adds `deertrack bench api` through add_benchmark."""
