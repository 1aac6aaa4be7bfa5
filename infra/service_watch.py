"""Keeps the local stack's servers up: the ones it started are restarted when they die, the others reported.

`deertrack up` watches Redis, PostgreSQL and the AWS emulator once a second:

* a **throwaway** server (started by the stack: its Redis, its PostgreSQL, the embedded LocalStack or
  moto) that died is restarted on the same port, so every client's URL stays right, with a backoff
  when it fails to start (1 s, 2 s, 4 s … 30 s). What a restart loses is put back: the emulator's
  queues, buckets, notifications and schedules are created again from template.yaml (a restarted
  emulator starts empty); PostgreSQL keeps its data directory; Redis comes back empty, which the job
  store survives (jobs.py, export_worker.py);
* a **configured** server (REDIS_URL, DATABASE_URL, AWS_ENDPOINT_URL) that stops answering is reported
  once, and again when it answers (an emulator is then provisioned again); it is never restarted.

Every event is one log line naming the service, its URL and what was done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from deertrack.logs import logger

MAX_BACKOFF_S = 30.0


@dataclass
class Watched:
    """One server: how to tell it is up, and (for the stack's own) how to bring it back."""

    name: str  # "Redis", "PostgreSQL", "AWS emulator"
    url: str
    alive: Callable[[], bool]
    #: None: not started by the stack (configured): reported, never restarted.
    restart: Callable[[], None] | None = None
    #: Puts back what the server lost (the emulator's resources); run after a restart or a return.
    provision: Callable[[], None] | None = None
    down_since: float | None = None
    restarts: int = 0
    backoff: float = 1.0
    next_try: float = 0.0
    events: list[str] = field(default_factory=list)

    @property
    def own(self) -> bool:
        return self.restart is not None


class ServiceWatch:
    """Checks every `interval` seconds on a thread of its own (start/stop), or once (check)."""

    def __init__(self, services: list[Watched], interval: float = 1.0) -> None:
        self.services = services
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="service-watch", daemon=True)

    def start(self) -> ServiceWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=120)  # a restart in progress finishes first

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def check(self) -> None:
        for service in self.services:
            if self._stop.is_set():
                return
            try:
                self._check(service)
            except Exception:  # noqa: BLE001 - the watch must outlive any one failure
                logger.exception("service watch failed", extra={"service": service.name})

    def _check(self, service: Watched) -> None:
        up = service.alive()
        now = time.monotonic()
        if up:
            if service.down_since is not None and not service.own:
                self._provision(service)
                self._event(service, "info", f"the configured {service.name} answers again",
                            down_s=round(now - service.down_since, 1))
            service.down_since = None
            service.backoff = 1.0
            return
        if service.down_since is None:
            service.down_since = now
            if not service.own:
                self._event(service, "warning", f"the configured {service.name} does not answer; it was not "
                            "started by this stack, so it is not restarted (start it again, or fix its URL)")
                return
        if not service.own or now < service.next_try:
            return
        self._event(service, "error", f"the throwaway {service.name} died; restarting it on the same port",
                    attempt=service.restarts + 1)
        try:
            assert service.restart is not None
            service.restart()
            self._provision(service)
        except Exception as exc:  # noqa: BLE001 - try again after the backoff
            service.next_try = now + service.backoff
            self._event(service, "error", f"the throwaway {service.name} could not be restarted; trying again",
                        error=f"{type(exc).__name__}: {exc}", retry_in_s=service.backoff)
            service.backoff = min(service.backoff * 2, MAX_BACKOFF_S)
            return
        service.restarts += 1
        self._event(service, "warning", f"the throwaway {service.name} was restarted",
                    down_s=round(time.monotonic() - service.down_since, 1), restarts=service.restarts)
        service.down_since = None
        service.backoff = 1.0

    @staticmethod
    def _provision(service: Watched) -> None:
        if service.provision is not None:
            service.provision()

    @staticmethod
    def _event(service: Watched, level: str, message: str, **fields: object) -> None:
        service.events.append(message)
        getattr(logger, level)(message, extra={"service": service.name, "url": service.url, **fields})
