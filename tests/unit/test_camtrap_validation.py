"""The offline Camtrap DP oracle (frictionless) accepts the official example and catches each kind of error."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.camtrap_validation import _local, camtrap_dir, directory_errors, zip_errors


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


def test_official_example_is_valid_from_a_zip(example: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "package.zip", "w") as archive:
        for path in example.iterdir():
            archive.write(path, path.name)
    with zipfile.ZipFile(tmp_path / "package.zip") as archive:
        assert zip_errors(archive) == []


def test_profile_requires_project(example: Path) -> None:
    package = json.loads((example / "datapackage.json").read_text())
    del package["project"]
    (example / "datapackage.json").write_text(json.dumps(package))
    assert any("'project' is a required property" in e for e in directory_errors(example))


def test_temporal_dates_are_checked(example: Path) -> None:
    package = json.loads((example / "datapackage.json").read_text())
    package["temporal"]["start"] = "2020/05/30"
    (example / "datapackage.json").write_text(json.dumps(package))
    assert any("temporal/start: '2020/05/30' is not a YYYY-MM-DD date" in e for e in directory_errors(example))


@pytest.mark.parametrize(("table", "old", "new", "expected"), [
    ("observations", ",media,animal,", ",picture,animal,", ('constraint-error', 'constraint "enum"')),
    ("observations", "0.32325,", "1.32325,", ("constraint-error", 'constraint "maximum" is "1"')),
    ("deployments", "2020-05-30T04:57:37+02:00", "2020-05-30 04:57:37", ("type-error", "deploymentStart")),
    ("media", "07840dcc,00a2c20d,", ",00a2c20d,", ("constraint-error", 'field "mediaID"')),
    ("media", "07840dcc,00a2c20d,", "07840dcc,nowhere,", ("foreign-key", 'values "nowhere" not found')),
    ("media", ",true,20200709093328-RCNX0001.JPG,image/jpeg", ",yes,20200709093328-RCNX0001.JPG,image/jpeg",
     ("type-error", "boolean")),
    ("media", "image/jpeg", "jpeg", ("constraint-error", 'constraint "pattern"')),
    ("observations", "705e6036,", "07840dcc_1,", ("unique-error", "observationID")),
])
def test_table_errors_are_found(example: Path, table: str, old: str, new: str,
                                expected: tuple[str, str]) -> None:
    replace_in(example / f"{table}.csv", old, new)
    errors = directory_errors(example)
    kind, detail = expected
    assert any(e.startswith(f"{kind}: {table}: ") and detail in e for e in errors), errors


def test_a_broken_package_is_caught(example: Path) -> None:
    """A table cut down to two columns, a deployment that does not exist and no project: each is reported
    (the descriptor first: a package that breaks the profile has its tables read only once it is fixed)."""
    (example / "observations.csv").write_text("observationID,deploymentID\nx,y\n")
    errors = directory_errors(example)
    assert any(e.startswith("missing-label: observations: ") and '"observationType"' in e for e in errors), errors
    assert any(e.startswith("foreign-key: observations: ") and 'values "y" not found' in e for e in errors), errors
    package = json.loads((example / "datapackage.json").read_text())
    del package["project"]
    (example / "datapackage.json").write_text(json.dumps(package))
    assert [e for e in directory_errors(example) if e.startswith("package-error")], "the profile was not checked"


def test_the_validation_never_goes_online() -> None:
    camtrap_dir()
    assert _local("https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/media-table-schema.json").startswith(b"{")
    with pytest.raises(ConnectionError, match="offline validation"):
        _local("https://example.org/anything.json")
