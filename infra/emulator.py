"""The embedded moto server, reached over real HTTP, and what every embedded emulator offers.

The other embedded emulator is LocalStack (infra/localstack); the stack, the tests and the
benchmark use either through the Emulator protocol.
"""

from __future__ import annotations

import contextlib
import os
import urllib.request
from importlib.metadata import version
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
