"""Whether a detection's crop is good enough to found a new deer: overlap with other animals, and the picture's edge.

Two animals standing across each other give boxes that overlap, and the crop of either holds parts
of both; an animal walking out of the frame gives a box cut off at the edge. Such crops embed
poorly, and when they match no deer, re-identification would found a new deer on them: one more
animal in the catalog that is really a fragment of a known one. Measured on synthetic calibration
populations, these fragments are most of the deer that split off a true individual.

So a crop's geometry is measured from what the detector gives (its box, the other boxes of the same
photo, the photo's size), never from its pixels:

* `overlap`: the largest fraction of the box covered by another valid detection's box of the photo;
* `edge_gap`: the box's smallest distance to a side of the photo, as a fraction of that side.

A `CropGate` says how much of either is too much. A track of detections that matches no deer and
whose crops are mostly past the gate founds no deer: its detections are left `needs_review`, with
their scores logged, for a person to decide. A poor crop that does match a deer is assigned as any
other: the gate only stops poor crops from making new animals. The gate's limits are calibrated with
the thresholds on calibration individuals (gpu_batch/reid_training/calibration.py), and come from
the model card (REID_CROP_MAX_OVERLAP, REID_CROP_EDGE_MARGIN).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pg8000.native

#: Status of a detection that matched no deer and whose crop was too poor to found one.
NEEDS_REVIEW = "needs_review"

Box = tuple[int, int, int, int]  # x, y, width, height in pixels


@dataclass(frozen=True)
class CropGeometry:
    overlap: float  # 0..1: the most of the box another box of the photo covers
    edge_gap: float  # >= 0: the nearest side of the photo, as a fraction of that side (inf: size unknown)
    overlapped_by: int | None = None  # the detection covering it most


@dataclass(frozen=True)
class CropGate:
    max_overlap: float = 1.0  # crops covered more than this are poor (1.0: never)
    edge_margin: float = 0.0  # crops nearer a side than this fraction of it are poor (0.0: never)

    def reason(self, geometry: CropGeometry | None) -> str | None:
        """Why a crop is too poor to found a deer, or None when it is good enough."""
        if geometry is None:
            return None
        if geometry.overlap > self.max_overlap:
            by = f" by detection {geometry.overlapped_by}" if geometry.overlapped_by is not None else ""
            return f"{geometry.overlap:.0%} of its box is covered{by} (limit {self.max_overlap:.0%})"
        if geometry.edge_gap < self.edge_margin:
            return (f"its box is cut off at the picture's edge ({geometry.edge_gap:.1%} from it, "
                    f"limit {self.edge_margin:.1%})")
        return None

    @property
    def off(self) -> bool:
        return self.max_overlap >= 1.0 and self.edge_margin <= 0.0


NO_GATE = CropGate()


def covered(box: Box, other: Box) -> float:
    """The fraction of `box` that `other` covers."""
    x, y, w, h = box
    ox, oy, ow, oh = other
    dx = min(x + w, ox + ow) - max(x, ox)
    dy = min(y + h, oy + oh) - max(y, oy)
    return 0.0 if dx <= 0 or dy <= 0 else (dx * dy) / float(w * h)


def measure(box: Box, image_size: tuple[int, int] | None, others: Iterable[tuple[int, Box]]) -> CropGeometry:
    """A box's geometry among the other boxes (detection id, box) of its photo, of size (width, height)."""
    overlap, by = 0.0, None
    for other_id, other in others:
        share = covered(box, other)
        if share > overlap:
            overlap, by = share, other_id
    gap = float("inf")
    if image_size and image_size[0] and image_size[1]:
        width, height = image_size
        x, y, w, h = box
        gap = max(0.0, min(x / width, (width - x - w) / width, y / height, (height - y - h) / height))
    return CropGeometry(round(overlap, 4), round(gap, 4) if gap != float("inf") else gap, by)


def measure_photo(boxes: Mapping[int, Box], image_size: tuple[int, int] | None) -> dict[int, CropGeometry]:
    """Every box of one photo (detection id -> box) measured against the others."""
    return {d: measure(box, image_size, ((o, b) for o, b in boxes.items() if o != d)) for d, box in boxes.items()}


def load_geometries(con: pg8000.native.Connection, detection_ids: Sequence[int]) -> dict[int, CropGeometry]:
    """The geometry of each detection, against the other valid detections of its photo."""
    if not detection_ids:
        return {}
    rows = con.run(
        "SELECT d.image_id, d.id, d.bbox_x, d.bbox_y, d.bbox_width, d.bbox_height, i.width, i.height, d.is_valid"
        " FROM detections d JOIN images i ON i.id = d.image_id"
        " WHERE d.image_id IN (SELECT image_id FROM detections WHERE id = ANY(CAST(:ids AS BIGINT[])))",
        ids=list(detection_ids),
    )
    wanted = set(detection_ids)
    photos: dict[int, tuple[tuple[int, int] | None, dict[int, Box], dict[int, Box]]] = {}
    for image_id, det_id, x, y, w, h, width, height, valid in rows:
        size, boxes, targets = photos.setdefault(image_id, ((width, height) if width and height else None, {}, {}))
        if valid:
            boxes[det_id] = (x, y, w, h)
        if det_id in wanted:
            targets[det_id] = (x, y, w, h)
    return {
        det_id: measure(box, size, ((o, b) for o, b in boxes.items() if o != det_id))
        for size, boxes, targets in photos.values() for det_id, box in targets.items()
    }
