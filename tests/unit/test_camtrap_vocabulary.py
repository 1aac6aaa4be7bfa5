"""deertrack.camtrap_dp: the export's class -> sex/life stage and the import's way back agree."""

from __future__ import annotations

from deertrack.camtrap_dp import BBOX_FIELDS, LIFE_STAGE, OBSERVATION_FIELDS, SEX, TABLES, classification, fraction


def test_every_class_comes_back_from_what_the_export_writes() -> None:
    for cls in ("buck", "doe", "fawn", "unknown"):
        assert classification(SEX.get(cls, ""), LIFE_STAGE.get(cls, "")) == cls


def test_the_import_reads_what_other_tools_write() -> None:
    assert classification("male", "") == "buck" and classification("female", "juvenile") == "doe"
    assert classification("", "juvenile") == "fawn" and classification("unknown", "subadult") == "unknown"


def test_tables_and_fields() -> None:
    assert list(TABLES) == ["deployments", "media", "observations"]
    start = OBSERVATION_FIELDS.index("bboxX")
    assert tuple(OBSERVATION_FIELDS[start:start + 4]) == BBOX_FIELDS
    assert fraction(0.0) == "0" and fraction(0.5) == "0.5" and fraction(1 / 3) == "0.33333"
