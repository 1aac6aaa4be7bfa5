"""gpu_batch/Dockerfile, checked without Docker: a CUDA PyTorch base with the torch the project pins,
the deertrack package installed, a non-root user, and an entry point (plus every command template.yaml
gives the jobs and the migrate task) that the real `deertrack` command line accepts.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gpu_batch.command import WORKERS, build_parser
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "gpu_batch" / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, comments dropped and continuation lines joined."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in logical]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def only(steps: list[tuple[str, str]], name: str) -> str:
    found = [args for instruction, args in steps if instruction == name]
    assert found, f"no {name} in gpu_batch/Dockerfile"
    return found[-1]  # the last one is the one that counts


def worker_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subcommands.choices["worker"]


def torch_pin() -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["batch"]
    pins = [d for d in dependencies if re.match(r"torch\s*==", d)]
    assert pins, "pyproject.toml pins torch"
    return pins[0].split("==")[1].strip()


def test_base_is_cuda_pytorch_with_the_pinned_torch(steps: list[tuple[str, str]]) -> None:
    args = {k: v for k, v in (a.split("=", 1) for i, a in steps if i == "ARG" and "=" in a)}
    image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], only(steps, "FROM").split()[0])
    repository, tag = image.split(":")
    assert repository == "pytorch/pytorch"
    version, flavour = tag.split("-", 1)
    assert version == torch_pin(), "torch from the base image must be the one pyproject.toml pins"
    assert re.fullmatch(r"cuda\d+\.\d+-cudnn\d+-runtime", flavour), flavour


def test_the_package_is_installed_from_the_repository(steps: list[tuple[str, str]]) -> None:
    runs = " ".join(args for instruction, args in steps if instruction == "RUN")
    assert "pip install ." in runs
    for instruction, args in steps:
        if instruction == "COPY":
            *sources, _destination = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    # The build context is an allow-list: nothing but what the COPY lines name (no .venv, no .git).
    patterns = [line.strip() for line in (ROOT / "gpu_batch" / "Dockerfile.dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "**"
    allowed = {p.lstrip("!").rstrip("/") for p in patterns if p.startswith("!")}
    copied = {s.rstrip("/") for i, a in steps if i == "COPY" for s in shlex.split(a)[:-1]}
    assert copied <= allowed, copied - allowed


def test_runs_as_a_non_root_user(steps: list[tuple[str, str]]) -> None:
    user = only(steps, "USER").split(":")[0]
    assert user not in ("root", "0")
    last_user = max(i for i, (instruction, _) in enumerate(steps) if instruction == "USER")
    last_run = max(i for i, (instruction, _) in enumerate(steps) if instruction == "RUN")
    assert last_user > last_run
    assert any(instruction == "RUN" and "useradd" in args and user in args for instruction, args in steps)


def test_entry_point_is_the_deertrack_worker_command(steps: list[tuple[str, str]]) -> None:
    entrypoint = exec_form(only(steps, "ENTRYPOINT"))
    assert entrypoint == ["deertrack-batch", "worker"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[entrypoint[0]] == "gpu_batch.command:main"
    parsed = build_parser().parse_args(entrypoint[1:] + exec_form(only(steps, "CMD")))
    assert parsed.command == "worker" and parsed.name == "exports"


def test_deertrack_worker_offers_exports_and_reid() -> None:
    name = next(a for a in worker_parser()._actions if a.dest == "name")
    assert {"exports", "reid"} <= set(name.choices)
    help_text = worker_parser().format_help()
    assert "exports" in help_text and "reid" in help_text


def _worker_options(worker: str) -> str:
    """`deertrack worker NAME --help`: the worker's own options (parsed before it touches anything)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        importlib.import_module(WORKERS[worker]).main(["--help"])
    assert exit_info.value.code == 0
    return out.getvalue()


def _job_commands() -> dict[str, list[str]]:
    return {logical_id: resource["Properties"]["ContainerProperties"]["Command"]
            for logical_id, resource in load_template()["Resources"].items()
            if resource["Type"] == "AWS::Batch::JobDefinition"}


@pytest.mark.parametrize("job", sorted(_job_commands()))
def test_every_batch_job_command_is_accepted(steps: list[tuple[str, str]], job: str) -> None:
    command = _job_commands()[job]
    entrypoint = exec_form(only(steps, "ENTRYPOINT"))
    parsed: Any = build_parser().parse_args(entrypoint[1:] + command)
    assert parsed.name == command[0]
    options = _worker_options(parsed.name)
    for option in parsed.worker_args:
        assert option in options, f"{job}: `deertrack worker {parsed.name}` has no option {option}"


def test_the_migrate_task_command_is_accepted() -> None:
    task = load_template()["Resources"]["MigrateTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert task["EntryPoint"] == ["deertrack-batch"]
    parsed = build_parser().parse_args(task["Command"])
    assert parsed.command == "migrate"
