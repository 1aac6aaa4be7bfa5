"""The training loop: CosFace metric learning of DeerReidNet, on the CPU or on CUDA with bf16 autocast.

AdamW with a one-cycle learning-rate schedule, batches drawn without replacement each epoch,
augmentations applied per batch (augment.py). A tqdm bar shows epoch, loss, crops/s and the ETA.
Deterministic for a given seed on the CPU.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from gpu_batch.reid.embedder import IMAGENET_MEAN, IMAGENET_STD, select_device
from gpu_batch.reid_training.augment import augment
from gpu_batch.reid_training.crops import LabelledCrops
from gpu_batch.reid_training.network import DEFAULT_DIM, DEFAULT_WIDTHS, CosFace, DeerReidNet


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 16
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 5e-4
    seed: int = 0
    dim: int = DEFAULT_DIM
    widths: tuple[int, int, int, int] = DEFAULT_WIDTHS
    cosface_scale: float = 30.0
    cosface_margin: float = 0.35
    device: str | None = None  # None: CUDA when available, else the CPU

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    model: DeerReidNet
    seconds: float
    device: str
    losses: list[float] = field(default_factory=list)  # mean loss per epoch
    identities: int = 0
    crops: int = 0


def normalize_batch(batch: torch.Tensor) -> torch.Tensor:
    """[0, 1] RGB -> ImageNet-normalized, as the embedder feeds a TorchScript model."""
    mean = batch.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = batch.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (batch - mean) / std


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(n, H, W, 3) uint8 -> (n, 3, H, W) uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).contiguous()


def train_model(data: LabelledCrops, config: TrainConfig = TrainConfig(), *, progress: bool = True) -> TrainResult:
    """Learn an embedder from `data` (its individuals are the training identities)."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = select_device(config.device)
    labels_np, keys = data.labels()
    pixels, labels = to_tensor(data.pixels), torch.from_numpy(labels_np)
    model = DeerReidNet(config.dim, config.widths, data.input_size).to(device)
    head = CosFace(config.dim, len(keys), config.cosface_scale, config.cosface_margin).to(device)
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    per_epoch = max(1, len(data) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate,
                                                   total_steps=config.epochs * per_epoch, pct_start=0.15)
    result = TrainResult(model=model, seconds=0.0, device=str(device), identities=len(keys), crops=len(data))
    started = time.perf_counter()
    bar = tqdm(total=config.epochs * per_epoch * config.batch_size, unit="crop", unit_scale=True,
               disable=not progress, dynamic_ncols=True, desc="training")
    model.train()
    for epoch in range(config.epochs):
        order = torch.randperm(len(data), generator=generator)
        total = 0.0
        for step in range(per_epoch):
            rows = order[step * config.batch_size:(step + 1) * config.batch_size]
            batch = augment(pixels[rows].to(device).float().div_(255.0), generator)
            batch = normalize_batch(batch).contiguous(memory_format=torch.channels_last)
            target = labels[rows].to(device)
            if device.type == "cuda":
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss = head(model(batch), target)
            else:
                loss = head(model(batch), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
            bar.update(len(rows))
            bar.set_postfix_str(f"epoch {epoch + 1}/{config.epochs} loss {total / (step + 1):.3f}")
        result.losses.append(total / per_epoch)
    bar.close()
    model.eval()
    result.seconds = time.perf_counter() - started
    return result


def embed_crops(model: torch.nn.Module, pixels: np.ndarray, batch_size: int = 256,
                device: torch.device | None = None) -> np.ndarray:
    """L2-normalized embeddings of already-resized crops (evaluation and calibration)."""
    device = device or next(model.parameters()).device
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(pixels), batch_size):
            batch = normalize_batch(to_tensor(pixels[start:start + batch_size]).to(device).float().div_(255.0))
            out.append(torch.nn.functional.normalize(model(batch).float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
