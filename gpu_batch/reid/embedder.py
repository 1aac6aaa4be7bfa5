"""Re-ID embedders: crops in, L2-normalized float32 vectors out, batched, on CUDA when there is one.

Two kinds, one interface (`Embedder.embed(crops) -> (n, d) float32`):

* `REID_MODEL_URI` unset: the shipped demo model (deertrack/reid/models/deer-reid-demo.pt, a small CNN
  trained on synthetic populations of the demo generator; worthless on real photos: see its card).
* `REID_MODEL_URI=builtin`: `ColourTextureEmbedder` (below), the fallback that needs no weights file.
* `REID_MODEL_URI` set otherwise: a TorchScript model loaded from a file path or `s3://bucket/key` (for example an
  exported MegaDescriptor or ResNet). It receives float32 RGB batches (n, 3, H, W), ImageNet-normalized,
  H = W = 224 unless the scripted module has an `input_size` attribute ([H, W]); any (n, d) output
  is L2-normalized here.
* `ColourTextureEmbedder`, built in, needing no weights file, is *not* a learned re-ID model:
  it is a fixed, deterministic feature extractor with no trained parameters — colour statistics and
  soft colour histograms in CIE Lab over a spatial pyramid, and Gabor texture energy (4 orientations,
  2 wavelengths, 2 scales) pooled on 1x1, 2x2 and 4x4 grids — with pixels weighted by how unlike the
  box's border (mostly scenery) they are, made invariant to left/right flips by summing the features
  of the crop and its mirror image, each block centred and L2-normalized, weighted, concatenated and
  L2-normalized. It tells individuals apart by coat texture, colour and their layout; it knows
  nothing about pose or deer anatomy, and it is weak: see the README (`reid`) for its figures on the
  demo data. Use a real re-ID model (REID_MODEL_URI) for real photos.

On a GPU the forward pass runs under bf16 autocast; outputs are returned as float32.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from deertrack.logs import logger

BUILTIN_NAME = "builtin-colour-texture-v1"
DEFAULT_BATCH_SIZE = 64
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ModelLoadError(RuntimeError):
    """REID_MODEL_URI does not name a loadable TorchScript model."""


def select_device(preferred: str | None = None) -> torch.device:
    if preferred:
        return torch.device(preferred)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ------------------------------------------------------------------------------------------ built-in model


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] (n, 3, h, w) -> CIE Lab (D65): L in [0, 100], a and b roughly in [-100, 100]."""
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055).clamp_min(0) ** 2.4)
    matrix = rgb.new_tensor([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    white = rgb.new_tensor([0.95047, 1.0, 1.08883]).view(1, 3, 1, 1)
    xyz = torch.einsum("ij,njhw->nihw", matrix, linear) / white
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-6) ** (1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def soft_bins(values: torch.Tensor, centres: torch.Tensor, width: float) -> torch.Tensor:
    """(n, 1, h, w) values -> (n, k, h, w) soft memberships of k bins (sum 1 per pixel)."""
    weights = torch.exp(-0.5 * ((values - centres.view(1, -1, 1, 1)) / width) ** 2)
    return weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-6)


def weighted_pyramid_pool(maps: torch.Tensor, weight: torch.Tensor, grids: Sequence[int]) -> torch.Tensor:
    """Weighted mean of each map over every cell of g x g grids (weight (n, 1, h, w) >= 0)."""
    parts = []
    for g in grids:
        total = F.adaptive_avg_pool2d(weight, g).clamp_min(1e-4)
        parts.append((F.adaptive_avg_pool2d(maps * weight, g) / total).flatten(1))
    return torch.cat(parts, dim=1)


def foreground_weight(lab: torch.Tensor, border: float = 0.1) -> torch.Tensor:
    """(n, 1, h, w) in [0, 1]: how unlike the crop's border (mostly background) each pixel is.

    A detector's box is tight around the animal, so its outer frame is mostly scenery; pixels whose
    Lab colour is far from the frame's colour distribution are taken as the animal. No learning.
    """
    n, _, h, w = lab.shape
    bh, bw = max(1, int(h * border)), max(1, int(w * border))
    frame = torch.ones(1, 1, h, w, dtype=lab.dtype, device=lab.device)
    frame[:, :, bh:h - bh, bw:w - bw] = 0
    count = frame.sum()
    mean = (lab * frame).sum(dim=(2, 3), keepdim=True) / count
    var = (((lab - mean) ** 2) * frame).sum(dim=(2, 3), keepdim=True) / count
    distance = (((lab - mean) ** 2) / (var + 9.0)).sum(dim=1, keepdim=True).sqrt()
    weight = ((distance - 1.5) / 2.0).clamp(0.0, 1.0)
    weight = F.avg_pool2d(weight, 5, stride=1, padding=2, count_include_pad=False)
    return 0.05 + 0.95 * weight  # never zero: a crop that is all "background" still gets features


def gabor_bank(wavelengths: Sequence[float], orientations: int, size: int) -> torch.Tensor:
    """(2 * len(wavelengths) * orientations, 1, size, size): even (zero-mean) and odd Gabor kernels."""
    half = size // 2
    ys, xs = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    kernels = []
    for wavelength in wavelengths:
        sigma = 0.56 * wavelength
        for k in range(orientations):
            theta = math.pi * k / orientations
            xr = xs * math.cos(theta) + ys * math.sin(theta)
            yr = -xs * math.sin(theta) + ys * math.cos(theta)
            envelope = np.exp(-(xr**2 + 0.5 * yr**2) / (2 * sigma**2))
            even = envelope * np.cos(2 * math.pi * xr / wavelength)
            even -= even.mean()
            odd = envelope * np.sin(2 * math.pi * xr / wavelength)
            for kernel in (even, odd):
                kernels.append(kernel / np.abs(kernel).sum())
    return torch.tensor(np.stack(kernels)[:, None], dtype=torch.float32)


def centred(block: torch.Tensor) -> torch.Tensor:
    """Subtract the block's mean over its dimensions, then L2-normalize: a data-independent centring
    so that unrelated crops score near 0 rather than near 1."""
    block = block - block.mean(dim=1, keepdim=True)
    return F.normalize(block, dim=1, eps=1e-8)


class ColourTextureEmbedder(nn.Module):
    """Fixed feature extractor (no training, no weights file); see the module docstring."""

    input_size = (72, 96)  # H, W the crops are resized to
    #: Block weights: colour layout, colour histograms, Gabor texture. Chosen on the demo data
    #: (`deertrack reid evaluate`), where texture separates individuals best and colour, distorted by
    #: light, dusk casts and infrared night pictures, helps less.
    weights = {"colour": 0.3, "histogram": 0.3, "gabor": 1.0}

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("gabor", gabor_bank((3.0, 6.0), orientations=4, size=11), persistent=False)
        self.register_buffer("chroma_centres", torch.linspace(-60, 60, 8), persistent=False)
        self.register_buffer("light_centres", torch.linspace(5, 95, 8), persistent=False)

    def _features(self, lab: torch.Tensor) -> torch.Tensor:
        n = lab.shape[0]
        scaled = lab / lab.new_tensor([100.0, 50.0, 50.0]).view(1, 3, 1, 1)
        weight = foreground_weight(lab)

        # colour: foreground-weighted mean/std over the crop, and each cell's mean relative to it
        total = weight.sum(dim=(2, 3)).clamp_min(1e-4)
        mean = (scaled * weight).sum(dim=(2, 3)) / total
        std = ((((scaled - mean[:, :, None, None]) ** 2) * weight).sum(dim=(2, 3)) / total).sqrt()
        cells = weighted_pyramid_pool(scaled, weight, (2, 3, 4)).view(n, 3, -1)
        colour = torch.cat([mean, std, (cells - mean[:, :, None]).flatten(1)], dim=1)

        # soft histograms at half resolution: joint a*b* (8 x 8) and L* (8), over 1x1 and 2x2 cells
        small = F.avg_pool2d(lab, 2)
        small_weight = F.avg_pool2d(weight, 2)
        a_bins = soft_bins(small[:, 1:2], self.chroma_centres, 10.0)
        b_bins = soft_bins(small[:, 2:3], self.chroma_centres, 10.0) * small_weight
        l_bins = soft_bins(small[:, 0:1], self.light_centres, 8.0)
        h, w = (small.shape[2] // 2) * 2, (small.shape[3] // 2) * 2
        a4 = a_bins[:, :, :h, :w].reshape(n, 8, 2, h // 2, 2, w // 2)
        b4 = b_bins[:, :, :h, :w].reshape(n, 8, 2, h // 2, 2, w // 2)
        ab_cells = torch.einsum("nipxqy,njpxqy->npqij", a4, b4).reshape(n, 4, 64)
        ab_cells = ab_cells / ab_cells.sum(dim=2, keepdim=True).clamp_min(1e-6)
        ab = torch.cat([ab_cells.mean(dim=1), ab_cells.flatten(1)], dim=1)
        histogram = torch.sqrt(torch.cat([ab, weighted_pyramid_pool(l_bins, small_weight, (1, 2))], dim=1)
                               .clamp_min(0))

        # Gabor energy on L* at half and quarter resolution, pooled on 1x1, 2x2, 4x4 grids
        gabor_parts = []
        grey = small[:, 0:1] / 100.0
        grey_weight = small_weight
        for level in range(2):
            if level:
                grey = F.avg_pool2d(grey, 2)
                grey_weight = F.avg_pool2d(grey_weight, 2)
            response = F.conv2d(grey, self.gabor, padding=self.gabor.shape[-1] // 2)
            energy = torch.sqrt(response[:, 0::2] ** 2 + response[:, 1::2] ** 2 + 1e-8)
            gabor_parts.append(torch.log(weighted_pyramid_pool(energy, grey_weight, (1, 2, 4)) + 1e-3))
        gabor = torch.cat(gabor_parts, dim=1)

        blocks = {"colour": colour, "histogram": histogram, "gabor": gabor}
        return torch.cat([centred(block) * self.weights[name] for name, block in blocks.items()], dim=1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        lab = rgb_to_lab(rgb.float())
        both = self._features(torch.cat([lab, lab.flip(-1)]))
        n = rgb.shape[0]
        return F.normalize(both[:n] + both[n:], dim=1, eps=1e-8)


# ------------------------------------------------------------------------------------------ the interface


class Embedder:
    """Any torch module mapping (n, 3, H, W) crops to (n, d) vectors, batched on `device`."""

    def __init__(self, module: nn.Module, name: str, *, input_size: tuple[int, int], imagenet_normalize: bool,
                 device: torch.device | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.device = device or select_device()
        self.module = module.to(self.device).eval()
        self.name = name
        self.input_size = input_size
        self.imagenet_normalize = imagenet_normalize
        self.batch_size = batch_size
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed([Image.new("RGB", (32, 32), (128, 128, 128))]).shape[1])
        return self._dim

    def _tensor(self, crops: Sequence[Image.Image]) -> torch.Tensor:
        height, width = self.input_size
        arrays = [
            np.asarray((c if c.mode == "RGB" else c.convert("RGB")).resize((width, height), Image.Resampling.BILINEAR))
            for c in crops
        ]
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).to(self.device).float().div_(255.0)
        if self.imagenet_normalize:
            mean = batch.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
            std = batch.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
            batch = (batch - mean) / std
        return batch

    def embed(self, crops: Sequence[Image.Image]) -> np.ndarray:
        """(len(crops), d) float32, every row L2-normalized."""
        outputs: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                batch = self._tensor(crops[start:start + self.batch_size])
                if self.device.type == "cuda":
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        out = self.module(batch)
                else:
                    out = self.module(batch)
                if out.ndim != 2:
                    out = out.flatten(1)
                outputs.append(F.normalize(out.float(), dim=1, eps=1e-8).cpu().numpy())
        if not outputs:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        result = np.concatenate(outputs).astype(np.float32)
        self._dim = result.shape[1]
        return result


def builtin_embedder(device: torch.device | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> Embedder:
    return Embedder(ColourTextureEmbedder(), BUILTIN_NAME, input_size=ColourTextureEmbedder.input_size,
                    imagenet_normalize=False, device=device, batch_size=batch_size)


def _read_model_bytes(uri: str) -> bytes:
    if uri.startswith("s3://"):
        from deertrack.storage import ObjectMissing, get_bytes

        bucket, _, key = uri[len("s3://"):].partition("/")
        if not bucket or not key:
            raise ModelLoadError(f"REID_MODEL_URI {uri!r}: expected s3://bucket/key")
        try:
            return get_bytes(bucket, key)
        except ObjectMissing as exc:
            raise ModelLoadError(f"REID_MODEL_URI {uri!r}: no such object") from exc
    path = Path(uri[len("file://"):] if uri.startswith("file://") else uri).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"REID_MODEL_URI {uri!r}: no such file")
    return path.read_bytes()


def _load_module(data: bytes, uri: str, device: torch.device) -> nn.Module:
    """A TorchScript archive (torch.jit.save), or else a torch.export program (torch.export.save)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 marks torch.jit as deprecated
        try:
            return torch.jit.load(io.BytesIO(data), map_location=device)
        except Exception as jit_error:  # torch raises RuntimeError or its own types for a bad archive
            try:
                return torch.export.load(io.BytesIO(data)).module().to(device)
            except Exception:  # noqa: BLE001 - report the TorchScript error, the documented format
                raise ModelLoadError(f"REID_MODEL_URI {uri!r} is not a TorchScript model: {jit_error}") from None


def torchscript_embedder(uri: str, device: torch.device | None = None,
                         batch_size: int = DEFAULT_BATCH_SIZE) -> Embedder:
    device = device or select_device()
    data = _read_model_bytes(uri)
    module = _load_module(data, uri, device)
    size = getattr(module, "input_size", None)
    input_size = (int(size[0]), int(size[1])) if size is not None and len(size) == 2 else (224, 224)
    name = f"torchscript:{Path(uri).name}:{hashlib.sha256(data).hexdigest()[:12]}"
    logger.info("re-ID model loaded", extra={"model": name, "uri": uri, "device": str(device)})
    return Embedder(module, name, input_size=input_size, imagenet_normalize=True, device=device,
                    batch_size=batch_size)


@lru_cache(maxsize=4)
def load_embedder(uri: str | None = None) -> Embedder:
    """The embedder REID_MODEL_URI names, loaded once per process: unset, the shipped demo model
    (the built-in embedder, with a warning, when its file is missing); `builtin`, the built-in one."""
    from deertrack.reid.model_card import BUILTIN_URIS, SHIPPED_MODEL

    if uri in BUILTIN_URIS:
        return builtin_embedder()
    if uri:
        return torchscript_embedder(uri)
    if SHIPPED_MODEL.is_file():
        return torchscript_embedder(str(SHIPPED_MODEL))
    logger.warning("the shipped re-ID model is missing; using the built-in colour/texture embedder",
                   extra={"expected": str(SHIPPED_MODEL)})
    return builtin_embedder()


def current_embedder() -> Embedder:
    from deertrack.settings import get_settings

    return load_embedder(get_settings().reid_model_uri or None)
