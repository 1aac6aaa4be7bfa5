"""The MegaDetector batch-output models: what a results file, an entry and a detection may be, and the
problems (field, rule, message) that refuse the rest; counted drops are not problems."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deertrack.ingest.megadetector import (
    ImageEntry,
    ResultsFileInvalid,
    load_results,
    screen_detections,
)
from deertrack.ingest.megadetector import image_entry as parse_entry
from deertrack.problems import Problem

CATEGORIES = {"1": "animal", "2": "person"}
GOOD_BOX = [0.1, 0.2, 0.3, 0.4]
NOT_A_BOX = "images[0].detections[0].bbox: bbox must be a list [x, y, width, height]"


def screen(*detections: Any, min_confidence: float = 0.2) -> Any:
    return screen_detections(list(detections), "images[0]", CATEGORIES, min_confidence)


def only_problem(*detections: Any) -> tuple[str, str, str]:
    screened = screen(*detections)
    assert not screened.kept
    [problem] = screened.problems
    return problem.field, problem.rule, problem.message


@pytest.mark.parametrize(("data", "message"), [
    (b"{", "not JSON"),
    (b"[]", "not MegaDetector batch output: no top-level 'images' list"),
    (b'{"images": {}}', "not MegaDetector batch output: no top-level 'images' list"),
    (b'{"images": [], "detection_categories": {"1": "person"}}', "detection_categories has no 'animal' category"),
    (b'{"images": [], "detection_categories": null}', "detection_categories has no 'animal' category"),
    (b'{"images": [], "detection_categories": {}}', "detection_categories has no 'animal' category"),
    (b'{"images": [], "classification_categories": ["doe"]}', "classification_categories must be an object"),
])
def test_files_that_are_not_batch_output_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ResultsFileInvalid, match=message):
        load_results(data)


def test_a_minimal_file_loads_with_the_default_categories() -> None:
    doc = {"images": [{"file": "a.jpg"}], "info": {"format_version": "1.3"}}
    assert load_results(json.dumps(doc)) == doc
    assert load_results(json.dumps({"images": [], "detection_categories": {"7": "Animal"}}))["images"] == []


@pytest.mark.parametrize("raw", [None, "a.jpg", {"file": ""}, {"file": 3}, {"detections": []}])
def test_an_entry_without_a_file_name_is_refused_on_its_file(raw: Any) -> None:
    assert parse_entry(raw, "images[2]") == Problem("images[2].file", "required",
                                                    "images[2].file: missing or not a string")


def test_a_failed_entry_names_the_failure() -> None:
    problem = parse_entry({"file": "x.jpg", "failure": "Failure image access"}, "images[1]")
    assert problem == Problem("images[1].file", "megadetector_failure",
                              "images[1].file x.jpg: MegaDetector failed: Failure image access")


def test_an_entry_keeps_a_datetime_string_and_ignores_anything_else() -> None:
    entry = parse_entry({"file": "x.jpg", "datetime": "2024:05:01 10:00:00", "max_detection_conf": 0.9}, "i")
    assert isinstance(entry, ImageEntry) and entry.datetime == "2024:05:01 10:00:00" and entry.detections is None
    odd = parse_entry({"file": "x.jpg", "datetime": 20240501}, "i")
    assert isinstance(odd, ImageEntry) and odd.datetime is None


def test_kept_dropped_and_counted() -> None:
    screened = screen(
        {"category": "1", "conf": 0.9, "bbox": GOOD_BOX, "classifications": [["0", 0.8]]},
        {"category": "1", "conf": "0.5", "bbox": [0, 0, 1, 1.00005]},  # strings of numbers, MegaDetector's slack
        {"category": "1", "conf": 0.1, "bbox": "not even a box"},  # below the confidence: not looked at further
        {"category": "2", "conf": "n/a"},  # a person: dropped before anything else is read
        {"category": 1, "conf": 0.3, "bbox": GOOD_BOX},  # an integer category id
    )
    assert [j for j, _ in screened.kept] == [0, 1, 4]
    assert screened.kept[1][1].conf == 0.5 and screened.kept[0][1].bbox == (0.1, 0.2, 0.3, 0.4)
    assert (screened.non_animal, screened.below_confidence, screened.problems) == (1, 1, [])


@pytest.mark.parametrize(("detection", "expected"), [
    ("x", ("images[0].detections[0]", "object", "images[0].detections[0]: not an object")),
    ({"category": "1", "bbox": GOOD_BOX},
     ("images[0].detections[0].conf", "number", "images[0].detections[0].conf: missing or not a number")),
    ({"category": "1", "conf": "high", "bbox": GOOD_BOX},
     ("images[0].detections[0].conf", "number", "images[0].detections[0].conf: missing or not a number")),
    ({"category": "1", "conf": 1.5, "bbox": None},
     ("images[0].detections[0].conf", "range", "images[0].detections[0].conf: 1.5 is not in 0..1")),
    ({"category": "1", "conf": 0.9},
     ("images[0].detections[0].bbox", "bbox", NOT_A_BOX)),
    ({"category": "1", "conf": 0.9, "bbox": [0.1, 0.2, 0.3]},
     ("images[0].detections[0].bbox", "bbox", NOT_A_BOX)),
    ({"category": "1", "conf": 0.9, "bbox": [0.1, "x", float("inf"), 0.3]},
     ("images[0].detections[0].bbox", "bbox", "images[0].detections[0].bbox: bbox values must be numbers")),
    ({"category": "1", "conf": 0.9, "bbox": [0.1, float("nan"), 0.2, 0.3]},
     ("images[0].detections[0].bbox", "bbox", "images[0].detections[0].bbox: bbox values must be finite")),
    ({"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.0, 0.3]},
     ("images[0].detections[0].bbox", "bbox", "images[0].detections[0].bbox: bbox width and height must be > 0")),
    ({"category": "1", "conf": 0.9, "bbox": [1.2, 0.1, 0.1, 0.3]},
     ("images[0].detections[0].bbox", "bbox", "images[0].detections[0].bbox: bbox values must be normalized to 0..1")),
])
def test_refused_detections_name_the_field_and_the_rule(detection: Any, expected: tuple[str, str, str]) -> None:
    assert only_problem(detection) == expected
