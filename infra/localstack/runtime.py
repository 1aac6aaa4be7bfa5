"""LocalStack's own virtualenv: the pinned core from requirements.lock, installed once under the state directory.

LocalStack's core cannot share deertrack's virtualenv (it pins its own boto3, moto and many more) and
needs Python 3.11 (4.13.1, the last core that runs on it). The virtualenv is made on first use,
installed with `--no-deps` from the lock (so every machine gets exactly the locked set, from the
configured package index), and marked with the lock's hash: a changed lock reinstalls it, an install
that was interrupted is redone. A file lock keeps two stacks from installing it at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from deertrack.logs import logger
from infra.services import log_tail

LOCK_FILE = Path(__file__).resolve().parent / "requirements.lock"
LAUNCHER = Path(__file__).resolve().parent / "launch.py"
PYTHON_VERSION = (3, 11)
INSTALL_TIMEOUT_SECONDS = 1200
#: Where the virtualenv lives when set (tests share one install); else <state dir>/localstack/venv.
VENV_VARIABLE = "DEERTRACK_LOCALSTACK_VENV"


class LocalStackUnavailable(RuntimeError):
    """LocalStack could not be installed or started; the message says why and what to do."""


def lock_digest(lock_file: Path = LOCK_FILE) -> str:
    return hashlib.sha256(lock_file.read_bytes()).hexdigest()


def locked_version(package: str = "localstack-core", lock_file: Path = LOCK_FILE) -> str:
    """The version the lock pins for `package`."""
    for line in lock_file.read_text().splitlines():
        name, _, version = line.strip().partition("==")
        if name.lower() == package:
            return version
    raise LocalStackUnavailable(f"{lock_file} pins no {package}")


def find_python() -> Path:
    """A Python 3.11 interpreter: this one when it is 3.11, else python3.11 on PATH."""
    wanted = ".".join(map(str, PYTHON_VERSION))
    if sys.version_info[:2] == PYTHON_VERSION:
        return Path(sys.executable)
    found = shutil.which(f"python{wanted}")
    if found is None:
        raise LocalStackUnavailable(
            f"LocalStack's core {locked_version()} needs Python {wanted} (newer cores need 3.12+ syntax and an "
            f"account), and there is no python{wanted} on PATH. Install it (Debian: sudo apt-get install "
            f"python{wanted} python{wanted}-venv) or use --emulator moto."
        )
    return Path(found)


@dataclass(frozen=True)
class LocalStackRuntime:
    """The virtualenv at `directory` holding the locked LocalStack core."""

    directory: Path

    @property
    def python(self) -> Path:
        return self.directory / "bin" / "python"

    @property
    def _marker(self) -> Path:
        return self.directory / ".deertrack-lock-sha256"

    @property
    def install_log(self) -> Path:
        return self.directory.parent / "install.log"

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> LocalStackRuntime:
        return cls(Path(os.environ.get(VENV_VARIABLE) or state_dir / "localstack" / "venv"))

    def installed(self) -> bool:
        try:
            return self._marker.read_text().strip() == lock_digest() and self.python.exists()
        except OSError:
            return False

    def ensure(self, cancelled: threading.Event | None = None) -> LocalStackRuntime:
        """Install the locked core unless it is there already; LocalStackUnavailable says why it could not."""
        if self.installed():
            return self
        try:
            self.directory.parent.mkdir(parents=True, exist_ok=True)
            with (self.directory.parent / ".install.lock").open("w") as guard:
                fcntl.flock(guard, fcntl.LOCK_EX)  # another stack may be installing it right now
                if not self.installed():
                    self._install(cancelled)
        except OSError as exc:
            raise LocalStackUnavailable(f"cannot install LocalStack's core into {self.directory}: {exc}") from exc
        return self

    def _install(self, cancelled: threading.Event | None) -> None:
        python = find_python()
        started = time.monotonic()
        logger.info("installing LocalStack's core into its own virtualenv (once; a few minutes)",
                    extra={"virtualenv": str(self.directory), "lock": str(LOCK_FILE), "python": str(python)})
        shutil.rmtree(self.directory, ignore_errors=True)
        steps = [
            [str(python), "-m", "venv", str(self.directory)],
            [str(self.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--requirement", str(LOCK_FILE)],
        ]
        with self.install_log.open("w") as log:
            for argv in steps:
                log.write("$ " + " ".join(argv) + "\n")
                log.flush()
                code = _run(argv, log, cancelled)
                if code != 0:
                    shutil.rmtree(self.directory, ignore_errors=True)
                    raise LocalStackUnavailable(
                        f"installing LocalStack's core failed ({' '.join(argv[:4])} …: "
                        f"{'timed out or interrupted' if code is None else f'exit {code}'}); {self.install_log} "
                        "ends with:\n"
                        + log_tail(self.install_log)
                        + "\nIs the package index reachable (pip config list)? Or use --emulator moto."
                    )
        self._marker.write_text(lock_digest() + "\n")
        logger.info("LocalStack's core installed", extra={"virtualenv": str(self.directory),
                                                         "seconds": round(time.monotonic() - started, 1)})


def _run(argv: list[str], log: object, cancelled: threading.Event | None) -> int | None:
    """Run argv with its output in log; None when it timed out or `cancelled` was set (it is killed then)."""
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + INSTALL_TIMEOUT_SECONDS
    while process.poll() is None:
        if time.monotonic() > deadline or (cancelled is not None and cancelled.is_set()):
            process.kill()
            process.wait()
            return None
        time.sleep(0.2)
    return process.returncode
