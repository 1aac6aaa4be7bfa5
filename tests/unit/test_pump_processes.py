"""Child-process plumbing of the local stack: CLI detection, process groups, restart with backoff."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from infra.processes import Supervised, cli_argv, cli_has, pid_alive, spawn, stop_group


def test_cli_has_finds_commands_by_path() -> None:
    assert cli_has("migrate")
    assert cli_has("up")
    assert not cli_has("no-such-command")
    assert not cli_has("migrate", "exports")  # migrate takes no positional word


def test_cli_argv_runs_this_interpreters_deertrack() -> None:
    done = subprocess.run(cli_argv("up", "--help"), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "--demo" in done.stdout


def test_stop_group_ends_grandchildren_too() -> None:
    # a shell whose own child (sleep) would outlive it if only the shell were signalled
    process = spawn(["/bin/sh", "-c", "sleep 300 & echo $! ; wait"], output=subprocess.PIPE)  # type: ignore[arg-type]
    assert process.stdout is not None
    grandchild = int(process.stdout.readline())
    assert os.getpgid(grandchild) == process.pid  # same process group, not ours
    assert os.getpgid(process.pid) != os.getpgid(0)
    stop_group(process, signal.SIGTERM, timeout=5)
    assert process.returncode is not None
    assert not pid_alive(grandchild)


def test_supervised_child_is_restarted_after_a_crash() -> None:
    crash = Supervised("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"], min_backoff=0.05,
                       max_backoff=0.1).start()
    restarted = threading.Event()

    def watch() -> None:
        while len(crash.exit_codes) < 3 and not restarted.wait(0.02):
            pass
        restarted.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    restarted.wait(20)
    crash.stop()
    assert crash.exit_codes[:3] == [3, 3, 3]


def test_supervised_stop_ends_a_running_child() -> None:
    sleeper = Supervised("sleeper", [sys.executable, "-c", "import time; time.sleep(300)"]).start()
    while sleeper.process is None:
        threading.Event().wait(0.01)
    pid = sleeper.process.pid
    sleeper.stop()
    assert not pid_alive(pid)
    assert sleeper.exit_codes == [-signal.SIGTERM]
