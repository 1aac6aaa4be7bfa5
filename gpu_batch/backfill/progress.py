"""Backfill progress with rate and ETA: a tqdm bar on a terminal, a line per 10% otherwise (logs, CI)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

import pg8000.native
from tqdm import tqdm

from deertrack import db


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """On a terminal tqdm draws the bar in place (its rate and ETA count only this session's work, so a
    resumed run's earlier shards do not inflate them; rows/s as its postfix). Elsewhere each tenth gets
    one plain line (`line`), which logs keep readable."""

    def __init__(self, unit: str = "detections", stream: TextIO | None = None, width: int = 28,
                 rows_per_item: int = 0, min_interval: float = 0.2) -> None:
        self.unit = unit
        self.stream = stream or sys.stderr
        self.width = width
        self.rows_per_item = rows_per_item
        self.min_interval = min_interval
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._first: int | None = None
        self._last_decile = -1
        self._bar: tqdm | None = None
        self.done = 0
        self.total = 0

    def line(self, done: int, total: int, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        if self._first is None:
            self._first = done  # a resumed run's earlier work does not count towards the rate
        fraction = 1.0 if total <= 0 else min(done / total, 1.0)
        filled = int(round(self.width * fraction))
        elapsed = max(now - self._started, 1e-9)
        rate = (done - self._first) / elapsed
        parts = [f"[{'#' * filled}{'.' * (self.width - filled)}] {done:,}/{total:,} {self.unit} {fraction:4.0%}"]
        if rate > 0:
            parts.append(f"{rate:,.0f}/s")
            if self.rows_per_item:
                parts.append(f"{rate * self.rows_per_item:,.0f} rows/s")
            parts.append(f"ETA {clock((total - done) / rate)}" if done < total else f"in {clock(elapsed)}")
        return " · ".join(parts)

    def update(self, done: int, total: int, force: bool = False) -> None:
        self.done, self.total = done, total
        if self.tty:
            self._draw(done, total, force or done >= total)
            return
        decile = 10 if total <= 0 else int(10 * min(done / total, 1.0))
        if force or decile > self._last_decile:
            self._last_decile = decile
            self.stream.write(self.line(done, total) + "\n")
            self.stream.flush()

    def _draw(self, done: int, total: int, now: bool) -> None:
        if self._bar is None:
            self._bar = tqdm(total=total, initial=done, unit=f" {self.unit}", unit_scale=False, file=self.stream,
                             mininterval=self.min_interval, dynamic_ncols=True, leave=True)
        bar = self._bar
        bar.total = total
        rate = bar.format_dict.get("rate") or 0.0
        if self.rows_per_item and rate:
            bar.set_postfix_str(f"{rate * self.rows_per_item:,.0f} rows/s", refresh=False)
        bar.update(max(done - bar.n, 0))
        if now:
            bar.refresh()

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class ServerProgress:
    """Polls, from a second connection, how far the server really is with a run: the detections of
    its committed shards plus the rows of the COPY in flight (pg_stat_progress_copy) / rows per
    detection. Client-side progress runs ahead by whatever the socket buffers hold."""

    def __init__(self, run_id: str, backend_pid: int, rows_per_detection: int,
                 report: Callable[[int], None], url: str | None = None, interval: float = 0.5) -> None:
        self.run_id = run_id
        self.pid = backend_pid
        self.rows_per_detection = max(rows_per_detection, 1)
        self.report = report
        self.url = url
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="backfill-progress", daemon=True)

    def poll(self, con: pg8000.native.Connection) -> int:
        done, copied = con.run(
            "SELECT (SELECT coalesce(sum(detections), 0) FROM backfill_shards"
            "        WHERE run_id = :run AND done_at IS NOT NULL),"
            " (SELECT coalesce(sum(tuples_processed), 0) FROM pg_stat_progress_copy WHERE pid = :pid)",
            run=self.run_id, pid=self.pid,
        )[0]
        return int(done) + int(copied) // self.rows_per_detection

    def _loop(self) -> None:
        try:
            with db.connection(self.url) as con:
                while not self._stop.wait(self.interval):
                    self.report(self.poll(con))
        except Exception:  # noqa: BLE001 - progress display only; the run itself is unaffected
            return

    def __enter__(self) -> ServerProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
