"""Write a trained embedder: a TorchScript file that carries its input size, and its model card beside it.

The module is scripted, frozen (BatchNorm folded into the convolutions) with `input_size` kept as an
attribute, so `torch.jit.load` gives everything the embedder needs: gpu_batch.reid.embedder reads
`input_size` and feeds ImageNet-normalized RGB crops. The card is `<model>.json`.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch

from deertrack.reid.model_card import card_path


def scripted(model: torch.nn.Module) -> torch.jit.ScriptModule:
    model = model.cpu().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 marks torch.jit as deprecated
        module = torch.jit.script(model)
        return torch.jit.freeze(module, preserved_attrs=["input_size"])


def model_bytes(model: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(scripted(model), buffer)
    return buffer.getvalue()


def write_model(model: torch.nn.Module, card: dict[str, Any], path: Path) -> tuple[Path, Path]:
    """Save the TorchScript model to `path` and its card to `path` with .json; returns both paths."""
    data = model_bytes(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    card = {**card, "file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    card_file = card_path(path)
    card_file.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return path, card_file
