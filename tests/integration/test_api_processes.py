"""`deertrack up` serves the API from processes of its own (infra/api_processes.py) and moto from one of its
own: a burst of connections is queued, not refused; a killed API process is restarted while the other and
the backlog keep answering; `deertrack bench load` runs against it with no errors; Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deertrack import db
from infra.processes import cli_argv
from tests.conftest import ADMIN_URL, BASE_DB_URL
from tests.integration.test_stack import (
    descendants,
    kill_leftovers,
    output,
    start_up,
    stop_and_check,
    up_environment,
    wait_healthy,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url() -> Iterator[str]:
    name = f"deertrack_api_{uuid.uuid4().hex[:10]}"
    url = BASE_DB_URL.rstrip("/") + "/" + name
    db.ensure_role_and_database(url, ADMIN_URL)
    try:
        yield url
    finally:
        db.drop_database(name, ADMIN_URL)


def _api_pids(root: int) -> list[int]:
    return sorted(pid for pid, (_, cmdline) in descendants(root).items() if "infra.api_server" in cmdline)


def _answer(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            json.loads(response.read())
            return response.status
    except urllib.error.HTTPError as exc:
        json.loads(exc.read())
        return exc.code


def _wait_for(condition, what: str, tmp_path: Path, timeout: float = 90.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f} s:\n{output(tmp_path)}")
        time.sleep(0.3)


def test_the_api_runs_in_supervised_processes_that_hold_a_burst(database_url: str, tmp_path: Path) -> None:
    env = up_environment(DATABASE_URL=database_url)
    for name in ("AUTH_JWKS_URL", "TOKEN"):  # the stack's own user pool signs, and bench load mints from it
        env.pop(name, None)
    state = tmp_path / "state"
    process = start_up(env, tmp_path, "--emulator", "moto", "--api-processes", "2", "--state-dir", str(state))
    api = f"http://127.0.0.1:{env['API_PORT']}"
    try:
        assert wait_healthy(process, f"{api}/api/health", tmp_path)["status"] == "ok"
        _wait_for(lambda: "deertrack is up" in output(tmp_path), "the banner", tmp_path)
        assert f"{api}  (Chalice, 2 processes, listen backlog 1024)" in output(tmp_path)
        _wait_for(lambda: len(_api_pids(process.pid)) == 2, "two API processes", tmp_path)
        commands = [cmd for _, cmd in descendants(process.pid).values()]
        assert sum("infra.emulator" in cmd for cmd in commands) == 1  # moto in a process of its own

        with ThreadPoolExecutor(64) as pool:  # 64 connections at once: each one answered, none refused
            assert set(pool.map(_answer, [f"{api}/api/nothing-{n}" for n in range(64)])) == {404}

        killed = _api_pids(process.pid)[0]
        os.kill(killed, signal.SIGKILL)
        for n in range(10):  # the other process and the backlog answer while it is restarted
            assert _answer(f"{api}/api/nothing-{n}") == 404
        _wait_for(lambda: len(_api_pids(process.pid)) == 2 and killed not in _api_pids(process.pid),
                  "the killed API process restarted", tmp_path)
        assert '"child exited; restarting it"' in output(tmp_path) and '"API process' in output(tmp_path)

        bench = subprocess.run(  # noqa: S603
            cli_argv("bench", "load", "--url", api, "--state-dir", str(state), "--requests", "30",
                     "--concurrency", "1,8", "--json"),
            env=env, capture_output=True, text=True, timeout=300)
        assert bench.returncode == 0, bench.stdout + bench.stderr
        levels = json.loads(bench.stdout.strip().splitlines()[-1])["levels"]
        assert [(level["concurrency"], level["requests"], level["errors"]) for level in levels] == [(1, 30, 0),
                                                                                                   (8, 30, 0)]
        stop_and_check(process, tmp_path)
    finally:
        kill_leftovers(process)
