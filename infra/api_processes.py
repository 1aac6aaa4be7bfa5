"""The local API in processes of its own: one listening socket held by the stack, N supervised processes
accepting on it (infra/api_server.py `main`), each with its own interpreter lock.

The stack binds the port and keeps the socket with its backlog (LISTEN_BACKLOG), so connections that
arrive while a process starts or restarts wait in the queue instead of being refused. A process that
dies is restarted with backoff and the log says so (infra/processes.py Supervised); stopping asks each
one to stop, then kills what is left, and closes the socket.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time

from infra.api_server import LISTEN_BACKLOG
from infra.processes import Supervised, module_argv, stop_all

#: At most this many API processes by default (each is a warm "container" with its own imports).
MAX_DEFAULT_PROCESSES = 8
#: Seconds the first API process may take to serve (imports on a busy machine).
READY_TIMEOUT_S = 120.0


def default_process_count() -> int:
    """One process per usable CPU, at least 2 (one restarting never leaves the API alone), at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(2, min(cpus, MAX_DEFAULT_PROCESSES))


def listening_socket(host: str, port: int, backlog: int = LISTEN_BACKLOG) -> socket.socket:
    """A TCP socket bound to host:port (0: any free port) and listening with `backlog`; OSError when taken."""
    sock = socket.create_server((host, port), backlog=backlog)
    sock.setblocking(False)  # shared by the processes: the ones that lose a race to accept go back to waiting
    return sock


class ApiProcesses:
    """`count` API processes serving one socket on host:port until stop()."""

    def __init__(self, host: str, port: int, count: int | None = None) -> None:
        self.count = count or default_process_count()
        if self.count < 1:
            raise ValueError(f"API processes must be at least 1, got {self.count}")
        self.socket = listening_socket(host, port)
        self.host = host
        self.port = self.socket.getsockname()[1]
        #: Each process writes one byte here when it starts serving (wait_ready).
        self._ready, ready = os.pipe()
        self._ready_writer = ready
        fd = self.socket.fileno()
        self.processes = [
            Supervised(f"API process {n}", module_argv("infra.api_server", "--fd", str(fd), "--ready-fd", str(ready),
                                                       "--name", f"API process {n}"),
                       pass_fds=[fd, ready], stop_timeout=10)
            for n in range(1, self.count + 1)
        ]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ApiProcesses:
        for process in self.processes:
            process.start()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT_S, stop: threading.Event | None = None) -> str | None:
        """Wait until a process serves (it says so on the ready pipe); None when one does, else why not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if stop is not None and stop.is_set():
                return "stop requested"
            readable, _, _ = select.select([self._ready], [], [], 0.2)
            if readable:
                os.read(self._ready, 4096)
                return None
        codes = [code for process in self.processes for code in process.exit_codes]
        return f"no process served within {timeout:.0f} s" + (f" (exit codes {codes})" if codes else "")

    def pids(self) -> list[int]:
        """The live processes' pids."""
        return [p.process.pid for p in self.processes if p.process is not None and p.process.poll() is None]

    def stop(self) -> None:
        try:
            stop_all(self.processes)
        finally:
            self.socket.close()
            for fd in (self._ready, self._ready_writer):
                with contextlib.suppress(OSError):
                    os.close(fd)
