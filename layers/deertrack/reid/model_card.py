"""Model cards: the JSON beside a re-ID model that says what it was trained on and which thresholds it needs.

The shipped demo model (`models/deer-reid-demo.pt`, card `models/deer-reid-demo.json`) is what runs
when REID_MODEL_URI is unset; its card is the one place the default re-ID and merge thresholds come
from. A model given by REID_MODEL_URI as a local file brings its own card (`<model>.json`) when it
has one; the built-in colour/texture embedder (REID_MODEL_URI=builtin) has fixed defaults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).resolve().parent / "models"
SHIPPED_MODEL = MODELS_DIR / "deer-reid-demo.pt"
#: REID_MODEL_URI values that choose the built-in colour/texture embedder (no weights file).
BUILTIN_URIS = ("builtin", "builtin:colour-texture")


@dataclass(frozen=True)
class Thresholds:
    reid_threshold: float
    merge_suggest_threshold: float
    merge_auto_threshold: float
    auto_merge: bool
    source: str  # which card (or built-in default) they come from
    #: crop_quality.CropGate: crops past these found no new deer (1.0 and 0.0: the gate is off)
    crop_max_overlap: float = 1.0
    crop_edge_margin: float = 0.0


#: The built-in embedder's thresholds (`deertrack reid evaluate --sweep` on the demo data; it is weak).
BUILTIN_THRESHOLDS = Thresholds(0.85, 0.90, 0.95, False, "built-in colour/texture embedder defaults")


def card_path(model: Path) -> Path:
    return model.with_suffix(".json")


def load_card(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@lru_cache(maxsize=8)
def _card_for(uri: str | None) -> tuple[dict[str, Any], str] | None:
    if uri in BUILTIN_URIS:
        return None
    if uri is None or uri == "":
        path = card_path(SHIPPED_MODEL)
    elif uri.startswith("s3://"):
        return None
    else:
        path = card_path(Path(uri.removeprefix("file://")).expanduser())
    if not path.is_file():
        return None
    try:
        return load_card(path), str(path)
    except (OSError, ValueError):
        return None


def card_for(uri: str | None) -> dict[str, Any] | None:
    """The card of the model REID_MODEL_URI names (the shipped model's when unset), if there is one."""
    found = _card_for(uri)
    return found[0] if found else None


def thresholds_for(uri: str | None) -> Thresholds:
    """Default thresholds for the model REID_MODEL_URI names."""
    found = _card_for(uri)
    if found is None:
        return BUILTIN_THRESHOLDS
    card, where = found
    t = card["thresholds"]
    return Thresholds(float(t["reid_threshold"]), float(t["merge_suggest_threshold"]),
                      float(t["merge_auto_threshold"]), bool(t["auto_merge"]), where,
                      float(t.get("crop_max_overlap", 1.0)), float(t.get("crop_edge_margin", 0.0)))


def shipped_model_available() -> bool:
    return SHIPPED_MODEL.is_file()
