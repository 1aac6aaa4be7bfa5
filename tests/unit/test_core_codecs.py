"""Pure functions of the core: S3 notification parsing, embedding bytes, score-log COPY text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deertrack.reid import vectors
from deertrack.reid.score_log import ScoreBlock, to_copy_text
from deertrack.s3_events import NotS3Notification, objects_in


def _notification(key: str) -> str:
    return json.dumps({"Records": [{"eventName": "ObjectCreated:Put",
                                    "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 3}}}]})


def test_s3_keys_are_decoded_once() -> None:
    assert [o.key for o in objects_in(_notification("export-requests/my+report%2B1.json"))] == [
        "export-requests/my report+1.json"
    ]


def test_s3_test_event_is_ignored() -> None:
    assert objects_in(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})) == []


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"Records": [{"s3": {}}]}), "{}"])
def test_malformed_notifications_say_why(body: str) -> None:
    with pytest.raises(NotS3Notification):
        objects_in(body)


def test_embedding_bytes_round_trip_and_normalize() -> None:
    v = vectors.normalize(np.array([3.0, 4.0]))
    assert np.allclose(v, [0.6, 0.8])
    assert np.array_equal(vectors.from_bytes(vectors.to_bytes(v)), v)
    m = vectors.stack([vectors.to_bytes(v), vectors.to_bytes(v[::-1].copy())])
    assert m.shape == (2, 2)
    assert np.array_equal(vectors.normalize(np.zeros(3)), np.zeros(3))


def test_stacking_embeddings_of_different_lengths_says_how_to_fix() -> None:
    with pytest.raises(vectors.DimensionMismatch, match=r"\(2, 3 dimensions\).*reid embed --all"):
        vectors.stack([vectors.to_bytes(np.ones(3)), vectors.to_bytes(np.ones(2))])
    m = vectors.stack([vectors.to_bytes(np.ones(2))])
    m[0, 0] = 0.5  # writable: a gallery updates its profiles in place


def test_score_copy_text_rounds_to_four_places() -> None:
    block = ScoreBlock(
        detection_ids=np.array([7, 7]), deer_ids=np.array([1, 2]), scores=np.array([0.812345, -0.1]),
        matched=np.array([True, False]), sex_match=np.array([True, False]),
        detection_classifications=["doe", "doe"], deer_sexes=["doe", "buck"], threshold=0.8,
    )
    assert to_copy_text(block).decode().splitlines() == [
        "7\t1\t0.8123\t0.8000\tt\tt\tdoe\tdoe",
        "7\t2\t-0.1000\t0.8000\tf\tf\tdoe\tbuck",
    ]
