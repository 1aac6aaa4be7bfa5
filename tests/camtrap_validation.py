"""Validate a Camtrap DP 1.0.2 package offline: datapackage.json against the profile (jsonschema,
remote references answered locally with a permissive schema), and every CSV table against its table
schema: header, required, types, date-time formats, enum, minimum/maximum, pattern, unique,
primary and foreign keys across the three tables.

The schemas live in ../shared/camtrap-dp-1.0.2 beside the repository (CI clones it there).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CAMTRAP_DIR = REPO_ROOT.parent / "shared" / "camtrap-dp-1.0.2"
TABLES = ("deployments", "media", "observations")
TRUE_VALUES = {"true", "True", "TRUE", "1"}
FALSE_VALUES = {"false", "False", "FALSE", "0"}


def camtrap_dir() -> Path:
    if not (CAMTRAP_DIR / "camtrap-dp-profile.json").is_file():
        pytest.skip(f"Camtrap DP 1.0.2 schemas not found at {CAMTRAP_DIR} (clone shared/ beside the repository)")
    return CAMTRAP_DIR


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((camtrap_dir() / name).read_text())


def profile_errors(package: dict[str, Any]) -> list[str]:
    from jsonschema import Draft4Validator, FormatChecker
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    def permissive(uri: str) -> Resource:
        return Resource.from_contents({}, default_specification=DRAFT4)

    validator = Draft4Validator(load_schema("camtrap-dp-profile.json"), registry=Registry(retrieve=permissive),
                                format_checker=FormatChecker())
    errors = [f"datapackage.json {'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(package)]
    for key in ("start", "end"):  # format "date" (not asserted by every jsonschema draft)
        value = package.get("temporal", {}).get(key)
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            errors.append(f"datapackage.json temporal/{key}: {value!r} is not a YYYY-MM-DD date")
    return errors


def _cast(field: dict[str, Any], value: str) -> tuple[Any, str | None]:
    kind = field.get("type", "string")
    try:
        if kind == "string" or kind == "any":
            return value, None
        if kind == "integer":
            if not re.fullmatch(r"[+-]?\d+", value):
                raise ValueError
            return int(value), None
        if kind == "number":
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError
            return number, None
        if kind == "boolean":
            if value in TRUE_VALUES:
                return True, None
            if value in FALSE_VALUES:
                return False, None
            raise ValueError
        if kind == "datetime":
            fmt = field.get("format", "default")
            if fmt in ("default", "any"):
                return datetime.fromisoformat(value.replace("Z", "+00:00")), None
            parsed = datetime.strptime(value, fmt)
            if "%z" in fmt and parsed.tzinfo is None:
                raise ValueError
            return parsed, None
        if kind == "date":
            return date.fromisoformat(value), None
    except ValueError:
        return None, f"{value!r} is not a valid {kind}" + (f" ({field['format']})" if "format" in field else "")
    return value, None


def table_errors(name: str, text: str, schema: dict[str, Any]) -> tuple[list[str], dict[str, list[Any]]]:
    """Errors of one table, and its column values (for the key checks)."""
    errors: list[str] = []
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    fields = schema["fields"]
    names = [f["name"] for f in fields]
    if header != names:
        errors.append(f"{name}.csv header {header} != schema fields {names}")
        return errors, {}
    missing = set(schema.get("missingValues", [""]))
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for line, raw in enumerate(reader, start=2):
        if len(raw) != len(names):
            errors.append(f"{name}.csv line {line}: {len(raw)} cells, expected {len(names)}")
            continue
        for field, value in zip(fields, raw, strict=True):
            where = f"{name}.csv line {line} {field['name']}"
            constraints = field.get("constraints", {})
            if value in missing:
                columns[field["name"]].append(None)
                if constraints.get("required"):
                    errors.append(f"{where}: required")
                continue
            cast, problem = _cast(field, value)
            columns[field["name"]].append(cast)
            if problem:
                errors.append(f"{where}: {problem}")
                continue
            if "enum" in constraints and cast not in constraints["enum"]:
                errors.append(f"{where}: {value!r} not in {constraints['enum']}")
            if "minimum" in constraints and cast < constraints["minimum"]:
                errors.append(f"{where}: {value} < minimum {constraints['minimum']}")
            if "maximum" in constraints and cast > constraints["maximum"]:
                errors.append(f"{where}: {value} > maximum {constraints['maximum']}")
            if "pattern" in constraints and not re.fullmatch(constraints["pattern"], value):
                errors.append(f"{where}: {value!r} does not match {constraints['pattern']}")
    for field in fields:
        if field.get("constraints", {}).get("unique"):
            values = [v for v in columns[field["name"]] if v is not None]
            if len(values) != len(set(values)):
                errors.append(f"{name}.csv {field['name']}: values not unique")
    key = schema.get("primaryKey")
    if isinstance(key, str):
        values = columns[key]
        if len(values) != len(set(values)):
            errors.append(f"{name}.csv primary key {key} not unique")
    return errors, columns


def package_errors(read: Callable[[str], str], package: dict[str, Any]) -> list[str]:
    errors = profile_errors(package)
    columns: dict[str, dict[str, list[Any]]] = {}
    schemas = {t: load_schema(f"{t}-table-schema.json") for t in TABLES}
    paths = {r["name"]: r.get("path") for r in package.get("resources", [])}
    for table in TABLES:
        if not paths.get(table):
            errors.append(f"resource {table} missing")
            continue
        table_problems, columns[table] = table_errors(table, read(paths[table]), schemas[table])
        errors += table_problems
    for table in TABLES:
        for fk in schemas[table].get("foreignKeys", []):
            target = fk["reference"]["resource"]
            known = set(columns.get(target, {}).get(fk["reference"]["fields"], []))
            for value in columns.get(table, {}).get(fk["fields"], []):
                if value is not None and value not in known:
                    errors.append(f"{table}.csv {fk['fields']} {value!r} not in {target}.{fk['reference']['fields']}")
    return errors


def directory_errors(path: Path) -> list[str]:
    package = json.loads((path / "datapackage.json").read_text())
    return package_errors(lambda name: (path / name).read_text(encoding="utf-8"), package)


def zip_errors(archive: zipfile.ZipFile) -> list[str]:
    package = json.loads(archive.read("datapackage.json"))
    return package_errors(lambda name: archive.read(name).decode("utf-8"), package)
