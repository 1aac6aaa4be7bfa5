"""The embedders: the built-in one is deterministic, flip-invariant, L2-normalized and batched; a
TorchScript file loads through REID_MODEL_URI's loader. Crops below the minimum size are refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from deertrack.reid import crops
from gpu_batch.reid.embedder import (
    BUILTIN_NAME,
    ModelLoadError,
    builtin_embedder,
    rgb_to_lab,
    select_device,
    torchscript_embedder,
)


def _images(count: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (60 + 7 * i, 90, 3), dtype=np.uint8)) for i in range(count)]


def test_builtin_is_deterministic_normalized_and_batch_independent() -> None:
    images = _images(5)
    first = builtin_embedder(batch_size=2).embed(images)
    again = builtin_embedder(batch_size=64).embed(images)
    assert first.dtype == np.float32 and first.shape[0] == 5
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.allclose(first, again, atol=1e-5)
    assert builtin_embedder().name == BUILTIN_NAME
    assert builtin_embedder().embed([]).shape[0] == 0


def test_builtin_is_flip_invariant_and_tells_colours_apart() -> None:
    embedder = builtin_embedder()
    image = _images(1, seed=3)[0]
    a, mirrored = embedder.embed([image, ImageOps.mirror(image)])
    assert float(np.dot(a, mirrored)) > 0.9999
    red = Image.new("RGB", (80, 60), (170, 60, 40))
    grey = Image.new("RGB", (80, 60), (120, 120, 120))
    r1, r2, g = embedder.embed([red, red.copy(), grey])
    assert float(np.dot(r1, r2)) > 0.9999 > float(np.dot(r1, g))


def test_lab_conversion_of_known_colours() -> None:
    rgb = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).view(3, 3, 1, 1)
    lab = rgb_to_lab(rgb).view(3, 3)
    assert torch.allclose(lab[0], torch.tensor([100.0, 0.0, 0.0]), atol=0.5)
    assert torch.allclose(lab[1], torch.tensor([0.0, 0.0, 0.0]), atol=0.5)
    assert torch.allclose(lab[2], torch.tensor([53.2, 80.1, 67.2]), atol=1.0)


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(self.conv(x), 1).flatten(1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch 2.13 deprecates torch.jit.script
def test_torchscript_model_from_a_file(tmp_path) -> None:
    torch.manual_seed(0)
    path = tmp_path / "model.pt"
    torch.jit.script(_Tiny()).save(str(path))
    embedder = torchscript_embedder(str(path))
    vectors = embedder.embed(_images(3))
    assert vectors.shape == (3, 8) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.name.startswith("torchscript:model.pt:") and embedder.input_size == (224, 224)
    assert embedder.device == select_device()
    with pytest.raises(ModelLoadError, match="no such file"):
        torchscript_embedder(str(tmp_path / "missing.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="not a TorchScript model"):
        torchscript_embedder(str(tmp_path / "junk.pt"))


def test_crops_are_clipped_and_small_ones_refused() -> None:
    image = Image.new("RGB", (100, 80))
    crop = crops.cut(image, (90, 70, 50, 50))
    assert not crop.ok and "10x10 px is smaller than the minimum 16 px" in (crop.skip_reason or "")
    crop = crops.cut(image, (70, 50, 50, 50))
    assert crop.ok and crop.image is not None and crop.image.size == (30, 30)
    assert "outside" in (crops.cut(image, (200, 0, 10, 10)).skip_reason or "")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert crops.decode(buffer.getvalue()).mode == "RGB"
    with pytest.raises(crops.UnreadableImage):
        crops.decode(b"nope")
