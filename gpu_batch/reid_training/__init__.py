"""Training of the re-ID embedder by metric learning, its calibration and its model card.

Public face: `train_model` (network + loss + loop), `calibrate` (thresholds on calibration
individuals), `LabelledCrops` (what they learn from) and `write_model` (TorchScript + card).
"""

from gpu_batch.reid_training.calibration import Calibration, calibrate
from gpu_batch.reid_training.crops import LabelledCrops
from gpu_batch.reid_training.export import write_model
from gpu_batch.reid_training.loop import TrainConfig, TrainResult, train_model

__all__ = ["Calibration", "LabelledCrops", "TrainConfig", "TrainResult", "calibrate", "train_model", "write_model"]
