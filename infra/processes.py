"""Child processes of the local stack: each in its own process group, stopped with everything under it.

Every child is started in a new session (so its pid is its process-group id) and stopped by
signalling the whole group, then SIGKILL for what is left: a worker's own children, a database's
backends. `deertrack` children also get PR_SET_PDEATHSIG, so they end if the stack is killed hard.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from deertrack.logs import logger

#: The first lines of every launcher: the child ends with its parent, and at once if the parent is already gone.
_ENDS_WITH_PARENT = """\
import os, sys
try:
    import ctypes, signal
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: end with the stack
except Exception:
    pass
if str(os.getppid()) != os.environ.get("DEERTRACK_PARENT_PID", str(os.getppid())):
    sys.exit(0)
"""
#: Runs `deertrack ARGS…` in a fresh interpreter.
_CLI_LAUNCHER = _ENDS_WITH_PARENT + """\
from infra.cli import main
sys.exit(main(sys.argv[1:]))
"""
#: Runs `MODULE.main(ARGS…)` in a fresh interpreter (imported under its own name, never as __main__).
_MODULE_LAUNCHER = _ENDS_WITH_PARENT + """\
import importlib
sys.exit(importlib.import_module(sys.argv[1]).main(sys.argv[2:]))
"""


#: Every child spawned here and not yet stopped (for kill_all on a second Ctrl-C).
_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


def kill_all() -> int:
    """SIGKILL the process group of every child still running; returns how many were signalled."""
    with _LIVE_LOCK:
        live = [p for p in _LIVE if p.poll() is None]
    for process in live:
        _signal_group(process.pid, signal.SIGKILL)
    return len(live)


def cli_argv(*args: str) -> list[str]:
    """argv that runs `deertrack ARGS…` with this interpreter (and so this virtualenv)."""
    return [sys.executable, "-c", _CLI_LAUNCHER, *args]


def module_argv(module: str, *args: str) -> list[str]:
    """argv that runs `MODULE.main([ARGS…])` (its exit code) with this interpreter; it ends with its parent."""
    return [sys.executable, "-c", _MODULE_LAUNCHER, module, *args]


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    output: IO[bytes] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start argv in its own session / process group. Output goes to `output` (a file) or is inherited;
    `pass_fds` stay open in the child (e.g. a listening socket it serves)."""
    environment = dict(os.environ if env is None else env)
    environment["DEERTRACK_PARENT_PID"] = str(os.getpid())
    kwargs: dict[str, object] = {}
    if user is not None:
        import pwd

        account = pwd.getpwnam(user)
        kwargs.update(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
        environment.update(HOME=account.pw_dir, USER=user, LOGNAME=user)
    process = subprocess.Popen(  # noqa: S603 - argv built here, never a shell
        list(argv),
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
        cwd=cwd,
        pass_fds=tuple(pass_fds),
        **kwargs,  # type: ignore[arg-type]
    )
    with _LIVE_LOCK:
        _LIVE.add(process)
    return process


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_group(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0,
               leader_only: bool = False) -> int | None:
    """Send `sig` (to the group, or to the leader only), wait `timeout`, then SIGKILL the whole group."""
    pgid = process.pid
    if process.poll() is None:
        if leader_only:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
        else:
            _signal_group(pgid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("child did not stop in time; killing its process group",
                           extra={"pid": pgid, "signal": signal.Signals(sig).name, "timeout_s": timeout})
    _signal_group(pgid, signal.SIGKILL)  # whatever is left in the group (grandchildren)
    try:
        return process.wait(5)
    except subprocess.TimeoutExpired:
        return None
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(process)


def pid_alive(pid: int, name: str | None = None) -> bool:
    """Whether pid is a live (non-zombie) process, whose command line mentions `name` when given."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return name is None or name in cmdline


class Supervised:
    """A child process kept running: restarted with exponential backoff when it exits on its own."""

    def __init__(self, name: str, argv: Sequence[str], *, restart: bool = True, min_backoff: float = 1.0,
                 max_backoff: float = 30.0, stop_timeout: float = 10.0, pass_fds: Sequence[int] = ()) -> None:
        self.name = name
        self.argv = list(argv)
        self.pass_fds = tuple(pass_fds)
        self.restart = restart
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.exit_codes: list[int] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"supervise-{name}", daemon=True)

    def start(self) -> Supervised:
        self._thread.start()
        return self

    def _run(self) -> None:
        backoff = self.min_backoff
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                started = time.monotonic()
                self.process = spawn(self.argv, pass_fds=self.pass_fds)
            logger.info("child started", extra={"child": self.name, "pid": self.process.pid})
            code = self.process.wait()
            self.exit_codes.append(code)
            if self._stopping.is_set():
                return
            if not self.restart:
                level = logger.info if code == 0 else logger.error
                level("child finished", extra={"child": self.name, "exit_code": code})
                return
            if time.monotonic() - started > 60:
                backoff = self.min_backoff
            logger.error("child exited; restarting it", extra={"child": self.name, "exit_code": code,
                                                               "restart_in_s": backoff})
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self.max_backoff)

    def request_stop(self) -> None:
        """Ask the child to stop (SIGTERM to its group) without waiting; see wait_stopped()."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)

    def wait_stopped(self) -> None:
        """Wait up to stop_timeout for the child, then kill its process group; end the supervising thread."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None:
            stop_group(process, signal.SIGTERM, self.stop_timeout)
        self._thread.join(self.stop_timeout + 10)

    def stop(self) -> None:
        self.request_stop()
        self.wait_stopped()


class CommandChain:
    """Commands run once each, one after another, in the background; a step that fails ends the chain
    (later steps depend on it). Stopping stops the step in hand and runs no more."""

    def __init__(self, name: str, steps: Sequence[tuple[str, Sequence[str]]], *, stop_timeout: float = 5.0,
                 done_message: str | None = None) -> None:
        self.name = name
        self.done_message = done_message
        self.steps = [(step, list(argv)) for step, argv in steps]
        self.stop_timeout = stop_timeout
        self.exit_codes: dict[str, int | None] = {}
        self._current: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"chain-{name}", daemon=True)

    def start(self) -> CommandChain:
        self._thread.start()
        return self

    def _run(self) -> None:
        for step, argv in self.steps:
            with self._lock:
                if self._stopping.is_set():
                    return
                process = self._current = spawn(argv)
            logger.info("child started", extra={"child": step, "pid": process.pid})
            code = process.wait()
            self.exit_codes[step] = code
            if self._stopping.is_set():
                return
            level = logger.info if code == 0 else logger.error
            level("child finished", extra={"child": step, "exit_code": code})
            if code != 0:
                later = [name for name, _ in self.steps[len(self.exit_codes):]]
                logger.error("step failed; the steps after it were not run",
                             extra={"chain": self.name, "step": step, "exit_code": code, "not_run": later})
                return
        logger.info(self.done_message or "all steps finished", extra={"chain": self.name,
                                                                     "steps": list(self.exit_codes)})

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the chain to end; whether it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            current = self._current
        if current is not None:
            stop_group(current, signal.SIGTERM, self.stop_timeout)
        self._thread.join(self.stop_timeout + 10)


def stop_all(children: Sequence[Supervised]) -> None:
    """Stop several children at once: all are asked first, then each is waited for."""
    for child in children:
        child.request_stop()
    for child in children:
        child.wait_stopped()
