"""Child-process plumbing of the local stack: the CLI launcher, process groups, restart with backoff."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from infra.processes import CommandChain, Supervised, cli_argv, pid_alive, spawn, stop_group


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


def _step(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_command_chain_runs_steps_in_order(tmp_path: Path) -> None:
    log = tmp_path / "log"
    chain = CommandChain("demo", [(word, _step(f"open({str(log)!r}, 'a').write({word!r})")) for word in "abc"]).start()
    assert chain.wait(60)
    assert log.read_text() == "abc"
    assert chain.exit_codes == {"a": 0, "b": 0, "c": 0}


def test_command_chain_stops_at_a_failed_step(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    chain = CommandChain("demo", [("ok", _step("pass")), ("fails", _step("import sys; sys.exit(4)")),
                                  ("never", _step(f"open({str(marker)!r}, 'w')"))]).start()
    assert chain.wait(60)
    assert chain.exit_codes == {"ok": 0, "fails": 4}
    assert not marker.exists()


def test_command_chain_stop_ends_the_step_in_hand_and_runs_no_more(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    chain = CommandChain("demo", [("sleeps", _step("import time; time.sleep(300)")),
                                  ("never", _step(f"open({str(marker)!r}, 'w')"))], stop_timeout=5).start()
    while chain._current is None:
        threading.Event().wait(0.01)
    pid = chain._current.pid
    chain.stop()
    assert chain.wait(0)
    assert not pid_alive(pid)
    assert not marker.exists()
