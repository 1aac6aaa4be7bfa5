"""The embedded moto server, reached over real HTTP, and what every embedded emulator offers.

moto runs on a thread of the caller (EmbeddedEmulator: tests, benchmarks) or as a process of its own
(MotoProcess: `deertrack up`, so that its requests do not share an interpreter lock with the stack).
The other embedded emulator is LocalStack (infra/localstack), always a process of its own; the stack,
the tests and the benchmark use either through the Emulator protocol.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from importlib.metadata import version
from types import FrameType
from typing import Protocol

from moto.server import ThreadedMotoServer

from infra.ports import free_port

EMULATORS = ("localstack", "moto")


class Emulator(Protocol):
    name: str  # "localstack" or "moto"
    version: str | None

    @property
    def url(self) -> str: ...

    def reset(self) -> None:
        """Forget every resource."""

    def alive(self) -> bool:
        """Whether it still serves."""

    def restart(self) -> Emulator:
        """Serve again on the same port (LocalStack comes back empty; moto keeps this process's state)."""

    def stop(self) -> None: ...


class EmbeddedEmulator:
    """moto in server mode on a thread of this process."""

    name = "moto"

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server = ThreadedMotoServer(ip_address=host, port=self.port, verbose=False)
        self.version: str | None = version("moto")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmbeddedEmulator:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        self._server.start()
        return self

    def alive(self) -> bool:
        """Whether it answers HTTP on its port."""
        try:
            urllib.request.urlopen(f"{self.url}/moto-api/config", timeout=2).close()
        except OSError:
            return False
        return True

    def restart(self) -> EmbeddedEmulator:
        """A new server on the same port (whatever became of the old one)."""
        with contextlib.suppress(Exception):  # already stopped, or its thread died
            self._server.stop()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        return self.start()

    def reset(self) -> None:
        """Forget every resource (moto's own reset API)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        self._server.stop()


#: Seconds a moto process may take to answer after it was started.
START_TIMEOUT_S = 60.0


class EmulatorUnavailable(RuntimeError):
    """The moto process did not start or did not answer."""


class MotoProcess:
    """moto in server mode in a process of its own (its own process group, ended with its parent)."""

    name = "moto"

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.version: str | None = version("moto")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, stop: threading.Event | None = None, timeout: float = START_TIMEOUT_S) -> MotoProcess:
        """Start it and wait until it answers; EmulatorUnavailable (with its exit code) when it does not."""
        from infra.processes import module_argv, spawn

        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        self.process = spawn(module_argv("infra.emulator", "--host", self.host, "--port", str(self.port)))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            if self.process.poll() is not None:
                raise EmulatorUnavailable(f"the moto process exited with {self.process.returncode} before it "
                                          f"answered on {self.url}")
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=5).close()
                return self
            except urllib.error.HTTPError:
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise EmulatorUnavailable(f"moto did not answer on {self.url} within {timeout:.0f} s")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart(self, cancelled: threading.Event | None = None) -> MotoProcess:
        """Stop what is left of it and start it again on the same port, empty (as LocalStack restarts)."""
        self.stop()
        return self.start(cancelled)

    def reset(self) -> None:
        """Forget every resource (moto's own reset API)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        from infra.processes import stop_group

        if self.process is not None:
            stop_group(self.process, signal.SIGTERM, timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    """The moto process (MotoProcess): serve on --host:--port until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="infra.emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request at INFO
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    stopped.wait()
    server.stop()
    return 0
