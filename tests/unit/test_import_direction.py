"""The import direction of the three places the code runs: layer (deertrack) <- batch (gpu_batch) <- dev
tooling (infra), never back up; functions/ imports only the layer and its own chalicelib.

Read from the source with `ast` (every import, lazy ones inside functions included), so a wrong import
fails here even when nothing executes it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: package (its folder) -> the first-party top-level packages it may import.
PLACES: dict[str, tuple[Path, frozenset[str]]] = {
    "deertrack": (ROOT / "layers" / "deertrack", frozenset({"deertrack"})),
    "gpu_batch": (ROOT / "gpu_batch", frozenset({"deertrack", "gpu_batch"})),
    "infra": (ROOT / "infra", frozenset({"deertrack", "gpu_batch", "infra", "chalicelib", "app"})),
    "functions": (ROOT / "functions", frozenset({"deertrack", "chalicelib", "app"})),
}
FIRST_PARTY = frozenset({"deertrack", "gpu_batch", "infra", "chalicelib", "app", "tests"})


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in `source`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def wrong_imports(folder: Path, allowed: frozenset[str], base: Path = ROOT) -> list[str]:
    wrong = []
    for path in sorted(folder.rglob("*.py")):
        for line, package in imported_packages(path.read_text()):
            if package in FIRST_PARTY and package not in allowed:
                wrong.append(f"{path.relative_to(base)}:{line} imports {package}")
    return wrong


@pytest.mark.parametrize("place", sorted(PLACES))
def test_each_place_imports_only_what_runs_beside_it(place: str) -> None:
    folder, allowed = PLACES[place]
    assert folder.is_dir(), folder
    assert wrong_imports(folder, allowed) == []


def test_a_wrong_import_is_caught_lazy_or_not(tmp_path: Path) -> None:
    layer = tmp_path / "deertrack"
    layer.mkdir()
    (layer / "fine.py").write_text("from deertrack import db\nimport numpy\n")
    (layer / "bad.py").write_text(
        '"""a layer module that reaches up"""\n'
        "from gpu_batch.reid import embedder\n"
        "def later():\n"
        "    import infra.cli\n"
        "    return infra.cli\n"
    )
    assert wrong_imports(layer, PLACES["deertrack"][1], base=tmp_path) == [
        "deertrack/bad.py:2 imports gpu_batch",
        "deertrack/bad.py:4 imports infra",
    ]


def test_a_batch_module_importing_dev_tooling_is_caught() -> None:
    source = "from deertrack import db\nfrom gpu_batch import queue_loop\nfrom infra.demo import seed\n"
    allowed = PLACES["gpu_batch"][1]
    assert [(line, p) for line, p in imported_packages(source) if p in FIRST_PARTY and p not in allowed] == [
        (3, "infra")]
