"""`deertrack up` as a user runs it: a subprocess that becomes healthy (on the embedded LocalStack by
default, on moto when asked), stops on SIGINT and leaves no process behind; the fallback to moto when
LocalStack cannot start and the refusal when it was asked for by name; and clear failures when an
explicitly configured Redis or PostgreSQL is down.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deertrack import db
from infra.ports import free_port
from infra.processes import cli_argv
from infra.services import find_binary, postgres_binaries
from tests.conftest import ADMIN_URL, BASE_DB_URL

pytestmark = pytest.mark.integration

HEALTH_DEADLINE_S = 60


def up_environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_ENDPOINT_URL", "DEERTRACK_PARENT_PID", "REDIS_URL", "DATABASE_URL")}
    env.update(
        API_PORT=str(free_port()),
        REDIS_KEY_PREFIX=f"test:up:{uuid.uuid4().hex[:8]}:",
        STAGE="uptest",
        LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env


def start_up(env: dict[str, str], tmp_path: Path, *args: str, workers: bool = False) -> subprocess.Popen[bytes]:
    argv = cli_argv("up", "--emulator-port", "0", *args, *([] if workers else ["--no-workers"]))
    return subprocess.Popen(  # noqa: S603
        argv,
        env=env,
        stdout=(tmp_path / "up.out").open("wb"),
        stderr=(tmp_path / "up.err").open("wb"),
        start_new_session=True,
    )


def output(tmp_path: Path) -> str:
    return (tmp_path / "up.out").read_text(errors="replace")[-4000:] + (tmp_path / "up.err").read_text(
        errors="replace")[-4000:]


#: The banner's last line before the tokens: `deertrack up` has finished starting.
BANNER_END = "Ctrl-C stops everything started here."


def wait_healthy(process: subprocess.Popen[bytes], url: str, tmp_path: Path) -> dict[str, object]:
    import json

    deadline = time.monotonic() + HEALTH_DEADLINE_S
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"deertrack up exited with {process.returncode}:\n{output(tmp_path)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                health = json.loads(response.read())
            # The API processes serve while the pump and the workers still start; the banner comes after them.
            while BANNER_END not in output(tmp_path) and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.2)
            return health
        except urllib.error.HTTPError as exc:
            last = f"{exc.code} {exc.read()[:500]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.3)
    pytest.fail(f"/api/health was not 200 within {HEALTH_DEADLINE_S} s (last: {last}):\n{output(tmp_path)}")


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]  # field 22 of stat: start time


def descendants(root: int) -> dict[int, tuple[str, str]]:
    """Every live process below root: pid -> (start time, command line)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, tuple[str, str]] = {}
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        started = _start_time(pid)
        if started is None:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmdline = "?"
        found[pid] = (started, cmdline)
        stack.extend(children.get(pid, []))
    return found


def still_running(processes: dict[int, tuple[str, str]]) -> list[str]:
    return [cmd for pid, (started, cmd) in processes.items() if _start_time(pid) == started]


def stop_and_check(process: subprocess.Popen[bytes], tmp_path: Path) -> None:
    children = descendants(process.pid)
    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"deertrack up did not stop within 60 s of SIGINT:\n{output(tmp_path)}")
    assert code == 0, output(tmp_path)
    deadline = time.monotonic() + 5
    while still_running(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert still_running(children) == [], "left behind after Ctrl-C"
    assert "deertrack stopped" in output(tmp_path)


def kill_leftovers(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        for pid in [*descendants(process.pid), process.pid]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = f"deertrack_up_{uuid.uuid4().hex[:10]}"
    url = BASE_DB_URL.rstrip("/") + "/" + name
    try:
        db.ensure_role_and_database(url, ADMIN_URL)
    except db.DatabaseUnavailable as exc:
        pytest.fail(f"this test needs PostgreSQL: {exc}")
    try:
        yield url
    finally:
        db.drop_database(name, ADMIN_URL)


def test_up_becomes_healthy_on_localstack_and_ctrl_c_stops_everything(fresh_database: str, tmp_path: Path) -> None:
    from infra.localstack import locked_version

    env = up_environment(DATABASE_URL=fresh_database)
    process = start_up(env, tmp_path, "--state-dir", str(tmp_path / "state"), workers=True)
    try:
        health = wait_healthy(process, f"http://127.0.0.1:{env['API_PORT']}/api/health", tmp_path)
        assert health["status"] == "ok"
        assert health["aws"]["name"] == "localstack" and health["aws"]["version"] == locked_version()
        banner = output(tmp_path)
        assert f"http://127.0.0.1:{env['API_PORT']}" in banner
        assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in banner
        assert f"(embedded LocalStack {locked_version()}, files in {tmp_path / 'state' / 'localstack'})" in banner
        assert "EventBridge rule deertrack-uptest-backfill-nightly (cron(0 3 * * ? *))" in banner
        assert "2 schedule(s) fired by EventBridge" in banner
        commands = " | ".join(cmd for _, cmd in descendants(process.pid).values())
        assert "infra/localstack/launch.py" in commands
        with db.connection(fresh_database) as con:  # migrations ran on the configured database
            assert con.run("SELECT count(*) FROM schema_migrations")[0][0] >= 1
        for pid, (_, cmdline) in descendants(process.pid).items():  # workers, when there are any
            if " worker " in f" {cmdline} ":
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                assert f"DATABASE_URL={fresh_database}".encode() in environ
                assert any(v.startswith(b"AWS_ENDPOINT_URL=http://127.0.0.1:") for v in environ)
        stop_and_check(process, tmp_path)
    finally:
        kill_leftovers(process)


@pytest.mark.skipif(find_binary("redis-server") is None or postgres_binaries() is None,
                    reason="needs redis-server and the PostgreSQL server binaries installed")
def test_isolated_up_runs_throwaway_servers_and_stops_them(tmp_path: Path) -> None:
    # Not under tmp_path: as root the throwaway PostgreSQL runs as 'postgres', which must reach its folder.
    state_dir = Path(tempfile.mkdtemp(prefix="deertrack-up-state-", dir="/tmp"))
    state_dir.chmod(0o755)
    env = up_environment()
    process = start_up(env, tmp_path, "--isolated", "--state-dir", str(state_dir), "--emulator", "moto")
    try:
        health = wait_healthy(process, f"http://127.0.0.1:{env['API_PORT']}/api/health", tmp_path)
        assert health["status"] == "ok" and health["aws"]["name"] == "moto"
        commands = " | ".join(cmd for _, cmd in descendants(process.pid).values())
        assert "redis-server" in commands and str(state_dir / "postgres" / "data") in commands
        assert "launch.py" not in commands
        assert "(throwaway" in output(tmp_path) and "(embedded moto)" in output(tmp_path)
        assert "2 schedule(s) fired by the pump's clock" in output(tmp_path)
        stop_and_check(process, tmp_path)
    finally:
        kill_leftovers(process)
        shutil.rmtree(state_dir, ignore_errors=True)


def closed_port() -> int:
    return free_port()  # nothing listens on a port just found free


def test_explicit_redis_url_that_is_down_says_so_and_exits(tmp_path: Path) -> None:
    port = closed_port()
    env = up_environment(REDIS_URL=f"redis://127.0.0.1:{port}/0")
    process = start_up(env, tmp_path)
    try:
        code = process.wait(60)
    finally:
        kill_leftovers(process)
    stderr = (tmp_path / "up.err").read_text()
    assert code != 0
    assert "Redis is not reachable" in stderr
    assert f"REDIS_URL=redis://127.0.0.1:{port}/0" in stderr
    assert f"redis-server --port {port}" in stderr and "unset REDIS_URL" in stderr


def test_explicit_database_url_that_is_down_says_so_and_exits(tmp_path: Path) -> None:
    port = closed_port()
    env = up_environment(DATABASE_URL=f"postgresql://deertrack@127.0.0.1:{port}/deer_tracking")
    process = start_up(env, tmp_path)
    try:
        code = process.wait(60)
    finally:
        kill_leftovers(process)
    stderr = (tmp_path / "up.err").read_text()
    assert code != 0
    assert "PostgreSQL is not reachable" in stderr
    assert f"DATABASE_URL=postgresql://deertrack@127.0.0.1:{port}/deer_tracking" in stderr
    assert "systemctl start postgresql" in stderr and "unset DATABASE_URL" in stderr


def broken_localstack(tmp_path: Path) -> dict[str, str]:
    """An environment in which LocalStack cannot be installed: its virtualenv would go below a plain file."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    return {"DEERTRACK_LOCALSTACK_VENV": str(blocker / "venv")}


def test_without_localstack_up_falls_back_to_moto_and_says_why(tmp_path: Path) -> None:
    env = up_environment(**broken_localstack(tmp_path))
    process = start_up(env, tmp_path, "--state-dir", str(tmp_path / "state"))
    try:
        health = wait_healthy(process, f"http://127.0.0.1:{env['API_PORT']}/api/health", tmp_path)
        assert health["status"] == "ok" and health["aws"]["name"] == "moto"
        banner = output(tmp_path)
        assert "LocalStack could not start, so the embedded moto server runs instead." in banner
        assert f"cannot install LocalStack's core into {tmp_path / 'not-a-directory' / 'venv'}" in banner
        assert "(embedded moto)" in banner
        stop_and_check(process, tmp_path)
    finally:
        kill_leftovers(process)


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_localstack_asked_for_by_name_must_start(tmp_path: Path, how: str) -> None:
    env = up_environment(**broken_localstack(tmp_path))
    args = ["--state-dir", str(tmp_path / "state")]
    if how == "flag":
        args += ["--emulator", "localstack"]
    else:
        env["DEERTRACK_EMULATOR"] = "localstack"
    process = start_up(env, tmp_path, *args)
    try:
        code = process.wait(60)
    finally:
        kill_leftovers(process)
    stderr = (tmp_path / "up.err").read_text()
    asked = "--emulator localstack" if how == "flag" else "DEERTRACK_EMULATOR=localstack"
    assert code != 0
    assert f"cannot bring the stack up: LocalStack ({asked}) could not start: cannot install" in stderr
    assert "moto" not in (tmp_path / "up.out").read_text()


def test_an_unknown_emulator_variable_is_refused(tmp_path: Path) -> None:
    env = up_environment(DEERTRACK_EMULATOR="motor")
    process = start_up(env, tmp_path)
    try:
        code = process.wait(60)
    finally:
        kill_leftovers(process)
    assert code == 2
    assert "DEERTRACK_EMULATOR must be one of localstack, moto, got 'motor'" in (tmp_path / "up.err").read_text()
