"""functions/app.py imports with the Lambda layer's requirements alone: in a fresh interpreter where
torch, moto, matplotlib and the batch and dev-tooling packages cannot be imported (a meta-path hook
refuses them), the app still loads. `make layer-check` does the same in a real virtualenv.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("torch", "moto", "matplotlib", "gpu_batch", "infra", "reportlab", "yaml", "jwt", "tqdm")

PROGRAM = textwrap.dedent(f"""
    import importlib.abc, sys

    BLOCKED = {BLOCKED!r}

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"{{name}} is not in the Lambda layer", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
    sys.argv = ["app"]
    {{body}}
""")


def run(body: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers"), str(ROOT / "functions")])}
    return subprocess.run([sys.executable, "-c", PROGRAM.replace("{body}", body)], cwd=ROOT / "functions",
                          env=env, capture_output=True, text=True, timeout=120)


def test_app_imports_without_torch_moto_matplotlib_batch_or_dev_tooling() -> None:
    result = run("import app; print(sorted(set(BLOCKED) & set(sys.modules)), app.app.app_name)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[] "), result.stdout


def test_the_hook_does_refuse_what_the_layer_lacks() -> None:
    result = run("import gpu_batch.reid.embedder")
    assert result.returncode != 0
    assert "is not in the Lambda layer" in result.stderr
