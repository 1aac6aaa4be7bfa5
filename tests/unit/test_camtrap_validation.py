"""The offline Camtrap DP validator accepts the official example and catches each kind of error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.camtrap_validation import camtrap_dir, directory_errors


@pytest.fixture
def example(tmp_path: Path) -> Path:
    target = tmp_path / "example"
    source = camtrap_dir() / "example"
    target.mkdir()
    for name in ("datapackage.json", "deployments.csv", "media.csv", "observations.csv"):
        shutil.copy(source / name, target / name)
    return target


def replace_in(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def test_official_example_is_valid(example: Path) -> None:
    assert directory_errors(example) == []


def test_profile_requires_project(example: Path) -> None:
    package = json.loads((example / "datapackage.json").read_text())
    del package["project"]
    (example / "datapackage.json").write_text(json.dumps(package))
    assert any("'project' is a required property" in e for e in directory_errors(example))


@pytest.mark.parametrize(("table", "old", "new", "expected"), [
    ("observations", ",media,animal,", ",picture,animal,", "not in ['media', 'event']"),
    ("observations", "0.32325,", "1.32325,", "> maximum 1"),
    ("deployments", "2020-05-30T04:57:37+02:00", "2020-05-30 04:57:37", "is not a valid datetime"),
    ("media", "07840dcc,00a2c20d,", ",00a2c20d,", "mediaID: required"),
    ("media", "07840dcc,00a2c20d,", "07840dcc,nowhere,", "'nowhere' not in deployments.deploymentID"),
    ("media", ",true,20200709093328-RCNX0001.JPG,image/jpeg", ",yes,20200709093328-RCNX0001.JPG,image/jpeg",
     "is not a valid boolean"),
    ("media", "image/jpeg", "jpeg", "does not match"),
    ("observations", "705e6036,", "07840dcc_1,", "not unique"),
])
def test_table_errors_are_found(example: Path, table: str, old: str, new: str, expected: str) -> None:
    replace_in(example / f"{table}.csv", old, new)
    errors = directory_errors(example)
    assert any(expected in e for e in errors), errors
