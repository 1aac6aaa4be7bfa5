"""The service watch (infra/service_watch.py): `deertrack up` restarts its throwaway Redis and PostgreSQL when
they are killed, says so in its log, and the API answers again; a server it did not start is reported when it
goes away and when it is back, never restarted."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from infra.service_watch import ServiceWatch, Watched
from infra.services import ThrowawayRedis, find_binary, postgres_binaries, redis_problem
from tests.integration.test_stack import (  # noqa: F401 - fresh_database is a fixture
    descendants,
    fresh_database,
    kill_leftovers,
    output,
    start_up,
    stop_and_check,
    up_environment,
    wait_healthy,
)

pytestmark = pytest.mark.integration

needs_servers = pytest.mark.skipif(find_binary("redis-server") is None or postgres_binaries() is None,
                                   reason="needs redis-server and the PostgreSQL server binaries installed")


def _pid_of(root: int, *words: str) -> int:
    """The one process below root whose command line holds every word."""
    found = [pid for pid, (_, cmd) in descendants(root).items() if all(w in cmd for w in words)]
    assert found, f"no process with {words} below {root}"
    return min(found)  # a server's first process is its leader (the postmaster before its backends)


def _log(tmp_path: Path) -> str:
    """All that `deertrack up` wrote (output() keeps only the ends)."""
    return "".join((tmp_path / name).read_text(errors="replace") for name in ("up.out", "up.err"))


def _until(predicate, timeout: float) -> bool:  # noqa: ANN001 - a callable
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _health(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@needs_servers
def test_up_restarts_its_throwaway_redis_and_postgres_when_they_die(tmp_path: Path) -> None:
    # Not under tmp_path: as root the throwaway PostgreSQL runs as 'postgres', which must reach its folder.
    state_dir = Path(tempfile.mkdtemp(prefix="deertrack-watch-state-", dir="/tmp"))
    state_dir.chmod(0o755)
    env = up_environment()
    health = f"http://127.0.0.1:{env['API_PORT']}/api/health"
    process = start_up(env, tmp_path, "--isolated", "--state-dir", str(state_dir), "--emulator", "moto")
    try:
        wait_healthy(process, health, tmp_path)
        for name, words, line in (
            ("Redis", ("redis-server",), "the throwaway Redis was restarted"),
            ("PostgreSQL", ("postgres", str(state_dir / "postgres" / "data")),
             "the throwaway PostgreSQL was restarted"),
        ):
            pid = _pid_of(process.pid, *words)
            os.kill(pid, signal.SIGKILL)
            assert _until(lambda line=line: line in _log(tmp_path), 60), f"{name}:\n{output(tmp_path)}"
            assert f"the throwaway {name} died; restarting it on the same port" in _log(tmp_path)
            assert _pid_of(process.pid, *words) != pid  # a new server
            assert _until(lambda: _health(health) == 200, 30), f"the API does not answer after {name} came back"
        assert process.poll() is None  # the stack went on
        stop_and_check(process, tmp_path)
    finally:
        kill_leftovers(process)
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.mark.skipif(find_binary("redis-server") is None, reason="needs redis-server")
def test_a_server_the_stack_did_not_start_is_reported_never_restarted(tmp_path: Path) -> None:
    external = ThrowawayRedis(tmp_path).start()  # stands in for a REDIS_URL the user configured
    try:
        watched = Watched("Redis", external.url, lambda: redis_problem(external.url) is None)
        watch = ServiceWatch([watched])
        watch.check()
        assert watched.events == []
        external.process.send_signal(signal.SIGKILL)
        external.process.wait()
        watch.check()
        watch.check()
        assert watched.events == ["the configured Redis does not answer; it was not started by this stack, so it "
                                  "is not restarted (start it again, or fix its URL)"]  # once
        assert redis_problem(external.url) is not None  # nobody started it
        external.restart()  # the user starts it again
        watch.check()
        assert watched.events[-1] == "the configured Redis answers again"
    finally:
        external.stop()


def test_up_restarts_its_embedded_localstack_empty_and_provisions_it_again(
        fresh_database: str, tmp_path: Path) -> None:  # noqa: F811 - the fixture imported above
    env = up_environment(DATABASE_URL=fresh_database)
    health = f"http://127.0.0.1:{env['API_PORT']}/api/health"
    process = start_up(env, tmp_path, "--state-dir", str(tmp_path / "state"), "--emulator", "localstack")
    try:
        wait_healthy(process, health, tmp_path)
        launcher = _pid_of(process.pid, "infra/localstack/launch.py")
        os.killpg(launcher, signal.SIGKILL)  # LocalStack and everything under it, its state with it
        line = "the throwaway AWS emulator was restarted"
        assert _until(lambda: line in _log(tmp_path), 120), output(tmp_path)
        assert "the throwaway AWS emulator died; restarting it on the same port" in _log(tmp_path)
        # health checks every queue and bucket of template.yaml: they were made again
        assert _until(lambda: _health(health) == 200, 30), "the API does not answer after LocalStack came back"
        stop_and_check(process, tmp_path)
    finally:
        kill_leftovers(process)
