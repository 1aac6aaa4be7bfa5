"""Every package says what is public (`__all__`, as Powertools does), and every name it lists exists."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(
    ".".join(init.parent.relative_to(base).parts)
    for base, top in ((ROOT / "layers", "deertrack"), (ROOT, "gpu_batch"), (ROOT, "infra"))
    for init in (base / top).rglob("__init__.py")
    if "__pycache__" not in init.parts
)


def test_the_three_places_are_found() -> None:
    assert {"deertrack", "deertrack.reid", "gpu_batch", "gpu_batch.reid", "infra", "infra.cli"} <= set(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES)
def test_each_package_names_its_public_face(name: str) -> None:
    package = importlib.import_module(name)
    public = getattr(package, "__all__", None)
    assert public, f"{name}/__init__.py has no __all__"
    for item in public:
        if not hasattr(package, item):
            importlib.import_module(f"{name}.{item}")  # a public submodule
