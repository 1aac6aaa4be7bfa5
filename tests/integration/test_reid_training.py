"""`deertrack reid train`'s parts on a tiny synthetic set: training beats an untrained net on held-out
individuals, and the written TorchScript model round-trips through a file and s3:// with its size."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from deertrack.reid.model_card import card_path, load_card
from deertrack.settings import get_settings
from deertrack.storage import put_bytes
from gpu_batch.reid.embedder import torchscript_embedder
from gpu_batch.reid_training import TrainConfig, train_model, write_model
from gpu_batch.reid_training.export import model_bytes
from gpu_batch.reid_training.loop import embed_crops
from gpu_batch.reid_training.network import DeerReidNet
from infra.demo.crops import population_crops

pytestmark = pytest.mark.integration

SIZE = (64, 64)
TINY = TrainConfig(epochs=8, batch_size=64, widths=(16, 32, 48, 64), dim=64, seed=3, learning_rate=5e-3)


def rank1_other_sightings(embeddings: np.ndarray, crops) -> float:  # noqa: ANN001 - LabelledCrops
    """Nearest neighbour accuracy, never counting a frame of the same sighting (same camera, <60 s)."""
    sims = embeddings @ embeddings.T
    times = np.array([t.timestamp() for t in crops.captured_at])
    same_sighting = (crops.location_ids[:, None] == crops.location_ids[None, :]) & (
        np.abs(times[:, None] - times[None, :]) < 60)
    sims[same_sighting] = -np.inf
    best = sims.argmax(axis=1)
    individuals = np.array(crops.individuals)
    has_other = np.isfinite(sims.max(axis=1))
    return float((individuals[best] == individuals)[has_other].mean())


@pytest.fixture(scope="module")
def tiny() -> tuple:
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    training = population_crops(41, SIZE, max_images=1000)
    held_out = population_crops(42, SIZE, max_images=450)  # other seed: individuals never trained on
    return training, held_out, train_model(training, TINY, progress=False)


def test_training_beats_an_untrained_net_on_held_out_individuals(tiny) -> None:
    training, held_out, result = tiny
    assert not set(training.individuals) & set(held_out.individuals)
    assert len(result.losses) == TINY.epochs and result.losses[-1] < result.losses[0]
    torch.manual_seed(TINY.seed)
    untrained = DeerReidNet(TINY.dim, TINY.widths, SIZE).eval()
    trained_rank1 = rank1_other_sightings(embed_crops(result.model, held_out.pixels), held_out)
    untrained_rank1 = rank1_other_sightings(embed_crops(untrained, held_out.pixels), held_out)
    assert trained_rank1 > untrained_rank1 + 0.1, (trained_rank1, untrained_rank1)


def test_torchscript_model_round_trips_through_a_file_and_s3(tiny, stack, tmp_path) -> None:
    _, held_out, result = tiny
    path, card_file = write_model(result.model, {"name": "tiny", "thresholds": {}}, tmp_path / "tiny.pt")
    assert card_file == card_path(path) and load_card(card_file)["file"] == "tiny.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert list(torch.jit.load(str(path)).input_size) == list(SIZE)
    from PIL import Image

    crops = [Image.fromarray(p) for p in held_out.pixels[:12]]
    expected = embed_crops(result.model, held_out.pixels[:12])
    from_file = torchscript_embedder(str(path))
    assert from_file.input_size == SIZE and from_file.dim == TINY.dim
    assert np.allclose(from_file.embed(crops), expected, atol=1e-4)
    bucket = get_settings().images_bucket
    put_bytes(bucket, "models/tiny.pt", model_bytes(result.model))
    from_s3 = torchscript_embedder(f"s3://{bucket}/models/tiny.pt")
    assert from_s3.input_size == SIZE and np.allclose(from_s3.embed(crops), expected, atol=1e-4)
