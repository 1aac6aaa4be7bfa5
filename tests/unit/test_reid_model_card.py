"""The shipped re-ID model and its card: seeds disjoint from the demo's and the evaluation seeds, the
default thresholds come from the card, and the file loads as TorchScript with its input size."""

from __future__ import annotations

import pytest

from deertrack.reid import model_card
from infra.demo.dataset import CALIBRATION_SEEDS, DEMO_SEED, EVALUATION_SEEDS, HOLDOUT_SEEDS, TRAINING_SEEDS


def _card() -> dict:
    assert model_card.shipped_model_available(), f"{model_card.SHIPPED_MODEL} is missing (make demo-model)"
    return model_card.load_card(model_card.card_path(model_card.SHIPPED_MODEL))


def test_seeds_are_disjoint() -> None:
    card = _card()
    roles = {role: set(card["data"][role]["seeds"]) for role in ("training", "calibration", "holdout")}
    assert roles["training"] and roles["calibration"] and roles["holdout"]
    for role, seeds in roles.items():
        assert DEMO_SEED not in seeds, role
        assert not seeds & set(EVALUATION_SEEDS), role
    assert not roles["training"] & roles["calibration"]
    assert not roles["training"] & roles["holdout"] and not roles["calibration"] & roles["holdout"]
    # the constants the rebuild command uses are the card's
    assert roles == {"training": set(TRAINING_SEEDS), "calibration": set(CALIBRATION_SEEDS),
                     "holdout": set(HOLDOUT_SEEDS)}
    assert len({DEMO_SEED, *TRAINING_SEEDS, *CALIBRATION_SEEDS, *HOLDOUT_SEEDS, *EVALUATION_SEEDS}) == (
        1 + len(TRAINING_SEEDS) + len(CALIBRATION_SEEDS) + len(HOLDOUT_SEEDS) + len(EVALUATION_SEEDS))


def test_default_thresholds_come_from_the_card(monkeypatch: pytest.MonkeyPatch) -> None:
    from deertrack.settings import DEFAULT_REID_THRESHOLD, load_settings

    for name in ("REID_THRESHOLD", "REID_MODEL_URI", "REID_MERGE_AUTO_THRESHOLD", "REID_MERGE_SUGGEST_THRESHOLD",
                 "REID_AUTO_MERGE"):
        monkeypatch.delenv(name, raising=False)
    thresholds = _card()["thresholds"]
    settings = load_settings()
    assert settings.reid_threshold == thresholds["reid_threshold"] == DEFAULT_REID_THRESHOLD
    assert settings.reid_merge_auto_threshold == thresholds["merge_auto_threshold"]
    assert settings.reid_merge_suggest_threshold == thresholds["merge_suggest_threshold"]
    assert settings.reid_auto_merge == thresholds["auto_merge"]
    monkeypatch.setenv("REID_MODEL_URI", "builtin")
    assert load_settings().reid_threshold == model_card.BUILTIN_THRESHOLDS.reid_threshold


def test_the_shipped_model_is_small_and_loads_with_its_input_size() -> None:
    from gpu_batch.reid.embedder import load_embedder

    card = _card()
    assert model_card.SHIPPED_MODEL.stat().st_size < 5_000_000
    embedder = load_embedder(None)
    assert embedder.name.startswith("torchscript:deer-reid-demo.pt:")
    assert list(embedder.input_size) == card["architecture"]["input_size"]
    assert embedder.dim == card["architecture"]["embedding_dim"]
    assert "real" in card["not_for"]
