"""Redis and PostgreSQL for the local stack: probe the configured ones, or run throwaway servers.

Throwaway servers live under the git-ignored `.local/` folder, listen on free loopback ports, and are
stopped with the stack; `restart()` brings one back on the same port (the stack's service watch does,
when one dies). PostgreSQL keeps its data directory between runs (demo data survives a
restart; `rm -rf .local` starts over); Redis keeps nothing. A server left behind by a stack that was
killed hard is found through its pid file and stopped before a new one starts.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from deertrack.db import DatabaseAddress
from deertrack.logs import logger
from infra.ports import free_port, port_open
from infra.processes import pid_alive, spawn, stop_group

REDIS_PACKAGE = "redis-server"
POSTGRES_PACKAGE = "postgresql"


class ServiceError(RuntimeError):
    """A service could not be reached or started; the message says what to do."""


# ------------------------------------------------------------------------------------------ probes


def redis_problem(url: str) -> str | None:
    """None when Redis answers PING at url, else what went wrong."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except redis.exceptions.ConnectionError as exc:
        return f"cannot connect: {exc}"
    except redis.exceptions.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def postgres_problem(url: str) -> str | None:
    """None when something listens at the PostgreSQL address of url (role/database are checked by migrate)."""
    address = DatabaseAddress.parse(url)
    if port_open(address.host, address.port):
        return None
    return f"nothing listens on {address.host}:{address.port}"


def redis_target(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"


# ------------------------------------------------------------------------------------------ binaries


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_binary(name: str) -> Path | None:
    """`name` on PATH, else in the newest /usr/lib/postgresql/*/bin (Debian keeps server binaries there)."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key, reverse=True)
    return Path(candidates[0]) if candidates else None


def postgres_binaries() -> tuple[Path, Path] | None:
    """(initdb, postgres) from one installation, or None."""
    initdb = find_binary("initdb")
    if initdb is None:
        return None
    beside = initdb.parent / "postgres"
    postgres = beside if beside.exists() else find_binary("postgres")
    return (initdb, postgres) if postgres is not None else None


# ------------------------------------------------------------------------------------------ helpers


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path,
                timeout: float, cancelled: threading.Event | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{what} exited with code {process.returncode} while starting; its log "
                               f"({log}) ends with:\n{log_tail(log)}")
        if ready():
            return
        if cancelled is not None and cancelled.wait(0.1):
            raise ServiceError(f"interrupted while {what} was starting")
        if cancelled is None:
            time.sleep(0.1)
    raise ServiceError(f"{what} did not become ready within {timeout:.0f} s; its log ({log}) ends with:\n"
                       f"{log_tail(log)}")


def _runs_in(pid: int, directory: Path) -> bool:
    """Whether pid's working directory is `directory` (redis-server and postgres chdir to their data)."""
    try:
        return os.readlink(f"/proc/{pid}/cwd") == str(directory.resolve())
    except OSError:
        return False


def stop_stale(pid_file: Path, name: str, sig: int, directory: Path) -> None:
    """Stop a server a previous stack left running (it was killed before it could stop it).

    Only a live `name` process working in `directory` is stopped, never an unrelated one that reused the pid.
    """
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if not (pid_alive(pid, name) and _runs_in(pid, directory)):
        return
    logger.warning("stopping a throwaway server left by an earlier run", extra={"pid": pid, "server": name})
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while pid_alive(pid, name) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid, name):
        os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------------------------------ Redis


class ThrowawayRedis:
    """redis-server on a free loopback port, nothing persisted, under <state_dir>/redis."""

    def __init__(self, state_dir: Path, binary: Path | None = None) -> None:
        self.binary = binary or find_binary("redis-server")
        if self.binary is None:
            raise ServiceError(f"redis-server is not installed: sudo apt-get install {REDIS_PACKAGE}")
        self.directory = state_dir / "redis"
        self.log = self.directory / "redis.log"
        self.pid_file = self.directory / "server.pid"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, cancelled: threading.Event | None = None) -> ThrowawayRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        stop_stale(self.pid_file, "redis-server", signal.SIGTERM, self.directory)
        self.port = self.port or free_port()  # a restart keeps the port its clients know
        argv = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]
        with self.log.open("ab") as output:
            self.process = spawn(argv, output=output)
        self.pid_file.write_text(f"{self.process.pid}\n")
        wait_until(lambda: redis_problem(self.url) is None, self.process, "the throwaway Redis", self.log,
                    20, cancelled)
        logger.info("throwaway Redis started", extra={"url": self.url, "pid": self.process.pid})
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart(self, cancelled: threading.Event | None = None) -> ThrowawayRedis:
        """Start again on the same port (empty: nothing is persisted)."""
        self.stop()
        return self.start(cancelled)

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process, signal.SIGTERM, 10)
            self.pid_file.unlink(missing_ok=True)
            self.process = None


# ------------------------------------------------------------------------------------------ PostgreSQL


def _service_account() -> str | None:
    """PostgreSQL refuses to run as root; as root, run it as the `postgres` account."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError(
            "PostgreSQL refuses to run as root and there is no 'postgres' account to run it as: "
            f"install the server package (sudo apt-get install {POSTGRES_PACKAGE}, which creates the account), "
            "run deertrack as a normal user, or set DATABASE_URL to a running server"
        ) from None
    return "postgres"


def _check_reachable_by(path: Path, user: str) -> None:
    import pwd

    account = pwd.getpwnam(user)
    for parent in [*reversed(path.parents)]:
        info = parent.stat()
        if info.st_uid == account.pw_uid:
            ok = info.st_mode & stat.S_IXUSR
        elif info.st_gid == account.pw_gid:
            ok = info.st_mode & stat.S_IXGRP
        else:
            ok = info.st_mode & stat.S_IXOTH
        if not ok:
            raise ServiceError(
                f"the throwaway PostgreSQL runs as '{user}' (it refuses root) and cannot enter {parent}: "
                f"chmod o+x {parent}, run deertrack as a normal user, or set DATABASE_URL to a running server"
            )


class ThrowawayPostgres:
    """A PostgreSQL cluster under <state_dir>/postgres, on a free loopback port, trust auth on loopback."""

    def __init__(self, state_dir: Path) -> None:
        binaries = postgres_binaries()
        if binaries is None:
            raise ServiceError(
                f"PostgreSQL server binaries (initdb, postgres) are not installed: sudo apt-get install "
                f"{POSTGRES_PACKAGE}"
            )
        self.initdb, self.postgres = binaries
        self.directory = state_dir / "postgres"
        self.data = self.directory / "data"
        self.sockets = self.directory / "run"
        self.log = self.directory / "postgres.log"
        self.pid_file = self.directory / "server.pid"
        self.port = 0
        self.user = _service_account()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, configured: str) -> str:
        """The configured DATABASE_URL's role and database, on this server."""
        address = DatabaseAddress.parse(configured)
        return DatabaseAddress(address.user, address.password, "127.0.0.1", self.port, address.database).url()

    def _major_version(self) -> str:
        out = subprocess.run([str(self.postgres), "--version"], capture_output=True, text=True, check=True).stdout
        match = re.search(r"(\d+)(?:\.\d+)?", out)
        return match.group(1) if match else ""

    def _own(self, path: Path) -> None:
        if self.user is None:
            return
        import pwd

        account = pwd.getpwnam(self.user)
        for root, dirs, files in os.walk(path):
            os.chown(root, account.pw_uid, account.pw_gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), account.pw_uid, account.pw_gid, follow_symlinks=False)

    def _initdb(self) -> None:
        version_file = self.data / "PG_VERSION"
        if version_file.exists() and version_file.read_text().strip() == self._major_version():
            return
        if self.data.exists():
            logger.warning("re-creating the throwaway PostgreSQL cluster", extra={"data_dir": str(self.data)})
            shutil.rmtree(self.data)
        self.data.mkdir(parents=True, mode=0o700)
        self._own(self.directory)
        with self.log.open("ab") as output:
            process = spawn([str(self.initdb), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                             "-E", "UTF8", "--locale=C", "--no-sync"], output=output, user=self.user)
            code = process.wait(120)
        if code != 0:
            raise ServiceError(f"initdb failed (exit {code}); its log ({self.log}) ends with:\n{log_tail(self.log)}")

    def start(self, cancelled: threading.Event | None = None) -> ThrowawayPostgres:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            _check_reachable_by(self.directory, self.user)
        stop_stale(self.pid_file, "postgres", signal.SIGINT, self.data)
        stop_stale(self.data / "postmaster.pid", "postgres", signal.SIGINT, self.data)
        self._initdb()
        self.sockets.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        self._own(self.directory)
        self.port = self.port or free_port()  # a restart keeps the port its clients know
        argv = [str(self.postgres), "-D", str(self.data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.sockets}",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        with self.log.open("ab") as output:
            self.process = spawn(argv, output=output, user=self.user)
        self.pid_file.write_text(f"{self.process.pid}\n")
        wait_until(self._accepts_connections, self.process, "the throwaway PostgreSQL", self.log, 60, cancelled)
        logger.info("throwaway PostgreSQL started", extra={"url": self.admin_url, "pid": self.process.pid,
                                                          "data_dir": str(self.data)})
        return self

    def _accepts_connections(self) -> bool:
        from deertrack import db

        try:
            db.connect(self.admin_url, timeout=2).close()
        except db.DatabaseUnavailable:
            return False
        return True

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart(self, cancelled: threading.Event | None = None) -> ThrowawayPostgres:
        """Fast shutdown (if it still runs), then start again on the same port and data directory."""
        self.stop()
        return self.start(cancelled)

    def stop(self) -> None:
        if self.process is not None:
            # SIGINT to the postmaster is PostgreSQL's "fast" shutdown; the group is swept after.
            stop_group(self.process, signal.SIGINT, 20, leader_only=True)
            self.pid_file.unlink(missing_ok=True)
            self.process = None
