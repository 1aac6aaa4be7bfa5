"""Training augmentations, on whole batches of crops: what changes between two photos of one deer.

Mirror (deer walk both ways), infrared-like grey (night pictures), brightness and contrast (dawn,
dusk, flash strength), a small shift / scale / stretch (a detector's box is never the same), a box
cut off at the picture's edge (only part of the animal, stretched to the crop), and a companion in
the box (a strip of another animal's crop over one side, as a fawn beside its doe): the identity
stays the crop's own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

AUGMENTATIONS = (
    "horizontal flip (p=0.5)",
    "greyscale like an infrared picture (p=0.25)",
    "brightness x0.7-1.3, contrast x0.75-1.25",
    "shift up to 8% and scale 0.9-1.1 (aspect 0.95-1.05), border padding",
    "cut off at the picture's edge: 60-90% of the width kept, stretched back (p=0.2)",
    "companion: a 25-55% side strip replaced by another crop of the batch (p=0.3)",
)


def augment(batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 3, H, W) floats in [0, 1] -> augmented, same shape."""
    n, _, _, width = batch.shape

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device="cpu").to(batch.device)

    flip = uniform(n) < 0.5
    batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
    grey = (0.15 * batch[:, 0] + 0.7 * batch[:, 1] + 0.15 * batch[:, 2])[:, None].expand(-1, 3, -1, -1)
    batch = torch.where((uniform(n) < 0.25)[:, None, None, None], grey, batch)
    brightness = uniform(n, 1, 1, 1) * 0.6 + 0.7
    contrast = uniform(n, 1, 1, 1) * 0.5 + 0.75
    mean = batch.mean(dim=(1, 2, 3), keepdim=True)
    batch = ((batch - mean) * contrast + mean) * brightness
    # companion: another crop's strip over one side
    companion = uniform(n) < 0.3
    strip = (uniform(n) * 0.3 + 0.25) * width
    columns = torch.arange(width, device=batch.device, dtype=torch.float32)[None, :]
    from_left = uniform(n) < 0.5
    covered = torch.where(from_left[:, None], columns < strip[:, None], columns >= width - strip[:, None])
    covered = (covered & companion[:, None])[:, None, None, :]
    batch = torch.where(covered, batch.roll(1, dims=0), batch)
    # geometry: shift / scale / stretch, and a box cut off at the picture's edge
    theta = torch.zeros(n, 2, 3, device=batch.device)
    scale = 1 + (uniform(n) * 0.2 - 0.1)
    keep = torch.where(uniform(n) < 0.2, uniform(n) * 0.3 + 0.6, torch.ones(n, device=batch.device))
    side = torch.where(uniform(n) < 0.5, -1.0, 1.0).to(batch.device)
    theta[:, 0, 0] = scale * keep
    theta[:, 1, 1] = scale * (1 + (uniform(n) * 0.1 - 0.05))
    theta[:, :, 2] = (uniform(n, 2) - 0.5) * 0.16
    theta[:, 0, 2] += side * (1 - keep)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, padding_mode="border", align_corners=False).clamp(0, 1)
