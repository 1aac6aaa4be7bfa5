"""`deertrack bench load`: a mix of API requests from concurrent keep-alive clients against a running stack.

The mix is issue 16's: 60% job-status GETs (`GET /api/exports/pdf/{job_id}`, Redis), 10% PDF report POSTs
(`POST /api/exports/pdf`: validation, Redis, SQS), 30% `GET /api/deer?limit=20` (PostgreSQL). Each level
(concurrency 1, 8, 32 by default) sends `--requests` of them from that many threads, each with one
persistent HTTP/1.1 connection, and reports throughput, p50/p99 per kind, the errors by kind (refused
connections, timeouts, resets, non-2xx answers), and the client's own CPU use, which says whether the
load generator was the limit. It exits 1 when any request erred.

The PDF requests cover a short date range (`--pdf-days`), so the worker's renders stay small; the jobs
they create are cancelled at the end (untimed) unless `--keep-jobs`.

With `--reads N`, the read routes are first timed one request at a time (N each), with no other request in
flight and no render of ours running: the figure behind "read routes answer in 5 ms p50".
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from infra.cli import CommandError

#: What is sent, in what share (percent).
MIX = {"status": 60, "pdf": 10, "deer": 30}
LABELS = {"status": "GET /api/exports/pdf/{job_id}", "pdf": "POST /api/exports/pdf",
          "deer": "GET /api/deer?limit=20"}
#: Status codes each kind must answer with.
EXPECTED = {"status": 200, "pdf": 202, "deer": 200}
DEFAULT_CONCURRENCY = (1, 8, 32)
#: Jobs created before the levels, whose status the status GETs ask for.
STATUS_JOBS = 20
#: First day of the PDF reports' range (inside the demo data set, 2023-09-01 to 2024-01-31).
PDF_START = date(2023, 10, 1)
BENCH_USER = "bench-load"


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no samples)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def request_mix(count: int, seed: int = 16) -> list[str]:
    """`count` request kinds in MIX's shares (exact to one request), in a fixed shuffled order."""
    total = sum(MIX.values())
    kinds = [kind for kind, share in MIX.items() for _ in range(count * share // total)]
    kinds += [kind for kind, _ in sorted(MIX.items(), key=lambda item: -item[1])][: count - len(kinds)]
    random.Random(seed).shuffle(kinds)
    return kinds


class Client:
    """One persistent HTTP/1.1 connection. An error is recorded as what it was, never retried."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        parts = urlparse(url)
        if parts.scheme != "http" or not parts.hostname:
            raise CommandError(f"--url must be http://HOST:PORT, got {url!r}", code=2)
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}"}
        self.connection: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self.connection.connect()

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """(status, body); OSError / HTTPException as raised (the connection is then dropped)."""
        if self.connection is None:
            self.connect()
        assert self.connection is not None
        headers = {**self.headers, **({"Content-Type": "application/json"} if body is not None else {})}
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def error_kind(exc: BaseException) -> str:
    """What a failed request was, in the report's words."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection reset"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "closed by server"
    return type(exc).__name__


@dataclass
class Level:
    """What one concurrency level measured."""

    concurrency: int
    seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    samples_ms: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in MIX})
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return sum(len(s) for s in self.samples_ms.values()) + sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "requests_per_s": round(self.throughput, 1),
            "client_cpu_percent": round(100 * self.client_cpu_seconds / self.seconds, 1) if self.seconds else 0.0,
            "kinds": {kind: {"route": LABELS[kind], "ok": len(s), "p50_ms": round(percentile(s, 50), 2),
                             "p99_ms": round(percentile(s, 99), 2)} for kind, s in self.samples_ms.items()},
            "errors": sum(self.errors.values()),
            "error_kinds": dict(sorted(self.errors.items())),
        }


#: The review queue with a new page each request (offsets 1, 2, …): what a page costs when the process has no
#: answer kept for it (deertrack/snapshot_cache.py), where the same page again is one kept.
REVIEW_QUEUE_PAGES = "GET /api/review/queue?limit=20&offset={page} (a new page each time)"
#: The read routes timed alone, one request at a time (paths filled in from the data the stack holds).
READS = ("GET /api/exports/pdf/{job_id}", "GET /api/deer?limit=20", "GET /api/deer/{deer_id}",
         "GET /api/detections/{detection_id}", "GET /api/review/queue?limit=20", REVIEW_QUEUE_PAGES)


@dataclass
class Reads:
    """Latency of each read route, sequential, on one keep-alive connection."""

    samples_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {route: {"ok": len(samples), "p50_ms": round(percentile(samples, 50), 2),
                        "p99_ms": round(percentile(samples, 99), 2)} for route, samples in self.samples_ms.items()}


class LoadRun:
    """The stack under test, the bodies sent, and the jobs made on the way."""

    def __init__(self, url: str, token: str, *, pdf_days: int, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        end = PDF_START + timedelta(days=pdf_days - 1)
        self.pdf_body = json.dumps({"report_type": "seasonal_activity", "start_date": PDF_START.isoformat(),
                                    "end_date": end.isoformat(), "group_by": "day"}).encode()
        self.status_ids: list[str] = []
        self.created: list[str] = []
        self._lock = threading.Lock()

    def client(self) -> Client:
        return Client(self.url, self.token, self.timeout)

    def prepare(self, jobs: int = STATUS_JOBS) -> None:
        """Check the stack answers and the token is accepted, then make the jobs the status GETs read."""
        client = self.client()
        try:
            for _ in range(jobs):
                status, body = client.request("POST", "/api/exports/pdf", self.pdf_body)
                if status != 202:
                    raise CommandError(f"POST /api/exports/pdf answered {status}: {body[:300]!r}")
                self.status_ids.append(json.loads(body)["job_id"])
        except (OSError, http.client.HTTPException) as exc:
            raise CommandError(f"no API answers at {self.url} ({error_kind(exc)}: {exc}); start the stack "
                               "(`make run` or `deertrack up`) or pass --url") from exc
        finally:
            client.close()
        self.created.extend(self.status_ids)

    def send(self, client: Client, kind: str, n: int) -> tuple[int, bytes]:
        if kind == "status":
            return client.request("GET", f"/api/exports/pdf/{self.status_ids[n % len(self.status_ids)]}")
        if kind == "pdf":
            status, body = client.request("POST", "/api/exports/pdf", self.pdf_body)
            if status == 202:
                with self._lock:
                    self.created.append(json.loads(body)["job_id"])
            return status, body
        return client.request("GET", "/api/deer?limit=20")

    def read_paths(self, client: Client) -> dict[str, str]:
        """READS with real ids: the first deer of the list and its latest detection (404s would flatter)."""
        status, body = client.request("GET", "/api/deer?limit=1")
        if status != 200 or not json.loads(body)["items"]:
            raise CommandError(f"GET /api/deer?limit=1 answered {status} with no deer: seed data first "
                               "(`deertrack seed --demo`, or `make run`)")
        deer_id = json.loads(body)["items"][0]["id"]
        status, body = client.request("GET", f"/api/deer/{deer_id}")
        recent = json.loads(body).get("recent_detections") or [] if status == 200 else []
        if not recent:
            raise CommandError(f"deer {deer_id} has no detections to read (GET /api/deer/{deer_id} answered {status})")
        ids = {"job_id": self.status_ids[0], "deer_id": deer_id, "detection_id": recent[0]["detection_id"],
               "page": "{page}"}  # filled in per request
        return {route: route.split(" ", 1)[1].split(" (", 1)[0].format(**ids) for route in READS}

    def settle(self, client: Client, timeout_s: float = 120.0) -> None:
        """Wait until no render of the prepared jobs runs, so the reads share the CPU with nothing of ours
        (a job still queued after a grace second has no worker to render it: nothing to wait for)."""
        time.sleep(1.0)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = [json.loads(client.request("GET", f"/api/exports/pdf/{job}")[1]).get("status")
                      for job in self.status_ids]
            if "processing" not in states:
                return
            time.sleep(0.5)

    def reads(self, count: int) -> Reads:
        """Each read route `count` times in turn, alone (after one untimed warm-up request each)."""
        result = Reads()
        client = self.client()
        try:
            self.settle(client)
            for route, path in self.read_paths(client).items():
                samples = result.samples_ms.setdefault(route, [])
                for n in range(count + 1):
                    started = time.perf_counter()
                    try:
                        status, _ = client.request("GET", path.format(page=n + 1))
                    except (OSError, http.client.HTTPException) as exc:
                        result.errors[error_kind(exc)] += 1
                        client.close()
                        continue
                    elapsed = (time.perf_counter() - started) * 1000
                    if status != 200:
                        result.errors[f"HTTP {status}"] += 1
                    elif n:
                        samples.append(elapsed)
        finally:
            client.close()
        return result

    def level(self, concurrency: int, requests: int) -> Level:
        """`requests` of the mix from `concurrency` threads, each on its own connection, all started at once."""
        kinds = request_mix(requests, seed=concurrency)
        result = Level(concurrency)
        position = iter(range(requests))
        lock = threading.Lock()
        clients = [self.client() for _ in range(concurrency)]
        for client in clients:
            try:
                client.connect()
            except OSError as exc:
                result.errors[error_kind(exc)] += 1
        start = threading.Barrier(concurrency + 1)

        def work(client: Client) -> None:
            samples: dict[str, list[float]] = {kind: [] for kind in MIX}
            errors: Counter[str] = Counter()
            start.wait()
            while True:
                with lock:
                    n = next(position, None)
                if n is None:
                    break
                kind = kinds[n]
                began = time.perf_counter()
                try:
                    status, _ = self.send(client, kind, n)
                except (OSError, http.client.HTTPException) as exc:
                    errors[error_kind(exc)] += 1
                    continue
                if status != EXPECTED[kind]:
                    errors[f"HTTP {status} on {LABELS[kind]}"] += 1
                    continue
                samples[kind].append((time.perf_counter() - began) * 1000)
            with lock:
                for kind, values in samples.items():
                    result.samples_ms[kind].extend(values)
                result.errors.update(errors)

        threads = [threading.Thread(target=work, args=(c,), name=f"load-{i}", daemon=True)
                   for i, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        cpu = time.process_time()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        result.seconds = time.perf_counter() - began
        result.client_cpu_seconds = time.process_time() - cpu
        for client in clients:
            client.close()
        return result

    def cancel_jobs(self) -> int:
        """DELETE every job this run made (untimed); how many were cancelled."""
        client = self.client()
        cancelled = 0
        try:
            for job_id in self.created:
                status, _ = client.request("DELETE", f"/api/exports/{job_id}")
                cancelled += status == 204
        except (OSError, http.client.HTTPException):
            pass
        finally:
            client.close()
        return cancelled


def report(levels: list[Level]) -> str:
    lines = [f"{'clients':>7}  {'kind':<31} {'ok':>6} {'p50 ms':>8} {'p99 ms':>8}"]
    for level in levels:
        for kind, samples in level.samples_ms.items():
            lines.append(f"{level.concurrency:>7}  {LABELS[kind]:<31} {len(samples):>6} "
                         f"{percentile(samples, 50):>8.2f} {percentile(samples, 99):>8.2f}")
        errors = ", ".join(f"{count} {kind}" for kind, count in sorted(level.errors.items())) or "none"
        cpu = 100 * level.client_cpu_seconds / level.seconds if level.seconds else 0.0
        lines.append(f"{level.concurrency:>7}  all: {level.requests} requests in {level.seconds:.2f} s = "
                     f"{level.throughput:.0f} req/s; errors: {sum(level.errors.values())} ({errors}); "
                     f"client CPU {cpu:.0f}% of one core")
    return "\n".join(lines)


def reads_report(reads: Reads) -> str:
    width = max([len("read route, alone"), *map(len, reads.samples_ms)])
    lines = [f"{'read route, alone':<{width}} {'ok':>6} {'p50 ms':>8} {'p99 ms':>8}"]
    for route, samples in reads.samples_ms.items():
        lines.append(f"{route:<{width}} {len(samples):>6} {percentile(samples, 50):>8.2f} "
                     f"{percentile(samples, 99):>8.2f}")
    errors = ", ".join(f"{count} {kind}" for kind, count in sorted(reads.errors.items())) or "none"
    lines.append(f"read routes: errors: {sum(reads.errors.values())} ({errors})")
    return "\n".join(lines)


def concurrency_levels(text: str) -> list[int]:
    """argparse type of --concurrency: comma-separated client counts, 1-512 each."""
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, e.g. 1,8,32; got {text!r}") from None
    if not levels or not all(1 <= n <= 512 for n in levels):
        raise argparse.ArgumentTypeError(f"each concurrency must be 1-512, got {text!r}")
    return levels


def default_url() -> str:
    from deertrack.settings import get_settings

    settings = get_settings()
    return f"http://{settings.api_host}:{settings.api_port}"


def bench_token(state_dir: Path | None) -> str:
    """$TOKEN, else a viewer token of the local user pool of the stack's state directory (as `deertrack token`)."""
    if os.environ.get("TOKEN", "").strip():
        return os.environ["TOKEN"].strip()
    from deertrack.auth import Role
    from infra.stack import DEFAULT_STATE_DIR
    from infra.user_pool import UserPool, user_pool_dir

    return UserPool(user_pool_dir((state_dir or DEFAULT_STATE_DIR).resolve())).mint(BENCH_USER, Role.VIEWER)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None, metavar="URL",
                        help="the running API (default: API_HOST:API_PORT, http://127.0.0.1:8001)")
    parser.add_argument("--token", default=None, metavar="JWT",
                        help="bearer token (default: $TOKEN, else a viewer token minted with the local user pool "
                             "of --state-dir, as `deertrack token` does)")
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="the running stack's state directory (default: .local/ in the checkout)")
    parser.add_argument("--concurrency", type=concurrency_levels, default=list(DEFAULT_CONCURRENCY),
                        metavar="N[,N…]", help="client threads per level (default 1,8,32)")
    parser.add_argument("--requests", type=int, default=2000, metavar="N",
                        help="requests per level (default 2000)")
    parser.add_argument("--reads", type=int, default=0, metavar="N",
                        help="also time each read route alone, N requests each, before the mix (needs deer with "
                             "detections: the demo data; default 0, off)")
    parser.add_argument("--pdf-days", type=int, default=7, metavar="DAYS",
                        help="days covered by each PDF report request (default 7, from 2023-10-01)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="per-request timeout (default 30)")
    parser.add_argument("--keep-jobs", action="store_true", help="do not cancel the jobs the run created")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object (last line)")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.requests <= 1_000_000:
        raise CommandError(f"--requests must be 1-1000000, got {args.requests}", code=2)
    if not 0 <= args.reads <= 100_000:
        raise CommandError(f"--reads must be 0-100000, got {args.reads}", code=2)
    if not 1 <= args.pdf_days <= 120:
        raise CommandError(f"--pdf-days must be 1-120, got {args.pdf_days}", code=2)
    if not args.timeout > 0:
        raise CommandError(f"--timeout must be positive, got {args.timeout}", code=2)
    url = args.url or default_url()
    load = LoadRun(url, args.token or bench_token(args.state_dir), pdf_days=args.pdf_days, timeout=args.timeout)
    mix = ", ".join(f"{share}% {LABELS[kind]}" for kind, share in MIX.items())
    print(f"bench load against {url}: {args.requests} requests per level ({mix}), one keep-alive connection "
          f"per client thread; concurrency {', '.join(map(str, args.concurrency))}", flush=True)
    load.prepare()
    levels: list[Level] = []
    reads = Reads()
    try:
        if args.reads:
            reads = load.reads(args.reads)
            print(reads_report(reads), flush=True)
        for concurrency in args.concurrency:
            levels.append(load.level(concurrency, args.requests))
            print(f"  concurrency {concurrency}: {levels[-1].throughput:.0f} req/s, "
                  f"{sum(levels[-1].errors.values())} errors", flush=True)
    finally:
        if not args.keep_jobs:
            cancelled = load.cancel_jobs()
            print(f"cancelled {cancelled} of the {len(load.created)} jobs this run created", flush=True)
    print(report(levels))
    if args.json:
        print(json.dumps({"url": url, "mix": MIX, "reads": reads.as_dict(),
                          "levels": [level.as_dict() for level in levels]}))
    return 1 if reads.errors or any(level.errors for level in levels) else 0
