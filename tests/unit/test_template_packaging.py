"""The functions are packaged the way template.yaml says: the Chalice app from functions/ and the
deertrack core with its dependencies as the CoreLayer (layers/, layers/requirements.txt).

Every third-party module that functions/app.py can reach (statically: every import in it, in
chalicelib and in each deertrack module those import, at any depth and inside functions too) must be
installed by the layer's requirements or come with the Lambda Python runtime; nothing heavy (torch,
matplotlib, reportlab, moto) may be in that path.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]
LAYER_REQUIREMENTS = ROOT / "layers" / "requirements.txt"
#: What the AWS Lambda Python runtime already has.
RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
HEAVY = {"torch", "matplotlib", "reportlab", "moto"}
FIRST_PARTY = {"app", "chalicelib", "deertrack"}


def _requirement_name(line: str) -> str:
    return re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def layer_requirements() -> list[str]:
    lines = [line.strip() for line in LAYER_REQUIREMENTS.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _source(module: str) -> Path | None:
    top, *rest = module.split(".")
    base = {"app": ROOT / "functions", "chalicelib": ROOT / "functions", "deertrack": ROOT / "layers"}.get(top)
    if base is None:
        return None
    path = base.joinpath(top, *rest)
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def reachable_imports(start: str = "app") -> dict[str, set[str]]:
    """Third-party top-level module -> the first-party modules that import it, from `start` on."""
    third_party: dict[str, set[str]] = {}
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        path = _source(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                top = name.split(".")[0]
                if top in FIRST_PARTY:
                    parts = name.split(".")
                    todo += [".".join(parts[: i + 1]) for i in range(len(parts))]
                elif top and top not in sys.stdlib_module_names and top != "__future__":
                    third_party.setdefault(top, set()).add(module)
    return third_party


def installed_closure(requirements: list[str]) -> set[str]:
    """The distributions pip installs for these requirements (their dependencies too, no extras)."""
    found: set[str] = set()
    todo = [_requirement_name(r) for r in requirements]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:  # a dependency for other Python versions only
            continue
        for requirement in requires:
            if "extra ==" not in requirement:
                todo.append(_requirement_name(requirement))
    return found


def test_the_layer_installs_everything_the_functions_import() -> None:
    provided = installed_closure(layer_requirements()) | RUNTIME
    distributions = metadata.packages_distributions()
    imports = reachable_imports()
    assert {"chalice", "redis", "pydantic", "pg8000"} <= set(imports)
    missing = {}
    for module, importers in imports.items():
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & provided:
            missing[module] = sorted(importers)
    assert not missing, f"imported by the functions but not installed in the CoreLayer: {missing}"


def test_nothing_heavy_is_in_the_function_path() -> None:
    distributions = metadata.packages_distributions()
    imported = {d.lower() for m in reachable_imports() for d in distributions.get(m, [m])}
    assert not imported & HEAVY, "torch/matplotlib/reportlab/moto belong in the gpu_batch image"
    assert not {_requirement_name(r) for r in layer_requirements()} & HEAVY


def test_layer_requirements_are_project_dependencies_with_the_same_bounds() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    by_name = {_requirement_name(d): d.replace(" ", "") for d in project}
    for requirement in layer_requirements():
        assert by_name.get(_requirement_name(requirement)) == requirement.replace(" ", ""), requirement


def test_template_packages_functions_and_layer_from_the_repository() -> None:
    template = load_template()
    assert template["Globals"]["Function"]["CodeUri"] == "functions/"
    layer = template["Resources"]["CoreLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/"
    assert layer["Metadata"]["BuildMethod"] == template["Globals"]["Function"]["Runtime"]
    assert (ROOT / "functions" / "app.py").is_file() and (ROOT / "layers" / "deertrack").is_dir()
