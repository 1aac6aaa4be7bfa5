"""LocalStack's virtualenv: the lock pins what host mode on Python 3.11 needs, and an install that cannot
happen says why instead of raising something else."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deertrack.health import describe_emulator, emulator_identity
from infra.localstack import LocalStackRuntime, LocalStackUnavailable, locked_version
from infra.localstack.runtime import LOCK_FILE, VENV_VARIABLE, find_python


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in LOCK_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, separator, version = line.partition("==")
            assert separator, f"the lock pins every package exactly: {line!r}"
            found[name.lower().replace("_", "-")] = version
    return found


def test_the_lock_pins_the_core_and_the_releases_it_needs() -> None:
    locked = pins()
    assert locked_version() == locked["localstack-core"] == "4.13.1"
    assert int(locked["cbor2"].split(".")[0]) < 6
    assert int(locked["cryptography"].split(".")[0]) < 45
    assert locked["pyopenssl"] == "24.3.0"
    assert "service-identity" in locked
    assert "localstack" not in locked and "localstack-ext" not in locked  # the Pro extension wants an account


def test_the_virtualenv_follows_the_state_dir_unless_the_variable_names_one(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VENV_VARIABLE, raising=False)
    assert LocalStackRuntime.for_state_dir(tmp_path).directory == tmp_path / "localstack" / "venv"
    monkeypatch.setenv(VENV_VARIABLE, str(tmp_path / "shared"))
    assert LocalStackRuntime.for_state_dir(tmp_path / "other").directory == tmp_path / "shared"


def test_an_install_that_cannot_happen_says_where_and_why(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    runtime = LocalStackRuntime(blocker / "venv")
    assert not runtime.installed()
    with pytest.raises(LocalStackUnavailable, match=f"cannot install LocalStack's core into {blocker / 'venv'}"):
        runtime.ensure()


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the interpreter of this run is not 3.11")
def test_this_interpreter_serves_when_it_is_3_11() -> None:
    assert find_python() == Path(sys.executable)


def test_without_an_endpoint_the_health_names_aws() -> None:
    identity = emulator_identity(None)
    assert identity == {"name": "aws", "version": None, "endpoint": None}
    assert describe_emulator(identity) == "AWS"
    assert describe_emulator({"name": "localstack", "version": "4.13.1"}) == "LocalStack 4.13.1"
    assert describe_emulator({"name": "moto", "version": None}) == "moto"
