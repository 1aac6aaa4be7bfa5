"""The default re-ID network: a small CNN trained from scratch, and its CosFace training head.

Seven 3x3 convolutions (BatchNorm, ReLU; four of them stride 2) take a 64x64 crop to a 4x4 map,
pooled by mean and max and projected to a 128-d embedding. About 0.3 M parameters and 25 MFLOPs
a crop, so a batched CPU forward pass runs at well over a thousand crops a second. The head is
CosFace (additive cosine margin, as wildlife-tools and MegaDescriptor train): logits s * (cos - m)
for the true identity, s * cos for the others.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_WIDTHS = (32, 64, 96, 128)
DEFAULT_INPUT_SIZE = (64, 64)
DEFAULT_DIM = 128


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DeerReidNet(nn.Module):
    """(n, 3, H, W) ImageNet-normalized crops -> (n, dim) embeddings (not normalized)."""

    def __init__(self, dim: int = DEFAULT_DIM, widths: tuple[int, int, int, int] = DEFAULT_WIDTHS,
                 input_size: tuple[int, int] = DEFAULT_INPUT_SIZE) -> None:
        super().__init__()
        a, b, c, d = widths
        self.input_size = [int(input_size[0]), int(input_size[1])]  # kept by TorchScript as List[int]
        self.features = nn.Sequential(_conv(3, a, 2), _conv(a, a, 1), _conv(a, b, 2), _conv(b, b, 1),
                                      _conv(b, c, 2), _conv(c, c, 1), _conv(c, d, 2))
        self.head = nn.Linear(2 * d, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.head(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))


class CosFace(nn.Module):
    """Additive cosine margin softmax over the training identities."""

    def __init__(self, dim: int, identities: int, scale: float = 30.0, margin: float = 0.35) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(identities, dim) * 0.01)
        self.scale, self.margin = scale, margin

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cosines = F.normalize(embeddings.float()) @ F.normalize(self.weight).T
        cosines = cosines - self.margin * F.one_hot(labels, cosines.shape[1]).to(cosines.dtype)
        return F.cross_entropy(self.scale * cosines, labels)
