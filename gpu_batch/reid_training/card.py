"""The model card of a trained embedder: data, augmentations, calibration, held-out figures, training time."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from typing import Any

import torch

from gpu_batch.reid_training.augment import AUGMENTATIONS
from gpu_batch.reid_training.calibration import Calibration
from gpu_batch.reid_training.crops import LabelledCrops
from gpu_batch.reid_training.loop import TrainConfig, TrainResult
from gpu_batch.reid_training.network import DeerReidNet

INTENDED_USE = (
    "Re-identifying the individual deer of deertrack's synthetic demo generator (its cameras, its coat "
    "patterns, its day and infrared night pictures)."
)
NOT_FOR = (
    "Real trail-camera photos: it has never seen one and its scores mean nothing there. For real photos, "
    "train on reviewed real detections (`deertrack reid train --from-database`) or export a pretrained "
    "re-ID model (for example MegaDescriptor) to TorchScript and point REID_MODEL_URI at it."
)


CALIBRATION_METHOD = ("replay of re-ID + merges over a threshold grid, then of the crop gate over an overlap x edge "
                      "grid; isotonic P(same) on pair cosines")


def describe(data: LabelledCrops, seeds: list[int] | None, sources: list[str]) -> dict[str, Any]:
    return {"individuals": len(data.individual_keys), "detections": len(data), "seeds": seeds or [],
            "sources": sources, "populations": sorted(set(data.populations))}


def build_card(*, name: str, config: TrainConfig, result: TrainResult, model: DeerReidNet,
               training: dict[str, Any], calibration_data: dict[str, Any], calibration: Calibration,
               holdout_data: dict[str, Any], holdout: dict[str, Any], command: str) -> dict[str, Any]:
    return {
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rebuild_command": command,
        "intended_use": INTENDED_USE,
        "not_for": NOT_FOR,
        "architecture": {"type": "DeerReidNet (small CNN from scratch)", "widths": list(config.widths),
                         "embedding_dim": config.dim, "input_size": list(model.input_size),
                         "parameters": sum(p.numel() for p in model.parameters()),
                         "input": "RGB crop, bilinear resize, ImageNet mean/std"},
        "loss": {"type": "CosFace (additive cosine margin)", "scale": config.cosface_scale,
                 "margin": config.cosface_margin},
        "training": {**config.as_dict(), "seconds": round(result.seconds, 1), "device": result.device,
                     "loss_per_epoch": [round(v, 4) for v in result.losses], "torch": torch.__version__,
                     "python": platform.python_version()},
        "augmentations": list(AUGMENTATIONS),
        "data": {"training": training, "calibration": calibration_data, "holdout": holdout_data},
        "thresholds": calibration.thresholds(),
        "calibration": {"method": CALIBRATION_METHOD,
                        "figures": calibration.figures, "score_to_probability": calibration.probability,
                        "sweep": calibration.sweep},
        "holdout": holdout,
    }
